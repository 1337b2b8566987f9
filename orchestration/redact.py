"""Keep secrets out of logs, the ledger and alerts.

Known secret values (the webhook URL, the PostgreSQL password, the demo API token and anything
under ``*_TOKEN``/``*_PASSWORD``/``*_SECRET``/``*_KEY``/``*_WEBHOOK_URL`` in the environment)
are replaced by ``***``, and so are credentials embedded in URLs and bearer tokens.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable

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
        if value and len(value) >= 4 and name.upper().endswith(_SECRET_ENV_SUFFIXES):
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
