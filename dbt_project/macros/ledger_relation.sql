{#- The ledger table `ops.<table_name>`, or an empty relation with its columns until it exists. -#}
{% macro ledger_relation(table_name, columns) -%}
    {{ return(adapter.dispatch('ledger_relation', 'customer_analytics')(table_name, columns)) }}
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
