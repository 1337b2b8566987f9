{#- Row-level access on a mart: a regional reader sees only its region's rows (PostgreSQL). -#}
{% macro row_access() -%}
    {{ return(adapter.dispatch('row_access', 'customer_analytics')()) }}
{%- endmacro %}

{% macro default__row_access() -%}
{%- endmacro %}

{% macro postgres__row_access() -%}
    {%- set kind = (model.config.get('meta') or {}).get('row_access', 'none') -%}
    {{ row_access_policy(this, kind) }}
    {%- if execute and this.identifier == 'dim_customers' -%}
        {#- the customer marts built before dim_customers existed get their full policy now -#}
        {%- for node in graph.nodes.values()
            if node.resource_type == 'model'
            and (node.config.meta or {}).get('row_access') == 'customer' -%}
            {%- set relation = adapter.get_relation(node.database, node.schema, node.alias) -%}
            {%- if relation is not none -%}
                ;
                {{ row_access_policy(relation, 'customer') }}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}

{#- Enable row-level security on a mart and (re)create its select policy. -#}
{% macro row_access_policy(relation, kind) -%}
    {#- the regions of the current role; a role not listed is not restricted -#}
    {%- set mine = "select region from " ~ relation.schema ~ ".reader_regions"
        ~ " where role_name = current_user" -%}
    {%- set visible = "not exists (" ~ mine ~ ")" -%}
    {%- set dim = adapter.get_relation(relation.database, relation.schema, 'dim_customers') -%}
    {%- if kind == 'region' -%}
        {%- set visible = visible ~ " or region in (" ~ mine ~ ")" -%}
    {%- elif kind == 'customer' and dim is not none -%}
        {#- until dim_customers exists a restricted role sees no row -#}
        {%- set visible = visible ~ " or " ~ relation.schema ~ ".customer_visible(customer_id)" -%}
    {%- endif -%}
    alter table {{ relation }} enable row level security;
    drop policy if exists row_access on {{ relation }};
    create policy row_access on {{ relation }} for select using ({{ visible }})
{%- endmacro %}

{#- The region list and the customer check the policies read; on-run-start, where marts exist. -#}
{% macro row_access_setup() -%}
    {{ return(adapter.dispatch('row_access_setup', 'customer_analytics')()) }}
{%- endmacro %}

{% macro default__row_access_setup() -%}
{%- endmacro %}

{% macro postgres__row_access_setup() -%}
    {%- set schema = generate_schema_name('marts', none) -%}
    {%- if not (execute and adapter.check_schema_exists(target.database, schema)) -%}
        {{ return('') }}
    {%- endif %}
    create table if not exists {{ schema }}.reader_regions (
        role_name text not null,
        region text not null,
        primary key (role_name, region)
    );
    alter table {{ schema }}.reader_regions enable row level security;
    drop policy if exists own_rows on {{ schema }}.reader_regions;
    create policy own_rows on {{ schema }}.reader_regions for select
    using (role_name = current_user);
    {#- every reader of the marts evaluates the policies; each sees only its own rows -#}
    grant select on {{ schema }}.reader_regions to public;
    set check_function_bodies = off;
    create or replace function {{ schema }}.customer_visible(customer bigint)
    returns boolean language sql stable
    as $$ select exists (
        select 1 from {{ schema }}.dim_customers as c where c.customer_id = customer
    ) $$;
    reset check_function_bodies
{%- endmacro %}
