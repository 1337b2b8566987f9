"""`python -m demo`: see `demo.cli`."""

from demo.cli import main

raise SystemExit(main())
