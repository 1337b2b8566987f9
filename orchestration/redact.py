"""Keep secrets out of logs, the ledger and alerts.

Known secret values (the webhook URL, and environment values whose name ends in ``PASSWORD``,
``TOKEN``, ``SECRET``, ``API_KEY``, ``WEBHOOK_URL`` or ``CREDENTIALS`` or starts with
``DBT_ENV_SECRET_``) are replaced by ``***``, and so are credentials embedded in URLs, bearer
tokens and ``password=``/``token=``/``secret=`` settings.
"""

from __future__ import annotations

import io
import logging
import os
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

MASK = "***"
_SECRET_ENV_SUFFIXES = ("PASSWORD", "TOKEN", "SECRET", "API_KEY", "WEBHOOK_URL", "CREDENTIALS")
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@", re.I)
_BEARER = re.compile(r"(?P<prefix>bearer\s+)[A-Za-z0-9._~+/=-]{8,}", re.I)
_KEY_VALUE = re.compile(r"(?P<key>(password|passwd|token|secret)\s*[=:]\s*)[^\s,;'\"]+", re.I)

_extra_secrets: set[str] = set()


def register(*values: str | None) -> None:
    """Add secret values (e.g. the webhook URL once resolved) to mask from now on."""
    for value in values:
        if value and len(value) >= 4:
            _extra_secrets.add(value)


def known_secrets() -> list[str]:
    """Secret values currently known: registered ones plus secret-looking environment values."""
    values = set(_extra_secrets)
    for name, value in os.environ.items():
        secret_name = name.upper().endswith(_SECRET_ENV_SUFFIXES) or name.startswith(
            "DBT_ENV_SECRET_"
        )
        if value and len(value) >= 4 and secret_name:
            values.add(value)
    # longest first, so a secret containing another is masked whole
    return sorted(values, key=len, reverse=True)


def redact(text: str, extra: Iterable[str] = ()) -> str:
    """Return ``text`` with every known secret (plus ``extra``) and credential pattern masked."""
    if not text:
        return text
    for secret in sorted({*known_secrets(), *extra}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    text = _URL_CREDENTIALS.sub(lambda m: f"{m.group('scheme')}{MASK}@", text)
    text = _BEARER.sub(lambda m: f"{m.group('prefix')}{MASK}", text)
    return _KEY_VALUE.sub(lambda m: f"{m.group('key')}{MASK}", text)


class RedactingFilter(logging.Filter):
    """A logging filter that masks secrets in every record that passes through a handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def install_on_root_handlers() -> None:
    """Attach the redacting filter to every handler of the root logger (idempotent)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())


class RedactingStream(io.TextIOBase):
    """A text stream that masks secrets before writing to the wrapped stream.

    The CLI wraps ``sys.stdout`` and ``sys.stderr`` with it, so output of libraries that write
    to the console themselves (dbt's event logger, dlt) is masked too.
    """

    def __init__(self, wrapped: TextIO) -> None:
        super().__init__()
        self.wrapped = wrapped

    def write(self, text: str) -> int:
        self.wrapped.write(redact(text))
        return len(text)

    def flush(self) -> None:
        self.wrapped.flush()

    def isatty(self) -> bool:
        return self.wrapped.isatty()

    def fileno(self) -> int:
        return self.wrapped.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.wrapped, "encoding", "utf-8")


def wrap_standard_streams() -> None:
    """Replace ``sys.stdout``/``sys.stderr`` with redacting streams (idempotent)."""
    if not isinstance(sys.stdout, RedactingStream):
        sys.stdout = RedactingStream(sys.stdout)
    if not isinstance(sys.stderr, RedactingStream):
        sys.stderr = RedactingStream(sys.stderr)


def scrub_file(path: Path) -> None:
    """Mask secrets in a log file written by a library (e.g. dbt's ``logs/dbt.log``)."""
    if not path.is_file() or not known_secrets():
        return
    text = path.read_text(encoding="utf-8", errors="replace")
    cleaned = redact(text)
    if cleaned != text:
        path.write_text(cleaned, encoding="utf-8")
