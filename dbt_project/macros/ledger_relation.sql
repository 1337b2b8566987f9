{#- The run ledger table `ops.<table_name>`, or an empty relation with the same columns until
    the run script has created it, so a plain `dbt build` works on a fresh warehouse.
    `columns` maps each column to a dbt type name: string, bigint, int, float or timestamp. -#}
{% macro ledger_relation(table_name, columns) %}
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
