"""Stand-in for dbt's `adapter` object, for sqlfluff's jinja templater only."""


def get_relation(database=None, schema=None, identifier=None):
    return None
