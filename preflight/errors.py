"""The one error type preflight raises for usage and internal failures (exit status 2).

Serves every control: a preflight that cannot run its check must never read as a pass, so every failure to load
input, run the program or drive a policy pack ends up here with a message naming what was wrong.
"""

from __future__ import annotations


class PreflightError(Exception):
    """A usage or internal error: preflight could not reach a verdict. The CLI prints it and exits 2."""
