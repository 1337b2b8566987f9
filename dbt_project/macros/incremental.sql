{#- How incremental models replace changed rows, per engine: delete+insert on the key by
    default; on Spark's Parquet tables an overwrite of the date partitions they touch
    (macros/spark/incremental.sql). -#}

{#- The incremental strategy that replaces rows by key. -#}
{% macro upsert_strategy() -%}
    {{ return(adapter.dispatch('upsert_strategy', 'customer_analytics')()) }}
{%- endmacro %}

{% macro default__upsert_strategy() -%}
    {{ return('delete+insert') }}
{%- endmacro %}

{#- The strategy that adds rows (an earlier hook removed the replaced ones). -#}
{% macro append_strategy() -%}
    {{ return(adapter.dispatch('append_strategy', 'customer_analytics')()) }}
{%- endmacro %}

{% macro default__append_strategy() -%}
    {{ return('append') }}
{%- endmacro %}

{#- The table's partition columns (none where the engine has no partitions). -#}
{% macro date_partitions(column) -%}
    {{ return(adapter.dispatch('date_partitions', 'customer_analytics')(column)) }}
{%- endmacro %}

{% macro default__date_partitions(column) -%}
    {{ return(none) }}
{%- endmacro %}

{#- Whether raw may hold several versions of a key (an append-only lake; else merged). -#}
{% macro raw_keys_repeat() -%}
    {{ return(adapter.dispatch('raw_keys_repeat', 'customer_analytics')()) }}
{%- endmacro %}

{% macro default__raw_keys_repeat() -%}
    {{ return(false) }}
{%- endmacro %}

{#- Whether kept rows can be deleted in place (a hook does it; Spark's Parquet cannot). -#}
{% macro deletes_in_place() -%}
    {{ return(adapter.dispatch('deletes_in_place', 'customer_analytics')()) }}
{%- endmacro %}

{% macro default__deletes_in_place() -%}
    {{ return(true) }}
{%- endmacro %}

{#- The model's final select: `relation`'s rows, plus on Spark the untouched rest of each
    partition they overwrite. `key` identifies a row, `partition` its partition column, and
    kept rows (alias `target`) matching `dropped` are left out. -#}
{% macro complete_partitions(relation, key, partition, dropped=none) -%}
    {{ return(adapter.dispatch('complete_partitions', 'customer_analytics')(
        relation, key, partition, dropped
    )) }}
{%- endmacro %}

{% macro default__complete_partitions(relation, key, partition, dropped) -%}
    select * from {{ relation }}
{%- endmacro %}

{#- Whether snapshots can be kept (dbt's SCD2 needs MERGE: not on Spark's plain Parquet). -#}
{% macro snapshots_supported() -%}
    {{ return(adapter.dispatch('snapshots_supported', 'customer_analytics')()) }}
{%- endmacro %}

{% macro default__snapshots_supported() -%}
    {{ return(true) }}
{%- endmacro %}

{#- A post-hook removing the kept rows (alias `target`) where `condition` holds. -#}
{% macro remove_rows(condition, partition) -%}
    {{ return(adapter.dispatch('remove_rows', 'customer_analytics')(condition, partition)) }}
{%- endmacro %}

{% macro default__remove_rows(condition, partition) -%}
    delete from {{ this }} as target where {{ condition }}
{%- endmacro %}

{#- Indexes on an incremental model's load-id columns where the engine needs them: a
    PostgreSQL btree finds the newest kept load and a build's touched rows without a scan;
    DuckDB's zone maps and Spark's files need none. -#}
{% macro load_id_indexes(columns) -%}
    {{ return(adapter.dispatch('load_id_indexes', 'customer_analytics')(columns)) }}
{%- endmacro %}

{% macro default__load_id_indexes(columns) -%}
    {{ return([]) }}
{%- endmacro %}

{% macro postgres__load_id_indexes(columns) -%}
    {%- set indexes = [] -%}
    {%- for column in columns -%}
        {%- do indexes.append({'columns': [column]}) -%}
    {%- endfor -%}
    {{ return(indexes) }}
{%- endmacro %}

{#- The materialization of an incremental model written once (dbt_project/materializations).
    PostgreSQL plans no parallel workers for `insert … select`, so a model whose select gains
    from them (`parallel_select`) keeps dbt's incremental there; Spark keeps dbt's, which
    overwrites partitions. -#}
{% macro in_place_materialization(parallel_select=false) -%}
    {%- set materialization = adapter.dispatch('in_place_materialization', 'customer_analytics') -%}
    {{ return(materialization(parallel_select)) }}
{%- endmacro %}

{% macro default__in_place_materialization(parallel_select) -%}
    {{ return('incremental_in_place') }}
{%- endmacro %}

{% macro postgres__in_place_materialization(parallel_select) -%}
    {{ return('incremental' if parallel_select else 'incremental_in_place') }}
{%- endmacro %}
