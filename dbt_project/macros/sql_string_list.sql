{#- Render a list of strings as SQL literals: ['a', 'b'] -> 'a', 'b' -#}
{% macro sql_string_list(values) -%}
    {%- for value in values -%}
        '{{ value }}'{{ ', ' if not loop.last }}
    {%- endfor -%}
{%- endmacro %}
