{#- Tests on incremental models check the rows the build touched (docs/adr/0012): each such
    model records, before it builds, its watermark in `build_windows` (one row per model, with
    this invocation's id); a test whose `where` is `__touched_rows__` then reads only rows past
    it. Whole history: a full refresh, a first build, `dbt test` on its own (another
    invocation), or `--vars '{full_history_tests: true}'` (the weekly job). -#}

{#- The table holding each incremental model's watermark before its last build. -#}
{% macro build_windows_relation() -%}
    {{ return(api.Relation.create(
        database=target.database, schema=generate_schema_name('staging', none),
        identifier='build_windows'
    )) }}
{%- endmacro %}

{#- The windows table, if absent. -#}
{% macro build_windows_ddl(windows) -%}
    create table if not exists {{ windows }} (
        model_name {{ type_varchar() }},
        invocation_id {{ type_varchar() }},
        column_name {{ type_varchar() }},
        watermark {{ type_varchar() }}
    )
{%- endmacro %}

{#- on-run-start: the table exists before models build in parallel (two pre-hooks creating it
    at once conflict); without the schema nothing was built, so nothing is incremental yet. -#}
{% macro build_windows_setup() -%}
    {{ return(adapter.dispatch('build_windows_setup', 'customer_analytics')()) }}
{%- endmacro %}

{% macro default__build_windows_setup() -%}
    {%- set windows = build_windows_relation() -%}
    {%- if execute and adapter.check_schema_exists(windows.database, windows.schema) -%}
        {{ build_windows_ddl(windows) }}
    {%- endif -%}
{%- endmacro %}

{% macro spark__build_windows_setup() -%}{%- endmacro %}

{#- Pre-hooks recording the model's watermark `column` before an incremental build. -#}
{% macro record_build_window(column) -%}
    {{ return(adapter.dispatch('record_build_window', 'customer_analytics')(column)) }}
{%- endmacro %}

{% macro default__record_build_window(column) -%}
    {%- if is_incremental() and not var('full_history_tests', false) -%}
        {%- set windows = build_windows_relation() -%}
        {{ build_windows_ddl(windows) }};
        delete from {{ windows }} where model_name = '{{ this.identifier }}';
        insert into {{ windows }} (model_name, invocation_id, column_name, watermark)
        select
            '{{ this.identifier }}',
            '{{ invocation_id }}',
            '{{ column }}',
            cast({{ newest_kept_load(column) }} as {{ type_varchar() }})
    {%- endif -%}
{%- endmacro %}

{#- Spark's Parquet tables take no DELETE: its tests read the whole history. -#}
{% macro spark__record_build_window(column) -%}{%- endmacro %}

{#- The filter on `relation`'s rows this invocation's build touched ('true': every row). -#}
{% macro touched_rows(relation) -%}
    {{ return(adapter.dispatch('touched_rows', 'customer_analytics')(relation)) }}
{%- endmacro %}

{% macro default__touched_rows(relation) -%}
    {%- if not execute or var('full_history_tests', false) or flags.FULL_REFRESH -%}
        {{ return('true') }}
    {%- endif -%}
    {%- set windows = build_windows_relation() -%}
    {#- the hooks create the table behind dbt's relation cache: ask the catalog -#}
    {%- set exists = run_query(
        "select count(*) from information_schema.tables where table_schema = '"
        ~ windows.schema ~ "' and table_name = '" ~ windows.identifier ~ "'"
    ) -%}
    {%- if exists.rows[0][0] == 0 -%}
        {{ return('true') }}
    {%- endif -%}
    {%- set found = run_query(
        "select column_name, watermark from " ~ windows
        ~ " where model_name = '" ~ relation.identifier
        ~ "' and invocation_id = '" ~ invocation_id ~ "'"
    ) -%}
    {%- if found.rows | length == 0 -%}
        {{ return('true') }}
    {%- endif -%}
    {{ return(adapter.quote(found.rows[0][0]) ~ " > '" ~ found.rows[0][1] ~ "'") }}
{%- endmacro %}

{% macro spark__touched_rows(relation) -%}
    {{ return('true') }}
{%- endmacro %}

{#- dbt's own, with the `__touched_rows__` placeholder resolved when the test runs. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if where and '__touched_rows__' in where -%}
        {%- set where = where | replace('__touched_rows__', touched_rows(relation)) -%}
    {%- endif -%}
    {%- if where and where != 'true' -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {{ return(filtered) }}
    {%- else -%}
        {{ return(relation) }}
    {%- endif -%}
{%- endmacro %}
