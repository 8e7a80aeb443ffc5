"""Publishing the audit's verdicts (CIS 1.4 / IAM.4): CloudWatch metrics, Security Hub ASFF findings, SNS alerts,
recovery notices, and sink failures that make the run ERROR without stopping the other sinks."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import dataclasses

import boto3
import pytest
from botocore.stub import ANY
from moto import mock_aws

from audit.publish import (
    alert_message,
    build_finding,
    finding_id,
    metric_data,
    publish_findings,
    publish_metrics,
    recovery_message,
)
from audit.report import AccountResult, Status, error_result, verdict
from audit.runner import AuditConfig, run_audit
from tests.audit.helpers import FakeClients, ROTATED, baseline_text, edit_root

NOW = datetime(2026, 11, 29, 10, 0, tzinfo=timezone.utc)
CALLER = "123456789012"
PRODUCT = f"arn:aws:securityhub:us-east-1:{CALLER}:product/{CALLER}/default"
TOPIC = f"arn:aws:sns:us-east-1:{CALLER}:root-key-alerts"


def _result(account: str, status: Status) -> AccountResult:
    text = baseline_text().replace("111122223333", account)
    if status is Status.FAIL:
        text = edit_root(text, access_key_1_active="true", access_key_1_last_rotated=ROTATED)
    elif status is Status.WARN:
        text = edit_root(text, access_key_2_last_rotated=ROTATED)
    elif status is Status.ERROR:
        return error_result(account, "iam:GetCredentialReport failed (Throttling: Rate exceeded)")
    result = verdict(text, expected_account_id=account, generated_at=NOW, now=NOW)
    assert result.status is status
    return result


PASS_A = _result("111111111111", Status.PASS)
FAIL_B = _result("222222222222", Status.FAIL)
ERROR_C = _result("333333333333", Status.ERROR)
WARN_D = _result("444444444444", Status.WARN)


def _datum(name: str, value: float, account: str | None = None) -> dict[str, Any]:
    datum: dict[str, Any] = {"MetricName": name, "Value": value, "Unit": "Count", "Timestamp": NOW}
    if account:
        datum["Dimensions"] = [{"Name": "AccountId", "Value": account}]
    return datum


def test_metric_data_per_account_and_totals_error_gets_no_key_count() -> None:
    assert metric_data([PASS_A, FAIL_B, ERROR_C, WARN_D], extra_errors=2, timestamp=NOW) == [
        _datum("RootAccessKeysActive", 0.0, "111111111111"),
        _datum("AuditErrors", 0.0, "111111111111"),
        _datum("RootAccessKeysActive", 1.0, "222222222222"),
        _datum("AuditErrors", 0.0, "222222222222"),
        _datum("AuditErrors", 1.0, "333333333333"),
        _datum("RootAccessKeysActive", 0.0, "444444444444"),
        _datum("AuditErrors", 0.0, "444444444444"),
        _datum("RootAccessKeysActive", 1.0),
        _datum("AuditErrors", 3.0),
    ]


@pytest.mark.parametrize(
    ("results", "totals"),
    [
        ([PASS_A, WARN_D], [_datum("RootAccessKeysActive", 0.0), _datum("AuditErrors", 0.0)]),
        ([PASS_A, FAIL_B], [_datum("RootAccessKeysActive", 1.0), _datum("AuditErrors", 0.0)]),
        # A 0 that left an account out would read as "no root keys": the total is not sent at all.
        ([PASS_A, ERROR_C], [_datum("AuditErrors", 1.0)]),
        ([ERROR_C], [_datum("AuditErrors", 1.0)]),
        # A key found is a key found, whatever else failed.
        ([FAIL_B, ERROR_C], [_datum("RootAccessKeysActive", 1.0), _datum("AuditErrors", 1.0)]),
    ],
    ids=["all-evaluated-clean", "all-evaluated-key", "error-hides-zero", "only-error", "error-with-key"],
)
def test_metric_data_org_total_only_when_it_proves_something(
    results: list[AccountResult], totals: list[dict[str, Any]]
) -> None:
    data = metric_data(results, extra_errors=0, timestamp=NOW)
    assert [d for d in data if "Dimensions" not in d] == totals


@pytest.mark.parametrize(
    ("results", "totals"),
    [
        # Every listed account passed, but the listing failed: unlisted accounts may hold keys.
        ([PASS_A, WARN_D], [_datum("AuditErrors", 1.0)]),
        # A key found is a key found, whatever was left out: the alarm must see it.
        ([PASS_A, FAIL_B], [_datum("RootAccessKeysActive", 1.0), _datum("AuditErrors", 1.0)]),
    ],
    ids=["zero-withheld", "key-still-sent"],
)
def test_metric_data_org_total_withheld_when_the_audit_left_accounts_out(
    results: list[AccountResult], totals: list[dict[str, Any]]
) -> None:
    listing = "organizations:ListAccounts failed (AccessDeniedException: Denied.)"
    data = metric_data(results, extra_errors=1, timestamp=NOW, audit_errors=[listing])
    assert [d for d in data if "Dimensions" not in d] == totals
    # The audited accounts keep their points: each is a verdict over that account.
    assert [d for d in data if "Dimensions" in d] == [d for d in metric_data(results, 1, NOW) if "Dimensions" in d]


def test_metric_publish_reaches_cloudwatch_in_namespace(aws_env: None) -> None:
    with mock_aws():
        cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
        assert publish_metrics(cloudwatch, "RootKeyGuardrails", [PASS_A, FAIL_B], 0, datetime.now(timezone.utc)) == []
        metrics = cloudwatch.list_metrics(Namespace="RootKeyGuardrails")["Metrics"]
    seen = sorted((m["MetricName"], tuple(d["Value"] for d in m.get("Dimensions", []))) for m in metrics)
    assert seen == [
        ("AuditErrors", ()),
        ("AuditErrors", ("111111111111",)),
        ("AuditErrors", ("222222222222",)),
        ("RootAccessKeysActive", ()),
        ("RootAccessKeysActive", ("111111111111",)),
        ("RootAccessKeysActive", ("222222222222",)),
    ]


def test_metric_publish_failure_is_returned(fake_clients: FakeClients) -> None:
    fake_clients.stub("cloudwatch").add_client_error("put_metric_data", "AccessDenied", "no", 403)
    errors = publish_metrics(fake_clients("cloudwatch"), "RootKeyGuardrails", [PASS_A], 0, NOW)
    assert errors == [
        "cloudwatch:PutMetricData to namespace RootKeyGuardrails failed (AccessDenied: no); the caller lacks "
        "permission for cloudwatch:PutMetricData"
    ]


@pytest.mark.parametrize(
    ("result", "compliance", "severity", "workflow"),
    [
        (PASS_A, "PASSED", "INFORMATIONAL", "RESOLVED"),
        (FAIL_B, "FAILED", "CRITICAL", "NEW"),
        (ERROR_C, "NOT_AVAILABLE", "HIGH", "NEW"),
        (WARN_D, "WARNING", "MEDIUM", "NEW"),
    ],
    ids=["pass", "fail", "error", "warn"],
)
def test_finding_new_account_maps_status(result: AccountResult, compliance: str, severity: str, workflow: str) -> None:
    finding = build_finding(result, caller_account=CALLER, partition="aws", region="us-east-1", now=NOW, previous=None)
    assert finding["Id"] == f"root-key-guardrails/iam-root-access-key/{result.account_id}"
    assert finding["ProductArn"] == PRODUCT
    assert finding["AwsAccountId"] == CALLER
    assert finding["Compliance"] == {
        "Status": compliance,
        "RelatedRequirements": [
            "CIS AWS Foundations Benchmark v1.2.0/1.12",
            "CIS AWS Foundations Benchmark v1.4.0/1.4",
            "CIS AWS Foundations Benchmark v3.0.0/1.4",
            "AWS Foundational Security Best Practices v1.0.0/IAM.4",
        ],
    }
    assert finding["Severity"] == {"Label": severity, "Original": result.status.value}
    assert finding["Workflow"] == {"Status": workflow}
    assert finding["Resources"] == [
        {"Type": "AwsAccount", "Id": f"AWS::::Account:{result.account_id}", "Partition": "aws", "Region": "us-east-1"}
    ]
    assert finding["Description"] == result.message
    assert finding["CreatedAt"] == finding["UpdatedAt"] == "2026-11-29T10:00:00.000Z"


def _asff_problems(finding: dict[str, Any]) -> list[str]:
    """What Security Hub would refuse in a finding: the ASFF required attributes, botocore's shapes and enums for
    AwsSecurityFinding, and the documented limits of the free-text fields."""
    import re

    import botocore.session
    from botocore.validate import ParamValidator

    model = botocore.session.get_session().get_service_model("securityhub")
    problems: list[str] = []
    required = ["SchemaVersion", "Id", "ProductArn", "GeneratorId", "AwsAccountId", "Types", "CreatedAt",
                "UpdatedAt", "Severity", "Title", "Description", "Resources"]
    problems += [f"missing {name}" for name in required if not finding.get(name)]
    report = ParamValidator().validate({"Findings": [finding]}, model.operation_model("BatchImportFindings").input_shape)
    if report.has_errors():
        problems.append(report.generate_report())

    def enum(shape: str, member: str, value: Any) -> None:
        allowed = model.shape_for(shape).members[member].enum
        if value not in allowed:
            problems.append(f"{shape}.{member} {value!r} not in {allowed}")

    enum("Compliance", "Status", finding["Compliance"]["Status"])
    enum("Severity", "Label", finding["Severity"]["Label"])
    if "Workflow" in finding:
        enum("Workflow", "Status", finding["Workflow"]["Status"])
    for resource in finding["Resources"]:
        enum("Resource", "Partition", resource["Partition"])
    stamp = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$")
    problems += [f"{name} {finding[name]!r} is not ISO 8601 UTC" for name in ("CreatedAt", "UpdatedAt")
                 if not stamp.match(finding[name])]
    namespaces = ("Software and Configuration Checks", "TTPs", "Effects", "Unusual Behaviors", "Sensitive Data Identifications")
    problems += [f"type {t!r} is not namespace/category[/classifier]" for t in finding["Types"]
                 if not (t.split("/")[0] in namespaces and 2 <= len(t.split("/")) <= 3)]
    for name, limit in (("Id", 512), ("Title", 256), ("Description", 1024), ("GeneratorId", 512)):
        if len(finding.get(name, "")) > limit:
            problems.append(f"{name} longer than {limit}")
    if len(finding["Remediation"]["Recommendation"]["Text"]) > 512:
        problems.append("Remediation.Recommendation.Text longer than 512")
    if len(finding["ProductFields"]) > 50:
        problems.append("more than 50 ProductFields")
    return problems


@pytest.mark.parametrize("result", [PASS_A, FAIL_B, ERROR_C, WARN_D], ids=["pass", "fail", "error", "warn"])
@pytest.mark.parametrize(
    ("partition", "region", "previous"),
    [
        ("aws", "us-east-1", None),
        ("aws-us-gov", "us-gov-west-1", None),
        ("aws", "eu-west-1", {"CreatedAt": "2026-01-01T00:00:00.000Z"}),
    ],
    ids=["new", "gov-cloud", "update"],
)
def test_finding_is_valid_asff(
    result: AccountResult, partition: str, region: str, previous: dict[str, Any] | None
) -> None:
    finding = build_finding(result, caller_account=CALLER, partition=partition, region=region, now=NOW, previous=previous)
    assert _asff_problems(finding) == []
    assert finding["ProductArn"] == f"arn:{partition}:securityhub:{region}:{CALLER}:product/{CALLER}/default"


def test_finding_asff_check_catches_a_bad_finding() -> None:
    # The validator above must be able to fail: one broken field per kind of check.
    finding = build_finding(FAIL_B, caller_account=CALLER, partition="aws", region="us-east-1", now=NOW, previous=None)
    finding["Compliance"]["Status"] = "FAIL"
    finding["UpdatedAt"] = "2026-11-29 10:00"
    del finding["GeneratorId"]
    assert _asff_problems(finding)[:1] == ["missing GeneratorId"]
    assert "Compliance.Status 'FAIL' not in ['PASSED', 'WARNING', 'FAILED', 'NOT_AVAILABLE']" in _asff_problems(finding)
    assert "UpdatedAt '2026-11-29 10:00' is not ISO 8601 UTC" in _asff_problems(finding)


def test_finding_existing_keeps_created_at_and_leaves_workflow_alone() -> None:
    previous = {"Id": finding_id(PASS_A.account_id or ""), "CreatedAt": "2026-01-01T00:00:00.000Z"}
    finding = build_finding(PASS_A, caller_account=CALLER, partition="aws", region="us-east-1", now=NOW, previous=previous)
    assert finding["CreatedAt"] == "2026-01-01T00:00:00.000Z"
    assert "Workflow" not in finding


def test_finding_rerun_updates_same_finding_not_duplicate(aws_env: None) -> None:
    with mock_aws():
        hub = boto3.client("securityhub", region_name="us-east-1")
        first = publish_findings(hub, [FAIL_B, WARN_D], caller_account=CALLER, partition="aws", region="us-east-1", now=NOW)
        second = publish_findings(hub, [FAIL_B, WARN_D], caller_account=CALLER, partition="aws", region="us-east-1", now=NOW)
        findings = hub.get_findings()["Findings"]
    assert first == second == ([], [])
    assert sorted(f["Id"] for f in findings) == [
        "root-key-guardrails/iam-root-access-key/222222222222",
        "root-key-guardrails/iam-root-access-key/444444444444",
    ]


def _previous(account: str, status: str, compliance: str, workflow: str = "NEW") -> dict[str, Any]:
    finding = build_finding(
        _result(account, Status(status)), caller_account=CALLER, partition="aws", region="us-east-1", now=NOW, previous=None
    )
    finding["Compliance"]["Status"] = compliance
    finding["Workflow"] = {"Status": workflow}
    return finding


def _get_findings_params(*accounts: str) -> dict[str, Any]:
    return {
        "Filters": {
            "Id": [{"Value": finding_id(a), "Comparison": "EQUALS"} for a in accounts],
            "ProductArn": [{"Value": PRODUCT, "Comparison": "EQUALS"}],
        },
        "MaxResults": 100,
    }


def test_finding_fail_to_pass_is_recovery_and_resolves_workflow(fake_clients: FakeClients) -> None:
    hub = fake_clients.stub("securityhub")
    hub.add_response(
        "get_findings", {"Findings": [_previous("111111111111", "FAIL", "FAILED")]}, _get_findings_params("111111111111")
    )
    hub.add_response("batch_import_findings", {"FailedCount": 0, "SuccessCount": 1, "FailedFindings": []})
    hub.add_response(
        "batch_update_findings",
        {"ProcessedFindings": [{"Id": finding_id("111111111111"), "ProductArn": PRODUCT}], "UnprocessedFindings": []},
        {
            "FindingIdentifiers": [{"Id": finding_id("111111111111"), "ProductArn": PRODUCT}],
            "Workflow": {"Status": "RESOLVED"},
            "Note": ANY,
        },
    )
    errors, recoveries = publish_findings(
        fake_clients("securityhub"), [PASS_A], caller_account=CALLER, partition="aws", region="us-east-1", now=NOW
    )
    assert errors == []
    assert [(t.account_id, t.previous, t.current) for t in recoveries] == [("111111111111", Status.FAIL, Status.PASS)]
    fake_clients.assert_no_pending()


def test_finding_pass_to_pass_is_not_recovery(fake_clients: FakeClients) -> None:
    hub = fake_clients.stub("securityhub")
    hub.add_response(
        "get_findings",
        {"Findings": [_previous("111111111111", "PASS", "PASSED", workflow="RESOLVED")]},
        _get_findings_params("111111111111"),
    )
    hub.add_response("batch_import_findings", {"FailedCount": 0, "SuccessCount": 1, "FailedFindings": []})
    errors, recoveries = publish_findings(
        fake_clients("securityhub"), [PASS_A], caller_account=CALLER, partition="aws", region="us-east-1", now=NOW
    )
    assert (errors, recoveries) == ([], [])
    fake_clients.assert_no_pending()


def test_finding_previous_unreadable_keeps_pass_findings_and_errors(fake_clients: FakeClients) -> None:
    hub = fake_clients.stub("securityhub")
    hub.add_client_error("get_findings", "AccessDeniedException", "not allowed", 403)
    hub.add_response(
        "batch_import_findings",
        {"FailedCount": 0, "SuccessCount": 1, "FailedFindings": []},
        {"Findings": [ANY]},  # only FAIL_B's finding: PASS_A's is held back
    )
    errors, recoveries = publish_findings(
        fake_clients("securityhub"), [PASS_A, FAIL_B], caller_account=CALLER, partition="aws", region="us-east-1", now=NOW
    )
    assert errors == [
        "securityhub:GetFindings failed (AccessDeniedException: not allowed); the caller lacks permission for "
        "securityhub:GetFindings; the previous verdicts are unknown, so recoveries cannot be detected and the findings "
        "of passing accounts were left unchanged"
    ]
    assert recoveries == []
    fake_clients.assert_no_pending()


def test_finding_rejected_by_security_hub_is_error(fake_clients: FakeClients) -> None:
    hub = fake_clients.stub("securityhub")
    hub.add_response("get_findings", {"Findings": []})
    hub.add_response(
        "batch_import_findings",
        {
            "FailedCount": 1,
            "SuccessCount": 0,
            "FailedFindings": [{"Id": finding_id("222222222222"), "ErrorCode": "InvalidAccess", "ErrorMessage": "Security Hub is not enabled"}],
        },
    )
    errors, _ = publish_findings(
        fake_clients("securityhub"), [FAIL_B], caller_account=CALLER, partition="aws", region="us-east-1", now=NOW
    )
    assert errors == [
        "securityhub:BatchImportFindings rejected finding root-key-guardrails/iam-root-access-key/222222222222 "
        "(InvalidAccess: Security Hub is not enabled)"
    ]


def test_finding_previous_on_a_later_page_is_read(fake_clients: FakeClients) -> None:
    # Pages are followed by hand now; a previous verdict on page 2 must still count, or a recovery is missed.
    hub = fake_clients.stub("securityhub")
    params = _get_findings_params("111111111111")
    hub.add_response("get_findings", {"Findings": [], "NextToken": "p2"}, params)
    hub.add_response(
        "get_findings", {"Findings": [_previous("111111111111", "FAIL", "FAILED", workflow="RESOLVED")]}, {**params, "NextToken": "p2"}
    )
    hub.add_response("batch_import_findings", {"FailedCount": 0, "SuccessCount": 1, "FailedFindings": []})
    errors, recoveries = publish_findings(
        fake_clients("securityhub"), [PASS_A], caller_account=CALLER, partition="aws", region="us-east-1", now=NOW
    )
    assert errors == []
    assert [(t.account_id, t.previous) for t in recoveries] == [("111111111111", Status.FAIL)]
    fake_clients.assert_no_pending()


def test_finding_previous_read_stops_at_the_page_cap(fake_clients: FakeClients) -> None:
    # 20 Ids of one product fit in one page of 100; a new token on each of 21 pages is paging that does not end,
    # and every page may cost 27 s of the run.
    hub = fake_clients.stub("securityhub")
    params = _get_findings_params("222222222222")
    for page in range(1, 22):
        hub.add_response(
            "get_findings", {"Findings": [], "NextToken": f"t{page}"}, {**params, "NextToken": f"t{page - 1}"} if page > 1 else params
        )
    hub.add_response("batch_import_findings", {"FailedCount": 0, "SuccessCount": 1, "FailedFindings": []})
    errors, _ = publish_findings(
        fake_clients("securityhub"), [FAIL_B], caller_account=CALLER, partition="aws", region="us-east-1", now=NOW
    )
    assert errors == [
        "securityhub:GetFindings still returned a NextToken after 21 pages for 1 finding Id(s), which fit in one page, "
        "so its pagination does not end; the previous verdicts are unknown, so recoveries cannot be detected and the "
        "findings of passing accounts were left unchanged"
    ]
    fake_clients.assert_no_pending()  # and no 22nd page was asked for: a Stubber refuses unqueued calls


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        (
            {"SuccessCount": 0, "FailedCount": 0, "FailedFindings": []},
            "securityhub:BatchImportFindings answered SuccessCount 0 and FailedCount 0 for a batch of 2 finding(s), "
            "which do not add up, so the import of the batch is unconfirmed",
        ),
        (
            {"SuccessCount": 2, "FailedCount": 1, "FailedFindings": []},
            "securityhub:BatchImportFindings answered SuccessCount 2 and FailedCount 1 for a batch of 2 finding(s), "
            "which do not add up, so the import of the batch is unconfirmed",
        ),
    ],
    ids=["nothing-counted", "counted-three-of-two"],
)
def test_finding_import_counts_not_adding_up_is_error(
    fake_clients: FakeClients, answer: dict[str, Any], problem: str
) -> None:
    # Counts that do not cover the batch leave some finding's fate unknown: a FAIL finding may never have landed.
    hub = fake_clients.stub("securityhub")
    hub.add_response("get_findings", {"Findings": []})
    hub.add_response("batch_import_findings", answer)
    errors, _ = publish_findings(
        fake_clients("securityhub"), [FAIL_B, WARN_D], caller_account=CALLER, partition="aws", region="us-east-1", now=NOW
    )
    assert errors == [problem]
    fake_clients.assert_no_pending()


def test_finding_import_listing_a_failure_it_did_not_count_is_error(fake_clients: FakeClients) -> None:
    # SuccessCount 2 of 2, yet one finding listed as failed: the answer contradicts itself, so neither finding is
    # confirmed, and the listed one is named.
    hub = fake_clients.stub("securityhub")
    hub.add_response("get_findings", {"Findings": []})
    failure = {"Id": finding_id("222222222222"), "ErrorCode": "InvalidInput", "ErrorMessage": "bad"}
    hub.add_response("batch_import_findings", {"SuccessCount": 2, "FailedCount": 0, "FailedFindings": [failure]})
    errors, _ = publish_findings(
        fake_clients("securityhub"), [FAIL_B, WARN_D], caller_account=CALLER, partition="aws", region="us-east-1", now=NOW
    )
    assert errors == [
        "securityhub:BatchImportFindings rejected finding root-key-guardrails/iam-root-access-key/222222222222 "
        "(InvalidInput: bad)",
        "securityhub:BatchImportFindings answered FailedCount 0 but listed 1 failed finding(s) for a batch of 2, so "
        "the import of the batch is unconfirmed",
    ]
    fake_clients.assert_no_pending()


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        (
            None,  # no answer's members at all, as botocore parses a 200 that is not JSON (a proxy's page)
            "securityhub:BatchUpdateFindings answered without ProcessedFindings/UnprocessedFindings lists, so the "
            "workflow RESOLVED of finding(s) root-key-guardrails/iam-root-access-key/111111111111 is unconfirmed",
        ),
        (
            {"ProcessedFindings": [], "UnprocessedFindings": []},
            "securityhub:BatchUpdateFindings listed finding(s) root-key-guardrails/iam-root-access-key/111111111111 "
            "neither as processed nor as unprocessed, so their workflow RESOLVED is unconfirmed",
        ),
        (
            {"ProcessedFindings": [{"Id": finding_id("222222222222"), "ProductArn": PRODUCT}], "UnprocessedFindings": []},
            "securityhub:BatchUpdateFindings listed finding(s) root-key-guardrails/iam-root-access-key/111111111111 "
            "neither as processed nor as unprocessed, so their workflow RESOLVED is unconfirmed",
        ),
    ],
    ids=["empty-answer", "empty-lists", "another-finding-processed"],
)
def test_finding_resolve_not_confirmed_for_each_finding_is_error(
    fake_clients: FakeClients, answer: dict[str, Any] | None, problem: str
) -> None:
    # An answer that does not name the finding says nothing about it: its workflow may still be NEW.
    hub = fake_clients.stub("securityhub")
    hub.add_response("get_findings", {"Findings": [_previous("111111111111", "FAIL", "FAILED")]})
    hub.add_response("batch_import_findings", {"FailedCount": 0, "SuccessCount": 1, "FailedFindings": []})
    if answer is None:
        # A Stubber only returns answers its model allows, so the members are taken out after the call.
        hub.add_response("batch_update_findings", {"ProcessedFindings": [], "UnprocessedFindings": []})
        fake_clients("securityhub").meta.events.register(
            "after-call.securityhub.BatchUpdateFindings", lambda parsed, **_: parsed.clear()
        )
    else:
        hub.add_response("batch_update_findings", answer)
    errors, _ = publish_findings(
        fake_clients("securityhub"), [PASS_A], caller_account=CALLER, partition="aws", region="us-east-1", now=NOW
    )
    assert errors == [problem]
    fake_clients.assert_no_pending()


def test_alert_message_lists_run_errors_then_keys_found_then_accounts_not_audited() -> None:
    subject, body = alert_message([PASS_A, WARN_D, FAIL_B, ERROR_C], ["sns broke"], Status.ERROR)
    assert subject == "[ERROR] Root access key audit: 1 FAIL, 1 WARN, 1 ERROR of 4 account(s)"
    assert body.split("\n") == [
        "Root access key audit (CIS 1.4, Security Hub IAM.4): overall ERROR.",
        "",
        "Errors of this run:",
        "- sns broke",
        "",
        f"- {FAIL_B.message}",
        f"- {WARN_D.message}",
        f"- {ERROR_C.message}",
    ]


def test_alert_message_over_sns_limit_keeps_every_key_found_and_run_error() -> None:
    # 700 accounts that could not be audited, with long reasons, must not crowd the 5 root keys found, or the run's
    # own errors, out of a body cut to SNS's 256 KB.
    from audit.report import error_result

    errors = [error_result(f"{n:012d}", "sts:AssumeRole failed (AccessDenied: " + "x" * 400 + ")") for n in range(700)]
    fails = [dataclasses.replace(FAIL_B, account_id=f"9999999999{n:02d}",
                                 message=FAIL_B.message.replace(FAIL_B.account_id or "", f"9999999999{n:02d}")) for n in range(5)]
    _, body = alert_message(errors + fails, ["Security Hub: BatchImportFindings failed"], Status.ERROR)
    assert len(body.encode()) <= 256 * 1024
    assert "- Security Hub: BatchImportFindings failed" in body
    assert all(f.message in body for f in fails)
    assert body.splitlines()[-1].endswith("more line(s) omitted; see Security Hub or the audit's logs.")


def test_alert_message_caps_each_line() -> None:
    from audit.report import error_result

    _, body = alert_message([error_result("444455556666", "y" * 5000)], [], Status.ERROR)
    (line,) = [line for line in body.splitlines() if line.startswith("- ")]
    assert len(line) == 2 + 1000 and line.endswith("\u2026")


def test_recovery_message_names_previous_status() -> None:
    from audit.publish import Transition

    subject, body = recovery_message([Transition("111111111111", Status.FAIL, Status.PASS)])
    assert subject == "[RECOVERED] Root access key audit: 1 account(s) back to PASS"
    assert body.split("\n")[-1] == "- Account 111111111111: was FAIL, now PASS (the root user has no access keys)."


# ------------------------------------------------------------------ whole runs: one sink failing


def _arrange_single_account(fake: FakeClients, content: str) -> None:
    fake.stub("sts").add_response("get_caller_identity", {"Account": CALLER, "Arn": f"arn:aws:iam::{CALLER}:user/a", "UserId": "A"})
    iam = fake.stub("iam")
    iam.add_response("generate_credential_report", {"State": "COMPLETE"})
    iam.add_response(
        "get_credential_report",
        {"Content": content.encode(), "ReportFormat": "text/csv", "GeneratedTime": NOW},
    )


def _caller_report(**changes: str) -> str:
    return edit_root(baseline_text().replace("111122223333", CALLER), **changes)


def test_run_security_hub_down_still_alerts_and_counts_error(fake_clients: FakeClients, fast_retry: Any) -> None:
    _arrange_single_account(fake_clients, _caller_report(access_key_1_active="true", access_key_1_last_rotated=ROTATED))
    hub = fake_clients.stub("securityhub")
    hub.add_client_error("get_findings", "InvalidAccessException", "Account is not subscribed to AWS Security Hub", 401)
    hub.add_client_error("batch_import_findings", "InvalidAccessException", "Account is not subscribed to AWS Security Hub", 401)
    fake_clients.stub("sns").add_response(
        "publish",
        {"MessageId": "m-1"},
        {
            "TopicArn": TOPIC,
            "Subject": "[ERROR] Root access key audit: 1 FAIL of 1 account(s)",
            "Message": ANY,
            "MessageAttributes": {"status": {"DataType": "String", "StringValue": "ERROR"}},
        },
    )
    fake_clients.stub("cloudwatch").add_response(
        "put_metric_data",
        {},
        {
            "Namespace": "RootKeyGuardrails",
            "MetricData": [
                _datum("RootAccessKeysActive", 1.0, CALLER),
                _datum("AuditErrors", 0.0, CALLER),
                _datum("RootAccessKeysActive", 1.0),
                _datum("AuditErrors", 2.0),
            ],
        },
    )
    config = AuditConfig(metric_namespace="RootKeyGuardrails", sns_topic_arn=TOPIC, security_hub=True)
    run = run_audit(config, fake_clients, retry=fast_retry, now=lambda: NOW)  # type: ignore[arg-type]
    assert run.status is Status.ERROR
    assert [r.status for r in run.accounts] == [Status.FAIL]
    assert run.errors == (
        "securityhub:GetFindings failed (InvalidAccessException: Account is not subscribed to AWS Security Hub); the "
        "previous verdicts are unknown, so recoveries cannot be detected and the findings of passing accounts were "
        "left unchanged",
        "securityhub:BatchImportFindings failed (InvalidAccessException: Account is not subscribed to AWS Security Hub)",
    )
    fake_clients.assert_no_pending()


def _expect_clean_caller_metrics(fake_clients: FakeClients, *, errors_total: float) -> None:
    """The metrics of a run whose one account (the caller) has no key and no error of its own."""
    fake_clients.stub("cloudwatch").add_response(
        "put_metric_data",
        {},
        {
            "Namespace": "RootKeyGuardrails",
            "MetricData": [
                _datum("RootAccessKeysActive", 0.0, CALLER),
                _datum("AuditErrors", 0.0, CALLER),
                _datum("RootAccessKeysActive", 0.0),
                _datum("AuditErrors", errors_total),
            ],
        },
    )


def test_run_sns_down_metrics_still_published_and_run_errors(fake_clients: FakeClients, fast_retry: Any) -> None:
    _arrange_single_account(fake_clients, _caller_report(access_key_2_last_rotated=ROTATED))
    fake_clients.stub("sns").add_client_error("publish", "NotFound", "Topic does not exist", 404)
    _expect_clean_caller_metrics(fake_clients, errors_total=0.0)
    # The metrics went out before SNS failed, so the AuditErrors total is sent again with that failure counted.
    fake_clients.stub("cloudwatch").add_response(
        "put_metric_data", {}, {"Namespace": "RootKeyGuardrails", "MetricData": [_datum("AuditErrors", 1.0)]}
    )
    config = AuditConfig(metric_namespace="RootKeyGuardrails", sns_topic_arn=TOPIC)
    run = run_audit(config, fake_clients, retry=fast_retry, now=lambda: NOW)  # type: ignore[arg-type]
    assert (run.status, [r.status for r in run.accounts]) == (Status.ERROR, [Status.WARN])
    assert run.errors == (f"sns:Publish to {TOPIC} failed (NotFound: Topic does not exist)",)
    assert run.notes == ("recovery notices need Security Hub (the previous verdict is read from its finding)",)
    fake_clients.assert_no_pending()


def test_run_recovery_sends_recovered_notice_and_no_alert(fake_clients: FakeClients, fast_retry: Any) -> None:
    _arrange_single_account(fake_clients, _caller_report())
    hub = fake_clients.stub("securityhub")
    hub.add_response("get_findings", {"Findings": [_previous(CALLER, "ERROR", "NOT_AVAILABLE")]})
    hub.add_response("batch_import_findings", {"FailedCount": 0, "SuccessCount": 1, "FailedFindings": []})
    hub.add_response(
        "batch_update_findings",
        {"ProcessedFindings": [{"Id": finding_id(CALLER), "ProductArn": PRODUCT}], "UnprocessedFindings": []},
    )
    fake_clients.stub("sns").add_response(
        "publish",
        {"MessageId": "m-2"},
        {
            "TopicArn": TOPIC,
            "Subject": "[RECOVERED] Root access key audit: 1 account(s) back to PASS",
            "Message": ANY,
            "MessageAttributes": {"status": {"DataType": "String", "StringValue": "RECOVERED"}},
        },
    )
    config = AuditConfig(sns_topic_arn=TOPIC, security_hub=True)
    run = run_audit(config, fake_clients, retry=fast_retry, now=lambda: NOW)  # type: ignore[arg-type]
    assert (run.status, run.errors, run.recovered) == (Status.PASS, (), (CALLER,))
    fake_clients.assert_no_pending()


def test_run_all_pass_publishes_no_alert(fake_clients: FakeClients, fast_retry: Any) -> None:
    _arrange_single_account(fake_clients, _caller_report())
    config = AuditConfig(sns_topic_arn=TOPIC)
    run = run_audit(config, fake_clients, retry=fast_retry, now=lambda: NOW)  # type: ignore[arg-type]
    assert (run.status, run.errors) == (Status.PASS, ())
    assert "sns" not in fake_clients.own  # no client was even created


def test_run_recovery_notice_failure_holds_back_pass_finding(fake_clients: FakeClients, fast_retry: Any) -> None:
    _arrange_single_account(fake_clients, _caller_report())
    hub = fake_clients.stub("securityhub")
    hub.add_response("get_findings", {"Findings": [_previous(CALLER, "FAIL", "FAILED")]})
    # No batch_import_findings / batch_update_findings queued: the old FAILED finding must stay.
    fake_clients.stub("sns").add_client_error("publish", "AuthorizationError", "not allowed", 403)
    fake_clients.stub("sns").add_response("publish", {"MessageId": "m-3"})  # the ERROR alert that follows
    config = AuditConfig(sns_topic_arn=TOPIC, security_hub=True)
    run = run_audit(config, fake_clients, retry=fast_retry, now=lambda: NOW)  # type: ignore[arg-type]
    assert (run.status, run.recovered) == (Status.ERROR, ())
    assert run.errors == (
        f"sns:Publish to {TOPIC} failed (AuthorizationError: not allowed); the caller lacks permission for "
        "sns:Publish; the recovery notice was not sent, so the findings of the recovered account(s) were left "
        "unchanged for the next run to retry",
    )
    fake_clients.assert_no_pending()


def test_alert_message_escapes_line_breaks_of_foreign_text() -> None:
    # An error text from an endpoint is not ours: a line break in it must not forge a line of the mail.
    forged = "throttled\n- Account 222222222222: PASS, the root user has no access keys\u2028"
    _, body = alert_message([FAIL_B], [forged], Status.FAIL)
    assert "- throttled\\x0a- Account 222222222222: PASS, the root user has no access keys\\u2028" in body.split("\n")
    assert not any(line.startswith("- Account 222222222222: PASS") for line in body.split("\n"))


def test_metric_data_counts_the_active_key_beside_a_contradictory_slot() -> None:
    # Slot 1 active proves a FAIL; slot 2's contradiction is named but does not hide the key from the alarm.
    text = edit_root(
        baseline_text(),
        access_key_1_active="true", access_key_1_last_rotated="2025-02-03T04:05:06+00:00",
        access_key_2_last_used_region="us-east-1", access_key_2_last_rotated="2025-02-03T04:05:06+00:00",
    )
    result = verdict(text, expected_account_id="111122223333")
    assert result.status is Status.FAIL
    assert "The report is also inconsistent: root row access key 2 is contradictory" in result.message
    keys = [d for d in metric_data([result], 0, NOW) if d["MetricName"] == "RootAccessKeysActive" and d.get("Dimensions")]
    assert [d["Value"] for d in keys] == [1]


def test_run_security_hub_alternating_tokens_is_its_error_and_other_sinks_run(
    fake_clients: FakeClients, fast_retry: Any
) -> None:
    # botocore's paginator only notices a token repeated twice in a row: A, B, A... was followed until the
    # Lambda timed out, and neither the metrics nor the alert went out.
    _arrange_single_account(fake_clients, _caller_report())
    hub = fake_clients.stub("securityhub")
    params = _get_findings_params(CALLER)
    hub.add_response("get_findings", {"Findings": [], "NextToken": "A"}, params)
    hub.add_response("get_findings", {"Findings": [], "NextToken": "B"}, {**params, "NextToken": "A"})
    hub.add_response("get_findings", {"Findings": [], "NextToken": "A"}, {**params, "NextToken": "B"})
    _expect_clean_caller_metrics(fake_clients, errors_total=1.0)
    fake_clients.stub("sns").add_response(
        "publish",
        {"MessageId": "m-4"},
        {
            "TopicArn": TOPIC,
            "Subject": "[ERROR] Root access key audit: run errors of 1 account(s)",
            "Message": ANY,
            "MessageAttributes": {"status": {"DataType": "String", "StringValue": "ERROR"}},
        },
    )
    config = AuditConfig(metric_namespace="RootKeyGuardrails", sns_topic_arn=TOPIC, security_hub=True)
    run = run_audit(config, fake_clients, retry=fast_retry, now=lambda: NOW)  # type: ignore[arg-type]
    assert ([r.status for r in run.accounts], run.status) == ([Status.PASS], Status.ERROR)
    # The PASS finding is held back: the previous verdict, and so a recovery, is unknown.
    assert run.errors == (
        "securityhub:GetFindings returned on page 3 the NextToken it had returned on page 1, so its pagination "
        "loops; the previous verdicts are unknown, so recoveries cannot be detected and the findings of passing "
        "accounts were left unchanged",
    )
    fake_clients.assert_no_pending()


def test_alert_message_many_run_errors_keep_the_keys_found() -> None:
    # 1,200 failed imports must not crowd the one root key found out of a body cut to SNS's limit.
    _, body = alert_message([FAIL_B], [f"BatchImportFindings rejected finding {n}: " + "x" * 150 for n in range(1200)], Status.ERROR)
    assert f"- {FAIL_B.message}" in body.splitlines()
    assert "- ... and 1180 more error(s) of this run" in body.splitlines()
