{#- The newest `_dlt_load_id` in a raw table (null when it is empty), as a SQL expression. -#}
{% macro latest_load(relation) -%}
    {{ return(adapter.dispatch('latest_load', 'customer_analytics')(relation)) }}
{%- endmacro %}

{% macro default__latest_load(relation) -%}
    (select max(latest._dlt_load_id) from {{ relation }} as latest)
{%- endmacro %}

{#- PostgreSQL: max() reads every row. Through the loader's BRIN index on `_dlt_load_id`
    (ingestion/load_id_index.py) this reads the rows from the dataset's newest load on, then
    from the oldest of its 20 latest loads on, and the whole table only when neither finds any;
    the value found is returned as a literal. -#}
{% macro postgres__latest_load(relation) -%}
    {%- set loads = adapter.get_relation(relation.database, relation.schema, '_dlt_loads') -%}
    {%- if loads is none -%}
        {{ return(default__latest_load(relation)) }}
    {%- endif -%}
    {%- set bounds = run_query(
        'select max(load_id), min(load_id) from (select load_id from ' ~ loads
        ~ ' order by load_id desc limit 20) as recent'
    ).rows[0] -%}
    {%- for bound in bounds | reject('none') | unique -%}
        {%- set found = run_query(
            'select max(_dlt_load_id) from ' ~ relation
            ~ " where _dlt_load_id >= '" ~ dbt.escape_single_quotes(bound) ~ "'"
        ).rows[0][0] -%}
        {%- if found is not none -%}
            {{ return("'" ~ dbt.escape_single_quotes(found) ~ "'") }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(default__latest_load(relation)) }}
{%- endmacro %}
