"""One run of the root access key audit (CIS 1.4, Security Hub IAM.4), shared by the Lambda handler and the CLI:
audit (one account or the organization), optionally remediate, then publish to every configured sink.

The run's status is the worst of the accounts' verdicts, and ERROR if any step of the run failed (a sink, a
remediation, the account listing): a run that could not do its whole job never reads as PASS.

Isolation: any exception while auditing one account (not only ClientError/BotoCoreError: a parser error on a 200
answer, a KeyError on an unexpected shape, a bad timestamp) is an ERROR of that account, and any exception in one
sink is an ERROR of that sink; the other sinks still run and report the run as ERROR. The sinks run in the order
that lets each one see the failures before it: Security Hub, then metrics, then the SNS alert (decided after the
metrics, so a PutMetricData failure on a PASS run still alerts). Only the SNS alert comes after the metrics, so if
it fails the AuditErrors total is sent again with that failure counted.

Time: with a time budget (the Lambda's), the sinks share what the audit left of it, and a slow sink cannot starve the
ones after it: each sink's calls must end, at their worst (SINK_CALL_SECONDS), before the run's end less one such
call for every configured sink after it. So Security Hub, the most expensive sink, keeps a call's time for the
metrics and one for the SNS alert, which need a single call each (the cheapest sinks; RUN_RESERVE_SECONDS holds
both), and the metrics keep one for the alert. A sink whose first call no longer fits is not started; a call of a
sink under way that no longer fits is not made. Either is an ERROR of that sink, and the sinks after it are still
attempted in their own time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

from audit.aws import AuditError, Clients, RetryPolicy, audit_account, caller_account_id, describe_failure
from audit.org import CUT_OFF, DEFAULT_WORKERS, GIVE_UP_GRACE_S, audit_organization, validate_role_name, validate_workers
from audit.publish import (
    METRIC_AUDIT_ERRORS,
    SINK_CALL_SECONDS,
    Deadline,
    Transition,
    alert_message,
    publish_audit_errors,
    publish_findings,
    publish_metrics,
    publish_sns,
    recovery_message,
)
from audit.remediate import Remediation, remediate_account
from audit.report import AccountResult, Status, error_result, worst

LOG = logging.getLogger(__name__)

MIN_REPORT_AGE_HOURS = 1
MAX_REPORT_AGE_HOURS = 24
DEFAULT_REPORT_AGE_HOURS = 5
# Kept back from a time budget for publishing: each sink call takes at most SINK_CALL_SECONDS (audit.publish: two
# attempts of connect + read timeout, and botocore's backoff between them), 27 s, and a run makes a few of them.
# Enough for one call of the metrics and one of the SNS alert, which each sink before them leaves alone.
RUN_RESERVE_SECONDS = 60.0
# How often the thread waiting on a single-account audit looks at the clock.
_POLL_S = 0.1
_R = TypeVar("_R")


@dataclass(frozen=True)
class AuditConfig:
    """What a run does. Publishing is off unless a namespace / topic / Security Hub is given."""

    org_role_name: str = ""
    max_report_age_hours: int = DEFAULT_REPORT_AGE_HOURS
    workers: int = DEFAULT_WORKERS
    remediate: bool = False
    dry_run: bool = False
    metric_namespace: str = ""
    sns_topic_arn: str = ""
    security_hub: bool = False
    progress: bool | None = False

    def __post_init__(self) -> None:
        if self.org_role_name:
            validate_role_name(self.org_role_name)
        validate_workers(self.workers)
        if (
            not isinstance(self.max_report_age_hours, int)
            or not MIN_REPORT_AGE_HOURS <= self.max_report_age_hours <= MAX_REPORT_AGE_HOURS
        ):
            raise ValueError(
                f"max_report_age_hours must be an integer from {MIN_REPORT_AGE_HOURS} to {MAX_REPORT_AGE_HOURS}, "
                f"got {self.max_report_age_hours!r}"
            )
        if self.metric_namespace.startswith("AWS/"):
            raise ValueError(f"metric namespace {self.metric_namespace!r} must not start with AWS/ (reserved)")


@dataclass(frozen=True)
class RunResult:
    accounts: tuple[AccountResult, ...]
    errors: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    recovered: tuple[str, ...] = field(default=())
    # The region of the run's API calls, which the findings name; None offline.
    region: str | None = None

    @property
    def status(self) -> Status:
        statuses = [result.status for result in self.accounts]
        if self.errors or not self.accounts:
            statuses.append(Status.ERROR)
        return worst(statuses)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "accounts": [result.to_dict() for result in self.accounts],
            "errors": list(self.errors),
            "notes": list(self.notes),
            "recovered": list(self.recovered),
            "counts": {status.value: sum(1 for r in self.accounts if r.status is status) for status in Status},
        }


def _audit(
    config: AuditConfig,
    clients: Clients,
    retry: RetryPolicy,
    now: Callable[[], datetime],
    stop_at: float | None,
) -> tuple[list[AccountResult], list[str], str | None]:
    if config.org_role_name:
        try:
            org = audit_organization(
                clients,
                config.org_role_name,
                workers=config.workers,
                max_age_hours=config.max_report_age_hours,
                retry=retry,
                progress=config.progress,
                now=now,
                stop_at=stop_at,
            )
        except Exception as exc:  # noqa: BLE001 - listing or identity failing in a way no handler expected
            _unexpected(exc, "the organization audit failed")
            return [], [describe_failure(exc, "the organization audit")], None
        return list(org.accounts), list(org.errors), org.caller_account
    known: list[str] = []  # the caller's account once known, for a run given up while its report call hangs

    def audit_caller() -> tuple[list[AccountResult], list[str], str | None]:
        try:
            caller = caller_account_id(clients)
        except AuditError as exc:
            return [error_result(None, str(exc))], [], None
        except Exception as exc:  # noqa: BLE001 - e.g. a 200 answer without an Account
            _unexpected(exc, "sts:GetCallerIdentity failed")
            return [error_result(None, describe_failure(exc, "sts:GetCallerIdentity"))], [], None
        known.append(caller)
        try:
            result = audit_account(
                clients, caller, policy=retry, max_age=timedelta(hours=config.max_report_age_hours), now=now, stop_at=stop_at
            )
        except Exception as exc:  # noqa: BLE001 - one account's surprise is that account's ERROR, never a crash
            _unexpected(exc, f"account {caller}: unexpected failure")
            result = error_result(caller, describe_failure(exc, "the credential report audit"))
        return [result], [], caller

    if stop_at is None:
        return audit_caller()
    done = _within(stop_at + GIVE_UP_GRACE_S, retry.clock, audit_caller)
    if done is not None:
        return done
    caller = known[0] if known else None
    return [error_result(caller, CUT_OFF)], ["the run's time ran out with a call still unanswered"], caller


def _within(give_up_at: float, clock: Callable[[], float], work: Callable[[], _R]) -> _R | None:
    """work() on a daemon thread, or None if it has not returned by `give_up_at` (on `clock`). A timeout bounds
    each socket read, not a whole answer: an endpoint trickling a byte at a time would otherwise hold the run past
    the Lambda's timeout, with nothing published. The abandoned call ends with its thread."""
    box: list[_R] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            box.append(work())
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
            failure.append(exc)

    thread = threading.Thread(target=run, name="root-key-audit-account", daemon=True)
    thread.start()
    while thread.is_alive() and clock() < give_up_at:
        thread.join(_POLL_S)
    if failure:
        raise failure[0]
    return box[0] if box else None


def _unexpected(exc: BaseException, what: str) -> None:
    # The verdict says what failed; the traceback is for -v (DEBUG), not for every reader of stderr.
    LOG.error("%s: %s: %s", what, type(exc).__name__, exc)
    LOG.debug("%s", what, exc_info=exc)


# One account's remediation at its worst: AssumeRoot, the root session's identity, the key listing, two deletions
# (a root user holds at most two keys) and the listing that confirms them, each at most one sink-style call. An
# account is started only if that fits before the run's stop, so remediation never eats the time kept for publishing.
REMEDIATION_ACCOUNT_SECONDS = 6 * SINK_CALL_SECONDS


def _remediate(
    config: AuditConfig,
    clients: Clients,
    results: list[AccountResult],
    caller: str | None,
    clock: Callable[[], float],
    stop_at: float | None,
) -> tuple[list[AccountResult], list[str], list[str]]:
    errors: list[str] = []
    notes: list[str] = []
    updated: list[AccountResult] = []
    for result in results:
        if result.status not in (Status.FAIL, Status.WARN) or result.account_id is None:
            updated.append(result)
            continue
        if result.account_id == caller:
            notes.append(
                f"account {result.account_id}: not remediated, sts:AssumeRoot cannot target the calling account; "
                "delete its root keys by hand"
            )
            updated.append(result)
            continue
        if stop_at is not None and clock() + REMEDIATION_ACCOUNT_SECONDS > stop_at:
            error = (f"not remediated: the run's time budget leaves less than the {REMEDIATION_ACCOUNT_SECONDS:.0f} s "
                     "one account's remediation may take")
            errors.append(f"remediation of account {result.account_id} failed: {error}")
            updated.append(result.with_remediation((error,)))
            continue
        try:
            outcome = remediate_account(clients, result.account_id, dry_run=config.dry_run)
        except Exception as exc:  # noqa: BLE001 - one account's remediation must not end the run
            LOG.exception("remediation of account %s failed", result.account_id)
            outcome = Remediation(result.account_id, (), describe_failure(exc, "the remediation"))
        if outcome.error:
            errors.append(f"remediation of account {result.account_id} failed: {outcome.error}")
        # The verdict stays: the credential report shows the deletion only once regenerated (up to 4 hours).
        updated.append(result.with_remediation(outcome.actions + ((outcome.error,) if outcome.error else ())))
    return updated, errors, notes


_T = TypeVar("_T")


def _sink(name: str, publish: Callable[[], _T], failed: Callable[[str], _T], deadline: Deadline | None) -> _T:
    """Run one sink, unless its first call can no longer end by its deadline; an exception it did not turn into
    an error itself becomes that sink's error only."""
    if deadline is not None and not deadline.fits():
        error = f"publishing to {name} was not started: {deadline.shortfall()}"
        LOG.error("%s", error)
        return failed(error)
    try:
        return publish()
    except Exception as exc:  # noqa: BLE001 - the other sinks must still run and report the run as ERROR
        LOG.exception("publishing to %s failed", name)
        return failed(describe_failure(exc, f"publishing to {name}"))


def _one(error: str) -> list[str]:
    return [error]


def _deadline(end: float | None, clock: Callable[[], float], later_sinks: int) -> Deadline | None:
    """A sink's deadline: the run's end, less one worst-case call for each configured sink after it."""
    if end is None:
        return None
    reserved = later_sinks * SINK_CALL_SECONDS
    return Deadline(end - reserved, clock=clock, reserved=reserved)


def _publish_hub(
    config: AuditConfig,
    clients: Clients,
    results: list[AccountResult],
    caller: str | None,
    stamp: datetime,
    deadline: Deadline | None,
) -> tuple[list[str], list[Transition]]:
    if caller is None:
        return ["Security Hub findings were not sent: the calling account is unknown"], []
    topic = config.sns_topic_arn

    def notify(recoveries: Sequence[Transition]) -> list[str]:
        subject, body = recovery_message(recoveries)
        return publish_sns(clients("sns"), topic, subject, body, "RECOVERED", deadline=deadline)

    return publish_findings(
        clients("securityhub"),
        results,
        caller_account=caller,
        partition=clients.partition,
        region=clients.region,
        now=stamp,
        notify_recoveries=notify if topic else None,
        deadline=deadline,
    )


def run_audit(
    config: AuditConfig,
    clients: Clients,
    *,
    retry: RetryPolicy | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    time_budget_seconds: float | None = None,
) -> RunResult:
    """Audit, remediate if configured, publish. time_budget_seconds: how long the run may take (the Lambda's
    remaining time); every account's audit, in either mode, is over RUN_RESERVE_SECONDS before it ends, calls in
    flight included, so that publishing still happens, and every sink call is over by the end (see the module's
    docstring for how the sinks share the time)."""
    policy = retry or RetryPolicy()
    stop_at = end = None
    if time_budget_seconds is not None:
        end = policy.clock() + time_budget_seconds
        stop_at = end - RUN_RESERVE_SECONDS
    results, errors, caller = _audit(config, clients, policy, now, stop_at)
    # The audit's own run-level errors (a listing that failed, accounts not finished in time, an interruption):
    # accounts may be missing from `results`, so no org-wide total over them is a total over the organization.
    audit_errors = tuple(errors)
    notes: list[str] = []
    if config.remediate:
        results, remediation_errors, remediation_notes = _remediate(config, clients, results, caller, policy.clock, stop_at)
        errors += remediation_errors
        notes += remediation_notes

    recovered: list[str] = []
    stamp = now()
    metrics_on, alert_on = bool(config.metric_namespace), bool(config.sns_topic_arn)
    if config.security_hub:
        hub_deadline = _deadline(end, policy.clock, metrics_on + alert_on)
        hub_errors, recoveries = _sink(
            "Security Hub",
            lambda: _publish_hub(config, clients, results, caller, stamp, hub_deadline),
            lambda e: ([e], []),
            hub_deadline,
        )
        errors += hub_errors
        recovered = [t.account_id for t in recoveries]
    elif config.sns_topic_arn:
        notes.append("recovery notices need Security Hub (the previous verdict is read from its finding)")

    if config.metric_namespace:
        # Before the SNS alert, so the alert is decided with a metrics failure known; AuditErrors counts the
        # failed sinks before it.
        metrics_deadline = _deadline(end, policy.clock, alert_on)
        metric_errors = _sink(
            "CloudWatch metrics",
            lambda: publish_metrics(
                clients("cloudwatch"),
                config.metric_namespace,
                results,
                len(errors),
                stamp,
                audit_errors=audit_errors,
                deadline=metrics_deadline,
            ),
            _one,
            metrics_deadline,
        )
        errors += metric_errors
    status = worst([r.status for r in results] + ([Status.ERROR] if errors else []))
    if config.sns_topic_arn and status is not Status.PASS:
        subject, body = alert_message(results, errors, status)
        topic = config.sns_topic_arn
        alert_deadline = _deadline(end, policy.clock, 0)
        sns_errors = _sink(
            "SNS alert",
            lambda: publish_sns(clients("sns"), topic, subject, body, status.value, deadline=alert_deadline),
            _one,
            alert_deadline,
        )
        errors += sns_errors
        if sns_errors and config.metric_namespace:
            # The metrics went out before the alert failed: send the run's error total again, counting it.
            errors += _sink(
                f"CloudWatch {METRIC_AUDIT_ERRORS} correction",
                lambda: publish_audit_errors(
                    clients("cloudwatch"), config.metric_namespace, results, len(errors), stamp, deadline=alert_deadline
                ),
                _one,
                alert_deadline,
            )
    run = RunResult(accounts=tuple(results), errors=tuple(errors), notes=tuple(notes), recovered=tuple(recovered))
    LOG.info("root access key audit finished: %s", run.status.value)
    return run
