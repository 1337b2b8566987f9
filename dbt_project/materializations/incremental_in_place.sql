{#- An incremental model written once (docs/adr/0013-incremental-written-once.md): its select
    is inserted straight into the table, where dbt's incremental selects into a temp table and
    then copies it. With a `unique_key`, the older rows of each key just written are deleted
    after the insert; the config `meta.version_column`, a load id that grows with every build,
    tells old from new. A first build, a view in the way or --full-refresh builds the table
    whole, as dbt's does. on_schema_change: 'fail' or 'ignore'. -#}
{% materialization incremental_in_place, default %}
    {%- set existing_relation = load_cached_relation(this) -%}
    {%- set target_relation = this.incorporate(type='table') -%}
    {%- set intermediate_relation = make_intermediate_relation(target_relation) -%}
    {%- set backup_relation = make_backup_relation(
        target_relation, 'table' if existing_relation is none else existing_relation.type
    ) -%}
    {%- set full_build = existing_relation is none
        or existing_relation.is_view or should_full_refresh() -%}
    {%- set grant_config = config.get('grants') -%}
    {{ drop_relation_if_exists(load_cached_relation(intermediate_relation)) }}
    {{ drop_relation_if_exists(load_cached_relation(backup_relation)) }}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}

    {%- if existing_relation is none -%}
        {% call statement('main') %}
            {{ get_create_table_as_sql(False, target_relation, sql) }}
        {% endcall %}
        {% do create_indexes(target_relation) %}
    {%- elif full_build -%}
        {% call statement('main') %}
            {{ get_create_table_as_sql(False, intermediate_relation, sql) }}
        {% endcall %}
        {% do create_indexes(intermediate_relation) %}
        {% do adapter.rename_relation(existing_relation, backup_relation) %}
        {% do adapter.rename_relation(intermediate_relation, target_relation) %}
    {%- else -%}
        {%- set columns = in_place_columns(sql, existing_relation) -%}
        {%- set unique_key = config.get('unique_key') -%}
        {%- if unique_key -%}
            {%- set version_column = config.get('meta', {}).get('version_column') -%}
            {%- if not version_column -%}
                {{ exceptions.raise_compiler_error(
                    model.name ~ ": incremental_in_place with a unique_key needs "
                    ~ "meta.version_column, the load id that tells old rows from new"
                ) }}
            {%- endif -%}
            {%- set kept_version = run_query(
                'select coalesce(max(' ~ version_column ~ '), \'\') from ' ~ target_relation
            ).columns[0].values()[0] -%}
        {%- endif -%}
        {% call statement('main', fetch_result=True) %}
            insert into {{ target_relation }} ({{ columns | join(', ') }})
            select {{ columns | join(', ') }}
            from (
                {{ sql }}
            ) as new_rows
        {% endcall %}
        {%- if unique_key -%}
            {% do check_rows_written_are_newer(target_relation, version_column, kept_version) %}
            {% call statement('replaced_rows') %}
                {{ delete_replaced_rows(target_relation, unique_key, version_column, kept_version) }}
            {% endcall %}
        {%- endif -%}
    {%- endif -%}

    {% do apply_grants(target_relation, grant_config, should_revoke=should_revoke(
        existing_relation, full_build
    )) %}
    {% do persist_docs(target_relation, model) %}
    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {% do adapter.commit() %}
    {%- if full_build and existing_relation is not none -%}
        {% do adapter.drop_relation(backup_relation) %}
    {%- endif -%}
    {{ run_hooks(post_hooks, inside_transaction=False) }}
    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}

{#- The columns to insert: the model's, which must be the table's under on_schema_change 'fail'
    (under 'ignore', the table's columns the model also has). -#}
{% macro in_place_columns(sql, existing_relation) -%}
    {%- set on_schema_change = config.get('on_schema_change') or 'ignore' -%}
    {%- if on_schema_change not in ('fail', 'ignore') -%}
        {{ exceptions.raise_compiler_error(
            model.name ~ ": incremental_in_place takes on_schema_change 'fail' or 'ignore', not '"
            ~ on_schema_change ~ "'"
        ) }}
    {%- endif -%}
    {%- set model_columns = get_column_schema_from_query(sql) | map(attribute='name')
        | map('lower') | list -%}
    {%- set kept_columns = adapter.get_columns_in_relation(existing_relation)
        | map(attribute='name') | map('lower') | list -%}
    {%- set added = model_columns | reject('in', kept_columns) | list -%}
    {%- set removed = kept_columns | reject('in', model_columns) | list -%}
    {%- if on_schema_change == 'fail' and (added or removed) -%}
        {{ exceptions.raise_compiler_error(
            model.name ~ ": the model's columns differ from " ~ existing_relation
            ~ "'s (new: " ~ added | join(', ') ~ "; gone: " ~ removed | join(', ')
            ~ "). on_schema_change is 'fail': build it with --full-refresh"
        ) }}
    {%- endif -%}
    {{ return(kept_columns | select('in', model_columns) | list) }}
{%- endmacro %}

{#- Fails (the transaction is not committed) when a row just written is not newer than every
    kept row: it could not be told from them, and its key's older row would stay beside it. -#}
{% macro check_rows_written_are_newer(relation, version_column, kept_version) -%}
    {%- set inserted = load_result('main') -%}
    {%- set written = inserted['response'].rows_affected -%}
    {%- if written is none or written < 0 -%}
        {%- set written = inserted['table'].columns[0].values()[0] -%}
    {%- endif -%}
    {%- set newer = run_query(
        'select count(*) from ' ~ relation ~ ' where ' ~ version_column ~ ' > '
        ~ "'" ~ (kept_version | replace("'", "''")) ~ "'"
    ).columns[0].values()[0] -%}
    {%- if newer != written -%}
        {{ exceptions.raise_compiler_error(
            model.name ~ ": " ~ (written - newer) ~ " of the " ~ written ~ " rows written have "
            ~ version_column ~ " at most '" ~ kept_version ~ "', the newest kept before this "
            ~ "build; nothing was kept of this build. meta.version_column must grow with every build"
        ) }}
    {%- endif -%}
{%- endmacro %}

{#- Deletes the rows kept before this build (`version_column` at most `kept_version`) whose
    `unique_key` (a column or a list of them) the build wrote again. -#}
{% macro delete_replaced_rows(relation, unique_key, version_column, kept_version) -%}
    {%- set keys = [unique_key] if unique_key is string else unique_key -%}
    {%- set version = "'" ~ (kept_version | replace("'", "''")) ~ "'" -%}
    delete from {{ relation }} as kept
    where
        kept.{{ version_column }} <= {{ version }}
        and exists (
            select 1
            from {{ relation }} as written
            where
                written.{{ version_column }} > {{ version }}
                {%- for key in keys %}
                and written.{{ key }} = kept.{{ key }}
                {%- endfor %}
        )
{%- endmacro %}

{#- dbt's own, true for incremental_in_place models too. -#}
{% macro is_incremental() -%}
    {%- if not execute -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set relation = adapter.get_relation(this.database, this.schema, this.table) -%}
    {{ return(
        relation is not none
        and relation.type == 'table'
        and model.config.materialized in ('incremental', 'incremental_in_place')
        and not should_full_refresh()
    ) }}
{%- endmacro %}
