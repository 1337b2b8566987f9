"""Pure logic of the demo source system: its fault settings."""

from __future__ import annotations

import pytest

from demo.faults import ApiFaults


def test_negative_unauthorized_after_is_refused():
    with pytest.raises(ValueError, match="unauthorized_after"):
        ApiFaults(unauthorized_after=-1)
