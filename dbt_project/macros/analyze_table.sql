{#- Refresh planner statistics of a freshly built table (both engines accept ANALYZE). -#}
{% macro analyze_table() -%}
    {%- if model.config.materialized in ('table', 'incremental') -%}
        analyze {{ this }}
    {%- endif -%}
{%- endmacro %}
