{#
    Use a model's custom schema (`+schema: marts`) as-is instead of dbt's default
    `<target_schema>_<custom_schema>`, so every environment gets the same schema names
    (staging, intermediate, marts, quarantine, reference, snapshots). Models without a
    custom schema land in the target schema (analytics).
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
