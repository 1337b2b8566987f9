{#- Warehouse differences, dispatched per adapter (default__ covers both unless noted). -#}

{#- A UTC wall-clock `timestamp` from an instant (timestamptz or ISO text with an offset). -#}
{% macro to_utc_timestamp(column) -%}
    {{ return(adapter.dispatch('to_utc_timestamp', 'customer_analytics')(column)) }}
{%- endmacro %}

{% macro default__to_utc_timestamp(column) -%}
    timezone('UTC', cast({{ column }} as timestamp with time zone))
{%- endmacro %}

{#- A `timestamp` from a column that already holds UTC wall-clock time without an offset. -#}
{% macro utc_wall_clock(column) -%}
    {{ return(adapter.dispatch('utc_wall_clock', 'customer_analytics')(column)) }}
{%- endmacro %}

{% macro default__utc_wall_clock(column) -%}
    cast({{ column }} as timestamp)
{%- endmacro %}

{#- One field of a JSON object held as text, as text (null when missing). -#}
{% macro json_text_field(column, field) -%}
    {{ return(adapter.dispatch('json_text_field', 'customer_analytics')(column, field)) }}
{%- endmacro %}

{% macro default__json_text_field(column, field) -%}
    (cast({{ column }} as json) ->> '{{ field }}')
{%- endmacro %}

{% macro duckdb__json_text_field(column, field) -%}
    json_extract_string({{ column }}, '$.{{ field }}')
{%- endmacro %}

{#- Text that parses as a number, else null (PostgreSQL has no try_cast). -#}
{% macro safe_numeric(expression, data_type='numeric(18, 6)') -%}
    {{ return(adapter.dispatch('safe_numeric', 'customer_analytics')(expression, data_type)) }}
{%- endmacro %}

{% macro default__safe_numeric(expression, data_type) -%}
    case
        when trim({{ expression }}) ~ '^-?[0-9]+(\.[0-9]+)?$'
            then cast(cast(trim({{ expression }}) as numeric) as {{ data_type }})
    end
{%- endmacro %}

{% macro duckdb__safe_numeric(expression, data_type) -%}
    cast(try_cast(trim({{ expression }}) as numeric(38, 10)) as {{ data_type }})
{%- endmacro %}

{#- Seconds between two timestamps, as a number. -#}
{% macro seconds_between(start_ts, end_ts) -%}
    {{ return(adapter.dispatch('seconds_between', 'customer_analytics')(start_ts, end_ts)) }}
{%- endmacro %}

{% macro default__seconds_between(start_ts, end_ts) -%}
    extract(epoch from ({{ end_ts }} - {{ start_ts }}))
{%- endmacro %}

{% macro duckdb__seconds_between(start_ts, end_ts) -%}
    date_diff('second', {{ start_ts }}, {{ end_ts }})
{%- endmacro %}

{#- CTE keyword: inline into each reader (false) or compute once (true), where the engine can. -#}
{% macro cte_materialized(materialized) -%}
    {{ return(adapter.dispatch('cte_materialized', 'customer_analytics')(materialized)) }}
{%- endmacro %}

{% macro default__cte_materialized(materialized) -%}{%- endmacro %}

{% macro postgres__cte_materialized(materialized) -%}
    {{ '' if materialized else 'not ' }}materialized
{%- endmacro %}

{% macro duckdb__cte_materialized(materialized) -%}
    {{ postgres__cte_materialized(materialized) }}
{%- endmacro %}

{#- A stable, non-reversible key for PII (md5 of the normalised value). -#}
{% macro pii_hash(expression) -%}
    md5(lower(trim({{ expression }})))
{%- endmacro %}

{#- Integer division that truncates on every engine (DuckDB's `/` returns a double). -#}
{% macro integer_divide(numerator, denominator) -%}
    {{ return(adapter.dispatch('integer_divide', 'customer_analytics')(numerator, denominator)) }}
{%- endmacro %}

{% macro default__integer_divide(numerator, denominator) -%}
    div({{ numerator }}, {{ denominator }})
{%- endmacro %}

{% macro duckdb__integer_divide(numerator, denominator) -%}
    (({{ numerator }}) // ({{ denominator }}))
{%- endmacro %}

{#- Score 1-5 of `order_by` (5 = last): ceil(5 * cume_dist) in integers; ties share a score. -#}
{% macro quintile_score(order_by) -%}
    cast({{ integer_divide(
        '5 * count(*) over (order by ' ~ order_by ~ ') + count(*) over () - 1',
        'count(*) over ()'
    ) }} as integer)
{%- endmacro %}

{#- Whether visitors and sessions of one event skip the window sorts and the session aggregate
    (docs/dbt-performance.md: faster on DuckDB, slower on PostgreSQL; not measured on Spark). -#}
{% macro one_event_shortcuts() -%}
    {{ return(adapter.dispatch('one_event_shortcuts', 'customer_analytics')()) }}
{%- endmacro %}

{% macro default__one_event_shortcuts() -%}
    {{ return(false) }}
{%- endmacro %}

{% macro duckdb__one_event_shortcuts() -%}
    {{ return(true) }}
{%- endmacro %}
