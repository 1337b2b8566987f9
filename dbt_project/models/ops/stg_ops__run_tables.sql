{{ config(materialized='view', schema='ops') }}
{#- Empty (with the right columns) until the run script has created the ledger. -#}
{%- set src = source('ops', 'run_tables') -%}
{%- set ledger = (
    adapter.get_relation(src.database, src.schema, src.identifier) if execute else none
) -%}

with

{% if ledger is not none %}
    run_tables as (
        select * from {{ src }}
    ),
{% else %}
    run_tables as (
        select
            cast(null as {{ dbt.type_string() }}) as run_id,
            cast(null as {{ dbt.type_string() }}) as step,
            cast(null as {{ dbt.type_string() }}) as table_name,
            cast(null as {{ dbt.type_bigint() }}) as rows_loaded,
            cast(null as {{ dbt.type_bigint() }}) as rows_new,
            cast(null as {{ dbt.type_bigint() }}) as rows_updated,
            cast(null as {{ dbt.type_bigint() }}) as rows_rejected,
            cast(null as timestamp) as recorded_at
        where 1 = 0
    ),
{% endif %}

renamed as (
    select
        run_id,
        step,
        table_name,
        {{ dbt.split_part('table_name', "'.'", 1) }} as source_dataset,
        rows_loaded,
        rows_new,
        rows_updated,
        rows_rejected,
        recorded_at,
        cast(recorded_at as date) as recorded_date
    from run_tables
)

select * from renamed
