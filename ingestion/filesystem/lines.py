"""Numbered text lines of a file, with bytes that are not UTF-8 kept visible to the parsers."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import IO


def undecodable(line: str) -> str | None:
    """Why a line read with ``surrogateescape`` is not valid UTF-8, or None when it is."""
    if line.isascii():  # the common case, checked in C before any per-character loop
        return None
    try:
        line.encode("utf-8")  # escaped bytes are lone surrogates, which strict UTF-8 refuses
        return None
    except UnicodeEncodeError:
        pass
    for column, char in enumerate(line, start=1):
        if "\udc80" <= char <= "\udcff":
            byte = ord(char) - 0xDC00
            return f"not valid UTF-8 (byte 0x{byte:02x} at character {column}); files must be UTF-8"
    return None


def printable(line: str) -> str:
    """A line with its undecodable bytes shown as ``\\xNN`` (storable as text)."""
    return line.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def text_lines(stream: IO[bytes], skip_data_lines: int = 0) -> Iterator[tuple[int, str]]:
    """Numbered text lines of a stream (1-based), read lazily.

    Args:
        stream: the open (decompressed) file, positioned at its start.
        skip_data_lines: leave out the first N non-blank lines after line 1 (rows an earlier
            fast read already delivered).
    """
    # utf-8-sig drops a byte order mark; surrogateescape keeps bad bytes visible to the parsers,
    # which reject such lines (errors="replace" would load altered text without a word)
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="surrogateescape", newline=None)
    skipped = 0
    for number, line in enumerate(text, start=1):
        line = line.rstrip("\n")
        if number > 1 and skipped < skip_data_lines and line:  # pyarrow skips empty lines
            skipped += 1
            continue
        yield number, line
    text.detach()
