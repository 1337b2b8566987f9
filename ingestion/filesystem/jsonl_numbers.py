"""Numbers orjson reads as a different value, found without re-reading every line.

orjson reads a number too small for a double, or an integer past 64 bits, as another value
(``1e-400`` as 0.0, ``-9223372036854775809`` as a float); such a line is re-read by Python's
parser and rejected. Every such number has 19 digits in a row or a 3-digit exponent, so only a
line showing one of these marks outside its strings is re-read.
"""

from __future__ import annotations

import json
import math
import re

# digits as 0, exponents as e, signs dropped: the marks are then two fixed byte strings
_MARKING = bytes.maketrans(b"123456789E", b"000000000e")
RUN, EXPONENT = b"0" * 19, b"0e000"
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')


def marks(text: str) -> bytes:
    """A valid JSON text (or several, joined) with its digits, exponents and signs marked."""
    return text.encode().translate(_MARKING, b"+-")


def marked(marked_text: bytes) -> bool:
    """Whether marked text shows a run of 19 digits or a 3-digit exponent."""
    return RUN in marked_text or EXPONENT in marked_text


def marked_lines(texts: list[str]) -> list[int] | None:
    """Which of several valid JSON texts show a mark, by index, found in one pass over them
    all (None: a text holds a line break, JSON whitespace)."""
    block = marks("\n".join(texts))
    if block.count(b"\n") != len(texts) - 1:
        return None
    found: set[int] = set()
    for mark in (RUN, EXPONENT):
        line, counted, at = 0, 0, block.find(mark)
        while at >= 0:
            line += block.count(b"\n", counted, at)
            found.add(line)
            counted = block.find(b"\n", at)  # on to the next text
            at = block.find(mark, counted) if counted >= 0 else -1
    return sorted(found)


def suspect(line: str) -> bool:
    """Whether a valid JSON line shows a mark outside its strings (keys are strings too)."""
    line_marks = marks(line)
    if not marked(line_marks):
        return False
    if b"\\" in line_marks:  # an escaped quote may hide a string's end: strip strings by grammar
        return marked(marks(_STRING.sub("", line)))
    for mark in (RUN, EXPONENT):  # without escapes, a mark after an even number of quotes
        at = line_marks.find(mark)
        while at >= 0:
            if line_marks.count(b'"', 0, at) % 2 == 0:
                return True
            at = line_marks.find(mark, at + 1)
    return False


def _exact_float(text: str) -> float:
    value = float(text)
    mantissa = re.split("[eE]", text)[0]
    if math.isinf(value) or (value == 0.0 and mantissa.strip("-+0.")):
        raise ValueError(f"the number {text} is out of the float64 range")
    return value


def _exact_int(text: str) -> int:
    value = int(text)
    if not -(2**63) <= value < 2**64:
        raise ValueError(f"the integer {text} does not fit 64 bits")
    return value


def number_problem(line: str) -> str | None:
    """Why a JSON line holds a number orjson would read as another value, or None."""
    try:
        json.loads(line, parse_float=_exact_float, parse_int=_exact_int)
    except ValueError as exc:
        return f"invalid JSON ({exc}; it would load as a different value)"
    return None
