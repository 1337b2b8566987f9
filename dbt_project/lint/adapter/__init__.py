"""dbt's `adapter` for sqlfluff's jinja templater: `dispatch` finds the project's real macros."""

import jinja2


@jinja2.pass_context
def dispatch(context, macro_name, macro_namespace=None):
    """The `postgres__` or else `default__` implementation of a project macro, as dbt would."""
    for prefix in ("postgres__", "default__"):
        macro = context.get(prefix + macro_name)
        if macro is not None:
            return macro
    raise LookupError(f"no postgres__ or default__ implementation of macro {macro_name}")
