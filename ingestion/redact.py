"""The one place secrets are masked, before anything is printed, alerted or stored.

A value is a secret when the configuration says so: it was read through a ``secret:`` or
``file:`` reference, injected by dlt into a secret argument, set under a secret-named key
(``token``, ``password``, ``api_key``, ``credentials``, ...; see ``ingestion.config``), found in
``.dlt/secrets.toml``, registered by the run script (the alert webhook), or held by an environment
variable named like one (``*_TOKEN``, ``*_PASSWORD``, ``*_SECRET``, ``*_API_KEY``, ...).
``redact`` replaces each of them with ``***`` in every form it takes in a URL, a JSON text or a
Python repr, and masks what looks like a credential whose value is not known: the user and
password of a URL, a bearer token, ``password=``-style settings and secret-named URL query
parameters (``?api_key=...``).
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import sys
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote, quote_plus, unquote_plus, urlsplit

MASK = "***"
MIN_SECRET_CHARS = 4
_SECRET_ENV_SUFFIXES = ("PASSWORD", "TOKEN", "SECRET", "API_KEY", "WEBHOOK_URL", "CREDENTIALS")
# Key names whose values are secrets (compared lowercased, ``-`` read as ``_``).
SECRET_KEY_SUFFIXES = (
    "token",
    "password",
    "passwd",
    "secret",
    "api_key",
    "apikey",
    "access_key",
    "private_key",
    "credentials",
    "authorization",
)
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@", re.I)
_BEARER = re.compile(r"(?P<prefix>\b(?:bearer|basic)\s+)[A-Za-z0-9._~+/=-]{8,}", re.I)
_NAMES = r"password|passwd|token|secret|api[_-]?key|apikey|access[_-]?key"
# not a dotted setting path (``crm.token: cannot read ...`` names a key, it holds no value)
_KEY_VALUE = re.compile(
    rf"(?<![.\w-])(?P<key>[\w-]*(?:{_NAMES})['\"]?\s*[=:]\s*['\"]?)[^\s,;'\"&]+", re.I
)
_QUERY_PARAM = re.compile(
    rf"(?P<key>[?&;](?:key|sig|signature|pwd|[\w.-]*(?:{_NAMES}|credential|auth)[\w.-]*)=)"
    r"[^&#\s\"'<>]+",
    re.I,
)
_QUERY_VALUE = re.compile(r"(?P<key>[?&;][\w.%-]+=)(?P<value>[^&#\s\"'<>]+)")
# Characters requests leaves unencoded when it re-quotes a URL (requests.utils.requote_uri).
_URL_SAFE = "!#$%&'()*+,/:;=?@[]~"

_registered: set[str] = set()


def is_secret_key(name: str) -> bool:
    """Whether a setting named ``name`` holds a secret (``token``, ``X-API-Key``, ...)."""
    normalised = name.strip().lower().replace("-", "_")
    return normalised == "pwd" or normalised.endswith(SECRET_KEY_SUFFIXES)


def register(*values: Any) -> None:
    """Mask these values from now on: strings, or every string inside a mapping or list.

    A URL also registers its password and its secret-named query parameters' values.
    """
    for value in values:
        if isinstance(value, dict):
            register(*value.values())
        elif isinstance(value, list | tuple):
            register(*value)
        elif isinstance(value, str) and len(value) >= MIN_SECRET_CHARS:
            _registered.add(value)
            _register_url_parts(value)


def secret(value: Any) -> Any:
    """Register a value read through a reference (``secret:``, ``file:``) and return it; an
    HTTP URL's path is masked too (a key in the path)."""
    register(value)
    parts = urlsplit(value) if isinstance(value, str) and "://" in value else None
    if parts is not None and parts.scheme in ("http", "https") and len(parts.path) > 1:
        register(parts.path.rstrip("/"))
    return value


def _register_url_parts(value: str) -> None:
    if "://" not in value:
        return
    try:
        parts = urlsplit(value)
        password = parts.password
    except ValueError:
        return
    if password:
        register(password, unquote_plus(password))
    for match in _QUERY_PARAM.finditer("?" + parts.query if parts.query else ""):
        register(unquote_plus(match.group(0).split("=", 1)[1]))


def known_secrets() -> list[str]:
    """Secret values currently known: registered ones plus secret-looking environment values."""
    values = set(_registered)
    for name, value in os.environ.items():
        secret_name = name.upper().endswith(_SECRET_ENV_SUFFIXES) or name.startswith(
            "DBT_ENV_SECRET_"
        )
        if value and len(value) >= MIN_SECRET_CHARS and secret_name:
            values.add(value)
    # longest first, so a secret containing another is masked whole
    return sorted(values, key=len, reverse=True)


@lru_cache(maxsize=4096)
def forms(secret: str) -> frozenset[str]:
    """The ways ``secret`` is written in URLs (each quoting style), JSON texts and reprs."""
    found = {secret, json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]}
    found.add(repr(secret)[1:-1])
    for safe in ("", "/", "*", _URL_SAFE):
        found.update((quote(secret, safe=safe), quote_plus(secret, safe=safe)))
    found |= {re.sub("%[0-9A-F]{2}", lambda m: m.group(0).lower(), f) for f in found}
    return frozenset(f for f in found if len(f) >= MIN_SECRET_CHARS)


def redact(text: str, extra: Iterable[str] = ()) -> str:
    """Return ``text`` with every known secret (plus ``extra``) and credential pattern masked."""
    if not text:
        return text
    secrets = {*known_secrets(), *(e for e in extra if e and len(e) >= MIN_SECRET_CHARS)}
    for form in sorted({f for s in secrets for f in forms(s)}, key=len, reverse=True):
        text = text.replace(form, MASK)
    if secrets:  # a query value that decodes to a secret, however it was quoted
        text = _QUERY_VALUE.sub(lambda m: _masked_value(m, secrets), text)
    text = _URL_CREDENTIALS.sub(lambda m: f"{m.group('scheme')}{MASK}@", text)
    text = _BEARER.sub(lambda m: f"{m.group('prefix')}{MASK}", text)
    text = _QUERY_PARAM.sub(lambda m: f"{m.group('key')}{MASK}", text)
    return _KEY_VALUE.sub(lambda m: f"{m.group('key')}{MASK}", text)


def _masked_value(match: re.Match[str], secrets: set[str]) -> str:
    value = unquote_plus(match.group("value"))
    if any(secret in value for secret in secrets):
        return f"{match.group('key')}{MASK}"
    return match.group(0)


def redact_any(value: Any) -> Any:
    """``redact`` on every string inside a structure (mapping keys included); a copy."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact_any(k): redact_any(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact_any(v) for v in value)
    return value


class RedactingFilter(logging.Filter):
    """A logging filter that masks secrets in every record that passes through a handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:  # a traceback's text carries messages too
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
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
