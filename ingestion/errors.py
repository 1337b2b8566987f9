"""One clear line for a failed source: the source, dlt's step and the underlying error, masked."""

from __future__ import annotations

from dlt.common.exceptions import DltException
from dlt.load.exceptions import LoadClientJobFailed

from ingestion.redact import redact

DEMO_HINT = (
    " (a demo source: `make run` generates the demo shop and serves its API; by hand:"
    " `python -m demo generate`, then `python -m demo serve --background`)"
)


def unwrapped(exc: BaseException) -> list[BaseException]:
    """``exc`` and what each dlt exception in turn wraps; the last one is the error it is about.

    Only dlt's own exceptions are unwrapped: a foreign exception's ``__context__`` is whatever
    was being handled when it was raised (a paginating generator's ``StopIteration`` under an
    HTTP 401), not its cause.
    """
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        if not isinstance(current, DltException):
            break
        # a failed load job carries the warehouse's own error (the traceback is only text)
        current = (
            getattr(current, "client_exception", None) or current.__cause__ or current.__context__
        )
    return chain


def describe_error(name: str, exc: BaseException, demo: bool = False) -> str:
    """One line naming the failing source, the step and the underlying error.

    Args:
        name: the source's name.
        exc: what the pipeline raised.
        demo: the source is the bundled demo shop: say how to start it when it is unreachable.
    """
    chain = unwrapped(exc)
    cause = chain[-1]
    step = getattr(exc, "step", None)
    where = f" in {step}" if step else ""
    message = " ".join(redact(str(cause)).split())[:400]  # masked whole, then shortened
    aborted = ""
    if any(isinstance(e, LoadClientJobFailed) for e in chain):
        aborted = " (load package aborted; the next run reads these rows again)"
    unreachable = isinstance(cause, OSError) and getattr(cause, "response", None) is None
    hint = DEMO_HINT if demo and unreachable else ""  # not running, or its files are missing
    return f"source {name!r} failed{where}: {type(cause).__name__}: {message}{aborted}{hint}"
