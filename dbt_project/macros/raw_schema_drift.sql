{#-
    Schema-drift guard of one raw table the loaders write (called by the singular tests in
    data-tests/schema_drift/). Raises an error naming the table and the columns when
      - dlt added a type variant of a column (`<column>__v_<type>`, the source changed the
        column's type): staging reads <column>, which is null for the new rows;
      - a column in `populated` is missing, or null in every row of the table's latest load
        (removed or renamed at the source): staging would carry nulls into the marts.
    An error, not a failing row count, so that the message names the columns; in `dbt build`
    every model downstream of the table is then skipped and the marts keep their last state.
    A table that does not exist yet (a fresh warehouse: `dbt docs generate`, `dbt compile`)
    has nothing to guard; the source's own tests report it missing at build time.
-#}
{% macro raw_schema_drift(relation, populated=[]) %}
    {%- if execute -%}
        {%- set problems = [] -%}
        {%- set columns = adapter.get_columns_in_relation(relation) -%}
        {%- set names = columns | map(attribute='name') | map('lower') | list -%}
        {%- set populated = populated if names else [] -%}
        {%- for name in names if '__v_' in name -%}
            {%- set original = name.split('__v_')[0] -%}
            {%- do problems.append(
                original ~ ' now arrives as ' ~ name ~ ' (its type changed at the source; '
                ~ original ~ ' is null for the new rows)'
            ) -%}
        {%- endfor -%}
        {%- for name in populated if name not in names -%}
            {%- do problems.append(name ~ ' is missing from the table') -%}
        {%- endfor -%}
        {%- set watched = populated | select('in', names) | list -%}
        {%- if watched -%}
            {%- set latest = '(select max(_dlt_load_id) from ' ~ relation ~ ')' -%}
            {%- set counted = [] -%}
            {%- for name in watched -%}
                {%- do counted.append('count(' ~ adapter.quote(name) ~ ')') -%}
            {%- endfor -%}
            {%- set counts = 'select count(*), ' ~ counted | join(', ') ~ ' from ' ~ relation
                ~ ' where _dlt_load_id = ' ~ latest -%}
            {%- set row = run_query(counts).rows[0] -%}
            {%- for name in watched -%}
                {%- if row[0] > 0 and row[loop.index] == 0 -%}
                    {%- do problems.append(
                        name ~ ' is null in all ' ~ row[0] ~ ' rows of the latest load'
                        ~ ' (removed or renamed at the source?)'
                    ) -%}
                {%- endif -%}
            {%- endfor -%}
        {%- endif -%}
        {%- if problems -%}
            {{ exceptions.raise_compiler_error(
                'schema drift in ' ~ relation.schema ~ '.' ~ relation.identifier ~ ': '
                ~ problems | join('; ')
                ~ '. Update the staging model (or the source) before building on this data.'
            ) }}
        {%- endif -%}
    {%- endif %}
    select 1 as drifted_column where 1 = 0
{% endmacro %}
