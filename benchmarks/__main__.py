"""``python -m benchmarks``: run the benchmark (see ``benchmarks.cli``); ``python -m benchmarks
watch`` runs the watch mode's (``benchmarks.watch``)."""

import sys

if sys.argv[1:2] == ["watch"]:
    from benchmarks.watch import main as watch_main

    raise SystemExit(watch_main(sys.argv[2:]))

from benchmarks.cli import main

raise SystemExit(main())
