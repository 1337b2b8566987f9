{#- Refresh planner statistics of a freshly built table (both engines accept ANALYZE). -#}
{% macro analyze_table() -%}
    {{ return(adapter.dispatch('analyze_table', 'customer_analytics')()) }}
{%- endmacro %}

{% macro default__analyze_table() -%}
    {%- if model.config.materialized in ('table', 'incremental', 'incremental_in_place') -%}
        analyze {{ this }}
    {%- endif -%}
{%- endmacro %}
