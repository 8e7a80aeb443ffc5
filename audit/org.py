"""Organization-wide root access key audit (CIS 1.4, Security Hub IAM.4 in every member account).

Lists the ACTIVE accounts of the organization (paginated, each account once), assumes the audit role in each
and audits them as jobs on audit.schedule's delay queue: `workers` bounds the API calls in flight, and an account
waiting for its report holds no worker. One account failing (AccessDenied on AssumeRole, a throttled report...)
is an ERROR for that account only, and its backoff delays only itself; the others are still audited, and the
run's status is the worst of all. The calling account (normally the management account, where SCPs do not apply
and a root key matters most) is audited with the caller's own credentials, since an audit role is usually not
deployed there.
"""

from __future__ import annotations

import logging
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from audit.aws import (
    AWS_ERRORS,
    AuditError,
    Budget,
    Clients,
    ReportFetch,
    RetryLater,
    RetryPolicy,
    call_once,
    caller_account_id,
    describe_error,
    describe_failure,
    judge,
)
from audit.report import AccountResult, Status, error_result, worst
from audit.schedule import run_jobs

LOG = logging.getLogger(__name__)

ROLE_SESSION_NAME = "root-key-guardrails-audit"
# Role names: IAM's allowed characters, 1..64; a path is not supported by the configuration.
_ROLE_NAME = re.compile(r"[A-Za-z0-9_+=,.@-]{1,64}", re.ASCII)
MAX_WORKERS = 64
# Accounts started and not finished, per request in flight. An account spends most of its time waiting for its
# report (seconds) against calls of tens of milliseconds, so the slots stay busy only with many accounts under
# way; the bound keeps each account's own deadline about its own calls, not the whole organization's queue.
ACTIVE_PER_WORKER = 16
NOT_STARTED = "not audited: the run's time budget ran out before this account's turn"
INTERRUPTED = "not audited: the audit was interrupted (Ctrl-C) before this account was done"


@dataclass(frozen=True)
class Account:
    account_id: str
    name: str


@dataclass(frozen=True)
class OrgAudit:
    """Result of an organization audit: one verdict per ACTIVE account, plus errors that concern the run."""

    accounts: tuple[AccountResult, ...]
    errors: tuple[str, ...] = ()
    caller_account: str | None = None
    # API calls made for each account (AssumeRole included), by action.
    api_calls: Mapping[str, Mapping[str, int]] = field(default_factory=dict)

    @property
    def status(self) -> Status:
        statuses = [result.status for result in self.accounts]
        if self.errors:
            statuses.append(Status.ERROR)
        return worst(statuses)


def validate_role_name(role_name: str) -> str:
    if not isinstance(role_name, str) or not _ROLE_NAME.fullmatch(role_name):
        raise ValueError(
            f"role name {role_name!r} is not a valid IAM role name (1-64 characters of letters, digits and +=,.@_-)"
        )
    return role_name


def validate_workers(workers: int) -> int:
    if not isinstance(workers, int) or isinstance(workers, bool) or not 1 <= workers <= MAX_WORKERS:
        raise ValueError(f"workers must be an integer from 1 to {MAX_WORKERS}, got {workers!r}")
    return workers


def _account_state(account: dict[str, Any]) -> str:
    # Organizations added `State` (ACTIVE, SUSPENDED, PENDING_CLOSURE, CLOSED...) and deprecated `Status`.
    return str(account.get("State") or account.get("Status") or "UNKNOWN")


def list_active_accounts(organizations: Any) -> list[Account]:
    """Every ACTIVE account of the organization, across all pages, each once (a listing can repeat an account,
    e.g. across pages while the organization changes). Raises AuditError if listing fails."""
    accounts: dict[str, Account] = {}
    try:
        for page in organizations.get_paginator("list_accounts").paginate():
            for account in page.get("Accounts", []):
                state = _account_state(account)
                account_id = str(account["Id"])
                if state != "ACTIVE":
                    LOG.info("skipping account %s: state %s", account_id, state)
                elif account_id in accounts:
                    LOG.info("account %s listed again: audited once", account_id)
                else:
                    accounts[account_id] = Account(account_id=account_id, name=str(account.get("Name", "")))
    except Exception as exc:  # noqa: BLE001 - not only AWS errors: a page of an unexpected shape, too
        raise AuditError(describe_failure(exc, "organizations:ListAccounts")) from exc
    return sorted(accounts.values(), key=lambda account: account.account_id)


def _assume_audit_role(clients: Clients, account_id: str, role_name: str) -> Callable[[str], Any]:
    """The account's clients through the audit role; RetryLater when waiting may help (throttling, network)."""
    role_arn = f"arn:{clients.partition}:iam::{account_id}:role/{role_name}"
    sts = clients.scheduled("sts")
    response = call_once(
        lambda: sts.assume_role(RoleArn=role_arn, RoleSessionName=ROLE_SESSION_NAME, DurationSeconds=900),
        f"sts:AssumeRole on {role_arn}",
        denied_hint="the role is missing in that account, does not trust the caller, or the caller lacks "
        "sts:AssumeRole on it",
    )
    return clients.for_account(response["Credentials"])


class AccountAudit:
    """One account's audit as scheduler steps: AssumeRole (members only), then the report fetch, then the
    verdict. Every failure ends as this account's ERROR; `result` is set once it is done."""

    def __init__(
        self,
        clients: Clients,
        account: Account,
        role_name: str,
        *,
        caller_account: str,
        policy: RetryPolicy,
        max_age: timedelta,
        now: Callable[[], datetime],
        stop_at: float | None,
    ) -> None:
        self.clients, self.account, self.role_name = clients, account, role_name
        self.caller_account, self.policy, self.max_age, self.now = caller_account, policy, max_age, now
        self.stop_at = stop_at
        self.result: AccountResult | None = None
        self.calls: Counter[str] = Counter()
        self._budget: Budget | None = None
        self._fetch: ReportFetch | None = None

    def admit(self) -> bool:
        """Start only with room for AssumeRole, one generation and the download at their slowest; otherwise
        the account is ERROR with the reason, instead of being cut off silently by the Lambda's timeout."""
        if self.stop_at is not None and self.policy.clock() + 3 * self.policy.call_seconds > self.stop_at:
            self._end(error_result(self.account.account_id, NOT_STARTED))
            return False
        self._budget = Budget(self.policy, stop_at=self.stop_at)
        if self.account.account_id == self.caller_account:
            self._fetch = ReportFetch(_Counting(self.clients("iam"), self.calls), self._budget)
        return True

    def step(self) -> float | None:
        assert self._budget is not None
        try:
            if self._fetch is None:
                self._budget.before_call("sts:AssumeRole")
                self.calls["sts:AssumeRole"] += 1
                try:
                    factory = _assume_audit_role(self.clients, self.account.account_id, self.role_name)
                except RetryLater as retry:
                    return self._budget.wait(str(retry))
                self._fetch = ReportFetch(_Counting(factory("iam"), self.calls), self._budget)
                return 0.0
            pause = self._fetch.step()
            if pause is not None:
                return pause
            report, self._fetch = self._fetch.report, None  # a report can be megabytes: keep only the verdict
            assert report is not None
            self._end(judge(report, self.account.account_id, max_age=self.max_age, now=self.now()))
        except AuditError as exc:
            self._end(error_result(self.account.account_id, str(exc)))
        return None

    def fail(self, exc: BaseException) -> None:
        LOG.error("account %s: unexpected failure", self.account.account_id, exc_info=exc)
        self._end(error_result(self.account.account_id, f"unexpected {type(exc).__name__}: {exc}"))

    def _end(self, result: AccountResult) -> None:
        if result.status is Status.ERROR:
            LOG.error("account %s: %s", self.account.account_id, result.reason)
        self.result = result


class _Counting:
    """Counts an account's IAM calls by action (iam:GenerateCredentialReport...)."""

    def __init__(self, iam: Any, calls: Counter[str]) -> None:
        self._iam, self._calls = iam, calls

    def generate_credential_report(self) -> dict[str, Any]:
        self._calls["iam:GenerateCredentialReport"] += 1
        return dict(self._iam.generate_credential_report())

    def get_credential_report(self) -> dict[str, Any]:
        self._calls["iam:GetCredentialReport"] += 1
        return dict(self._iam.get_credential_report())


class AuditInterrupted(KeyboardInterrupt):
    """Ctrl-C during an organization audit; `audit` holds what was done, every other account as ERROR."""

    def __init__(self, audit: OrgAudit, not_audited: int) -> None:
        super().__init__("the organization audit was interrupted")
        self.audit = audit
        self.not_audited = not_audited


@contextmanager
def _progress(total: int, enabled: bool | None) -> Iterator[Callable[[], None]]:
    """A tqdm bar on an interactive terminal only; tqdm is imported here so the Lambda never needs it."""
    show = sys.stderr.isatty() if enabled is None else enabled
    if not show:
        yield lambda: None
        return
    from tqdm import tqdm

    with tqdm(total=total, unit="account", desc="root key audit", file=sys.stderr) as bar:
        yield lambda: bar.update(1)


def audit_organization(
    clients: Clients,
    role_name: str,
    *,
    workers: int = 8,
    max_age_hours: float = 5,
    retry: RetryPolicy | None = None,
    progress: bool | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    stop_at: float | None = None,
) -> OrgAudit:
    """Audit every ACTIVE account of the organization with at most `workers` API calls in flight.

    clients: a Clients over the management (or delegated admin) account's session; role_name: the role assumed in
    every member account; progress: None shows a bar only when stderr is a terminal; stop_at: a time on the retry
    policy's clock by which every account's audit must be over (the run's budget). An account that cannot start
    in time, or whose calls would pass it, is ERROR with the reason, so a run that cannot finish in time still
    publishes what it found. Ctrl-C raises AuditInterrupted with the accounts done so far.
    """
    validate_role_name(role_name)
    validate_workers(workers)
    policy = retry or RetryPolicy()
    max_age = timedelta(hours=max_age_hours)
    try:
        caller = caller_account_id(clients)
        accounts = list_active_accounts(clients("organizations"))
    except AuditError as exc:
        LOG.error("%s", exc)
        return OrgAudit(accounts=(), errors=(str(exc),))
    if not accounts:
        return OrgAudit(
            accounts=(), errors=("organizations:ListAccounts returned no ACTIVE account",), caller_account=caller
        )
    jobs = [
        AccountAudit(
            clients, account, role_name, caller_account=caller, policy=policy, max_age=max_age, now=now,
            stop_at=stop_at,
        )
        for account in accounts
    ]
    with _progress(len(jobs), progress) as tick:
        try:
            run_jobs(
                jobs,
                workers=min(workers, len(jobs)),
                max_active=workers * ACTIVE_PER_WORKER,
                start=lambda job: job.admit(),  # type: ignore[attr-defined]
                done=lambda job: tick(),
                clock=policy.clock,
                sleep=policy.sleep,
            )
        except KeyboardInterrupt:
            # A call still in flight may yet end its job: take one snapshot, so counts and verdicts agree.
            done = [job.result for job in jobs]
            audit = _collect(jobs, done, caller)
            raise AuditInterrupted(audit, sum(1 for result in done if result is None)) from None
    return _collect(jobs, [job.result for job in jobs], caller)


def _collect(jobs: list[AccountAudit], done: list[AccountResult | None], caller: str) -> OrgAudit:
    results = [
        # None only after an interrupt: a job still queued, waiting or in flight.
        result if result is not None else error_result(job.account.account_id, INTERRUPTED)
        for job, result in zip(jobs, done)
    ]
    results.sort(key=lambda result: result.account_id or "")
    calls = {job.account.account_id: dict(job.calls) for job in jobs if job.calls}
    total = sum(sum(c.values()) for c in calls.values())
    LOG.info("audited %d account(s) with %d API call(s)", len(results), total)
    return OrgAudit(accounts=tuple(results), caller_account=caller, api_calls=calls)
