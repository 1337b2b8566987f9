{#- The ledger table `ops.<table_name>`, or an empty relation with its columns until it exists. -#}
{% macro ledger_relation(table_name, columns) -%}
    {{ return(adapter.dispatch('ledger_relation', 'customer_analytics_ops')(table_name, columns)) }}
{%- endmacro %}

{% macro default__ledger_relation(table_name, columns) %}
    {%- set src = source('ops', table_name) -%}
    {%- set ledger = (
        adapter.get_relation(src.database, src.schema, src.identifier) if execute else none
    ) -%}
    {%- set types = {
        'string': dbt.type_string(), 'bigint': dbt.type_bigint(), 'int': dbt.type_int(),
        'float': dbt.type_float(), 'timestamp': 'timestamp'
    } -%}
    {%- if ledger is not none -%}
        {{ src }}
    {%- else -%}
        (
            select
        {%- for name, type_name in columns.items() %}
                cast(null as {{ types[type_name] }}) as {{ name }}{{ ',' if not loop.last }}
        {%- endfor %}
            where 1 = 0
        ) as empty_ledger
    {%- endif -%}
{% endmacro %}

{#- The lake's ledger appends a version of a run's row at each save: the newest is the run. -#}
{% macro spark__ledger_relation(table_name, columns) -%}
    {%- set relation = default__ledger_relation(table_name, columns) -%}
    {%- if table_name == 'runs' and 'empty_ledger' not in relation | string -%}
        (
            {{ latest_version_per_key(relation, 'run_id', '_written_at desc') }}
        ) as latest_runs
    {%- else -%}
        {{ relation }}
    {%- endif -%}
{%- endmacro %}
