{#- The unbounded text type the marts' contracts name `varchar` (Spark: `string`). -#}
{% macro type_varchar() -%}
    {{ return(adapter.dispatch('type_varchar', 'customer_analytics')()) }}
{%- endmacro %}

{% macro default__type_varchar() -%}varchar{%- endmacro %}
