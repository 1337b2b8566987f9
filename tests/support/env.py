"""Environment variables in tests: a clean copy for subprocesses, a temporary set in-process."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import pytest


def clean_env(*drop_prefixes: str) -> dict[str, str]:
    """This process's environment without the variables starting with any of the prefixes."""
    return {k: v for k, v in os.environ.items() if not k.startswith(drop_prefixes)}


@contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the duration of the block."""
    with pytest.MonkeyPatch.context() as patch:
        for key, value in values.items():
            patch.setenv(key, value)
        yield
