{#- Errors naming the raw table and each column that drifted in its latest load (_macros.yml). -#}
{% test schema_drift(model, populated=[]) %}
{%- if execute -%}
    {%- set problems = [] -%}
    {%- set columns = adapter.get_columns_in_relation(model) -%}
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
        {#- a change table's delete rows carry only the key: they say nothing of drift -#}
        {%- set counted = [] -%}
        {%- for name in watched -%}
            {%- do counted.append('count(' ~ adapter.quote(name) ~ ')') -%}
        {%- endfor -%}
        {%- set counts = 'select count(*), ' ~ counted | join(', ') ~ ' from ' ~ model
            ~ ' where _dlt_load_id = ' ~ latest_load(model)
            ~ (" and _cdc_op != 'delete'" if '_cdc_op' in names else '') -%}
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
            'schema drift in ' ~ model.schema ~ '.' ~ model.identifier ~ ': '
            ~ problems | join('; ')
            ~ '. Update the staging model (or the source) before building on this data.'
        ) }}
    {%- endif -%}
{%- endif %}
select 1 as drifted_column where 1 = 0
{% endtest %}
