"""Organization-wide root access key audit (CIS 1.4, Security Hub IAM.4 in every member account).

Lists the ACTIVE accounts of the organization (paginated), assumes the audit role in each and audits them in a
bounded thread pool. One account failing (AccessDenied on AssumeRole, a throttled report...) is an ERROR for that
account only; the others are still audited, and the run's status is the worst of all. The calling account
(normally the management account, where SCPs do not apply and a root key matters most) is audited with the
caller's own credentials, since an audit role is usually not deployed there.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from audit.aws import AWS_ERRORS, AuditError, Clients, RetryPolicy, audit_account, caller_account_id, describe_error
from audit.aws import describe_failure
from audit.report import AccountResult, Status, error_result, worst

LOG = logging.getLogger(__name__)

ROLE_SESSION_NAME = "root-key-guardrails-audit"
# Role names: IAM's allowed characters, 1..64; a path is not supported by the configuration.
_ROLE_NAME = re.compile(r"[A-Za-z0-9_+=,.@-]{1,64}", re.ASCII)
MAX_WORKERS = 64


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
    """Every ACTIVE account of the organization, across all pages. Raises AuditError if listing fails."""
    accounts: list[Account] = []
    try:
        for page in organizations.get_paginator("list_accounts").paginate():
            for account in page.get("Accounts", []):
                state = _account_state(account)
                if state == "ACTIVE":
                    accounts.append(Account(account_id=str(account["Id"]), name=str(account.get("Name", ""))))
                else:
                    LOG.info("skipping account %s: state %s", account.get("Id"), state)
    except Exception as exc:  # noqa: BLE001 - not only AWS errors: a page of an unexpected shape, too
        raise AuditError(describe_failure(exc, "organizations:ListAccounts")) from exc
    return sorted(accounts, key=lambda account: account.account_id)


def assume_audit_role(clients: Clients, account_id: str, role_name: str) -> Callable[[str], Any]:
    role_arn = f"arn:{clients.partition}:iam::{account_id}:role/{role_name}"
    try:
        response = clients("sts").assume_role(RoleArn=role_arn, RoleSessionName=ROLE_SESSION_NAME, DurationSeconds=900)
    except AWS_ERRORS as exc:
        raise AuditError(
            describe_error(
                exc,
                f"sts:AssumeRole on {role_arn}",
                denied_hint="the role is missing in that account, does not trust the caller, or the caller lacks "
                "sts:AssumeRole on it",
            )
        ) from exc
    return clients.for_credentials(response["Credentials"])


def audit_member(
    clients: Clients,
    account: Account,
    role_name: str,
    *,
    caller_account: str,
    policy: RetryPolicy,
    max_age: timedelta,
    now: Callable[[], datetime],
    start_by: float | None = None,
) -> AccountResult:
    if start_by is not None and policy.clock() > start_by:
        # Starting now could outlive the run (the Lambda's timeout): say so instead of being cut off silently.
        reason = "not audited: the run's time budget ran out before this account's turn"
        LOG.error("account %s: %s", account.account_id, reason)
        return error_result(account.account_id, reason)
    try:
        factory = clients if account.account_id == caller_account else assume_audit_role(
            clients, account.account_id, role_name
        )
        return audit_account(factory, account.account_id, policy=policy, max_age=max_age, now=now)
    except AuditError as exc:
        LOG.error("account %s: %s", account.account_id, exc)
        return error_result(account.account_id, str(exc))
    except Exception as exc:  # noqa: BLE001 - one account's surprise must not end the others' audit
        LOG.exception("account %s: unexpected failure", account.account_id)
        return error_result(account.account_id, f"unexpected {type(exc).__name__}: {exc}")


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
    start_by: float | None = None,
) -> OrgAudit:
    """Audit every ACTIVE account of the organization with `workers` threads.

    clients: a Clients over the management (or delegated admin) account's session; role_name: the role assumed in
    every member account; progress: None shows a bar only when stderr is a terminal; start_by: a time on the
    retry policy's clock after which no further account is started (each one left is ERROR), so a run that cannot
    finish in time still publishes what it found.
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
    results: list[AccountResult] = []
    with _progress(len(accounts), progress) as tick, ThreadPoolExecutor(
        max_workers=min(workers, len(accounts)), thread_name_prefix="root-key-audit"
    ) as pool:
        futures = {
            pool.submit(
                audit_member,
                clients,
                account,
                role_name,
                caller_account=caller,
                policy=policy,
                max_age=max_age,
                now=now,
                start_by=start_by,
            ): account
            for account in accounts
        }
        for future in as_completed(futures):
            results.append(future.result())
            tick()
    results.sort(key=lambda result: result.account_id or "")
    return OrgAudit(accounts=tuple(results), caller_account=caller)
