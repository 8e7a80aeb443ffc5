"""Fixtures for the root access key audit tests (CIS 1.4 / Security Hub IAM.4); builders live in helpers.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from moto.server import ThreadedMotoServer

from audit.aws import RetryPolicy
from simulate import moto_root
from tests.audit.helpers import FakeClients, Recorder


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def fast_retry(recorder: Recorder) -> RetryPolicy:
    return RetryPolicy(
        base_delay=1.0,
        max_delay=8.0,
        max_attempts=6,
        deadline_seconds=60.0,
        sleep=recorder.sleep,
        clock=recorder.clock,
        jitter=lambda delay: delay,
    )


@pytest.fixture
def fake_clients() -> FakeClients:
    return FakeClients()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and region so nothing can reach a real account."""
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def moto_root_installed() -> Iterator[None]:
    moto_root.install()
    moto_root.reset()
    yield
    moto_root.reset()


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """A real HTTP moto server on a free port, shared by the tests of this session."""
    moto_root.install()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def moto_url(moto_server: str, aws_env: None) -> Iterator[str]:
    """The shared moto server, empty at the start of the test and left empty after it: moto's state is the whole
    process's, so what a test leaves would reach other in-process servers' tests too."""

    def reset() -> None:
        requests.post(f"{moto_server}/moto-api/reset", timeout=10).raise_for_status()
        moto_root.reset()

    reset()
    yield moto_server
    reset()
