"""Fixtures for the program tests."""

from __future__ import annotations

import pytest

from tests.components.support import Registered, program


@pytest.fixture(scope="session")
def baseline() -> Registered:
    """The program with no stack config: Pulumi.yaml defaults only."""
    return program()


def pytest_configure(config: pytest.Config) -> None:
    # pulumi_aws warns about its own deprecated aliases when a module is imported; not about this program.
    config.addinivalue_line(
        "filterwarnings", "ignore:.*has been deprecated in favor of:DeprecationWarning:pulumi_aws"
    )
