"""Organization-wide root access key audit (CIS 1.4, Security Hub IAM.4 in every member account).

Lists the ACTIVE accounts of the organization (page by page, each account once, auditing from the first page; in
a forked child process where the process may fork, audit.lister), assumes the audit role in each and audits them
as jobs on audit.schedule's delay queue: `workers` bounds the API calls in flight, and an account waiting for its
report holds no worker. One account failing (AccessDenied on AssumeRole, a throttled report...) is an ERROR for
that account only, and its backoff delays only itself; the others are still audited, and the run's status is the
worst of all. The calling account (normally the management account, where SCPs do not apply and a root key matters
most) is audited with the caller's own credentials, since an audit role is usually not deployed there.
"""

from __future__ import annotations

import logging
import re
import sys
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from audit.aws import (
    AuditError,
    Budget,
    Clients,
    ReportFetch,
    ReportTimes,
    RetryLater,
    RetryPolicy,
    call_once,
    caller_account_id,
    describe_failure,
    judge,
)
from audit.lister import ListingProcess, can_fork
from audit.report import AccountResult, Status, error_result, worst
from audit.schedule import Feed, run_jobs

LOG = logging.getLogger(__name__)

ROLE_SESSION_NAME = "root-key-guardrails-audit"
# Role names: IAM's allowed characters, 1..64; a path is not supported by the configuration.
_ROLE_NAME = re.compile(r"[A-Za-z0-9_+=,.@-]{1,64}", re.ASCII)
MAX_WORKERS = 64
DEFAULT_WORKERS = 8
# Accounts started and not finished, per request in flight. An account spends most of its time waiting for its
# report (seconds) against calls of tens of milliseconds, so the slots stay busy only with many accounts under
# way; the bound keeps each account's own deadline about its own calls, not the whole organization's queue.
ACTIVE_PER_WORKER = 16
NOT_STARTED = "not audited: the run's time budget ran out before this account's turn"
INTERRUPTED = "not audited: the audit was interrupted (Ctrl-C) before this account was done"
CUT_OFF = "not audited: a call for this account was still unanswered when the run's time ran out"
# How long past the run's stop time the scheduler waits before it abandons calls in flight. Every call starts
# only if its worst case (attempts x (connect + read timeout)) ends by the stop time, so a call still running
# then has an endpoint answering slower than any timeout allows (a trickle): its account is ERROR.
GIVE_UP_GRACE_S = 2.0


@dataclass(frozen=True)
class Account:
    account_id: str
    name: str


def _account_from(fields: Any) -> Account:
    """An account as the listing process sent it (audit.lister)."""
    if (
        not isinstance(fields, dict)
        or set(fields) != {"account_id", "name"}
        or not all(isinstance(value, str) for value in fields.values())
    ):
        raise ValueError(f"an account of unexpected shape: {fields!r}")
    return Account(**fields)


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


def _shape(page: Any) -> str:
    if not isinstance(page, dict):
        return f"a {type(page).__name__}"
    keys = sorted(str(key) for key in page if key != "ResponseMetadata")
    return f"keys {', '.join(keys[:5])}" if keys else "an empty answer"


# States in which an account cannot be audited and cannot hold a usable key: suspended or closing accounts refuse
# sign-in, and one still being created has no root credentials yet. Any other state, a missing or a new one
# included, is audited: skipping what the audit does not recognise would leave an account out of a PASS.
SKIPPED_STATES = frozenset({"SUSPENDED", "PENDING_CLOSURE", "CLOSED", "PENDING_ACTIVATION"})
# Pages in a row that name no account not seen before: AWS may send an empty page with a NextToken now and then,
# but an endless run of them (each with a new token) is a listing that never ends.
MAX_IDLE_PAGES = 50


class AccountListing:
    """organizations:ListAccounts as scheduler steps, one page each, so that auditing starts with the first page
    instead of after the last (AWS pages it by 20 at most). Every ACTIVE account is handed to `found` once, as
    its page arrives: a listing can repeat an account, e.g. across pages while the organization changes.

    A page that fails in a way worth waiting out (throttling, the network) is retried with the account backoff,
    against a deadline of its own; any other failure, or a page of an unexpected shape, ends the listing with
    `error` set, and the run is ERROR whatever the accounts listed before it found.
    """

    def __init__(
        self,
        organizations: Any,
        found: Callable[[Account], None],
        *,
        policy: RetryPolicy,
        stop_at: float | None = None,
    ) -> None:
        self.organizations, self.found, self.policy, self.stop_at = organizations, found, policy, stop_at
        self.error: str | None = None
        self.complete = False
        self.listed = 0
        self._token: str | None = None
        self._tokens: set[str] = set()
        self._seen: set[str] = set()
        self._named: set[str] = set()  # every account id any page named, whatever its state
        self._idle_pages = 0
        self._budget = Budget(policy, stop_at=stop_at)

    def step(self) -> float | None:
        try:
            self._budget.before_call("organizations:ListAccounts")
            kwargs = {"NextToken": self._token} if self._token else {}
            try:
                page = call_once(lambda: self.organizations.list_accounts(**kwargs), "organizations:ListAccounts")
            except RetryLater as retry:
                return self._budget.wait(str(retry))
            if not isinstance(page, dict):
                raise AuditError(f"organizations:ListAccounts answered {_shape(page)}, not a page")
            token = page.get("NextToken")
            accounts = page.get("Accounts")
            if not isinstance(accounts, list):
                # A body botocore could not read (an HTML page with status 200) parses as {}: no Accounts and no
                # NextToken, which would otherwise end the listing as complete after the pages before it.
                raise AuditError(f"organizations:ListAccounts answered a page without an Accounts list ({_shape(page)})")
            self._take(accounts)
        except AuditError as exc:
            self._end(str(exc))
            return None
        if token:
            if token in self._tokens:
                # AWS never repeats a token: following one again would list the same pages forever.
                self._end(f"organizations:ListAccounts returned NextToken {token!r} a second time")
                return None
            if self._idle_pages > MAX_IDLE_PAGES:
                self._end(
                    f"organizations:ListAccounts returned {self._idle_pages} pages in a row with no account not "
                    f"listed before, each with a new NextToken: the listing does not end"
                )
                return None
            self._tokens.add(token)
            self._token = token
            self._budget = Budget(self.policy, stop_at=self.stop_at)  # each page has its own attempts and deadline
            return 0.0
        self.complete = True
        return None

    def _take(self, accounts: Any) -> None:
        try:
            page = [(str(account["Id"]), _account_state(account), str(account.get("Name", ""))) for account in accounts]
        except Exception as exc:  # noqa: BLE001 - a page of an unexpected shape is the listing's ERROR
            raise AuditError(describe_failure(exc, "organizations:ListAccounts")) from exc
        # The whole page is checked before any of it is audited: a malformed page adds no account.
        new = {account_id for account_id, _, _ in page} - self._named
        self._idle_pages = 0 if new else self._idle_pages + 1
        self._named |= new
        for account_id, state, name in page:
            if state in SKIPPED_STATES:
                LOG.info("skipping account %s: state %s", account_id, state)
            elif account_id in self._seen:
                LOG.info("account %s listed again: audited once", account_id)
            else:
                self._seen.add(account_id)
                self.listed += 1
                self.found(Account(account_id=account_id, name=name))

    def fail(self, exc: BaseException) -> None:
        # The message says what failed; the traceback is for -v (DEBUG), not for every reader of stderr.
        LOG.debug("organizations:ListAccounts: unexpected failure", exc_info=exc)
        self._end(describe_failure(exc, "organizations:ListAccounts"))

    def close(self) -> None:
        """Nothing to end: this listing runs in the audit's own process (lister.ListingProcess is the other)."""

    def _end(self, error: str) -> None:
        LOG.error("%s", error)
        self.error = error


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
        report_times: ReportTimes | None = None,
    ) -> None:
        self.clients, self.account, self.role_name = clients, account, role_name
        self.caller_account, self.policy, self.max_age, self.now = caller_account, policy, max_age, now
        self.stop_at = stop_at
        self.report_times = report_times  # None: the account's fetch times its polls on its own
        self.result: AccountResult | None = None
        self.calls: Counter[str] = Counter()
        self._call = "sts:AssumeRole"  # what the account is doing, for an unexpected failure's message
        self.started = False  # admitted: its first call may have been made
        self._budget: Budget | None = None
        self._fetch: ReportFetch | None = None

    def admit(self) -> bool:
        """Start only with room for AssumeRole, one generation and the download at their slowest; otherwise
        the account is ERROR with the reason, instead of being cut off silently by the Lambda's timeout."""
        if self.stop_at is not None and self.policy.clock() + 3 * self.policy.call_seconds > self.stop_at:
            self._end(error_result(self.account.account_id, NOT_STARTED))
            return False
        self._budget = Budget(self.policy, stop_at=self.stop_at)
        self.started = True
        if self.account.account_id == self.caller_account:
            self._fetch = ReportFetch(_Counting(self.clients("iam"), self.calls, self._calling), self._budget, self.report_times)
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
                self._fetch = ReportFetch(_Counting(factory("iam"), self.calls, self._calling), self._budget, self.report_times)
                return 0.0
            pause = self._fetch.step()
            if pause is not None:
                return pause
            report, self._fetch = self._fetch.report, None  # a report can be megabytes: keep only the verdict
            assert report is not None
            self._call = "the credential report's verdict"
            self._end(judge(report, self.account.account_id, max_age=self.max_age, now=self.now()))
        except AuditError as exc:
            self._end(error_result(self.account.account_id, str(exc)))
        return None

    def fail(self, exc: BaseException) -> None:
        LOG.debug("account %s: unexpected failure in %s", self.account.account_id, self._call, exc_info=exc)
        self._end(error_result(self.account.account_id, describe_failure(exc, self._call)))

    def _calling(self, action: str) -> None:
        self._call = action

    def _end(self, result: AccountResult) -> None:
        if result.status is Status.ERROR:
            LOG.error("account %s: %s", self.account.account_id, result.reason)
        self.result = result


class _Counting:
    """Counts an account's IAM calls by action (iam:GenerateCredentialReport...)."""

    def __init__(self, iam: Any, calls: Counter[str], calling: Callable[[str], None]) -> None:
        self._iam, self._calls, self._calling = iam, calls, calling

    def generate_credential_report(self) -> dict[str, Any]:
        self._calls["iam:GenerateCredentialReport"] += 1
        self._calling("iam:GenerateCredentialReport")
        return dict(self._iam.generate_credential_report())

    def get_credential_report(self) -> dict[str, Any]:
        self._calls["iam:GetCredentialReport"] += 1
        self._calling("iam:GetCredentialReport")
        return dict(self._iam.get_credential_report())


class AuditInterrupted(KeyboardInterrupt):
    """Ctrl-C during an organization audit; `audit` holds what was done, every other account as ERROR."""

    def __init__(self, audit: OrgAudit, not_audited: int) -> None:
        super().__init__("the organization audit was interrupted")
        self.audit = audit
        self.not_audited = not_audited


class _Progress:
    """A tqdm bar on an interactive terminal only, whose total grows as the listing finds accounts; tqdm is
    imported only then, so the Lambda never needs it."""

    def __init__(self, enabled: bool | None) -> None:
        show = sys.stderr.isatty() if enabled is None else enabled
        self._bar: Any = None
        if show:
            from tqdm import tqdm

            self._bar = tqdm(total=0, unit="account", desc="root key audit", file=sys.stderr)

    def listed(self) -> None:
        if self._bar is not None:
            self._bar.total += 1
            self._bar.refresh()

    def done(self) -> None:
        if self._bar is not None:
            self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def audit_organization(
    clients: Clients,
    role_name: str,
    *,
    workers: int = DEFAULT_WORKERS,
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
    publishes what it found. The listing is one more job on the same scheduler, a page per step, and each account
    is queued as its page arrives; where this process may fork (audit.lister.can_fork), the pages are fetched by a
    child process, started before GetCallerIdentity, and the job relays them. Ctrl-C raises AuditInterrupted with
    the accounts done so far.
    """
    validate_role_name(role_name)
    validate_workers(workers)
    policy = retry or RetryPolicy()
    max_age = timedelta(hours=max_age_hours)
    jobs: list[AccountAudit] = []
    feed = Feed()
    # One for the run: the accounts' reports are built by the same service, so the first ones time the rest's polls,
    # and probe for that time together rather than each polling blind.
    report_times = ReportTimes(probe=True)

    def found(account: Account) -> None:
        job = AccountAudit(
            clients, account, role_name, caller_account=caller, policy=policy, max_age=max_age, now=now,
            stop_at=stop_at, report_times=report_times,
        )
        jobs.append(job)
        bar.listed()
        feed.add(job)

    listing: AccountListing | ListingProcess
    listing = AccountListing(clients.scheduled("organizations"), found, policy=policy, stop_at=stop_at)
    if can_fork():
        # Forked before any thread starts; it lists while GetCallerIdentity is asked below.
        try:
            listing = ListingProcess(listing, _account_from, sleep=policy.sleep)
        except OSError as exc:
            LOG.warning("could not fork the listing process (%s): listing in this process", exc)
    try:
        caller = caller_account_id(clients)
        bar = _Progress(progress)
    except AuditError as exc:
        LOG.error("%s", exc)
        listing.close()
        return OrgAudit(accounts=(), errors=(str(exc),))
    except BaseException:
        listing.close()  # Ctrl-C or a crash before the jobs run: the child must not go on listing unowned
        raise
    feed.add(listing)

    def ended(job: Any) -> None:
        if job is not listing:
            bar.done()

    try:
        finished = run_jobs(
            feed,
            workers=workers,
            max_active=1 + workers * ACTIVE_PER_WORKER,  # the listing and the accounts under way
            start=lambda job: job is listing or job.admit(),  # type: ignore[attr-defined]
            done=ended,
            clock=policy.clock,
            sleep=policy.sleep,
            give_up_at=None if stop_at is None else stop_at + GIVE_UP_GRACE_S,
        )
    except KeyboardInterrupt:
        # A call still in flight may yet end its job: take one snapshot, so counts and verdicts agree.
        listed = list(jobs)
        done = [job.result for job in listed]
        audit = _collect(listed, done, caller, _listing_errors(listing, interrupted=True), INTERRUPTED)
        raise AuditInterrupted(audit, sum(1 for result in done if result is None)) from None
    finally:
        bar.close()
        listing.close()
    listed = list(jobs)
    done = [job.result for job in listed]
    errors = _listing_errors(listing, interrupted=False)
    if not finished:
        errors += (f"the run's time ran out with calls still unanswered; {sum(r is None for r in done)} account(s) "
                   "were not audited",)
    return _collect(listed, done, caller, errors, CUT_OFF)


def _listing_errors(listing: AccountListing | ListingProcess, *, interrupted: bool) -> tuple[str, ...]:
    """What the run must say about the listing: its failure, an interruption before its last page, or an
    organization with no ACTIVE account (nothing audited is not a PASS)."""
    if listing.error is not None:
        return (listing.error,)
    if not listing.complete and interrupted:
        return ("organizations:ListAccounts was interrupted before its last page: accounts not yet listed were not "
                "audited",)
    if not listing.complete:
        return ("organizations:ListAccounts did not finish",)  # every way it ends sets error or complete
    if listing.listed == 0:
        return ("organizations:ListAccounts returned no ACTIVE account",)
    return ()


def _collect(
    jobs: list[AccountAudit], done: list[AccountResult | None], caller: str, errors: tuple[str, ...], missing: str
) -> OrgAudit:
    results = [
        # None only after an interrupt or a cut-off: a job still queued, waiting or in flight. After a cut-off, one
        # never started made no call that could be unanswered: it simply had no turn.
        result if result is not None else error_result(
            job.account.account_id, NOT_STARTED if missing == CUT_OFF and not job.started else missing)
        for job, result in zip(jobs, done)
    ]
    results.sort(key=lambda result: result.account_id or "")
    calls = {job.account.account_id: dict(job.calls) for job in jobs if job.calls}
    total = sum(sum(c.values()) for c in calls.values())
    LOG.info("audited %d account(s) with %d API call(s)", len(results), total)
    return OrgAudit(accounts=tuple(results), errors=errors, caller_account=caller, api_calls=calls)
