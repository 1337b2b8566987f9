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
        {%- set keys = unique_key_columns(config.get('unique_key')) -%}
        {%- if keys -%}
            {%- set version = kept_version(target_relation, columns.table) -%}
        {%- endif -%}
        {% call statement('main', fetch_result=True) %}
            insert into {{ target_relation }} ({{ columns.inserted | join(', ') }})
            select {{ columns.selected | join(', ') }}
            from (
                {{ sql }}
            ) as new_rows
        {% endcall %}
        {%- if keys -%}
            {% do check_rows_written_are_newer(target_relation, version) %}
            {% call statement('replaced_rows') %}
                {{ delete_replaced_rows(target_relation, keys, version) }}
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

{#- The columns to insert, quoted: `inserted` (the table's names) and `selected` (the model's);
    `table`: the table's columns by lower-case name.
    on_schema_change 'fail': the model must have the table's columns, of the same types;
    'ignore': the model's new columns are left out, and every table column must be there. -#}
{% macro in_place_columns(sql, existing_relation) -%}
    {%- set on_schema_change = config.get('on_schema_change') or 'ignore' -%}
    {%- if on_schema_change not in ('fail', 'ignore') -%}
        {{ exceptions.raise_compiler_error(
            model.name ~ ": incremental_in_place takes on_schema_change 'fail' or 'ignore', not '"
            ~ on_schema_change ~ "'"
        ) }}
    {%- endif -%}
    {#- the model's columns as the catalog types them: an empty table of its query -#}
    {%- set probe = existing_relation.incorporate(
        path={'identifier': existing_relation.identifier ~ '__in_place_columns'}, type='table'
    ) -%}
    {% do adapter.drop_relation(probe) %}
    {% do run_query(get_create_table_as_sql(
        False, probe, 'select * from (' ~ sql ~ ') as model_rows limit 0'
    )) %}
    {%- set model_columns = {} -%}
    {%- for column in adapter.get_columns_in_relation(probe) -%}
        {%- do model_columns.update({column.name | lower: column}) -%}
    {%- endfor -%}
    {% do adapter.drop_relation(probe) %}
    {%- set table_columns = {} -%}
    {%- for column in adapter.get_columns_in_relation(existing_relation) -%}
        {%- do table_columns.update({column.name | lower: column}) -%}
    {%- endfor -%}
    {%- set added = model_columns.keys() | reject('in', table_columns) | list -%}
    {%- set gone = table_columns.keys() | reject('in', model_columns) | list -%}
    {%- set retyped = [] -%}
    {%- for name, column in table_columns.items() if name in model_columns -%}
        {%- if type_family(column) != type_family(model_columns[name]) -%}
            {%- do retyped.append(name ~ ' ' ~ column.data_type ~ ' -> ' ~ model_columns[name].data_type) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if on_schema_change == 'fail' and (added or gone or retyped) -%}
        {{ exceptions.raise_compiler_error(
            model.name ~ ": the model's columns differ from " ~ existing_relation
            ~ "'s (new: " ~ added | join(', ') ~ "; gone: " ~ gone | join(', ')
            ~ "; new types: " ~ retyped | join(', ')
            ~ "). on_schema_change is 'fail': build it with --full-refresh"
        ) }}
    {%- elif gone -%}
        {{ exceptions.raise_compiler_error(
            model.name ~ ": the model lacks columns of " ~ existing_relation ~ ": "
            ~ gone | join(', ') ~ ". Build it with --full-refresh"
        ) }}
    {%- endif -%}
    {%- set inserted, selected = [], [] -%}
    {%- for name, column in table_columns.items() -%}
        {%- do inserted.append(adapter.quote(column.name)) -%}
        {%- do selected.append(adapter.quote(model_columns[name].name)) -%}
    {%- endfor -%}
    {{ return({'inserted': inserted, 'selected': selected, 'table': table_columns}) }}
{%- endmacro %}

{#- A column's kind of type (text, number, timestamp, date, ...): a length or precision, or
    text against character varying, is no schema change. -#}
{% macro type_family(column) -%}
    {%- if column.is_string() -%}
        {{ return('text') }}
    {%- elif column.is_number() -%}
        {{ return('number') }}
    {%- endif -%}
    {{ return((column.data_type | lower).split('(')[0].split(' ')[0]) }}
{%- endmacro %}

{#- The unique key's columns, quoted: one column, a list, or one text of comma-separated ones. -#}
{% macro unique_key_columns(unique_key) -%}
    {%- if not unique_key -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set quoted = [] -%}
    {%- for key in (unique_key.split(',') if unique_key is string else unique_key) -%}
        {%- do quoted.append(adapter.quote(key | trim)) -%}
    {%- endfor -%}
    {{ return(quoted) }}
{%- endmacro %}

{#- The table's newest `meta.version_column` before this build, with the column (quoted) and
    the value as a literal of its type (none when no kept row has one). `columns`: the table's
    columns by lower-case name. -#}
{% macro kept_version(relation, columns) -%}
    {%- set name = config.get('meta', {}).get('version_column') -%}
    {%- set typed = columns.get(name | lower) if name else none -%}
    {%- if typed is none -%}
        {{ exceptions.raise_compiler_error(
            model.name ~ ": incremental_in_place with a unique_key needs meta.version_column, "
            ~ "a column of the table that grows with every build (given: " ~ name ~ ")"
        ) }}
    {%- endif -%}
    {%- set column = adapter.quote(typed.name) -%}
    {%- set newest = run_query(
        'select max(' ~ column ~ ') from ' ~ relation
    ).columns[0].values()[0] -%}
    {%- set literal = none if newest is none else (
        "cast('" ~ (newest | string | replace("'", "''")) ~ "' as " ~ typed.data_type ~ ")"
    ) -%}
    {{ return({'name': name, 'column': column, 'newest': newest, 'literal': literal}) }}
{%- endmacro %}

{#- Whether `alias`'s row was written by this build (else it was kept). -#}
{% macro written_by_this_build(alias, version) -%}
    {%- if version.literal is none -%}
        {{ alias }}.{{ version.column }} is not null
    {%- else -%}
        {{ alias }}.{{ version.column }} > {{ version.literal }}
    {%- endif -%}
{%- endmacro %}

{#- Whether `alias`'s row was kept from an earlier build (a null version counts as older). -#}
{% macro kept_before_this_build(alias, version) -%}
    {%- if version.literal is none -%}
        {{ alias }}.{{ version.column }} is null
    {%- else -%}
        ({{ alias }}.{{ version.column }} is null or {{ alias }}.{{ version.column }} <= {{ version.literal }})
    {%- endif -%}
{%- endmacro %}

{#- Fails (the transaction is not committed) when a row just written is not newer than every
    kept row: it could not be told from them, and its key's older row would stay beside it. -#}
{% macro check_rows_written_are_newer(relation, version) -%}
    {%- set inserted = load_result('main') -%}
    {%- set written = inserted['response'].rows_affected -%}
    {%- if written is none or written < 0 -%}
        {%- set written = inserted['table'].columns[0].values()[0] -%}
    {%- endif -%}
    {%- set newer = run_query(
        'select count(*) from ' ~ relation ~ ' as written where '
        ~ written_by_this_build('written', version)
    ).columns[0].values()[0] -%}
    {%- if newer != written -%}
        {{ exceptions.raise_compiler_error(
            model.name ~ ": " ~ (written - newer) ~ " of the " ~ written ~ " rows written have "
            ~ version.name ~ " null or at most " ~ (version.newest | string)
            ~ ", the newest kept before this build; nothing was kept of this build. "
            ~ "meta.version_column must grow with every build"
        ) }}
    {%- endif -%}
{%- endmacro %}

{#- Deletes the rows kept before this build whose unique key the build wrote again. -#}
{% macro delete_replaced_rows(relation, keys, version) -%}
    delete from {{ relation }} as kept
    where
        {{ kept_before_this_build('kept', version) }}
        and exists (
            select 1
            from {{ relation }} as written
            where
                {{ written_by_this_build('written', version) }}
                {%- for key in keys %}
                and written.{{ key }} = kept.{{ key }}
                {%- endfor %}
        )
{%- endmacro %}

{#- dbt's own for every model, and true for an incremental_in_place model whose table exists
    (unless --full-refresh). -#}
{% macro is_incremental() -%}
    {%- if not execute or model.config.materialized != 'incremental_in_place' -%}
        {{ return(dbt.is_incremental()) }}
    {%- endif -%}
    {%- set relation = adapter.get_relation(this.database, this.schema, this.table) -%}
    {{ return(relation is not none and relation.type == 'table' and not should_full_refresh()) }}
{%- endmacro %}
