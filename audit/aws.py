"""AWS I/O of the root access key audit (CIS 1.4, Security Hub IAM.4): generate and fetch one account's IAM
credential report with a bounded, deadline-limited backoff, and turn every failure into a named ERROR.

Prowler's `_get_credential_report` polls with no sleep and no limit and returns an empty report on any error;
here every poll sleeps, the whole fetch has a deadline, and each failure mode surfaces as an ERROR verdict.
Clients come from a factory so moto and botocore's Stubber can stand in for AWS.
"""

from __future__ import annotations

import contextvars
import functools
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import botocore.session
from botocore.config import Config
from botocore.credentials import CredentialProvider, CredentialResolver, Credentials, ReadOnlyCredentials
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError, NoCredentialsError, UnknownRegionError
from botocore.exceptions import ConnectionError as BotoConnectionError

from audit.report import AccountResult, error_result, verdict

LOG = logging.getLogger(__name__)

# Errors where waiting may help; anything else (AccessDenied, validation...) is final at once.
RETRYABLE = frozenset(
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
TRANSIENT = (BotoConnectionError, HTTPClientError)
# What a failed AWS call raises: a service answer, or botocore's own failure to get one.
AWS_ERRORS = (ClientError, BotoCoreError)
# The report vanished between generation and download: ask for a new one.
_REGENERATE = frozenset({"ReportNotPresent", "ReportExpired"})
_EXPLAIN = {
    "ReportInProgress": "the credential report was still being generated",
    "ReportNotPresent": "no credential report exists (it was never generated or was removed)",
    "ReportExpired": "the credential report expired and a new one was not ready",
    "LimitExceeded": "IAM refused to start another credential report generation (LimitExceeded)",
    # Named by the action's service: STS (AssumeRole), Organizations and the sinks throttle with this code too.
    "Throttling": "{service} throttled the requests (Throttling)",
}
_SERVICE_NAMES = {"iam": "IAM", "sts": "STS", "organizations": "Organizations", "cloudwatch": "CloudWatch",
                  "sns": "SNS", "securityhub": "Security Hub"}


# Returns a boto3 client for a service name; lets tests substitute moto-backed or stubbed clients.
ClientFactory = Callable[[str], Any]


class AuditError(Exception):
    """A step of the audit failed; str() is the reason in the ERROR verdict."""


# One attempt of one API call can take at most the connect timeout plus the read timeout. The calls of an account's
# audit get a single attempt each (botocore does not retry them behind our back, holding a worker while it
# sleeps), so this is also the worst case a deadline must leave room for before it starts a call.
CONNECT_TIMEOUT_S = 3.0
READ_TIMEOUT_S = 10.0
CALL_SECONDS = CONNECT_TIMEOUT_S + READ_TIMEOUT_S
# Run-level calls (GetCallerIdentity, ListAccounts, the sinks) keep one botocore retry for a passing blip.
RUN_CALL_ATTEMPTS = 2


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with jitter and an overall deadline per account. sleep/clock/jitter are
    injectable so tests neither sleep nor depend on randomness.

    call_seconds is the longest one API call can take (its timeouts): no call starts unless it can end before
    the deadline, so the deadline bounds a call in flight too.
    """

    base_delay: float = 1.0
    max_delay: float = 20.0
    max_attempts: int = 12
    deadline_seconds: float = 180.0
    call_seconds: float = CALL_SECONDS
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    # Jitter within the top quarter: enough to spread retries of many accounts, while each poll still lands
    # close to its exponential schedule (1, 2, 4... s), where a report most likely is ready.
    jitter: Callable[[float], float] = field(default=lambda delay: random.uniform(0.75 * delay, delay), repr=False)

    def __post_init__(self) -> None:
        if self.base_delay < 0 or self.max_delay < self.base_delay:
            raise ValueError(f"RetryPolicy needs 0 <= base_delay <= max_delay, got {self.base_delay}, {self.max_delay}")
        if self.max_attempts < 1:
            raise ValueError(f"RetryPolicy.max_attempts must be >= 1, got {self.max_attempts}")
        if self.deadline_seconds <= 0:
            raise ValueError(f"RetryPolicy.deadline_seconds must be > 0, got {self.deadline_seconds}")
        if self.call_seconds < 0 or self.call_seconds >= self.deadline_seconds:
            raise ValueError(
                f"RetryPolicy needs 0 <= call_seconds < deadline_seconds, got {self.call_seconds}, "
                f"{self.deadline_seconds}"
            )

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
        service = api_action.split(":", 1)[0] if ":" in api_action else ""
        explained = _EXPLAIN.get(code, "").format(service=_SERVICE_NAMES.get(service, service or "AWS")) or None
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


def client_config(
    max_pool_connections: int = 10,
    *,
    connect_timeout: float = CONNECT_TIMEOUT_S,
    read_timeout: float = READ_TIMEOUT_S,
) -> Config:
    """The run-level clients' configuration: short timeouts, so one hung endpoint cannot eat the Lambda's time,
    and one retry by botocore's standard mode. Worst case of a call: RUN_CALL_ATTEMPTS x (connect + read)."""
    return Config(
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        retries={"mode": "standard", "total_max_attempts": RUN_CALL_ATTEMPTS},
        max_pool_connections=max_pool_connections,
    )


def account_config(config: Config) -> Config:
    """`config` with a single attempt per call: the account audit retries in its own scheduler, where a wait
    holds no worker and counts against the account's deadline."""
    return config.merge(Config(retries={"mode": "standard", "total_max_attempts": 1}))


# The credentials the current call of an assumed-role client signs with (see _RoutedCredentials).
_CALL_CREDENTIALS: contextvars.ContextVar[ReadOnlyCredentials | None] = contextvars.ContextVar(
    "audit_call_credentials", default=None
)


class _RoutedCredentials(Credentials):
    """Credentials that are whatever the calling thread set for this call.

    botocore signs each request with its client's credentials object at signing time, in the calling thread.
    Routing that object through a context variable lets one client per service serve every account: its
    service model, its ~400 KiB of generated methods and event hooks, and its connection pool are built once,
    not once per assumed role (which cost about 20 ms of CPU per account). A call made outside `use` has no
    credentials and fails with NoCredentialsError: it never signs as another account.
    """

    def __init__(self) -> None:  # noqa: D107 - botocore's __init__ would freeze one set of keys
        self.method = "assume-role"

    def get_frozen_credentials(self) -> ReadOnlyCredentials:
        current = _CALL_CREDENTIALS.get()
        if current is None:
            raise NoCredentialsError()
        return current

    @property  # type: ignore[override]
    def access_key(self) -> str:
        return self.get_frozen_credentials().access_key

    @property  # type: ignore[override]
    def secret_key(self) -> str:
        return self.get_frozen_credentials().secret_key

    @property  # type: ignore[override]
    def token(self) -> str | None:
        return self.get_frozen_credentials().token


class _RoutedProvider(CredentialProvider):
    METHOD = "assume-role"

    def __init__(self, credentials: _RoutedCredentials) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> Credentials:
        return self._credentials


@contextmanager
def _signing_as(credentials: ReadOnlyCredentials) -> Iterator[None]:
    token = _CALL_CREDENTIALS.set(credentials)
    try:
        yield
    finally:
        _CALL_CREDENTIALS.reset(token)


class _AssumedClient:
    """One account's view of a shared client: every method call signs with that account's credentials."""

    def __init__(self, client: Any, credentials: ReadOnlyCredentials) -> None:
        self._client = client
        self._credentials = credentials
        self.exceptions = client.exceptions
        self.meta = client.meta

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)
        if name.startswith("_") or not callable(method) or name in ("get_paginator", "get_waiter"):
            # Paginators and waiters call the client later, outside this account's signing scope.
            raise AttributeError(f"{name} is not available on an assumed-role audit client")

        def call(*args: Any, **kwargs: Any) -> Any:
            with _signing_as(self._credentials):
                return method(*args, **kwargs)

        return call


def _data_loader(session: Any) -> Any:
    """The botocore data loader behind a boto3 or botocore session, or None for anything else (a test's fake)."""
    core = getattr(session, "_session", session)  # boto3.Session keeps its botocore session there
    get_component = getattr(core, "get_component", None)
    if not callable(get_component):
        return None
    try:
        return get_component("data_loader")
    except Exception:  # noqa: BLE001 - a session without one: the routed session loads its own
        return None


def partition_for_region(region: str, session: Any = None) -> str:
    """The region's partition from botocore's endpoint data (aws, aws-cn, aws-us-gov, aws-iso, aws-iso-b, ...),
    so role and task-policy ARNs, and the findings, are right outside the commercial partition too."""
    if session is None:
        session = botocore.session.get_session()
    resolve = getattr(session, "get_partition_for_region", None)
    if resolve is not None:
        try:
            return str(resolve(region))
        except UnknownRegionError:
            pass  # a region newer than this botocore: fall back to the naming rules
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    if region.startswith("cn-"):
        return "aws-cn"
    return "aws"


class Clients:
    """Creates boto3 clients lazily from one Session: its own credentials via __call__, temporary credentials
    via for_account (the audit: one shared client per service, credentials routed per call) or for_credentials
    (remediation: a full client, paginators included).

    boto3 Sessions are not thread-safe, so client creation is serialised by a lock; the clients themselves are
    thread-safe.
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
        self.account_config = account_config(self.config)
        self._lock = threading.Lock()
        self._cache: dict[str, Any] = {}
        self._routed = _RoutedCredentials()
        self._routed_session: Any = None

    @functools.cached_property
    def partition(self) -> str:
        # Asked once per account for the role ARN; the region does not change.
        return partition_for_region(self.region, self.session)

    def __call__(self, service: str) -> Any:
        # The audit retries its IAM calls itself (ReportFetch); every other service is called by the run.
        return self._client(service, self.account_config if service == "iam" else self.config)

    def scheduled(self, service: str) -> Any:
        """The caller's own client for calls the account scheduler retries itself (AssumeRole): one attempt."""
        return self._client(service, self.account_config, key=f"{service}/scheduled")

    def _cached(self, key: str, make: Callable[[], Any]) -> Any:
        """The client cached under `key`, made once. A hit reads the dict without the lock: a dict read is atomic
        under the interpreter lock, and at 64 workers a lock taken per call queued every thread behind whichever
        holder the interpreter had paused (the convoy cost more than the call's own work)."""
        client = self._cache.get(key)
        if client is None:
            with self._lock:
                client = self._cache.get(key)
                if client is None:
                    client = self._cache[key] = make()
        return client

    def _client(self, service: str, config: Config, *, key: str | None = None) -> Any:
        return self._cached(key or service, lambda: self.session.client(
            service, region_name=self.region, endpoint_url=self.endpoint_url, config=config
        ))

    def _routed_client(self, service: str) -> Any:
        """`service`'s client on the routed session, made under the lock by _cached."""
        if self._routed_session is None:
            session = botocore.session.Session()
            # The caller's session has already parsed endpoints.json (about 7 MB of objects) and the service
            # models: share its loader rather than hold a second copy of each.
            loader = _data_loader(self.session)
            if loader is not None:
                session.register_component("data_loader", loader)
            session.register_component("credential_provider", CredentialResolver([_RoutedProvider(self._routed)]))
            self._routed_session = session
        return self._routed_session.create_client(
            service, region_name=self.region, endpoint_url=self.endpoint_url, config=self.account_config
        )

    def for_account(self, credentials: dict[str, Any]) -> ClientFactory:
        """A factory of clients signing with STS temporary credentials (the Credentials member of AssumeRole),
        all backed by one client per service: building a client per account would cost more CPU than the audit."""
        frozen = ReadOnlyCredentials(
            credentials["AccessKeyId"], credentials["SecretAccessKey"], credentials["SessionToken"]
        )

        def factory(service: str) -> Any:
            return _AssumedClient(self._cached(f"{service}/assumed", lambda: self._routed_client(service)), frozen)

        return factory

    def for_credentials(self, credentials: dict[str, Any]) -> ClientFactory:
        """A caching factory of full clients for STS temporary credentials (the Credentials member of
        AssumeRole/AssumeRoot)."""
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


class RetryLater(Exception):
    """This attempt failed in a way that waiting may fix; str() is what went wrong."""

    def __init__(self, problem: str, code: str | None = None) -> None:
        super().__init__(problem)
        self.code = code


def call_once(
    operation: Callable[[], dict[str, Any]],
    action: str,
    retry_codes: frozenset[str] = RETRYABLE,
    *,
    denied_hint: str | None = None,
) -> dict[str, Any]:
    """One API call: its response, RetryLater for a fault worth waiting out, AuditError for a final one."""
    try:
        return operation()
    except AWS_ERRORS as exc:
        problem = describe_error(exc, action, denied_hint=denied_hint)
        if isinstance(exc, TRANSIENT):
            LOG.info("%s", problem)
            raise RetryLater(problem) from exc
        if isinstance(exc, ClientError) and error_code(exc) in retry_codes:
            # Expected while polling (ReportInProgress) or throttled: the final verdict logs it if it stays.
            LOG.info("%s", problem)
            raise RetryLater(problem, error_code(exc)) from exc
        LOG.warning("%s", problem)
        raise AuditError(problem) from exc


class Budget:
    """The calls and waits of one account's audit, against its deadline: the retry deadline from its start,
    or the run's stop time (the Lambda's budget) if that comes first.

    Before a call: the call must be able to end, at its timeouts' worst, before the deadline. Before a wait:
    the wait and the next call must fit. Running out of either, or of attempts, is an AuditError that names
    the last thing AWS said.
    """

    def __init__(self, policy: RetryPolicy, *, stop_at: float | None = None, started: float | None = None) -> None:
        self.policy = policy
        self.started = policy.clock() if started is None else started
        own = self.started + policy.deadline_seconds
        if stop_at is not None and stop_at < own:
            self.deadline, self.limit = stop_at, "the run's time budget"
        else:
            self.deadline, self.limit = own, f"the {policy.deadline_seconds:g} s deadline"
        self.calls = 0
        # Quick polls (ReportTimes: probes, and re-polls a step after a miss), on top of the account's own attempts:
        # at most ReportTimes.QUICK_POLLS_PER_ACCOUNT, so they cannot take the attempts a slow report needs.
        self.spared = 0
        self.waits = 0
        self.last_problem: str | None = None

    def before_call(self, action: str) -> None:
        if self.policy.clock() + self.policy.call_seconds > self.deadline:
            last = f"; last: {self.last_problem}" if self.last_problem else ""
            raise AuditError(
                f"gave up after {self.calls} attempt(s): {self.limit} would pass during {action}, which may take "
                f"{self.policy.call_seconds:g} s{last}"
            )
        self.calls += 1

    def fits(self, pause: float) -> bool:
        """Whether a wait of `pause` and then one call still end by the deadline."""
        return self.policy.clock() + pause + self.policy.call_seconds <= self.deadline

    def wait(self, problem: str, *, pause: float | None = None) -> float:
        """The pause before the next attempt after `problem`: `pause` if given, else the policy's backoff. Either
        way it counts as a step of the backoff, so a later wait backs off from there."""
        self.last_problem = problem
        LOG.info("attempt %d: %s", self.calls, problem)
        if self.calls - self.spared >= self.policy.max_attempts:
            raise AuditError(f"gave up after {self.calls} attempt(s); last: {problem}")
        if pause is None:
            pause = self.policy.delay(self.waits)
        self.waits += 1
        if not self.fits(pause):
            raise AuditError(
                f"gave up after {self.calls} attempt(s): {self.limit} would pass while waiting; last: {problem}"
            )
        return pause


# A poll this close to its time is due: ages are differences of clock readings, and a hold of a rounding error
# would not move a clock (a virtual one, or a large monotonic reading) forward, so it would be held again forever.
_DUE_SLACK_S = 0.001


class ReportTimes:
    """How long this run's credential reports take to build, learned from the polls of all its accounts.

    A blind poll schedule (1 s, then 2 s more...) overshoots a report that takes 2 s by most of a second and, in
    an organization, spends a futile poll per account at 1 s. The accounts of one organization are served by the
    same IAM service and are mostly alike, so the run learns from them all:

    - `ready_after`: the earliest age (seconds from asking for a generation) at which a poll found a report ready. A
      later account's first poll goes half a step after it (`poll_after`): every age carries the caller's own delay
      in sending the two requests, and at exactly the earliest age up to half the polls of a loaded run missed; one
      that misses re-polls a step later. It only ever moves earlier: one fast report brings polls forward and none
      can push them back.
    - With `probe` (an organization run), before any report has been ready, the run probes for that age instead of
      every account polling blind: a poll is made only by an account older than every poll of the run so far (the
      `frontier`), a step of 10% (at least 0.1 s) beyond it, so the first ready answer overshoots the reports' time
      by a step, not by a blind second. A younger account skips, with no call, to the next step: an older report was
      still building at its age. Each account makes at most QUICK_POLLS_PER_ACCOUNT quick polls (probes, and
      re-polls a step after a miss), spared from its attempts, then keeps its own backoff, which the frontier does not
      hold back: one slow account cannot keep the others from finding their reports ready, and the probing moves on
      to the next oldest. The probing ends at PROBE_UNTIL_S: if no report is ready by then, the run's reports are
      slow or unlike, and every account keeps its own backoff; so an account waits for the probes at most about that
      long before its own polls.
    """

    STEP_MIN_S = 0.1
    STEP_FRACTION = 0.1
    QUICK_POLLS_PER_ACCOUNT = 3
    # About the blind schedule's second poll (1 s, then 2 s more): probing never holds an account's polls back by
    # much more than the blind schedule would have.
    PROBE_UNTIL_S = 4.0

    def __init__(self, *, probe: bool = False) -> None:
        self.probe = probe
        self._lock = threading.Lock()
        self._ready_after: float | None = None
        self._frontier = 0.0  # the oldest age polled (or being polled) by a probe, while nothing was ready

    @property
    def ready_after(self) -> float | None:
        """Seconds from asking for a generation to the earliest poll that found its report ready."""
        with self._lock:
            return self._ready_after

    @property
    def poll_after(self) -> float | None:
        """The age at which an account polls once reports of this run have been ready: `ready_after` and half a
        step."""
        ready_after = self.ready_after
        return None if ready_after is None else ready_after + self.step(ready_after) / 2

    def saw_ready(self, age: float) -> None:
        with self._lock:
            if age >= 0 and (self._ready_after is None or age < self._ready_after):
                self._ready_after = age

    def next_probe(self, first: float) -> float | None:
        """The age at which the next probe is due: `first` (the blind first poll) before any, then a step past the
        frontier. None once a report has been ready, past PROBE_UNTIL_S, or without `probe`."""
        with self._lock:
            return self._next_probe(first)

    def claim(self, age: float, first: float) -> float:
        """A probe of a report `age` seconds old: 0.0 when this account is to make it (it becomes the frontier),
        else how much longer to wait before the next probe could be its own."""
        with self._lock:
            due = self._next_probe(first)
            if due is not None and 0 < self._frontier and age + _DUE_SLACK_S < due:
                return due - age
            self._frontier = max(self._frontier, age)  # read only while probing: harmless once it is over
            return 0.0

    @classmethod
    def step(cls, age: float) -> float:
        """The probing's step at `age`: 10% of it, at least 0.1 s."""
        return max(cls.STEP_MIN_S, cls.STEP_FRACTION * age)

    def _next_probe(self, first: float) -> float | None:
        if not self.probe or self._ready_after is not None:
            return None
        due = first if self._frontier <= 0 else self._frontier + self.step(self._frontier)
        return due if due <= self.PROBE_UNTIL_S else None


class ReportFetch:
    """Fetching one account's credential report, one API call per step, so a scheduler can run many accounts
    on a few workers and hold none of them while an account waits.

    GenerateCredentialReport starts (or reuses) the report. COMPLETE means a report is ready: it is downloaded
    at once, with no poll in between. STARTED or INPROGRESS means it is being built: the download itself is the
    poll (ReportInProgress until ready), timed by what the run knows (`times`): when reports of this run have
    been ready; else, in an organization run, as the run's probe for that age; else on the blind schedule, soon
    and then backing off. ReportNotPresent / ReportExpired on download start a new generation.

    A report's age counts from when its generation was asked for, not answered: IAM starts building somewhere
    in between, and the answer can come late behind the caller's own load. Counted from the answer, an age
    understates the report's by that delay, and the run's earliest ready age would be too early for accounts
    whose answers came promptly, costing each a poll.
    """

    def __init__(self, iam: Any, budget: Budget, times: ReportTimes | None = None) -> None:
        self.iam = iam
        self.budget = budget
        self.times = times if times is not None else ReportTimes()
        self._generate_next = True
        # When the generation that answered STARTED/INPROGRESS was asked for, on the policy's clock.
        self._building_since: float | None = None
        self._quick = 0  # quick polls planned: probes, or re-polls a step after a miss at the run's ready age
        self._probing = False  # the poll due next is the run's probe: made only if no older report's was
        self._backoffs = 0  # waits on this account's own schedule (organization runs)
        self.report: FetchedReport | None = None

    def step(self) -> float | None:
        """Make the next call. None: `report` is set; a number: wait that long, then step again. Raises
        AuditError when the fetch failed for good."""
        if not self._generate_next and (early := self._not_yet()) > 0:
            return early  # not an attempt: no call is made
        self.budget.before_call("iam:GenerateCredentialReport" if self._generate_next else "iam:GetCredentialReport")
        asked_at = self.budget.policy.clock()
        try:
            if self._generate_next:
                state = call_once(self.iam.generate_credential_report, "iam:GenerateCredentialReport", RETRYABLE).get(
                    "State"
                )
                if state == "COMPLETE":
                    self._generate_next = False
                    return 0.0
                if state in ("STARTED", "INPROGRESS"):
                    self._generate_next = False
                    self._building_since = asked_at
                    return self._poll_again(f"the credential report was still being generated (State {state})")
                raise AuditError(
                    f"iam:GenerateCredentialReport returned unknown State {state!r}; expected STARTED, INPROGRESS "
                    "or COMPLETE"
                )
            response = call_once(self.iam.get_credential_report, "iam:GetCredentialReport", RETRYABLE | _REGENERATE)
        except RetryLater as retry:
            self._probing = False
            if retry.code in _REGENERATE:
                self._generate_next, self._building_since = True, None
                return self.budget.wait(str(retry))
            if retry.code == "ReportInProgress" and self._building_since is not None:
                return self._poll_again(str(retry))
            return self.budget.wait(str(retry))  # throttled or unreachable: this account backs off on its own
        self.report = _checked_report(response, self.budget.calls)
        if self._building_since is not None:
            self.times.saw_ready(asked_at - self._building_since)
        return None

    def _age(self) -> float:
        assert self._building_since is not None
        return self.budget.policy.clock() - self._building_since

    def _poll_again(self, problem: str) -> float:
        """The wait before the next poll of a report still being built, where it and the call still fit the
        deadline: until this run's reports have been ready; else, with quick polls left (at most
        ReportTimes.QUICK_POLLS_PER_ACCOUNT an account, spared from its attempts), until the run's next probe, or a
        step (10%) past a poll at the run's ready age that missed; else the account's own backoff."""
        age = self._age()
        poll_after = self.times.poll_after
        planned: float | None = None
        quick = self.times.probe and self._quick < ReportTimes.QUICK_POLLS_PER_ACCOUNT
        if poll_after is not None and poll_after > age:
            planned, quick = poll_after - age, False
        elif quick and poll_after is not None:
            # Slower than the run's earliest, maybe only by the noise in two ages: soon, not a backoff later.
            planned = ReportTimes.step(age)
        elif quick:
            due = self.times.next_probe(self._first_wait())
            if due is not None:
                planned, self._probing = max(0.0, due - age), True
            else:
                quick = False
        if planned is not None and self.budget.fits(planned):
            if quick:
                self._quick += 1
                self.budget.spared += 1
            return self.budget.wait(problem, pause=planned)
        self._probing = False
        if not self.times.probe:
            return self.budget.wait(problem)  # the single-account schedule: 1 s, 2 s, 4 s... from STARTED
        pause = self.budget.policy.delay(self._backoffs)
        self._backoffs += 1
        return self.budget.wait(problem, pause=pause)

    def _first_wait(self) -> float:
        return self.budget.policy.delay(0)

    def _not_yet(self) -> float:
        """How long to hold a poll that is due, with no call: until this run's reports have been ready (a poll
        set before that was known is put back to it), or, as the run's probe, until an older report's probe
        has left it an age to probe. Never past the deadline, where polling now is the last chance."""
        if self._building_since is None:
            return 0.0
        poll_after = self.times.poll_after
        age = self._age()
        if poll_after is not None:
            self._probing = False  # the run knows: this poll is timed by that, not by the probing
            early = poll_after - age
        elif self._probing:
            early = self.times.claim(age, self._first_wait())
        else:
            return 0.0
        if early > _DUE_SLACK_S and self.budget.fits(early):
            return early
        return 0.0


def _checked_report(response: dict[str, Any], attempts: int) -> FetchedReport:
    fmt = response.get("ReportFormat")
    if fmt is None:
        # IAM always says what the Content is; an answer that does not is not one to judge a root key by.
        raise AuditError("iam:GetCredentialReport returned no ReportFormat; expected text/csv")
    if fmt != "text/csv":
        raise AuditError(f"iam:GetCredentialReport returned ReportFormat {fmt!r}; expected text/csv")
    content = response.get("Content")
    if not isinstance(content, (bytes, bytearray)):
        raise AuditError("iam:GetCredentialReport returned no Content")
    generated = response.get("GeneratedTime")
    if generated is not None and not isinstance(generated, datetime):
        raise AuditError(f"iam:GetCredentialReport returned GeneratedTime {generated!r}, not a timestamp")
    return FetchedReport(content=bytes(content), generated_at=generated, attempts=attempts)


def fetch_credential_report(iam: Any, policy: RetryPolicy, *, stop_at: float | None = None) -> FetchedReport:
    """Generate (or reuse) the account's credential report and download it, sleeping between attempts: the
    single-account path of the same steps the organization scheduler runs."""
    fetch = ReportFetch(iam, Budget(policy, stop_at=stop_at))
    while (pause := fetch.step()) is not None:
        if pause:
            policy.sleep(pause)
    assert fetch.report is not None
    return fetch.report


def judge(
    fetched: FetchedReport, account_id: str, *, max_age: timedelta, now: datetime
) -> AccountResult:
    """The verdict on a fetched report of `account_id`."""
    result = verdict(
        fetched.content,
        expected_account_id=account_id,
        generated_at=fetched.generated_at,
        now=now,
        max_age=max_age,
    )
    if fetched.generated_at is None and result.status.value != "ERROR":
        # AWS always sends GeneratedTime; without it staleness cannot be checked, and a cached PASS could be
        # hours old.
        return error_result(account_id, "iam:GetCredentialReport returned no GeneratedTime, so its age is unknown")
    return result


def audit_account(
    clients: ClientFactory,
    account_id: str,
    *,
    policy: RetryPolicy,
    max_age: timedelta,
    now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    stop_at: float | None = None,
) -> AccountResult:
    """The verdict for one account whose IAM the factory reaches; every failure is an ERROR verdict.
    stop_at: a time on the policy's clock by which the audit must be over (the run's budget)."""
    try:
        fetched = fetch_credential_report(clients("iam"), policy, stop_at=stop_at)
    except AuditError as exc:
        LOG.error("account %s: %s", account_id, exc)
        return error_result(account_id, str(exc))
    return judge(fetched, account_id, max_age=max_age, now=now())
