"""Publishing of the root access key audit's verdicts (CIS 1.4, Security Hub IAM.4): CloudWatch metrics that the
program's alarms watch, an ASFF finding per audited account in Security Hub, and SNS alerts.

Each sink is independent: one failing does not stop the others, and every failure is returned as an error that
turns the run into ERROR. Builders of payloads are pure functions; only the `publish_*` functions call AWS.

Recovery notices are derived without state of our own: the previous Security Hub finding of the account (its
deterministic Id) carries the previous verdict. A PASS after FAIL/WARN/ERROR is a recovery. If the previous
findings cannot be read, no recovery can be claimed, so the PASS findings are NOT overwritten (the old, more
severe finding stays until a run can record the transition) and the run is ERROR. Without Security Hub there is
no previous state and no recovery notice; alerts on FAIL/WARN/ERROR are sent on every run (level-triggered).

Every sink is bounded: it takes a Deadline (the runner's share of the run's time for it) and starts a call only if
the call can end by then at its worst (SINK_CALL_SECONDS); a call that does not fit is not made and is the sink's
error. Reading Security Hub's pages stops at a repeated NextToken or after _GET_FINDINGS_MAX_PAGES pages.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from audit.aws import CALL_SECONDS, RUN_CALL_ATTEMPTS, describe_failure
from audit.metrics import DIMENSION_ACCOUNT_ID, METRIC_AUDIT_ERRORS
from audit.metrics import METRIC_ROOT_ACCESS_KEYS_ACTIVE as METRIC_KEYS_ACTIVE
from audit.report import AccountResult, Status, one_line

LOG = logging.getLogger(__name__)

# PutMetricData takes up to 1000 datums per call; stay well below so a payload never nears the 1 MB limit.
_METRIC_BATCH = 500
_FINDING_BATCH = 100  # BatchImportFindings' limit
_GET_FINDINGS_FILTER_VALUES = 20  # Security Hub takes at most 20 values per filter field
_GET_FINDINGS_PAGE_SIZE = 100  # GetFindings' largest MaxResults
# A chunk's filter names at most 20 finding Ids of one product, and Security Hub keeps one finding per Id and
# product, so a whole answer fits in one page of 100. Pages may hold fewer than MaxResults, so allow one page per
# wanted finding and a last one; a service still sending tokens after that is not paginating towards an end (and
# each page may take SINK_CALL_SECONDS of the run's time).
_GET_FINDINGS_MAX_PAGES = _GET_FINDINGS_FILTER_VALUES + 1
# One sink call at its worst: botocore's attempts (audit.aws.client_config), each up to its connect and read
# timeouts, and the backoff before the retry (at most 1 s in botocore's standard mode, for throttling).
SINK_CALL_SECONDS = RUN_CALL_ATTEMPTS * CALL_SECONDS + 1.0
GENERATOR_ID = "root-key-guardrails/root-access-key-audit"
STATUS_FIELD = "RootKeyGuardrails/AuditStatus"
_COMPLIANCE = {
    Status.PASS: "PASSED",
    Status.WARN: "WARNING",
    Status.FAIL: "FAILED",
    # ASFF: NOT_AVAILABLE = "the check could not be performed due to ... an API error".
    Status.ERROR: "NOT_AVAILABLE",
}
_SEVERITY = {Status.PASS: "INFORMATIONAL", Status.WARN: "MEDIUM", Status.FAIL: "CRITICAL", Status.ERROR: "HIGH"}
RELATED_REQUIREMENTS = (
    "CIS AWS Foundations Benchmark v1.2.0/1.12",
    "CIS AWS Foundations Benchmark v1.4.0/1.4",
    "CIS AWS Foundations Benchmark v3.0.0/1.4",
    "AWS Foundational Security Best Practices v1.0.0/IAM.4",
)
REMEDIATION_URL = "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_root-user_manage_delete-key.html"
_SNS_SUBJECT_MAX = 100
_SNS_BODY_BUDGET = 200_000  # SNS allows 256 KB; keep room for the JSON/e-mail envelope


class SinkFailure(Exception):
    """A sink's call was not made, or its answer cannot be trusted; str() is the whole reason, naming the call."""


@dataclass(frozen=True)
class Deadline:
    """When a sink's calls must be over, on `clock` (the run's RetryPolicy clock). `reserved` is the time the
    runner kept back after it for the sinks that follow, named in the error when a call no longer fits."""

    at: float
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    reserved: float = 0.0
    call_seconds: float = SINK_CALL_SECONDS

    def fits(self) -> bool:
        """Whether one call, at its worst, still ends by the deadline."""
        return self.clock() + self.call_seconds <= self.at

    def shortfall(self) -> str:
        left = max(self.at - self.clock(), 0.0)
        kept = f" after the {self.reserved:g} s kept for the sinks that follow" if self.reserved else ""
        return f"{left:.1f} s were left of the run's time budget{kept}, and one call may take {self.call_seconds:g} s"

    def before_call(self, action: str) -> None:
        """Raises SinkFailure if `action` could still be running at the deadline."""
        if not self.fits():
            raise SinkFailure(f"{action} was not called: {self.shortfall()}")


def _before_call(deadline: Deadline | None, action: str) -> None:
    if deadline is not None:
        deadline.before_call(action)


@dataclass(frozen=True)
class Transition:
    account_id: str
    previous: Status
    current: Status


# ---------------------------------------------------------------- CloudWatch


def metric_data(
    results: Sequence[AccountResult],
    extra_errors: int,
    timestamp: datetime,
    *,
    audit_errors: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """Per-account datums (dimension AccountId) and org-wide totals (no dimension, what the alarms watch).

    An account in ERROR gets no RootAccessKeysActive datum: a 0 there would claim a clean account. It counts in
    AuditErrors instead, as does every failed sink of the run. For the same reason the org-wide
    RootAccessKeysActive total is sent only when it proves something: a key was found (>= 1), or every account
    was evaluated. A 0 that left accounts out is not sent, so the alarm sees missing data, not "clean".

    audit_errors: the run-level errors of the audit itself (the account listing failed, accounts not finished in
    time, an interrupted run). Any of them means accounts may be missing from `results` without an ERROR result
    of their own, so the total is not over every account either.
    """
    data: list[dict[str, Any]] = []
    active_total = 0
    error_total = extra_errors
    for result in results:
        dims = [{"Name": DIMENSION_ACCOUNT_ID, "Value": result.account_id}] if result.account_id else None
        is_error = result.status is Status.ERROR
        error_total += int(is_error)
        if not is_error:
            active_total += len(result.active_keys)
        if dims is None:
            continue
        if not is_error:
            data.append(_datum(METRIC_KEYS_ACTIVE, len(result.active_keys), timestamp, dims))
        data.append(_datum(METRIC_AUDIT_ERRORS, int(is_error), timestamp, dims))
    every_account = bool(results) and not audit_errors and all(r.status is not Status.ERROR for r in results)
    if active_total or every_account:
        data.append(_datum(METRIC_KEYS_ACTIVE, active_total, timestamp, None))
    data.append(_datum(METRIC_AUDIT_ERRORS, error_total, timestamp, None))
    return data


def _datum(name: str, value: int, timestamp: datetime, dims: list[dict[str, str]] | None) -> dict[str, Any]:
    datum: dict[str, Any] = {"MetricName": name, "Value": float(value), "Unit": "Count", "Timestamp": timestamp}
    if dims:
        datum["Dimensions"] = dims
    return datum


def publish_metrics(
    cloudwatch: Any,
    namespace: str,
    results: Sequence[AccountResult],
    extra_errors: int,
    timestamp: datetime,
    *,
    audit_errors: Sequence[str] = (),
    deadline: Deadline | None = None,
) -> list[str]:
    errors: list[str] = []
    data = metric_data(results, extra_errors, timestamp, audit_errors=audit_errors)
    action = f"cloudwatch:PutMetricData to namespace {namespace}"
    for start in range(0, len(data), _METRIC_BATCH):
        try:
            _before_call(deadline, action)
        except SinkFailure as exc:
            # Later batches would not fit either: time only moves on.
            errors.append(f"{exc}; {len(data) - start} datum(s) were not sent")
            break
        try:
            cloudwatch.put_metric_data(Namespace=namespace, MetricData=data[start : start + _METRIC_BATCH])
        except Exception as exc:  # noqa: BLE001 - a batch failing is this sink's error; the next batch still goes
            errors.append(describe_failure(exc, action))
    for error in errors:
        LOG.error("%s", error)
    return errors


def publish_audit_errors(
    cloudwatch: Any,
    namespace: str,
    results: Sequence[AccountResult],
    extra_errors: int,
    timestamp: datetime,
    *,
    deadline: Deadline | None = None,
) -> list[str]:
    """Only the org-wide AuditErrors total, for a correction after a later sink failed."""
    total = [d for d in metric_data(results, extra_errors, timestamp) if d["MetricName"] == METRIC_AUDIT_ERRORS]
    action = f"cloudwatch:PutMetricData ({METRIC_AUDIT_ERRORS} total) to namespace {namespace}"
    try:
        _before_call(deadline, action)
        cloudwatch.put_metric_data(Namespace=namespace, MetricData=[d for d in total if "Dimensions" not in d])
    except SinkFailure as exc:
        LOG.error("%s", exc)
        return [str(exc)]
    except Exception as exc:  # noqa: BLE001 - see publish_metrics
        error = describe_failure(exc, action)
        LOG.error("%s", error)
        return [error]
    return []


# ---------------------------------------------------------------- Security Hub


def finding_id(audited_account: str) -> str:
    """Deterministic per audited account, so each run updates the same finding instead of adding one."""
    return f"root-key-guardrails/iam-root-access-key/{audited_account}"


def product_arn(partition: str, region: str, caller_account: str) -> str:
    return f"arn:{partition}:securityhub:{region}:{caller_account}:product/{caller_account}/default"


def build_finding(
    result: AccountResult,
    *,
    caller_account: str,
    partition: str,
    region: str,
    now: datetime,
    previous: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The ASFF finding for one audited account.

    AwsAccountId is the caller's: BatchImportFindings with the default product accepts only findings of the
    calling account, so org-wide findings live in the audit account and name the audited account as resource.
    """
    if result.account_id is None:
        raise ValueError("a finding needs the audited account's id")
    stamp = now.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    severity = {"Label": _SEVERITY[result.status], "Original": result.status.value}
    types = [
        "Software and Configuration Checks/Industry and Regulatory Standards/CIS AWS Foundations Benchmark",
        "Software and Configuration Checks/AWS Security Best Practices",
    ]
    finding: dict[str, Any] = {
        "SchemaVersion": "2018-10-08",
        "Id": finding_id(result.account_id),
        "ProductArn": product_arn(partition, region, caller_account),
        "GeneratorId": GENERATOR_ID,
        "AwsAccountId": caller_account,
        "Types": types,
        "CreatedAt": (previous or {}).get("CreatedAt", stamp),
        "UpdatedAt": stamp,
        "Severity": severity,
        "FindingProviderFields": {"Severity": severity, "Types": types},
        "Title": "The root user must have no access keys (CIS 1.4, Security Hub IAM.4)",
        "Description": result.message[:1024],
        "Remediation": {
            "Recommendation": {
                "Text": "Delete every root access key (active or not) and move its workloads to IAM roles.",
                "Url": REMEDIATION_URL,
            }
        },
        "ProductFields": {
            STATUS_FIELD: result.status.value,
            "RootKeyGuardrails/ActiveKeySlots": ",".join(str(k.slot) for k in result.active_keys) or "none",
            "RootKeyGuardrails/ExistingKeySlots": ",".join(str(k.slot) for k in result.existing_keys) or "none",
            "RootKeyGuardrails/ReportGeneratedAt": (
                result.report_generated_at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
                if result.report_generated_at
                else "unknown"
            ),
        },
        "Resources": [
            {
                "Type": "AwsAccount",
                "Id": f"AWS::::Account:{result.account_id}",
                "Partition": partition,
                "Region": region,
            }
        ],
        "Compliance": {"Status": _COMPLIANCE[result.status], "RelatedRequirements": list(RELATED_REQUIREMENTS)},
        "RecordState": "ACTIVE",
    }
    if previous is None:
        # Workflow may be set only when the finding is created; later changes go through BatchUpdateFindings.
        finding["Workflow"] = {"Status": "RESOLVED" if result.status is Status.PASS else "NEW"}
    return finding


def previous_status(finding: Mapping[str, Any]) -> Status | None:
    raw = (finding.get("ProductFields") or {}).get(STATUS_FIELD)
    try:
        return Status(raw)
    except ValueError:
        compliance = str((finding.get("Compliance") or {}).get("Status"))
        reverse = {value: key for key, value in _COMPLIANCE.items()}
        return reverse.get(compliance)


def read_previous_findings(
    securityhub: Any, ids: Sequence[str], product: str, *, deadline: Deadline | None = None
) -> dict[str, dict[str, Any]]:
    """Our previous findings by Id. Raises on any failure: the caller decides what not to claim.

    Pages by hand rather than with botocore's paginator, which only notices the same token twice in a row: a
    service alternating tokens A, B, A... would be followed forever, and no later sink would run.
    """
    wanted = set(ids)
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), _GET_FINDINGS_FILTER_VALUES):
        chunk = ids[start : start + _GET_FINDINGS_FILTER_VALUES]
        filters = {
            "Id": [{"Value": value, "Comparison": "EQUALS"} for value in chunk],
            "ProductArn": [{"Value": product, "Comparison": "EQUALS"}],
        }
        token: str | None = None
        tokens: dict[str, int] = {}  # every NextToken of this chunk, with the page that returned it
        for number in range(1, _GET_FINDINGS_MAX_PAGES + 1):
            _before_call(deadline, "securityhub:GetFindings")
            kwargs: dict[str, Any] = {"Filters": filters, "MaxResults": _GET_FINDINGS_PAGE_SIZE}
            if token:
                kwargs["NextToken"] = token
            page = securityhub.get_findings(**kwargs)
            if not isinstance(page.get("Findings"), list):
                # botocore parses a 200 that is not JSON (a proxy's HTML page) into an empty answer; reading it
                # as "no previous finding" would hide a recovery or a workflow to resolve.
                raise ValueError("the answer has no Findings list")
            for finding in page["Findings"]:
                # Filter again here: a lenient endpoint (moto ignores Filters) must not mix in other findings.
                if finding.get("Id") in wanted and finding.get("ProductArn") == product:
                    found[finding["Id"]] = finding
            token = page.get("NextToken")
            if not token:
                break
            if token in tokens:
                raise SinkFailure(
                    f"securityhub:GetFindings returned on page {number} the NextToken it had returned on page "
                    f"{tokens[token]}, so its pagination loops"
                )
            tokens[token] = number
        else:
            raise SinkFailure(
                f"securityhub:GetFindings still returned a NextToken after {_GET_FINDINGS_MAX_PAGES} pages for "
                f"{len(chunk)} finding Id(s), which fit in one page, so its pagination does not end"
            )
    return found


def publish_findings(
    securityhub: Any,
    results: Sequence[AccountResult],
    *,
    caller_account: str,
    partition: str,
    region: str,
    now: datetime,
    notify_recoveries: Callable[[Sequence[Transition]], list[str]] | None = None,
    deadline: Deadline | None = None,
) -> tuple[list[str], list[Transition]]:
    """Import one finding per audited account; returns (errors, recoveries).

    notify_recoveries runs before the import. If it fails, the findings of the recovered accounts are held back:
    their old (failing) finding stays, so the next run sees the transition again and retries the notice.
    An answer that does not account for every finding sent is an error: its findings are not confirmed.
    """
    errors: list[str] = []
    auditable = [result for result in results if result.account_id]
    if not auditable:
        return errors, []
    product = product_arn(partition, region, caller_account)
    ids = [finding_id(result.account_id or "") for result in auditable]
    previous: dict[str, dict[str, Any]] | None
    try:
        previous = read_previous_findings(securityhub, ids, product, deadline=deadline)
    except Exception as exc:  # noqa: BLE001 - unknown previous verdicts, whatever the cause
        reason = str(exc) if isinstance(exc, SinkFailure) else describe_failure(exc, "securityhub:GetFindings")
        errors.append(
            f"{reason}; the previous verdicts are unknown, so recoveries cannot be detected and the findings of "
            "passing accounts were left unchanged"
        )
        previous = None

    recoveries: list[Transition] = []
    to_import: list[dict[str, Any]] = []
    to_resolve: list[dict[str, str]] = []
    for result, fid in zip(auditable, ids):
        if previous is None and result.status is Status.PASS:
            continue
        prior = previous.get(fid) if previous is not None else None
        to_import.append(
            build_finding(
                result, caller_account=caller_account, partition=partition, region=region, now=now, previous=prior
            )
        )
        if prior is None or result.status is not Status.PASS:
            continue
        before = previous_status(prior)
        if before is not None and before is not Status.PASS:
            recoveries.append(Transition(result.account_id or "", before, Status.PASS))
        if (prior.get("Workflow") or {}).get("Status") not in ("RESOLVED", "SUPPRESSED"):
            to_resolve.append({"Id": fid, "ProductArn": product})

    if recoveries and notify_recoveries is not None:
        notify_errors = notify_recoveries(recoveries)
        if notify_errors:
            errors += [
                f"{error}; the recovery notice was not sent, so the findings of the recovered account(s) were left "
                "unchanged for the next run to retry"
                for error in notify_errors
            ]
            held = {finding_id(t.account_id) for t in recoveries}
            to_import = [finding for finding in to_import if finding["Id"] not in held]
            to_resolve = [ident for ident in to_resolve if ident["Id"] not in held]
            recoveries = []

    for start in range(0, len(to_import), _FINDING_BATCH):
        batch = to_import[start : start + _FINDING_BATCH]
        try:
            _before_call(deadline, "securityhub:BatchImportFindings")
        except SinkFailure as exc:
            errors.append(f"{exc}; {len(to_import) - start} finding(s) were not imported")
            break
        try:
            response = securityhub.batch_import_findings(Findings=batch)
        except Exception as exc:  # noqa: BLE001 - this batch's error; the next batch still goes
            errors.append(describe_failure(exc, "securityhub:BatchImportFindings"))
            continue
        errors += _import_errors(response, len(batch))

    for start in range(0, len(to_resolve), _FINDING_BATCH):
        identifiers = to_resolve[start : start + _FINDING_BATCH]
        try:
            _before_call(deadline, "securityhub:BatchUpdateFindings (workflow RESOLVED)")
        except SinkFailure as exc:
            errors.append(f"{exc}; {len(to_resolve) - start} finding(s) were not resolved")
            break
        try:
            response = securityhub.batch_update_findings(
                FindingIdentifiers=identifiers,
                Workflow={"Status": "RESOLVED"},
                Note={
                    "Text": "The root user has no access keys any more (root-key-guardrails audit).",
                    "UpdatedBy": GENERATOR_ID,
                },
            )
        except Exception as exc:  # noqa: BLE001 - this batch's error; the next batch still goes
            errors.append(describe_failure(exc, "securityhub:BatchUpdateFindings (workflow RESOLVED)"))
            continue
        errors += _update_errors(response, identifiers)
    for error in errors:
        LOG.error("%s", error)
    return errors, recoveries


def _import_errors(response: Mapping[str, Any], sent: int) -> list[str]:
    """What BatchImportFindings' answer leaves unconfirmed of a batch of `sent` findings. Its counts must account
    for every finding: SuccessCount + FailedCount == sent, and SuccessCount == sent less the failures it lists.
    Anything else (0 and 0 for one finding, say) means some finding's fate is unknown, so none is confirmed."""
    success, failed = response.get("SuccessCount"), response.get("FailedCount")
    failures = response.get("FailedFindings", [])
    if not isinstance(success, int) or not isinstance(failed, int) or not isinstance(failures, list):
        return [
            f"securityhub:BatchImportFindings answered without SuccessCount/FailedCount, so the import of {sent} "
            "finding(s) is unconfirmed"
        ]
    errors = [
        f"securityhub:BatchImportFindings rejected finding {failure.get('Id')} "
        f"({failure.get('ErrorCode')}: {failure.get('ErrorMessage')})"
        for failure in failures
    ]
    if success + failed != sent:
        errors.append(
            f"securityhub:BatchImportFindings answered SuccessCount {success} and FailedCount {failed} for a batch "
            f"of {sent} finding(s), which do not add up, so the import of the batch is unconfirmed"
        )
    elif not failures and failed:
        errors.append(f"securityhub:BatchImportFindings rejected {failed} finding(s)")
    elif success != sent - len(failures):
        errors.append(
            f"securityhub:BatchImportFindings answered FailedCount {failed} but listed {len(failures)} failed "
            f"finding(s) for a batch of {sent}, so the import of the batch is unconfirmed"
        )
    return errors


def _update_errors(response: Mapping[str, Any], asked: Sequence[Mapping[str, str]]) -> list[str]:
    """What BatchUpdateFindings' answer leaves unresolved of the findings `asked`. Each must be listed: among
    ProcessedFindings (resolved) or UnprocessedFindings (an error). One it does not list at all (an empty answer
    lists none) is not confirmed as resolved."""
    processed, unprocessed = response.get("ProcessedFindings"), response.get("UnprocessedFindings", [])
    if not isinstance(processed, list) or not isinstance(unprocessed, list):
        return [
            "securityhub:BatchUpdateFindings answered without ProcessedFindings/UnprocessedFindings lists, so the "
            f"workflow RESOLVED of finding(s) {', '.join(ident['Id'] for ident in asked)} is unconfirmed"
        ]
    errors: list[str] = []
    listed = {(item.get("Id"), item.get("ProductArn")) for item in processed if isinstance(item, Mapping)}
    for failed in unprocessed:
        ident = failed.get("FindingIdentifier") or {}
        listed.add((ident.get("Id"), ident.get("ProductArn")))
        errors.append(
            f"securityhub:BatchUpdateFindings did not resolve finding {ident.get('Id')} "
            f"({failed.get('ErrorCode')}: {failed.get('ErrorMessage')})"
        )
    missing = [ident["Id"] for ident in asked if (ident["Id"], ident["ProductArn"]) not in listed]
    if missing:
        errors.append(
            f"securityhub:BatchUpdateFindings listed finding(s) {', '.join(missing)} neither as processed nor as "
            "unprocessed, so their workflow RESOLVED is unconfirmed"
        )
    return errors


# ---------------------------------------------------------------- SNS


def alert_message(
    results: Sequence[AccountResult], run_errors: Sequence[str], status: Status
) -> tuple[str, str]:
    """(subject, body) of the alert for a run with FAIL/WARN/ERROR accounts or failed steps."""
    counts = {s: sum(1 for r in results if r.status is s) for s in Status}
    summary = ", ".join(f"{counts[s]} {s.value}" for s in (Status.FAIL, Status.WARN, Status.ERROR) if counts[s])
    subject = f"[{status.value}] Root access key audit: " + (summary or "run errors") + f" of {len(results)} account(s)"
    lines = [
        f"Root access key audit (CIS 1.4, Security Hub IAM.4): overall {status.value}.",
        "",
    ]
    # What the reader must act on comes first, and no line can crowd out the rest: the run's own errors, then the
    # root keys found (FAIL, WARN), then the accounts that could not be audited, each line capped. A body over
    # SNS's limit is cut at its end, and that end is then the ERROR accounts, the longest and most alike.
    if run_errors:
        # Counted too: a thousand failed imports must not crowd out the keys found after them.
        shown_errors = [f"- {_capped(one_line(error))}" for error in run_errors[:_ALERT_RUN_ERRORS_MAX]]
        if len(run_errors) > _ALERT_RUN_ERRORS_MAX:
            shown_errors.append(f"- ... and {len(run_errors) - _ALERT_RUN_ERRORS_MAX} more error(s) of this run")
        lines += ["Errors of this run:"] + shown_errors + [""]
    for result in sorted(results, key=lambda r: (_ALERT_ORDER.get(r.status, 3), r.account_id or "")):
        if result.status is Status.PASS:
            continue
        lines.append(f"- {_capped(one_line(result.message))}")
    return subject[:_SNS_SUBJECT_MAX], _fit("\n".join(lines))


_ALERT_ORDER = {Status.FAIL: 0, Status.WARN: 1, Status.ERROR: 2}
_ALERT_LINE_MAX = 1000
_ALERT_RUN_ERRORS_MAX = 20


def _capped(line: str) -> str:
    return line if len(line) <= _ALERT_LINE_MAX else line[: _ALERT_LINE_MAX - 1] + "\u2026"


def recovery_message(recoveries: Sequence[Transition]) -> tuple[str, str]:
    subject = f"[RECOVERED] Root access key audit: {len(recoveries)} account(s) back to PASS"
    lines = ["Root access key audit (CIS 1.4, Security Hub IAM.4): these accounts now pass.", ""]
    lines += [
        f"- Account {t.account_id}: was {t.previous.value}, now PASS (the root user has no access keys)."
        for t in recoveries
    ]
    return subject[:_SNS_SUBJECT_MAX], _fit("\n".join(lines))


def _fit(body: str) -> str:
    encoded = body.encode("utf-8")
    if len(encoded) <= _SNS_BODY_BUDGET:
        return body
    cut = encoded[:_SNS_BODY_BUDGET].decode("utf-8", errors="ignore").rsplit("\n", 1)[0]
    omitted = body.count("\n") - cut.count("\n")
    return cut + f"\n... {omitted} more line(s) omitted; see Security Hub or the audit's logs."


def publish_sns(
    sns: Any, topic_arn: str, subject: str, body: str, status: str, *, deadline: Deadline | None = None
) -> list[str]:
    try:
        _before_call(deadline, f"sns:Publish to {topic_arn}")
        response = sns.publish(
            TopicArn=topic_arn,
            Subject=subject,
            Message=body,
            MessageAttributes={"status": {"DataType": "String", "StringValue": status}},
        )
        if not response.get("MessageId"):
            # A 200 that is not SNS's answer (a proxy's page) parses into no MessageId: delivery is unconfirmed.
            raise ValueError("the answer has no MessageId, so the delivery is unconfirmed")
    except Exception as exc:  # noqa: BLE001 - a failed alert is this sink's error, never a crash of the run
        error = str(exc) if isinstance(exc, SinkFailure) else describe_failure(exc, f"sns:Publish to {topic_arn}")
        LOG.error("%s", error)
        return [error]
    return []
