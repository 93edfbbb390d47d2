"""Entry point for `python -m detector`."""

from detector.cli import main

raise SystemExit(main())
