"""Reliability and security battery (issue 8): `make faults` in full, `make test` a fast slice."""
