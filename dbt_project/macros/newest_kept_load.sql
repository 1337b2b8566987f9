{#- The incremental watermark of a model keyed on dlt load ids: the newest `column` already in
    the model's table ('' when it is empty), as a scalar subquery. -#}
{% macro newest_kept_load(column='_dlt_load_id') -%}
    (select coalesce(max(watermark.{{ column }}), '') from {{ this }} as watermark)
{%- endmacro %}
