"""`python -m server` runs the command line."""

from server.cli import main

raise SystemExit(main())
