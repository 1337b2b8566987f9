{% macro to_utc_timestamp(column) %}timezone('UTC', {{ column }}){% endmacro %}
{% macro utc_wall_clock(column) %}cast({{ column }} as timestamp){% endmacro %}
{% macro json_text_field(column, field) %}({{ column }} ->> '{{ field }}'){% endmacro %}
{% macro safe_numeric(expression, data_type='numeric') %}cast({{ expression }} as {{ data_type }}){% endmacro %}
{% macro seconds_between(a, b) %}extract(epoch from ({{ b }} - {{ a }})){% endmacro %}
{% macro pii_hash(expression) %}md5(lower(trim({{ expression }}))){% endmacro %}
{% macro integer_divide(a, b) %}div({{ a }}, {{ b }}){% endmacro %}
{% macro quintile_score(order_by) %}cast(ntile(5) over (order by {{ order_by }}) as integer){% endmacro %}
{% macro fx_convert(amount, from_rate, to_rate) %}cast(({{ amount }}) / {{ from_rate }} * {{ to_rate }} as numeric(18, 2)){% endmacro %}
{% macro analyze_table() %}{% endmacro %}
{% macro sql_string_list(values) %}'{{ values | join("', '") }}'{% endmacro %}
{% macro ledger_relation(table_name, columns) %}{{ source("ops", table_name) }}{% endmacro %}
{% macro raw_schema_drift(relation, populated=[]) %}select 1 as drifted_column where 1 = 0{% endmacro %}
{% macro newest_kept_load(column='_dlt_load_id') %}(select max({{ column }}) from watermark){% endmacro %}
