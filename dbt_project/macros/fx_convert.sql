{#- amount / from_rate * to_rate, half up to the cent, in integers so both engines round alike. -#}
{% macro fx_convert(amount, from_rate, to_rate) -%}
    {%- set scaled -%}
        (cast(round(({{ amount }}) * 100, 0) as bigint)
        * cast(round(({{ to_rate }}) * 1000000, 0) as bigint))
    {%- endset -%}
    {%- set divisor -%}
        cast(round(({{ from_rate }}) * 1000000, 0) as bigint)
    {%- endset -%}
    cast(
        cast(
            sign({{ scaled }})
            * {{ integer_divide('2 * abs(' ~ scaled ~ ') + ' ~ divisor, '2 * ' ~ divisor) }}
            as numeric(18, 0)
        ) * cast(0.01 as numeric(3, 2))
        as numeric(18, 2)
    )
{%- endmacro %}
