"""AWS I/O of the root access key audit (CIS 1.4, Security Hub IAM.4): generate and fetch one account's IAM
credential report with a bounded, deadline-limited backoff, and turn every failure into a named ERROR.

Prowler's `_get_credential_report` polls with no sleep and no limit and returns an empty report on any error;
here every poll sleeps, the whole fetch has a deadline, and each failure mode surfaces as an ERROR verdict.
Clients come from a factory so moto and botocore's Stubber can stand in for AWS.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError, UnknownRegionError
from botocore.exceptions import ConnectionError as BotoConnectionError

from audit.report import AccountResult, error_result, verdict

LOG = logging.getLogger(__name__)

# Errors where waiting may help; anything else (AccessDenied, validation...) is final at once.
_RETRYABLE = frozenset(
    {
        "ReportInProgress",
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "LimitExceeded",
        "LimitExceededException",
        "ServiceFailure",
        "ServiceUnavailable",
        "InternalFailure",
    }
)
# Network faults may pass; other BotoCoreErrors (no credentials, bad parameters, unknown region) never will.
_TRANSIENT = (BotoConnectionError, HTTPClientError)
# What a failed AWS call raises: a service answer, or botocore's own failure to get one.
AWS_ERRORS = (ClientError, BotoCoreError)
# The report vanished between generation and download: ask for a new one.
_REGENERATE = frozenset({"ReportNotPresent", "ReportExpired"})
_EXPLAIN = {
    "ReportInProgress": "the credential report was still being generated",
    "ReportNotPresent": "no credential report exists (it was never generated or was removed)",
    "ReportExpired": "the credential report expired and a new one was not ready",
    "LimitExceeded": "IAM refused to start another credential report generation (LimitExceeded)",
    "Throttling": "IAM throttled the requests (Throttling)",
}


# Returns a boto3 client for a service name; lets tests substitute moto-backed or stubbed clients.
ClientFactory = Callable[[str], Any]


class AuditError(Exception):
    """A step of the audit failed; str() is the reason in the ERROR verdict."""


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with jitter and an overall deadline. sleep/clock/jitter are injectable so
    tests neither sleep nor depend on randomness."""

    base_delay: float = 1.0
    max_delay: float = 20.0
    max_attempts: int = 12
    deadline_seconds: float = 180.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    jitter: Callable[[float], float] = field(default=lambda delay: random.uniform(delay / 2, delay), repr=False)

    def __post_init__(self) -> None:
        if self.base_delay < 0 or self.max_delay < self.base_delay:
            raise ValueError(f"RetryPolicy needs 0 <= base_delay <= max_delay, got {self.base_delay}, {self.max_delay}")
        if self.max_attempts < 1:
            raise ValueError(f"RetryPolicy.max_attempts must be >= 1, got {self.max_attempts}")
        if self.deadline_seconds <= 0:
            raise ValueError(f"RetryPolicy.deadline_seconds must be > 0, got {self.deadline_seconds}")

    def delay(self, attempt: int) -> float:
        return self.jitter(min(self.max_delay, self.base_delay * (2**attempt)))


@dataclass(frozen=True)
class FetchedReport:
    content: bytes
    generated_at: datetime | None
    attempts: int


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


_ACCESS_DENIED = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError"})


def describe_client_error(exc: ClientError, action: str, *, denied_hint: str | None = None) -> str:
    """One clause naming the API action, AWS's error code and message, and what it means for the audit."""
    code = error_code(exc)
    message = str(exc.response.get("Error", {}).get("Message", "")).strip()
    api_action = action.split(" ", 1)[0]
    if code in _ACCESS_DENIED:
        explained: str | None = denied_hint or f"the caller lacks permission for {api_action}"
    else:
        explained = _EXPLAIN.get(code)
    detail = f"{code}: {message}" if message else code
    return f"{action} failed ({detail})" + (f"; {explained}" if explained else "")


def describe_error(exc: Exception, action: str, *, denied_hint: str | None = None) -> str:
    """describe_client_error for a service answer; for botocore's own failures (no endpoint, no credentials)
    the action and botocore's message."""
    if isinstance(exc, ClientError):
        return describe_client_error(exc, action, denied_hint=denied_hint)
    return f"{action} failed ({exc})"


def describe_failure(exc: BaseException, action: str) -> str:
    """describe_error for an AWS error; for anything else (a parser error on a 200 answer, a KeyError on an
    unexpected shape, an undecodable blob or timestamp) the action and the exception's type and text."""
    if isinstance(exc, AWS_ERRORS):
        return describe_error(exc, action)
    return f"{action} failed (unexpected {type(exc).__name__}: {exc})"


def client_config(max_pool_connections: int = 10) -> Config:
    """Timeouts keep one hung endpoint from eating the Lambda's time; botocore's standard retry mode adds a
    short retry of its own below our backoff."""
    return Config(
        connect_timeout=5,
        read_timeout=20,
        retries={"mode": "standard", "max_attempts": 3},
        max_pool_connections=max_pool_connections,
    )


class Clients:
    """Creates boto3 clients lazily from one Session: its own credentials via __call__, or temporary
    credentials (AssumeRole, AssumeRoot) via for_credentials.

    boto3 Sessions are not thread-safe, so client creation is serialised by a lock; the clients themselves are
    thread-safe. Reusing one Session keeps its loaded service models, which makes per-account clients cheap.
    """

    def __init__(
        self,
        session: Any,
        *,
        region: str | None = None,
        endpoint_url: str | None = None,
        config: Config | None = None,
    ) -> None:
        self.session = session
        self.region = region or getattr(session, "region_name", None) or "us-east-1"
        self.endpoint_url = endpoint_url
        self.config = config or client_config()
        self._lock = threading.Lock()
        self._cache: dict[str, Any] = {}

    @property
    def partition(self) -> str:
        """The region's partition from botocore's endpoint data (aws, aws-cn, aws-us-gov, aws-iso-b, ...), so role
        and task-policy ARNs are right outside the commercial partition too."""
        resolve = getattr(self.session, "get_partition_for_region", None)
        if resolve is not None:
            try:
                return str(resolve(self.region))
            except UnknownRegionError:
                pass  # a region newer than this botocore: fall back to the naming rules
        if self.region.startswith("us-gov-"):
            return "aws-us-gov"
        if self.region.startswith("cn-"):
            return "aws-cn"
        return "aws"

    def __call__(self, service: str) -> Any:
        with self._lock:
            if service not in self._cache:
                self._cache[service] = self.session.client(
                    service, region_name=self.region, endpoint_url=self.endpoint_url, config=self.config
                )
            return self._cache[service]

    def for_credentials(self, credentials: dict[str, Any]) -> ClientFactory:
        """A caching factory for STS temporary credentials (the Credentials member of AssumeRole/AssumeRoot)."""
        cache: dict[str, Any] = {}

        def factory(service: str) -> Any:
            with self._lock:
                if service not in cache:
                    cache[service] = self.session.client(
                        service,
                        region_name=self.region,
                        endpoint_url=self.endpoint_url,
                        config=self.config,
                        aws_access_key_id=credentials["AccessKeyId"],
                        aws_secret_access_key=credentials["SecretAccessKey"],
                        aws_session_token=credentials["SessionToken"],
                    )
                return cache[service]

        return factory


def caller_account_id(clients: ClientFactory) -> str:
    try:
        return str(clients("sts").get_caller_identity()["Account"])
    except Exception as exc:  # noqa: BLE001 - not only AWS errors: a 200 answer without an Account, too
        LOG.error("sts:GetCallerIdentity failed: %s", exc)
        raise AuditError(describe_failure(exc, "sts:GetCallerIdentity")) from exc


class _Retry(Exception):
    """This attempt failed in a way that waiting may fix; str() is what went wrong."""


def _call(operation: Callable[[], dict[str, Any]], action: str, retry_codes: frozenset[str]) -> dict[str, Any]:
    """One API call: its response, _Retry for a fault worth waiting out, AuditError for a final one."""
    try:
        return operation()
    except AWS_ERRORS as exc:
        problem = describe_error(exc, action)
        LOG.warning("%s", problem)
        if isinstance(exc, _TRANSIENT) or (isinstance(exc, ClientError) and error_code(exc) in retry_codes):
            raise _Retry(problem) from exc
        raise AuditError(problem) from exc


def fetch_credential_report(iam: Any, policy: RetryPolicy) -> FetchedReport:
    """Generate (or reuse) the account's credential report and download it.

    GenerateCredentialReport is the documented poll: it answers STARTED / INPROGRESS until the report is
    COMPLETE. Every wait is bounded by max_attempts and by the deadline; running out of either is an
    AuditError naming the last thing AWS said.
    """
    start = policy.clock()
    last_problem = "no attempt was made"
    for attempt in range(policy.max_attempts):
        if attempt:
            remaining = policy.deadline_seconds - (policy.clock() - start)
            pause = policy.delay(attempt - 1)
            if pause > remaining:
                raise AuditError(
                    f"gave up after {attempt} attempt(s): the {policy.deadline_seconds:g} s deadline would pass "
                    f"while waiting; last: {last_problem}"
                )
            policy.sleep(pause)
        try:
            state = _call(iam.generate_credential_report, "iam:GenerateCredentialReport", _RETRYABLE).get("State")
            if state in ("STARTED", "INPROGRESS"):
                raise _Retry(f"the credential report was still being generated (State {state})")
            if state != "COMPLETE":
                raise AuditError(
                    f"iam:GenerateCredentialReport returned unknown State {state!r}; expected STARTED, INPROGRESS "
                    "or COMPLETE"
                )
            response = _call(iam.get_credential_report, "iam:GetCredentialReport", _RETRYABLE | _REGENERATE)
        except _Retry as retry:
            last_problem = str(retry)
            LOG.info("attempt %d: %s", attempt + 1, last_problem)
            continue
        fmt = response.get("ReportFormat", "text/csv")
        if fmt != "text/csv":
            raise AuditError(f"iam:GetCredentialReport returned ReportFormat {fmt!r}; expected text/csv")
        content = response.get("Content")
        if not isinstance(content, (bytes, bytearray)):
            raise AuditError("iam:GetCredentialReport returned no Content")
        generated = response.get("GeneratedTime")
        if generated is not None and not isinstance(generated, datetime):
            raise AuditError(f"iam:GetCredentialReport returned GeneratedTime {generated!r}, not a timestamp")
        return FetchedReport(content=bytes(content), generated_at=generated, attempts=attempt + 1)
    raise AuditError(f"gave up after {policy.max_attempts} attempt(s); last: {last_problem}")


def audit_account(
    clients: ClientFactory,
    account_id: str,
    *,
    policy: RetryPolicy,
    max_age: timedelta,
    now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
) -> AccountResult:
    """The verdict for one account whose IAM the factory reaches; every failure is an ERROR verdict."""
    try:
        fetched = fetch_credential_report(clients("iam"), policy)
    except AuditError as exc:
        LOG.error("account %s: %s", account_id, exc)
        return error_result(account_id, str(exc))
    result = verdict(
        fetched.content,
        expected_account_id=account_id,
        generated_at=fetched.generated_at,
        now=now(),
        max_age=max_age,
    )
    if fetched.generated_at is None and result.status.value != "ERROR":
        # AWS always sends GeneratedTime; without it staleness cannot be checked, and a cached PASS could be
        # hours old.
        return error_result(account_id, "iam:GetCredentialReport returned no GeneratedTime, so its age is unknown")
    return result
