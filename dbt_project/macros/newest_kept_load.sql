{#- Incremental watermark: the newest `column` kept in the model ('' when empty), a subquery. -#}
{% macro newest_kept_load(column='_dlt_load_id') -%}
    (select coalesce(max(watermark.{{ column }}), '') from {{ this }} as watermark)
{%- endmacro %}
