"""Fixtures for every test of the project."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def listing_in_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """An org audit run in a test lists in the test's own process, where the fakes, moto's in-process backends and
    the virtual clock are, whether or not the test runner has started threads of its own. A `python -m audit`
    child forks its lister as in production, and tests/audit/test_lister.py forks on purpose."""
    monkeypatch.setattr("audit.org.can_fork", lambda: False)
