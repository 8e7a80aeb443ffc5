"""The audit's verdicts in formats findings pipelines already read: OCSF Detection Findings and CSV, both as
Prowler writes them for its `iam_no_root_access_key` check (CIS 1.4, Security Hub IAM.4).

One finding (or CSV row) per account. Prowler's vocabulary has PASS, FAIL and MANUAL, so:
- PASS -> PASS;
- FAIL and WARN -> FAIL. WARN is an inactive root key that still exists. Prowler's check looks only at active keys
  and would pass it, but CIS 1.4 and Security Hub IAM.4 ask that no root key exist, and a pipeline that reads PASS
  as clean must not be told an existing key is clean;
- ERROR (not evaluated) -> MANUAL, never PASS: a person has to look. The audit's own status is kept in
  unmapped.audit_status (OCSF) and AUDIT_STATUS (CSV), so nothing is lost for a reader that knows this audit.

OCSF: the Detection Finding class (class_uid 2004) of OCSF 1.5.0, built with py-ocsf-models as Prowler builds its
json-ocsf output, so the shape is the library's, not a hand-made imitation.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from audit.aws import partition_for_region
from audit.report import AccountResult, Status, error_result, one_line, remediation_steps
from audit.runner import RunResult

CHECK_ID = "iam_no_root_access_key"
CHECK_TITLE = "Ensure no root account access key exists"
CHECK_TYPES = ("Software and Configuration Checks", "Industry and Regulatory Standards",
               "CIS AWS Foundations Benchmark")
SEVERITY = "critical"  # the check's severity, whatever the status, as Prowler reports it
SERVICE = "iam"
RESOURCE_TYPE = "AwsIamAccessKey"
RESOURCE_NAME = "<root_account>"
DESCRIPTION = "Ensure no access key exists for the root user of the AWS account."
RISK = ("The root user has unrestricted access to every resource of the account; an access key for it is a "
        "long-lived credential that no policy can restrict, so a leaked key is a full account compromise.")
RECOMMENDATION = ("Delete every root user access key (deactivating is not enough); with AWS Organizations, enable "
                  "centralized root access and delete member root credentials with sts:AssumeRoot.")
RECOMMENDATION_URL = "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_getting-report.html"
# Prowler's compliance keys (framework-version) and requirement ids for this control.
COMPLIANCE: dict[str, list[str]] = {
    "CIS-1.4": ["1.4"], "CIS-1.5": ["1.4"], "CIS-2.0": ["1.4"], "CIS-3.0": ["1.4"], "CIS-4.0": ["1.4"],
    "CIS-5.0": ["1.3"], "AWS-Foundational-Security-Best-Practices": ["IAM.4"],
}
STATUS_CODE = {Status.PASS: "PASS", Status.WARN: "FAIL", Status.FAIL: "FAIL", Status.ERROR: "MANUAL"}
PRODUCT = {"uid": "root-key-guardrails", "name": "root-key-guardrails audit", "vendor_name": "root-key-guardrails"}
UNKNOWN_ACCOUNT = "unknown"

# Prowler's CSV columns whose meaning is the same here, in Prowler's order, then this audit's own.
CSV_COLUMNS = (
    "TIMESTAMP", "ACCOUNT_UID", "FINDING_UID", "PROVIDER", "CHECK_ID", "CHECK_TITLE", "CHECK_TYPE", "STATUS",
    "STATUS_EXTENDED", "MUTED", "SERVICE_NAME", "SEVERITY", "RESOURCE_TYPE", "RESOURCE_UID", "RESOURCE_NAME",
    "RESOURCE_DETAILS", "PARTITION", "REGION", "DESCRIPTION", "RISK", "REMEDIATION_RECOMMENDATION_TEXT",
    "REMEDIATION_RECOMMENDATION_URL", "COMPLIANCE",
    "AUDIT_STATUS", "ACTIVE_KEY_COUNT", "EXISTING_KEY_COUNT", "REPORT_GENERATED_AT",
)
CSV_DELIMITER = ";"  # Prowler's


@dataclass(frozen=True)
class Where:
    """Where the audit ran: IAM is global, but a finding names the partition and the region of the API calls."""

    region: str = "us-east-1"

    @property
    def partition(self) -> str:
        return partition_for_region(self.region)


def _account(result: AccountResult) -> str:
    return result.account_id or UNKNOWN_ACCOUNT


def finding_uid(result: AccountResult, where: Where) -> str:
    # Prowler's: prowler-<provider>-<check>-<account>-<region>-<resource name>, with this audit as the producer.
    return f"root-key-guardrails-aws-{CHECK_ID}-{_account(result)}-{where.region}-{RESOURCE_NAME}"


def partition_of(result: AccountResult, where: Where) -> str:
    """The partition the report itself names (an offline file of an aws-cn account), else the region's."""
    if result.root_arn:
        return result.root_arn.split(":", 2)[1]
    return where.partition


def resource_uid(result: AccountResult, where: Where) -> str | None:
    # No ARN for a run that never learned its account (an unreadable report file).
    if result.root_arn:
        return result.root_arn
    return f"arn:{where.partition}:iam::{result.account_id}:root" if result.account_id else None


def _remediation_text(result: AccountResult) -> str:
    steps = remediation_steps(result)
    return " ".join(steps) if steps else RECOMMENDATION


def findings_of(run: RunResult) -> tuple[AccountResult, ...]:
    """The run's accounts, plus one ERROR per run-level error (a failed sink, an unlisted organization), so a
    reader of these formats never sees a clean run that exited 2."""
    return run.accounts + tuple(error_result(None, error) for error in run.errors)


def _details(result: AccountResult) -> dict[str, Any]:
    return {
        "audit_status": result.status.value,
        "root_keys": [key.to_dict() for key in result.keys],
        "active_key_count": len(result.active_keys),
        "existing_key_count": len(result.existing_keys),
        "report_generated_at": result.to_dict()["report_generated_at"],
        "reason": result.reason,
    }


def ocsf_findings(results: Sequence[AccountResult], where: Where, now: datetime) -> list[dict[str, Any]]:
    """One OCSF Detection Finding per account, as JSON-ready dicts (exclude_none, as Prowler writes them)."""
    from py_ocsf_models.events.base_event import SeverityID, StatusID
    from py_ocsf_models.events.findings.detection_finding import DetectionFinding, DetectionFindingTypeID
    from py_ocsf_models.events.findings.finding import ActivityID, FindingInformation
    from py_ocsf_models.objects.account import Account, TypeID
    from py_ocsf_models.objects.cloud import Cloud
    from py_ocsf_models.objects.group import Group
    from py_ocsf_models.objects.metadata import Metadata
    from py_ocsf_models.objects.product import Product
    from py_ocsf_models.objects.remediation import Remediation
    from py_ocsf_models.objects.resource_details import ResourceDetails

    severity = SeverityID.Critical
    findings = []
    for result in results:
        activity = ActivityID.Create
        finding = DetectionFinding(
            message=result.message,
            activity_id=activity.value,
            activity_name=activity.name,
            finding_info=FindingInformation(
                created_time_dt=now, created_time=int(now.timestamp()), desc=DESCRIPTION, title=CHECK_TITLE,
                uid=finding_uid(result, where), name=RESOURCE_NAME, types=list(CHECK_TYPES),
            ),
            time_dt=now,
            time=int(now.timestamp()),
            remediation=Remediation(desc=_remediation_text(result), references=[RECOMMENDATION_URL]),
            severity_id=severity.value,
            severity=severity.name,
            status_id=StatusID.New.value,
            status=StatusID.New.name,
            status_code=STATUS_CODE[result.status],
            status_detail=result.message,
            risk_details=RISK,
            resources=[ResourceDetails(
                name=RESOURCE_NAME, uid=resource_uid(result, where), group=Group(name=SERVICE), type=RESOURCE_TYPE,
                cloud_partition=partition_of(result, where), region=where.region, data={"details": _details(result)},
            )],
            metadata=Metadata(event_code=CHECK_ID, product=Product(**PRODUCT), profiles=["cloud", "datetime"]),
            type_uid=DetectionFindingTypeID.Create,
            type_name=f"Detection Finding: {DetectionFindingTypeID.Create.name}",
            cloud=Cloud(
                account=Account(type_id=TypeID.AWS_Account.value, type=TypeID.AWS_Account.name.replace("_", " "),
                                # The audit does not read account names; the id stands in for the required name.
                                uid=_account(result), name=_account(result)),
                provider="aws", region=where.region,
            ),
            unmapped={"compliance": COMPLIANCE, "audit_status": result.status.value,
                      "related_url": RECOMMENDATION_URL},
        )
        findings.append(json.loads(finding.model_dump_json(exclude_none=True)))
    return findings


def to_ocsf(results: Sequence[AccountResult], where: Where, now: datetime) -> str:
    """A JSON array of findings, as Prowler's json-ocsf file is."""
    return json.dumps(ocsf_findings(results, where, now), indent=2)


def csv_rows(results: Sequence[AccountResult], where: Where, now: datetime) -> list[dict[str, str]]:
    timestamp = now.isoformat()
    rows = []
    for result in results:
        details = _details(result)
        rows.append({
            "TIMESTAMP": timestamp,
            "ACCOUNT_UID": _account(result),
            "FINDING_UID": finding_uid(result, where),
            "PROVIDER": "aws",
            "CHECK_ID": CHECK_ID,
            "CHECK_TITLE": CHECK_TITLE,
            "CHECK_TYPE": " | ".join(CHECK_TYPES),
            "STATUS": STATUS_CODE[result.status],
            "STATUS_EXTENDED": result.message,
            "MUTED": "False",
            "SERVICE_NAME": SERVICE,
            "SEVERITY": SEVERITY,
            "RESOURCE_TYPE": RESOURCE_TYPE,
            "RESOURCE_UID": resource_uid(result, where) or "",
            "RESOURCE_NAME": RESOURCE_NAME,
            "RESOURCE_DETAILS": "; ".join(key.describe() for key in result.existing_keys),
            "PARTITION": partition_of(result, where),
            "REGION": where.region,
            "DESCRIPTION": DESCRIPTION,
            "RISK": RISK,
            "REMEDIATION_RECOMMENDATION_TEXT": _remediation_text(result),
            "REMEDIATION_RECOMMENDATION_URL": RECOMMENDATION_URL,
            "COMPLIANCE": " | ".join(f"{k}: {', '.join(v)}" for k, v in COMPLIANCE.items()),
            "AUDIT_STATUS": result.status.value,
            "ACTIVE_KEY_COUNT": str(details["active_key_count"]),
            "EXISTING_KEY_COUNT": str(details["existing_key_count"]),
            "REPORT_GENERATED_AT": details["report_generated_at"] or "",
        })
    return rows


def to_csv(results: Sequence[AccountResult], where: Where, now: datetime) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, delimiter=CSV_DELIMITER, lineterminator="\n")
    writer.writeheader()
    # One record a line: quoting would keep a line break inside a field valid CSV, but readers that go line by line
    # (grep ';FAIL;', a SIEM's line splitter) would take the rest of an endpoint's error text for a row of its own.
    writer.writerows({column: one_line(value) for column, value in row.items()} for row in csv_rows(results, where, now))
    return buffer.getvalue()
