{{ config(materialized='view', schema='ops') }}
{#- Empty (with the right columns) until the run script has created the ledger. -#}
{%- set src = source('ops', 'dbt_results') -%}
{%- set ledger = (
    adapter.get_relation(src.database, src.schema, src.identifier) if execute else none
) -%}

with

{% if ledger is not none %}
    dbt_results as (
        select * from {{ src }}
    ),
{% else %}
    dbt_results as (
        select
            cast(null as {{ dbt.type_string() }}) as run_id,
            cast(null as {{ dbt.type_string() }}) as invocation_id,
            cast(null as {{ dbt.type_string() }}) as unique_id,
            cast(null as {{ dbt.type_string() }}) as resource_type,
            cast(null as {{ dbt.type_string() }}) as name,  -- noqa: RF04
            cast(null as {{ dbt.type_string() }}) as status,
            cast(null as {{ dbt.type_float() }}) as execution_time_s,
            cast(null as {{ dbt.type_bigint() }}) as rows_affected,
            cast(null as {{ dbt.type_bigint() }}) as failures,
            cast(null as {{ dbt.type_string() }}) as message,
            cast(null as timestamp) as recorded_at
        where 1 = 0
    ),
{% endif %}

renamed as (
    select
        run_id,
        invocation_id,
        unique_id,
        resource_type,
        name as node_name,
        status as node_status,
        execution_time_s,
        rows_affected,
        failures,
        message,
        recorded_at
    from dbt_results
)

select * from renamed
