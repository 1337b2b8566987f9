"""Adversarial cases for the erasure's identifiers (issue 19): generated variants of an address.

A person asks to be erased by the address they know; the CRM holds it as it was typed there.
Both must hash alike whatever case, surrounding whitespace or Unicode form each side used.
"""

from __future__ import annotations

import json
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from ingestion import suppression
from orchestration.erasure import Subject
from orchestration.erasure_rejects import addresses_in

KEY = b"unit-test-erasure-key-attack-01"
# Letters whose case round-trips (no \u00df, no dotted I): ASCII plus decomposable accents.
LETTERS = "abcdefghijklmnopqrstuvwxyz0123456789\u00e9\u00fc\u00f8\u00e5\u00f1\u00e7\u00e0"
PADDING = [" ", "\t", "\n", "\r\n", "\u00a0", "\u2003", "\ufeff", "\u200b"]
CASES = [str.lower, str.upper, str.swapcase, str.title, lambda s: s]
FORMS = ["NFC", "NFD", "NFKC", "NFKD"]

part = st.text(alphabet=LETTERS, min_size=1, max_size=12)
emails = st.builds(lambda local, host: f"{local}@{host}.example", part, part)


@st.composite
def typed(draw: st.DrawFn, email: str) -> str:
    """``email`` as someone may have typed it: case, Unicode form and padding drawn."""
    text = draw(st.sampled_from(CASES))(email)
    text = unicodedata.normalize(draw(st.sampled_from(FORMS)), text)
    left = "".join(draw(st.lists(st.sampled_from(PADDING), max_size=2)))
    right = "".join(draw(st.lists(st.sampled_from(PADDING), max_size=2)))
    return f"{left}{text}{right}"


@settings(max_examples=150, deadline=None, database=None, derandomize=True)
@given(data=st.data(), email=emails)
def test_a_request_matches_the_crm_address_whatever_case_padding_or_unicode_form(
    data: st.DataObject, email: str
) -> None:
    asked, stored = data.draw(typed(email), "asked"), data.draw(typed(email), "stored")

    subject = Subject.of("email", asked)

    assert suppression.keyed_hash(KEY, "email", subject.value) == suppression.keyed_hash(
        KEY, "email", stored
    )


@settings(max_examples=100, deadline=None, database=None, derandomize=True)
@given(email=emails, other=emails)
def test_different_addresses_never_share_a_hash(email: str, other: str) -> None:
    if email == other:
        return
    assert suppression.keyed_hash(KEY, "email", email) != suppression.keyed_hash(
        KEY, "email", other
    )


def _renderings(email: str, name: str) -> list[str]:
    """How a malformed row may hold ``email`` in ``rejected_records.raw_text``."""
    record = {"id": "x", "email": email, "name": name}
    return [
        json.dumps(record),  # Python's default: non-ASCII as \\u escapes
        json.dumps(record, ensure_ascii=False),
        f"x,{name},{email},broken",
        f'x;"{email.upper()}";',
        f"<{unicodedata.normalize('NFD', email)}>.",
        f"contact: {email}. thanks",
    ]


@settings(max_examples=100, deadline=None, database=None, derandomize=True)
@given(email=emails, name=part)
def test_an_address_is_found_in_every_rendering_of_a_rejected_row(email: str, name: str) -> None:
    wanted = suppression.keyed_hash(KEY, "email", email)

    for text in _renderings(email, name):
        found = {suppression.keyed_hash(KEY, "email", t) for t in addresses_in(text)}
        assert wanted in found, text
