"""Stand-ins for dbt's cross-database macros, for sqlfluff's jinja templater only."""


def type_string():
    return "text"


def listagg(measure, delimiter_text="','", order_by_clause=None, limit_num=None):
    return f"string_agg({measure}, {delimiter_text})"


def dateadd(datepart, interval, from_date_or_timestamp):
    return f"({from_date_or_timestamp} + interval '{interval} {datepart}')"


def datediff(first_date, second_date, datepart):
    return f"({second_date} - {first_date})"


def date_trunc(datepart, date):
    return f"date_trunc('{datepart}', {date})"


def split_part(string_text, delimiter_text, part_number):
    return f"split_part({string_text}, {delimiter_text}, {part_number})"


def type_float():
    return "float"


def type_bigint():
    return "bigint"


def type_int():
    return "integer"


def type_timestamp():
    return "timestamp"


def type_numeric():
    return "numeric"


def date_spine(datepart, start_date, end_date):
    return (
        f"select cast(d as date) as date_{datepart} "
        f"from generate_series({start_date}, {end_date}, interval '1 {datepart}') as d"
    )
