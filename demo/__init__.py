"""The demo source system: a simulated online shop (CRM + FX API, shop database, event drops).

See demo/README.md and docs/interfaces.md; run `python -m demo --help`.
"""
