"""Fault matrix of fetching the credential report (CIS 1.4 / IAM.4 audit): every failure mode ends as ERROR with a
reason, never PASS. botocore's Stubber makes the faults moto cannot (in progress, expired, throttled...)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError, NoCredentialsError, ParamValidationError, ReadTimeoutError

from audit.aws import (
    AuditError,
    Budget,
    Clients,
    ReportFetch,
    ReportTimes,
    RetryPolicy,
    account_config,
    audit_account,
    client_config,
    fetch_credential_report,
)
from audit.report import Status
from tests.audit.helpers import BASELINE_ACCOUNT, FakeClients, Recorder, baseline_text

NOW = datetime(2026, 11, 29, 10, 0, tzinfo=timezone.utc)
MAX_AGE = timedelta(hours=5)
ATTEMPTS = 6  # fast_retry.max_attempts


def _report(content: bytes | None = None, generated: datetime | None = NOW - timedelta(minutes=10), **extra: Any) -> dict[str, Any]:
    response: dict[str, Any] = {"Content": content or baseline_text().encode(), "ReportFormat": "text/csv"}
    if generated is not None:
        response["GeneratedTime"] = generated
    response.update(extra)
    return response


def _audit(clients: FakeClients, policy: RetryPolicy) -> Any:
    return audit_account(clients, BASELINE_ACCOUNT, policy=policy, max_age=MAX_AGE, now=lambda: NOW)


def _complete(stub: Any) -> None:
    stub.add_response("generate_credential_report", {"State": "COMPLETE"})


def test_fetch_complete_at_once_passes_without_sleeping(fake_clients: FakeClients, fast_retry: RetryPolicy, recorder: Recorder) -> None:
    iam = fake_clients.stub("iam")
    _complete(iam)
    iam.add_response("get_credential_report", _report())
    result = _audit(fake_clients, fast_retry)
    assert result.status is Status.PASS
    assert recorder.sleeps == []
    fake_clients.assert_no_pending()


def test_fetch_in_progress_polls_download_with_backoff(
    fake_clients: FakeClients, fast_retry: RetryPolicy, recorder: Recorder
) -> None:
    # After STARTED the download is the poll: one call per poll, not a generate and a get.
    iam = fake_clients.stub("iam")
    iam.add_response("generate_credential_report", {"State": "STARTED", "Description": "No report exists."})
    iam.add_client_error("get_credential_report", "ReportInProgress", "still generating", 404)
    iam.add_client_error("get_credential_report", "ReportInProgress", "still generating", 404)
    iam.add_response("get_credential_report", _report())
    result = _audit(fake_clients, fast_retry)
    assert result.status is Status.PASS
    assert recorder.sleeps == [1.0, 2.0, 4.0]
    fake_clients.assert_no_pending()


def test_fetch_generation_inprogress_goes_to_download(fake_clients: FakeClients, fast_retry: RetryPolicy, recorder: Recorder) -> None:
    iam = fake_clients.stub("iam")
    iam.add_response("generate_credential_report", {"State": "INPROGRESS"})
    iam.add_response("get_credential_report", _report())
    assert _audit(fake_clients, fast_retry).status is Status.PASS
    assert recorder.sleeps == [1.0]
    fake_clients.assert_no_pending()


def _fetch_with(times: ReportTimes, fake_clients: FakeClients, policy: RetryPolicy, recorder: Recorder) -> None:
    """Drive one ReportFetch to its end as the single-account path does, sleeping on the virtual clock."""
    fetch = ReportFetch(fake_clients("iam"), Budget(policy), times)
    while (pause := fetch.step()) is not None:
        if pause:
            recorder.sleep(pause)
    assert fetch.report is not None


def _started_then(stub: Any, misses: int) -> None:
    stub.add_response("generate_credential_report", {"State": "STARTED"})
    for _ in range(misses):
        stub.add_client_error("get_credential_report", "ReportInProgress", "still generating", 404)
    stub.add_response("get_credential_report", _report())


@pytest.mark.parametrize(
    "known, misses, sleeps, learned",
    [
        # Nothing known yet: the blind schedule (1 s, 2 s); the report was ready at the poll 3 s after STARTED.
        (None, 1, [1.0, 2.0], 3.0),
        # A report of the run was ready 2.5 s after asking: one poll then, and half a step (5%) more for the noise
        # in the ages, not a futile one at 1 s.
        (2.5, 0, [2.625], 2.5),
        # This report is slower: the second wait is the schedule's, and the estimate stays the earliest.
        (2.5, 1, [2.625, 2.0], 2.5),
        # 55 s and a 13 s call would pass the 60 s deadline: the blind 1 s, and the audit goes on.
        (55.0, 0, [1.0], 1.0),
    ],
    ids=["blind-then-learns", "polls-when-known", "slower-backs-off", "estimate-past-deadline-unused"],
)
def test_fetch_first_poll_by_what_the_run_knows(
    known: float | None, misses: int, sleeps: list[float], learned: float,
    fake_clients: FakeClients, fast_retry: RetryPolicy, recorder: Recorder,
) -> None:
    times = ReportTimes()
    if known is not None:
        times.saw_ready(known)
    _started_then(fake_clients.stub("iam"), misses=misses)
    _fetch_with(times, fake_clients, fast_retry, recorder)
    assert (recorder.sleeps, times.ready_after) == (sleeps, learned)
    fake_clients.assert_no_pending()


def _generated_blind(times: ReportTimes, fake_clients: FakeClients, policy: RetryPolicy, recorder: Recorder) -> tuple[Any, ReportFetch]:
    """A fetch whose generation said STARTED with nothing known yet, at its blind first poll 1 s later."""
    iam = fake_clients.stub("iam")
    iam.add_response("generate_credential_report", {"State": "STARTED"})
    fetch = ReportFetch(fake_clients("iam"), Budget(policy), times)
    assert fetch.step() == 1.0
    recorder.sleep(1.0)
    return iam, fetch


def test_fetch_poll_due_before_the_run_knew_is_put_back_without_a_call(
    fake_clients: FakeClients, fast_retry: RetryPolicy, recorder: Recorder
) -> None:
    times = ReportTimes()
    iam, fetch = _generated_blind(times, fake_clients, fast_retry, recorder)
    times.saw_ready(2.5)  # meanwhile another account's report was ready 2.5 s after asking: poll at 2.625 s
    assert fetch.step() == 1.625  # no call: a call with nothing queued on the Stubber would raise
    recorder.sleep(1.625)
    iam.add_response("get_credential_report", _report())
    assert fetch.step() is None
    assert (fetch.report is not None, fetch.budget.calls) == (True, 2)
    fake_clients.assert_no_pending()


def test_fetch_put_back_never_past_the_deadline(fake_clients: FakeClients, fast_retry: RetryPolicy, recorder: Recorder) -> None:
    times = ReportTimes()
    iam, fetch = _generated_blind(times, fake_clients, fast_retry, recorder)
    times.saw_ready(50.0)  # waiting until 50 s and a 13 s call would pass the 60 s deadline: poll now
    iam.add_response("get_credential_report", _report())
    assert fetch.step() is None
    fake_clients.assert_no_pending()


def test_report_times_keeps_the_earliest_age() -> None:
    times = ReportTimes()
    assert times.ready_after is None
    for age, expected in ((3.0, 3.0), (5.0, 3.0), (2.2, 2.2), (-1.0, 2.2)):
        times.saw_ready(age)
        assert times.ready_after == expected


def test_fetch_regenerated_report_is_not_timed_from_the_old_generation(
    fake_clients: FakeClients, fast_retry: RetryPolicy, recorder: Recorder
) -> None:
    # ReportNotPresent after STARTED starts a new generation; COMPLETE then is no poll, so nothing is learned.
    times = ReportTimes()
    iam = fake_clients.stub("iam")
    iam.add_response("generate_credential_report", {"State": "STARTED"})
    iam.add_client_error("get_credential_report", "ReportNotPresent", "gone", 410)
    iam.add_response("generate_credential_report", {"State": "COMPLETE"})
    iam.add_response("get_credential_report", _report())
    _fetch_with(times, fake_clients, fast_retry, recorder)
    assert (recorder.sleeps, times.ready_after) == ([1.0, 2.0], None)
    fake_clients.assert_no_pending()


def test_fetch_expired_once_regenerates_and_passes(fake_clients: FakeClients, fast_retry: RetryPolicy, recorder: Recorder) -> None:
    iam = fake_clients.stub("iam")
    _complete(iam)
    iam.add_client_error("get_credential_report", "ReportExpired", "The report is expired.", 410)
    _complete(iam)
    iam.add_response("get_credential_report", _report())
    assert _audit(fake_clients, fast_retry).status is Status.PASS
    assert recorder.sleeps == [1.0]
    fake_clients.assert_no_pending()


def _complete_then(stub: Any, then: Any) -> None:
    _complete(stub)
    then()


def _forever_get_error(code: str, status: int, *, first: str = "COMPLETE"):
    # One generation, then downloads that keep failing: the download is the poll.
    def arrange(stub: Any) -> None:
        stub.add_response("generate_credential_report", {"State": first})
        for _ in range(ATTEMPTS - 1):
            stub.add_client_error("get_credential_report", code, f"{code} message", status)

    return arrange


def _forever_regenerate(code: str, status: int):
    # Each download says the report is gone, so each is followed by a new generation.
    def arrange(stub: Any) -> None:
        for _ in range(ATTEMPTS // 2):
            _complete(stub)
            stub.add_client_error("get_credential_report", code, f"{code} message", status)

    return arrange


def _forever_generate_error(code: str, status: int):
    def arrange(stub: Any) -> None:
        for _ in range(ATTEMPTS):
            stub.add_client_error("generate_credential_report", code, f"{code} message", status)

    return arrange


GAVE_UP = f"gave up after {ATTEMPTS} attempt(s); last: "
FAULTS = [
    (
        "report-in-progress",
        _forever_get_error("ReportInProgress", 404),
        GAVE_UP + "iam:GetCredentialReport failed (ReportInProgress: ReportInProgress message); the credential report "
        "was still being generated",
        [1.0, 2.0, 4.0, 8.0],
    ),
    (
        "generation-never-completes",
        _forever_get_error("ReportInProgress", 404, first="STARTED"),
        GAVE_UP + "iam:GetCredentialReport failed (ReportInProgress: ReportInProgress message); the credential report "
        "was still being generated",
        [1.0, 2.0, 4.0, 8.0, 8.0],
    ),
    (
        "report-not-present",
        _forever_regenerate("ReportNotPresent", 410),
        GAVE_UP + "iam:GetCredentialReport failed (ReportNotPresent: ReportNotPresent message); no credential report "
        "exists (it was never generated or was removed)",
        [1.0, 2.0],
    ),
    (
        "report-expired",
        _forever_regenerate("ReportExpired", 410),
        GAVE_UP + "iam:GetCredentialReport failed (ReportExpired: ReportExpired message); the credential report "
        "expired and a new one was not ready",
        [1.0, 2.0],
    ),
    (
        "throttling",
        _forever_generate_error("Throttling", 400),
        GAVE_UP + "iam:GenerateCredentialReport failed (Throttling: Throttling message); IAM throttled the requests "
        "(Throttling)",
        [1.0, 2.0, 4.0, 8.0, 8.0],
    ),
    (
        "limit-exceeded",
        _forever_generate_error("LimitExceeded", 409),
        GAVE_UP + "iam:GenerateCredentialReport failed (LimitExceeded: LimitExceeded message); IAM refused to start "
        "another credential report generation (LimitExceeded)",
        [1.0, 2.0, 4.0, 8.0, 8.0],
    ),
    (
        "service-failure",
        _forever_generate_error("ServiceFailure", 500),
        GAVE_UP + "iam:GenerateCredentialReport failed (ServiceFailure: ServiceFailure message)",
        [1.0, 2.0, 4.0, 8.0, 8.0],
    ),
    (
        "access-denied-generate",
        lambda stub: stub.add_client_error("generate_credential_report", "AccessDenied", "not authorized", 403),
        "iam:GenerateCredentialReport failed (AccessDenied: not authorized); the caller lacks permission for "
        "iam:GenerateCredentialReport",
        [],
    ),
    (
        "access-denied-get",
        lambda stub: _complete_then(stub, lambda: stub.add_client_error("get_credential_report", "AccessDenied", "not authorized", 403)),
        "iam:GetCredentialReport failed (AccessDenied: not authorized); the caller lacks permission for "
        "iam:GetCredentialReport",
        [],
    ),
    (
        "unknown-state",
        lambda stub: stub.add_response("generate_credential_report", {"State": "PAUSED"}),
        "iam:GenerateCredentialReport returned unknown State 'PAUSED'; expected STARTED, INPROGRESS or COMPLETE",
        [],
    ),
    (
        "wrong-report-format",
        lambda stub: _complete_then(stub, lambda: stub.add_response("get_credential_report", _report(ReportFormat="text/xml"))),
        "iam:GetCredentialReport returned ReportFormat 'text/xml'; expected text/csv",
        [],
    ),
    (
        # IAM always says what the Content is: an answer that does not is not judged as CSV.
        "no-report-format",
        lambda stub: _complete_then(stub, lambda: stub.add_response("get_credential_report", {k: v for k, v in _report().items() if k != "ReportFormat"})),
        "iam:GetCredentialReport returned no ReportFormat; expected text/csv",
        [],
    ),
]


@pytest.mark.parametrize(
    ("arrange", "reason", "sleeps"), [f[1:] for f in FAULTS], ids=[f[0] for f in FAULTS]
)
def test_fetch_fault_ends_as_error_with_reason(
    fake_clients: FakeClients, fast_retry: RetryPolicy, recorder: Recorder, arrange, reason: str, sleeps: list[float]
) -> None:
    arrange(fake_clients.stub("iam"))
    result = _audit(fake_clients, fast_retry)
    assert (result.status, result.account_id, result.reason) == (Status.ERROR, BASELINE_ACCOUNT, reason)
    assert result.message == f"Account {BASELINE_ACCOUNT}: the root access key audit could not be completed: {reason}"
    assert recorder.sleeps == sleeps
    fake_clients.assert_no_pending()


def test_fetch_deadline_stops_before_attempts_run_out(fake_clients: FakeClients, recorder: Recorder) -> None:
    policy = RetryPolicy(
        base_delay=1.0, max_delay=8.0, max_attempts=10, deadline_seconds=5.0, call_seconds=0.0,
        sleep=recorder.sleep, clock=recorder.clock, jitter=lambda d: d,
    )
    stub = fake_clients.stub("iam")
    stub.add_response("generate_credential_report", {"State": "INPROGRESS"})
    for _ in range(2):
        stub.add_client_error("get_credential_report", "ReportInProgress", "not yet", 404)
    result = _audit(fake_clients, policy)
    assert (result.status, result.reason) == (
        Status.ERROR,
        "gave up after 3 attempt(s): the 5 s deadline would pass while waiting; last: iam:GetCredentialReport failed "
        "(ReportInProgress: not yet); the credential report was still being generated",
    )
    assert recorder.sleeps == [1.0, 2.0]
    fake_clients.assert_no_pending()


@pytest.mark.parametrize(
    ("response", "reason"),
    [
        (
            _report(generated=NOW - timedelta(hours=7)),
            "the credential report was generated at 2026-11-29T03:00:00Z, 7.0 h ago, which is older than the 5.0 h limit",
        ),
        (_report(generated=None), "iam:GetCredentialReport returned no GeneratedTime, so its age is unknown"),
        (
            _report(content=baseline_text().replace(BASELINE_ACCOUNT, "999988887777").encode()),
            f"the credential report's root row is for account 999988887777, not {BASELINE_ACCOUNT}",
        ),
        (_report(content=b"\x1f\x8b\x08\x00garbage"), "the content is gzip-compressed binary data, not a CSV credential report"),
    ],
    ids=["stale", "no-generated-time", "other-account", "binary"],
)
def test_fetch_untrustworthy_response_is_error(
    fake_clients: FakeClients, fast_retry: RetryPolicy, response: dict[str, Any], reason: str
) -> None:
    stub = fake_clients.stub("iam")
    _complete(stub)
    stub.add_response("get_credential_report", response)
    result = _audit(fake_clients, fast_retry)
    assert (result.status, result.reason) == (Status.ERROR, reason)


class _Failing:
    """An IAM client whose calls fail in botocore itself (a BotoCoreError, not a ClientError)."""

    def __init__(self, generate: Exception | None = None, get: Exception | None = None) -> None:
        self.generate, self.get = generate, get
        self.calls = 0

    def generate_credential_report(self) -> dict[str, Any]:
        self.calls += 1
        if self.generate:
            raise self.generate
        return {"State": "COMPLETE"}

    def get_credential_report(self) -> dict[str, Any]:
        self.calls += 1
        assert self.get is not None
        raise self.get


def test_fetch_endpoint_unreachable_retries_then_errors(fast_retry: RetryPolicy, recorder: Recorder) -> None:
    iam = _Failing(generate=EndpointConnectionError(endpoint_url="https://iam.amazonaws.com/"))
    with pytest.raises(AuditError) as excinfo:
        fetch_credential_report(iam, fast_retry)
    assert str(excinfo.value) == (
        f"gave up after {ATTEMPTS} attempt(s); last: iam:GenerateCredentialReport failed (Could not connect to the "
        'endpoint URL: "https://iam.amazonaws.com/")'
    )
    assert iam.calls == ATTEMPTS


@pytest.mark.parametrize(
    ("iam", "reason", "calls", "sleeps"),
    [
        pytest.param(
            _Failing(get=ReadTimeoutError(endpoint_url="https://iam.amazonaws.com/")),
            f"gave up after {ATTEMPTS} attempt(s); last: iam:GetCredentialReport failed (Read timeout on endpoint "
            'URL: "https://iam.amazonaws.com/")',
            ATTEMPTS,
            [1.0, 2.0, 4.0, 8.0],
            id="read-timeout-is-retried",
        ),
        pytest.param(
            _Failing(generate=NoCredentialsError()),
            "iam:GenerateCredentialReport failed (Unable to locate credentials)",
            1,
            [],
            id="no-credentials-is-final",
        ),
        pytest.param(
            _Failing(get=ParamValidationError(report="Unknown parameter")),
            "iam:GetCredentialReport failed (Parameter validation failed:\nUnknown parameter)",
            2,
            [],
            id="param-validation-is-final",
        ),
    ],
)
def test_fetch_botocore_failure_retried_only_when_transient(
    fast_retry: RetryPolicy, recorder: Recorder, iam: _Failing, reason: str, calls: int, sleeps: list[float]
) -> None:
    # Waiting cannot bring credentials back: only network faults are worth the backoff.
    with pytest.raises(AuditError) as excinfo:
        fetch_credential_report(iam, fast_retry)
    assert (str(excinfo.value), iam.calls, recorder.sleeps) == (reason, calls, sleeps)


@pytest.mark.parametrize(
    ("region", "partition"),
    [
        ("us-east-1", "aws"),
        ("eu-central-2", "aws"),
        ("us-gov-west-1", "aws-us-gov"),
        ("cn-northwest-1", "aws-cn"),
        ("us-isob-east-1", "aws-iso-b"),
        ("zz-future-1", "aws"),
    ],
)
def test_clients_partition_follows_region(region: str, partition: str) -> None:
    import boto3

    assert Clients(boto3.session.Session(), region=region).partition == partition


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_attempts": 0}, "RetryPolicy.max_attempts must be >= 1, got 0"),
        ({"deadline_seconds": 0}, "RetryPolicy.deadline_seconds must be > 0, got 0"),
        ({"base_delay": 5, "max_delay": 1}, "RetryPolicy needs 0 <= base_delay <= max_delay, got 5, 1"),
        ({"deadline_seconds": 10, "call_seconds": 10}, "RetryPolicy needs 0 <= call_seconds < deadline_seconds, got 10, 10"),
    ],
)
def test_retry_policy_invalid_bounds_raise(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        RetryPolicy(**kwargs)  # type: ignore[arg-type]
    assert str(excinfo.value) == message


@pytest.mark.parametrize(("attempt", "ceiling"), [(0, 2.0), (1, 4.0), (2, 8.0), (3, 10.0), (10, 10.0)])
def test_retry_policy_default_jitter_stays_within_top_quarter(attempt: int, ceiling: float) -> None:
    # Exponential (2 * 2**attempt), capped at max_delay, and jittered into [3/4, full] of that.
    policy = RetryPolicy(base_delay=2.0, max_delay=10.0)
    delays = [policy.delay(attempt) for _ in range(200)]
    assert all(ceiling * 0.75 <= d <= ceiling for d in delays)
    assert max(delays) > ceiling * 0.875 and min(delays) < ceiling * 0.875


def _in_progress_forever(stub: Any, polls: int) -> None:
    stub.add_response("generate_credential_report", {"State": "STARTED"})
    for _ in range(polls):
        stub.add_client_error("get_credential_report", "ReportInProgress", "not yet", 404)


def test_fetch_run_budget_binds_before_own_deadline(fake_clients: FakeClients, recorder: Recorder) -> None:
    # Each wait must leave room for one more call at its worst (13 s): 3 + 4 + 13 = 20 fits the run's stop at
    # 20 s, 7 + 8 + 13 does not.
    policy = RetryPolicy(
        base_delay=1.0, max_delay=8.0, deadline_seconds=180.0, call_seconds=13.0,
        sleep=recorder.sleep, clock=recorder.clock, jitter=lambda d: d,
    )
    _in_progress_forever(fake_clients.stub("iam"), 3)
    result = audit_account(
        fake_clients, BASELINE_ACCOUNT, policy=policy, max_age=MAX_AGE, now=lambda: NOW, stop_at=20.0
    )
    assert (result.status, result.reason) == (
        Status.ERROR,
        "gave up after 4 attempt(s): the run's time budget would pass while waiting; last: iam:GetCredentialReport "
        "failed (ReportInProgress: not yet); the credential report was still being generated",
    )
    assert recorder.sleeps == [1.0, 2.0, 4.0]
    fake_clients.assert_no_pending()


class _Slow:
    """An IAM client whose GenerateCredentialReport takes `seconds` of virtual time and answers COMPLETE."""

    def __init__(self, recorder: Recorder, seconds: float) -> None:
        self.recorder, self.seconds = recorder, seconds
        self.calls: list[str] = []

    def generate_credential_report(self) -> dict[str, Any]:
        self.calls.append("generate")
        self.recorder.now += self.seconds
        return {"State": "COMPLETE"}

    def get_credential_report(self) -> dict[str, Any]:
        self.calls.append("get")
        return _report()


@pytest.mark.parametrize(
    ("generate_seconds", "calls", "reason"),
    [
        (17.0, ["generate", "get"], None),
        (
            17.5,
            ["generate"],
            "gave up after 1 attempt(s): the 30 s deadline would pass during iam:GetCredentialReport, which may take "
            "13 s",
        ),
    ],
    ids=["call-fits", "call-would-outlive-deadline"],
)
def test_fetch_call_started_only_if_it_can_end_by_deadline(
    recorder: Recorder, generate_seconds: float, calls: list[str], reason: str | None
) -> None:
    policy = RetryPolicy(deadline_seconds=30.0, call_seconds=13.0, sleep=recorder.sleep, clock=recorder.clock)
    iam = _Slow(recorder, generate_seconds)
    if reason is None:
        assert fetch_credential_report(iam, policy).attempts == 2
    else:
        with pytest.raises(AuditError) as excinfo:
            fetch_credential_report(iam, policy)
        assert str(excinfo.value) == reason
    assert iam.calls == calls


@pytest.fixture
def silent_endpoint() -> Iterator[tuple[str, list[socket.socket]]]:
    """A loopback TCP server that accepts every connection and never answers a byte."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.05)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}", accepted
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    listener.close()


@pytest.mark.usefixtures("aws_env")
def test_fetch_silent_endpoint_bounded_by_deadline(silent_endpoint: tuple[str, list[socket.socket]]) -> None:
    # One attempt per call (no botocore retry), each cut at its read timeout: call 1 ends at ~0.5 s, a 0.1 s
    # wait, call 2 ends at ~1.1 s; a 0.2 s wait plus a 1 s call would pass the 2 s deadline, so it stops there.
    import boto3

    url, accepted = silent_endpoint
    clients = Clients(
        boto3.session.Session(), region="us-east-1", endpoint_url=url,
        config=client_config(connect_timeout=0.5, read_timeout=0.5),
    )
    policy = RetryPolicy(base_delay=0.1, max_delay=1.0, deadline_seconds=2.0, call_seconds=1.0, jitter=lambda d: d)
    started = time.monotonic()
    result = audit_account(clients.for_account(_SESSION_CREDS), BASELINE_ACCOUNT, policy=policy, max_age=MAX_AGE)
    elapsed = time.monotonic() - started
    assert (result.status, result.reason) == (
        Status.ERROR,
        "gave up after 2 attempt(s): the 2 s deadline would pass while waiting; last: iam:GenerateCredentialReport "
        f'failed (Read timeout on endpoint URL: "{url}/")',
    )
    assert len(accepted) == 2
    assert elapsed < policy.deadline_seconds


_SESSION_CREDS = {"AccessKeyId": "ASIAEXAMPLEEXAMPLE01", "SecretAccessKey": "secret", "SessionToken": "token"}


def test_client_config_single_attempt_for_account_calls() -> None:
    config = client_config(max_pool_connections=32)
    scheduled = account_config(config)
    assert (config.connect_timeout, config.read_timeout, config.retries, config.max_pool_connections) == (
        3.0, 10.0, {"mode": "standard", "total_max_attempts": 2}, 32,
    )
    assert (scheduled.connect_timeout, scheduled.read_timeout, scheduled.retries, scheduled.max_pool_connections) == (
        3.0, 10.0, {"mode": "standard", "total_max_attempts": 1}, 32,
    )


@pytest.mark.usefixtures("aws_env")
def test_clients_assumed_share_one_client_and_sign_per_account() -> None:
    import boto3
    from moto import mock_aws

    with mock_aws():
        session = boto3.session.Session()
        org = session.client("organizations", region_name="us-east-1")
        org.create_organization(FeatureSet="ALL")
        ids = [
            org.create_account(Email=f"m{i}@example.com", AccountName=f"m{i}")["CreateAccountStatus"]["AccountId"]
            for i in range(2)
        ]
        clients = Clients(session, region="us-east-1")
        factories = [
            clients.for_account(
                clients("sts").assume_role(
                    RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole", RoleSessionName="test"
                )["Credentials"]
            )
            for account in ids
        ]
        seen = [factory("sts").get_caller_identity()["Account"] for factory in factories]
        shared = {id(factory("sts")._client) for factory in factories}
        with pytest.raises(NoCredentialsError):
            factories[0]("sts")._client.get_caller_identity()
    assert (seen, len(shared)) == (ids, 1)


def test_clients_assumed_share_the_callers_service_models() -> None:
    # Two loaders would each hold endpoints.json and the IAM model parsed (about 9 MB of objects).
    import boto3

    session = boto3.session.Session()
    clients = Clients(session, region="us-east-1")
    clients("iam")
    clients.for_account(_SESSION_CREDS)("iam")
    assert clients._routed_session.get_component("data_loader") is session._session.get_component("data_loader")


class _SlowSession:
    """A session whose client() takes long enough that racing threads all miss the cache at once."""

    region_name = "us-east-1"

    def __init__(self) -> None:
        self.made = 0
        self._count = threading.Lock()

    def client(self, service: str, **_: Any) -> object:
        with self._count:
            self.made += 1
        time.sleep(0.05)
        return object()


def test_clients_cache_makes_each_client_once_under_a_race() -> None:
    # A hit reads the cache without the lock; the miss must still make one client, not one per racing thread.
    session = _SlowSession()
    clients = Clients(session, region="us-east-1")
    start = threading.Barrier(16)
    got: list[object] = []

    def worker() -> None:
        start.wait()
        got.append(clients("sts"))

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (session.made, len({id(client) for client in got}), len(got)) == (1, 1, 16)


def test_clients_assumed_refuses_paginator() -> None:
    import boto3

    factory = Clients(boto3.session.Session(), region="us-east-1").for_account(_SESSION_CREDS)
    with pytest.raises(AttributeError) as excinfo:
        factory("iam").get_paginator("list_users")
    assert str(excinfo.value) == "get_paginator is not available on an assumed-role audit client"


def test_run_single_account_honours_lambda_budget(fake_clients: FakeClients, fast_retry: RetryPolicy, recorder: Recorder) -> None:
    # The Lambda default (no org role): 80 s left, of which RUN_RESERVE_SECONDS stay for publishing, so the
    # account's audit must be over by 20 s, long before its own 60 s deadline.
    from audit.runner import RUN_RESERVE_SECONDS, AuditConfig, run_audit

    fake_clients.stub("sts").add_response(
        "get_caller_identity", {"Account": BASELINE_ACCOUNT, "Arn": f"arn:aws:iam::{BASELINE_ACCOUNT}:user/a", "UserId": "A"}
    )
    _in_progress_forever(fake_clients.stub("iam"), 3)
    run = run_audit(
        AuditConfig(), fake_clients, retry=fast_retry, now=lambda: NOW,  # type: ignore[arg-type]
        time_budget_seconds=RUN_RESERVE_SECONDS + 20.0,
    )
    assert [(r.status, r.reason) for r in run.accounts] == [
        (
            Status.ERROR,
            "gave up after 4 attempt(s): the run's time budget would pass while waiting; last: iam:GetCredentialReport "
            "failed (ReportInProgress: not yet); the credential report was still being generated",
        )
    ]
    assert recorder.sleeps == [1.0, 2.0, 4.0]
    fake_clients.assert_no_pending()


@pytest.mark.parametrize(("action", "explained"), [
    ("iam:GenerateCredentialReport", "IAM throttled the requests (Throttling)"),
    ("sts:AssumeRole on arn:aws:iam::111122223333:role/r", "STS throttled the requests (Throttling)"),
    ("organizations:ListAccounts", "Organizations throttled the requests (Throttling)"),
])
def test_throttling_names_the_service_that_throttled(action: str, explained: str) -> None:
    from botocore.exceptions import ClientError

    from audit.aws import describe_client_error

    exc = ClientError({"Error": {"Code": "Throttling", "Message": "Rate exceeded"}}, action.split(" ")[0])
    assert describe_client_error(exc, action) == f"{action} failed (Throttling: Rate exceeded); {explained}"
