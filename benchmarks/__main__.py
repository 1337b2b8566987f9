"""``python -m benchmarks``: run the benchmark (see ``benchmarks.cli``)."""

from benchmarks.cli import main

raise SystemExit(main())
