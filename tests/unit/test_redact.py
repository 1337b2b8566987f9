"""The one redaction: every form a secret takes is masked, and the config registers its secrets."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from dlt.sources.helpers.rest_client.redaction import sanitize_url
from hypothesis import given, settings
from hypothesis import strategies as st
from requests import PreparedRequest

from ingestion import config, redact

META = ".^$*+?()[]{}|\\/&=%#~!@:;,'\" é"
SECRETS = st.text(
    alphabet=st.sampled_from("abcdefXYZ0123456789" + META), min_size=6, max_size=40
).filter(lambda s: sum(c.isalnum() for c in s) >= 3)


def _texts_carrying(secret: str) -> list[str]:
    """Where a secret ends up: a URL as requests sends it, as dlt shows it, JSON, a repr."""
    request = PreparedRequest()
    request.prepare_url("http://api.example/v1/items", {"key": secret, "page": "2"})
    url = str(request.url)
    return [
        f"error for url: {url}",
        f"sanitized: {sanitize_url(url, {'page'})}",
        json.dumps({"error": f"bad key {secret}", "url": url}),
        repr({"headers": {"X-Custom": secret}}),
        f"plain {secret} text",
    ]


@settings(max_examples=100, deadline=None)
@given(secret=SECRETS)
def test_a_secret_is_masked_in_every_form_it_takes(secret: str) -> None:
    for text in _texts_carrying(secret):
        cleaned = redact.redact(text, extra=[secret])
        left = [form for form in redact.forms(secret) if form in cleaned]
        assert not left, (text, cleaned)


def test_secret_named_query_parameters_are_masked_even_when_their_value_is_unknown() -> None:
    text = "GET /v1?cursor=abc&api_key=k1&x-api-key=k2&access_token=k3&sig=k4&key=k5&page=2"

    cleaned = redact.redact(text)

    assert cleaned == (
        "GET /v1?cursor=abc&api_key=***&x-api-key=***&access_token=***&sig=***&key=***&page=2"
    )


def test_a_url_secret_registers_its_password_and_its_secret_query_values() -> None:
    password, key = uuid.uuid4().hex, uuid.uuid4().hex
    redact.register(f"postgresql://loader:{password}@db/x?sslpassword=zz{key}")
    cleaned = redact.redact(f"auth failed for {password}; key zz{key}")

    assert cleaned == "auth failed for ***; key ***"


def test_the_config_registers_references_and_secret_named_values_but_not_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from_file, from_env, literal, plain = (uuid.uuid4().hex for _ in range(4))
    (tmp_path / "key").write_text(from_file + "\n")
    monkeypatch.setenv("SOURCES__CRM__ACCESS_CODE", from_env)

    config.resolve_secret(f"file:{tmp_path / 'key'}", where="crm.client.headers.X-Custom")
    config.resolve_secret("secret:sources.crm.access_code", where="crm.defaults.params.code")
    config.resolve_secret(literal, where="crm.client.headers.X-API-Key")
    config.resolve_secret(plain, where="crm.resources.customers.primary_key")

    known = redact.known_secrets()
    assert {from_file, from_env, literal} <= set(known)
    assert plain not in known
    assert redact.is_secret_key("client_secret") and not redact.is_secret_key("primary_key")
