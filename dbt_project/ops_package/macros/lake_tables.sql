{#- Spark: an external table over each folder of the lake (raw datasets, the ledger), every run. -#}
{% macro lake_tables(datasets=none) -%}
    {{ return(adapter.dispatch('lake_tables', 'customer_analytics_ops')(datasets)) }}
{%- endmacro %}

{% macro default__lake_tables(datasets) -%}{%- endmacro %}

{#- datasets: the lake folders to map (all when none) -#}
{% macro spark__lake_tables(datasets) -%}
    {%- if execute -%}
        {#- SPARK_LAKE_URL: the lake as Spark names it, where that differs (s3a:// for s3://) -#}
        {%- set lake = env_var('SPARK_LAKE_URL', env_var('LAKE_URL', 'warehouse/lake')) | trim -%}
        {%- set folder = '/([^/]+)/([^/]+)/[^/]+[.]parquet$' -%}
        {%- set listing -%}
            select distinct
                regexp_extract(path, '{{ folder }}', 1) as dataset_name,
                regexp_extract(path, '{{ folder }}', 2) as table_name,
                regexp_extract(path, '^(.*)/[^/]+$', 1) as table_location
            from binaryFile.`{{ lake.rstrip('/') }}/*/*/*.parquet`
        {%- endset -%}
        {%- for row in run_query(listing).rows if not row[1].startswith('_dlt')
            and (datasets is none or row[0] in datasets) -%}
            {%- set relation = row[0] ~ '.' ~ row[1] -%}
            {%- do run_query('create schema if not exists ' ~ row[0]) -%}
            {#- dropped and created again: the schema follows the files (dlt evolves raw) -#}
            {%- do run_query('drop table if exists ' ~ relation) -%}
            {#- the files' own absolute URL: a relative LAKE_URL would resolve elsewhere -#}
            {%- do run_query(
                'create table ' ~ relation ~ " using parquet options (mergeSchema 'true') "
                ~ "location '" ~ row[2] ~ "'"
            ) -%}
            {#- dbt listed the catalog before this hook: tell its cache the table exists -#}
            {%- do adapter.cache_added(
                api.Relation.create(schema=row[0], identifier=row[1], type='table')
            ) -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}
