{#- Rows refused per raw table: counted in `quarantine_model` when one is given, else the
    rejections the loaders reported in `run_tables` (the ledger). -#}
{% macro ops_refused_rows(quarantine_model, run_tables) %}
    {%- if quarantine_model %}
    select
        source_table as table_name,
        sum(case when layer = 'load' then 1 else 0 end) as rejected_at_load,
        sum(case when layer = 'staging' then 1 else 0 end) as quarantined_in_staging
    from {{ ref(quarantine_model) }}
    group by source_table
    {%- else %}
    select
        table_name,
        sum(rows_rejected) as rejected_at_load,
        0 as quarantined_in_staging
    from {{ run_tables }}
    group by table_name
    {%- endif %}
{% endmacro %}
