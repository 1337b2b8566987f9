{#- The shop's raw rows, from the cursor loader (merged: one row per key) or from change data
capture (`shop_capture: cdc`: the newest change per key, deleted keys left out). -#}
{% macro shop_rows(table_name, key) -%}
{%- if var('shop_capture') == 'cdc' -%}
(
    select *
    from (
        select
            *,
            row_number() over (
                partition by {{ key }}
                order by _cdc_lsn desc, _cdc_seq desc
            ) as cdc_rank
        from {{ source('shop', table_name) }}
    ) as changes
    where cdc_rank = 1 and _cdc_op != 'delete'
) as {{ table_name }}_now
{%- else -%}
{{ source('shop', table_name) }}
{%- endif -%}
{%- endmacro %}

{#- Hard deletes of orders and order lines: the loader's key reconciliation (cursor), or the
change stream (cdc): a key whose newest change is a delete, or that came back after one. -#}
{% macro shop_deleted_records() -%}
{%- if var('shop_capture') == 'cdc' -%}
(
{%- for table_name, key in [('orders', 'order_id'), ('order_items', 'order_item_id')] %}
    select
        '{{ table_name }}' as table_name,
        cast({{ key }} as {{ dbt.type_string() }}) as record_key,
        _cdc_op = 'delete' as is_deleted,
        _cdc_committed_at as detected_at,
        _dlt_load_id
    from (
        select
            *,
            row_number() over (
                partition by {{ key }}
                order by _cdc_lsn desc, _cdc_seq desc
            ) as cdc_rank,
            max(case when _cdc_op = 'delete' then 1 else 0 end) over (
                partition by {{ key }}
            ) as was_deleted
        from {{ source('shop', table_name) }}
    ) as changes
    where cdc_rank = 1 and was_deleted = 1
    {% if not loop.last %}union all{% endif %}
{%- endfor %}
) as deleted_records
{%- else -%}
{{ source('shop', 'deleted_records') }}
{%- endif -%}
{%- endmacro %}
