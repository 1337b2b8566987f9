{#- Spark on plain Parquet: no DELETE or MERGE, so a changed row's whole date partition is
    written again (insert_overwrite with dynamic partition overwrite). -#}

{% macro spark__upsert_strategy() -%}
    {{ return('insert_overwrite') }}
{%- endmacro %}

{% macro spark__append_strategy() -%}
    {{ return('insert_overwrite') }}
{%- endmacro %}

{% macro spark__date_partitions(column) -%}
    {{ return([column]) }}
{%- endmacro %}

{% macro spark__raw_keys_repeat() -%}
    {{ return(true) }}
{%- endmacro %}

{#- complete_partitions leaves deleted rows out of the partitions it writes again. -#}
{% macro spark__deletes_in_place() -%}
    {{ return(false) }}
{%- endmacro %}

{% macro spark__complete_partitions(relation, key, partition, dropped) -%}
    {%- if not is_incremental() -%}
        select * from {{ relation }}
    {%- else -%}
        {%- set columns = adapter.get_columns_in_relation(this) | map(attribute='name') | list -%}
        {%- set replaced = (
            'exists (select 1 from ' ~ relation ~ ' as changed where changed.' ~ key
            ~ ' = target.' ~ key ~ ')'
        ) -%}
        {%- set left_out = replaced ~ (' or (' ~ dropped ~ ')' if dropped else '') -%}
        select {{ columns | join(', ') }}
        from {{ relation }}
        union all
        select {% for column in columns %}target.{{ column }}{{ ', ' if not loop.last }}{% endfor %}
        from {{ this }} as target
        where
            target.{{ partition }} in (
                select {{ partition }} from {{ relation }}
                union
                select target.{{ partition }} from {{ this }} as target where {{ left_out }}
            )
            and not ({{ left_out }})
    {%- endif -%}
{%- endmacro %}

{% macro spark__snapshots_supported() -%}
    {{ return(false) }}
{%- endmacro %}

{#- complete_partitions left the rows out of the partitions it wrote; a partition left with
    none at all was not written (dynamic overwrite): what still matches is dropped whole. -#}
{% macro spark__remove_rows(condition, partition) -%}
    {%- if execute -%}
        {%- set stale -%}
            select distinct cast(target.{{ partition }} as string) as stale_partition
            from {{ this }} as target
            where {{ condition }}
        {%- endset -%}
        {%- set partitions = run_query(stale).columns[0].values() -%}
        {%- if partitions | length > 0 -%}
            alter table {{ this }} drop if exists
            {%- for value in partitions %}
                partition ({{ partition }} = '{{ value }}'){{ ',' if not loop.last }}
            {%- endfor %}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{% macro spark__in_place_materialization(parallel_select) -%}
    {{ return('incremental') }}
{%- endmacro %}
