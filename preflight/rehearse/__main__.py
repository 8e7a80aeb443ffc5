"""Entry point of `python -m preflight.rehearse` (see preflight.rehearse.cli)."""

import sys

from preflight.rehearse.cli import main

sys.exit(main())
