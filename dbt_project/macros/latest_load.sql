{#- The newest `_dlt_load_id` in a raw table (none when it is empty), read at execution. -#}
{% macro latest_load_id(relation) -%}
    {{ return(adapter.dispatch('latest_load_id', 'customer_analytics')(relation)) }}
{%- endmacro %}

{% macro default__latest_load_id(relation) -%}
    {{ return(run_query('select max(_dlt_load_id) from ' ~ relation).rows[0][0]) }}
{%- endmacro %}

{#- PostgreSQL: max() reads every row. Through the loader's BRIN index on `_dlt_load_id`
    (ingestion/load_id_index.py) it reads only the rows from the newest of the dataset's 20
    latest loads that touched the table, and the whole table when none of them did. -#}
{% macro postgres__latest_load_id(relation) -%}
    {%- set loads = adapter.get_relation(relation.database, relation.schema, '_dlt_loads') -%}
    {%- set recent = [] if loads is none else run_query(
        'select load_id from ' ~ loads ~ ' order by load_id desc limit 20'
    ).rows -%}
    {%- for load in recent -%}
        {%- set since = dbt.string_literal(load[0]) -%}
        {%- set found = run_query(
            'select max(_dlt_load_id) from ' ~ relation ~ ' where _dlt_load_id >= ' ~ since
        ).rows[0][0] -%}
        {%- if found is not none -%}
            {{ return(found) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(default__latest_load_id(relation)) }}
{%- endmacro %}
