{{ config(materialized='view', schema='ops') }}
{#- Empty (with the right columns) until the run script has created the ledger. -#}
{%- set src = source('ops', 'runs') -%}
{%- set ledger = (
    adapter.get_relation(src.database, src.schema, src.identifier) if execute else none
) -%}

with

{% if ledger is not none %}
    runs as (
        select * from {{ src }}
    ),
{% else %}
    runs as (
        select
            cast(null as {{ dbt.type_string() }}) as run_id,
            cast(null as {{ dbt.type_string() }}) as command,
            cast(null as {{ dbt.type_string() }}) as status,
            cast(null as timestamp) as started_at,
            cast(null as timestamp) as ended_at,
            cast(null as {{ dbt.type_float() }}) as duration_s,
            cast(null as {{ dbt.type_string() }}) as failed_step,
            cast(null as {{ dbt.type_string() }}) as dbt_invocation_id,
            cast(null as {{ dbt.type_bigint() }}) as rows_loaded,
            cast(null as {{ dbt.type_bigint() }}) as rows_rejected,
            cast(null as {{ dbt.type_int() }}) as models_built,
            cast(null as {{ dbt.type_int() }}) as tests_passed,
            cast(null as {{ dbt.type_int() }}) as tests_warned,
            cast(null as {{ dbt.type_int() }}) as tests_failed
        where 1 = 0
    ),
{% endif %}

renamed as (
    select
        run_id,
        command,
        status as run_status,
        started_at,
        ended_at,
        duration_s,
        failed_step,
        dbt_invocation_id,
        rows_loaded,
        rows_rejected,
        models_built,
        tests_passed,
        tests_warned,
        tests_failed,
        cast(started_at as date) as started_date
    from runs
)

select * from renamed
