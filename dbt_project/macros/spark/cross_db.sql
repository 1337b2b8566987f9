{#- Spark's variants of the project's cross-database macros (macros/cross_db.sql). -#}

{#- Spark's `timestamp` is an instant shown in the session time zone, UTC in the profile. -#}
{% macro spark__to_utc_timestamp(column) -%}
    cast({{ column }} as timestamp)
{%- endmacro %}

{% macro spark__json_text_field(column, field) -%}
    get_json_object({{ column }}, '$.{{ field }}')
{%- endmacro %}

{% macro spark__safe_numeric(expression, data_type) -%}
    cast(try_cast(trim({{ expression }}) as decimal(38, 10)) as {{ data_type }})
{%- endmacro %}

{% macro spark__seconds_between(start_ts, end_ts) -%}
    (unix_timestamp({{ end_ts }}) - unix_timestamp({{ start_ts }}))
{%- endmacro %}

{% macro spark__integer_divide(numerator, denominator) -%}
    (({{ numerator }}) div ({{ denominator }}))
{%- endmacro %}

{#- Sizes from the files' metadata only (noscan): Spark's adaptive execution measures the rest. -#}
{% macro spark__analyze_table() -%}
    {%- if model.config.materialized in ('table', 'incremental', 'incremental_in_place') -%}
        analyze table {{ this }} compute statistics noscan
    {%- endif -%}
{%- endmacro %}

{% macro spark__type_varchar() -%}string{%- endmacro %}

{#- dbt's cast, as contracts use it: Spark has no bare `varchar`, its text type is `string`. -#}
{% macro spark__cast(field, type) -%}
    {%- set spark_type = 'string' if type | trim | lower == 'varchar' else type -%}
    cast({{ field }} as {{ spark_type }})
{%- endmacro %}

{#- dbt-spark's listagg ignores the order; `order by <expression>` is honoured here. -#}
{% macro spark__listagg(measure, delimiter_text, order_by_clause, limit_num) -%}
    {%- set collected = 'collect_list(' ~ measure ~ ')' -%}
    {%- if order_by_clause -%}
        {%- set key = order_by_clause | trim -%}
        {%- if not key.lower().startswith('order by ') or ' ' in key[9:] | trim -%}
            {{ exceptions.raise_compiler_error(
                "listagg on Spark takes 'order by <expression>' only, got " ~ order_by_clause) }}
        {%- endif -%}
        {%- set pair = 'struct(' ~ key[9:] ~ ' as sort_key, ' ~ measure ~ ' as item)' -%}
        {%- set pairs = 'collect_list(' ~ pair ~ ')' -%}
        {%- set collected = 'transform(array_sort(' ~ pairs ~ '), entry -> entry.item)' -%}
    {%- endif -%}
    {%- if limit_num -%}
        {%- set collected = 'slice(' ~ collected ~ ', 1, ' ~ limit_num ~ ')' -%}
    {%- endif -%}
    array_join({{ collected }}, {{ delimiter_text }})
{%- endmacro %}
