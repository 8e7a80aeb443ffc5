"""One audit run (CIS 1.4 / IAM.4): org mode with opt-in remediation through sts:AssumeRoot (Stubber, since moto
has no AssumeRoot), and the run's status when steps fail."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from botocore.stub import ANY

from audit.cli import render_text
from audit.report import Status
from audit.runner import AuditConfig, RunResult, run_audit
from tests.audit.helpers import FakeClients, ROTATED, Recorder, baseline_text, edit_root

NOW = datetime(2026, 11, 29, 10, 0, tzinfo=timezone.utc)
CALLER = "123456789012"
MEMBER = "444455556666"
MEMBER_CREDS: dict[str, Any] = {"AccessKeyId": "ASIAMEMBERSESSION001", "SecretAccessKey": "s", "SessionToken": "t", "Expiration": NOW}
ROOT_CREDS: dict[str, Any] = {"AccessKeyId": "ASIAROOTSESSION00001", "SecretAccessKey": "s", "SessionToken": "t", "Expiration": NOW}


def _arrange_member(fake: FakeClients, **root: str) -> None:
    """AssumeRole into MEMBER and its credential report, with the named root-row columns changed."""
    fake.stub("sts").add_response(
        "assume_role",
        {"Credentials": MEMBER_CREDS, "AssumedRoleUser": {"AssumedRoleId": "AROA:x", "Arn": "arn:aws:sts::1:assumed-role/r/x"}},
        {"RoleArn": f"arn:aws:iam::{MEMBER}:role/RootKeyAuditRole", "RoleSessionName": "root-key-guardrails-audit", "DurationSeconds": 900},
    )
    member_iam = fake.stub_for(MEMBER_CREDS["AccessKeyId"], "iam")
    member_iam.add_response("generate_credential_report", {"State": "COMPLETE"})
    content = edit_root(baseline_text().replace("111122223333", MEMBER), **root)
    member_iam.add_response(
        "get_credential_report", {"Content": content.encode(), "ReportFormat": "text/csv", "GeneratedTime": NOW}
    )


def _arrange_org(fake: FakeClients, *, assume_root_error: str | None = None, include_caller: bool = False) -> None:
    fake.stub("sts").add_response(
        "get_caller_identity", {"Account": CALLER, "Arn": f"arn:aws:iam::{CALLER}:user/a", "UserId": "A"}
    )
    accounts = [{"Id": MEMBER, "Name": "member", "State": "ACTIVE"}]
    fake.stub("organizations").add_response("list_accounts", {"Accounts": accounts})
    _arrange_member(fake, access_key_1_active="true", access_key_1_last_rotated=ROTATED)
    if assume_root_error:
        fake.stub("sts").add_client_error("assume_root", assume_root_error, "not enabled", 403)
        return
    fake.stub("sts").add_response("assume_root", {"Credentials": ROOT_CREDS})
    fake.stub_for(ROOT_CREDS["AccessKeyId"], "sts").add_response(
        "get_caller_identity", {"Account": MEMBER, "Arn": f"arn:aws:iam::{MEMBER}:root", "UserId": MEMBER}
    )
    root_iam = fake.stub_for(ROOT_CREDS["AccessKeyId"], "iam")
    root_iam.add_response(
        "list_access_keys",
        {"AccessKeyMetadata": [{"UserName": "root", "AccessKeyId": "AKIAROOTKEY000000001", "Status": "Active", "CreateDate": NOW}], "IsTruncated": False},
    )


def _config(**kw: Any) -> AuditConfig:
    return AuditConfig(org_role_name="RootKeyAuditRole", workers=1, remediate=True, **kw)


def test_run_org_remediation_deletes_member_root_key(fake_clients: FakeClients, fast_retry: Any) -> None:
    _arrange_org(fake_clients)
    fake_clients.stub_for(ROOT_CREDS["AccessKeyId"], "iam").add_response(
        "delete_access_key", {}, {"AccessKeyId": "AKIAROOTKEY000000001"}
    )
    fake_clients.stub_for(ROOT_CREDS["AccessKeyId"], "iam").add_response(
        "list_access_keys", {"AccessKeyMetadata": [], "IsTruncated": False}
    )
    run = run_audit(_config(), fake_clients, retry=fast_retry, now=lambda: NOW)  # type: ignore[arg-type]
    (result,) = run.accounts
    # Still FAIL: the credential report shows the deletion only once AWS regenerates it.
    assert (run.status, result.status, run.errors) == (Status.FAIL, Status.FAIL, ())
    assert result.remediation == (f"account {MEMBER}: deleted active root access key AKIAROOTKEY000000001",)
    fake_clients.assert_no_pending()


def test_run_org_remediation_dry_run_deletes_nothing(fake_clients: FakeClients, fast_retry: Any) -> None:
    _arrange_org(fake_clients)
    run = run_audit(_config(dry_run=True), fake_clients, retry=fast_retry, now=lambda: NOW)  # type: ignore[arg-type]
    assert run.accounts[0].remediation == (
        f"account {MEMBER}: would delete active root access key AKIAROOTKEY000000001 (dry run)",
    )
    fake_clients.assert_no_pending()


def test_run_org_remediation_denied_makes_run_error(fake_clients: FakeClients, fast_retry: Any) -> None:
    _arrange_org(fake_clients, assume_root_error="AccessDenied")
    run = run_audit(_config(), fake_clients, retry=fast_retry, now=lambda: NOW)  # type: ignore[arg-type]
    reason = (
        f"sts:AssumeRoot into {MEMBER} failed (AccessDenied: not enabled); centralized root access must be enabled "
        "and the caller must be the management account or the delegated administrator for IAM, with sts:AssumeRoot"
    )
    assert (run.status, run.accounts[0].status) == (Status.ERROR, Status.FAIL)
    assert run.errors == (f"remediation of account {MEMBER} failed: {reason}",)
    assert run.accounts[0].remediation == (reason,)


def test_run_single_account_remediation_skips_caller_with_note(fake_clients: FakeClients, fast_retry: Any) -> None:
    fake_clients.stub("sts").add_response(
        "get_caller_identity", {"Account": CALLER, "Arn": f"arn:aws:iam::{CALLER}:user/a", "UserId": "A"}
    )
    iam = fake_clients.stub("iam")
    iam.add_response("generate_credential_report", {"State": "COMPLETE"})
    content = edit_root(baseline_text().replace("111122223333", CALLER), access_key_1_active="true", access_key_1_last_rotated=ROTATED)
    iam.add_response("get_credential_report", {"Content": content.encode(), "ReportFormat": "text/csv", "GeneratedTime": NOW})
    run = run_audit(AuditConfig(remediate=True), fake_clients, retry=fast_retry, now=lambda: NOW)  # type: ignore[arg-type]
    assert (run.status, run.errors) == (Status.FAIL, ())
    assert run.notes == (
        f"account {CALLER}: not remediated, sts:AssumeRoot cannot target the calling account; delete its root keys by hand",
    )
    fake_clients.assert_no_pending()


def test_run_caller_identity_failure_is_error(fake_clients: FakeClients, fast_retry: Any) -> None:
    fake_clients.stub("sts").add_client_error("get_caller_identity", "ExpiredToken", "The security token included in the request is expired", 403)
    run = run_audit(AuditConfig(), fake_clients, retry=fast_retry, now=lambda: NOW)  # type: ignore[arg-type]
    assert run.status is Status.ERROR
    assert run.accounts[0].message == (
        "The account: the root access key audit could not be completed: sts:GetCallerIdentity failed (ExpiredToken: "
        "The security token included in the request is expired)"
    )


def test_run_empty_result_is_error() -> None:
    assert RunResult(accounts=()).status is Status.ERROR


def test_run_text_output_shows_remediation_log(fake_clients: FakeClients, fast_retry: Any) -> None:
    import io

    _arrange_org(fake_clients)
    run = run_audit(_config(dry_run=True), fake_clients, retry=fast_retry, now=lambda: NOW)  # type: ignore[arg-type]
    out = io.StringIO()
    render_text(run, out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith(f"Account {MEMBER}: FAIL, the root user has 1 active access key")
    assert lines[1] == f"  remediation: account {MEMBER}: would delete active root access key AKIAROOTKEY000000001 (dry run)"
    assert lines[-1] == "Overall: FAIL (1 account(s): 0 PASS, 0 WARN, 1 FAIL, 0 ERROR)."


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_report_age_hours": 0}, "max_report_age_hours must be an integer from 1 to 24, got 0"),
        ({"max_report_age_hours": 25}, "max_report_age_hours must be an integer from 1 to 24, got 25"),
        ({"workers": 0}, "workers must be an integer from 1 to 64, got 0"),
    ],
)
def test_run_config_out_of_range_raises(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        AuditConfig(**kwargs)  # type: ignore[arg-type]
    assert str(excinfo.value) == message


# ------------------------------------------------------------------ publishing: what a run may claim, and its time

NAMESPACE = "RootKeyGuardrails"
TOPIC = f"arn:aws:sns:us-east-1:{CALLER}:root-key-alerts"


def _datum(name: str, value: float, account: str | None = None) -> dict[str, Any]:
    datum: dict[str, Any] = {"MetricName": name, "Value": value, "Unit": "Count", "Timestamp": NOW}
    if account:
        datum["Dimensions"] = [{"Name": "AccountId", "Value": account}]
    return datum


def _expect_metrics(fake: FakeClients, *data: dict[str, Any]) -> None:
    fake.stub("cloudwatch").add_response("put_metric_data", {}, {"Namespace": NAMESPACE, "MetricData": list(data)})


def _expect_alert(fake: FakeClients, subject: str) -> None:
    fake.stub("sns").add_response(
        "publish",
        {"MessageId": "m-1"},
        {
            "TopicArn": TOPIC,
            "Subject": subject,
            "Message": ANY,
            "MessageAttributes": {"status": {"DataType": "String", "StringValue": "ERROR"}},
        },
    )


def test_run_org_listing_failing_midway_sends_no_org_wide_key_total(fake_clients: FakeClients, fast_retry: Any) -> None:
    # Page 2 of the listing is denied: the accounts on it were never audited and may hold keys, so an org-wide 0
    # would read as a clean organization. The member that was audited keeps its own point.
    fake_clients.stub("sts").add_response(
        "get_caller_identity", {"Account": CALLER, "Arn": f"arn:aws:iam::{CALLER}:user/a", "UserId": "A"}
    )
    orgs = fake_clients.stub("organizations")
    orgs.add_response("list_accounts", {"Accounts": [{"Id": MEMBER, "Name": "member", "State": "ACTIVE"}], "NextToken": "p2"})
    orgs.add_client_error("list_accounts", "AccessDeniedException", "Denied.", 400, expected_params={"NextToken": "p2"})
    _arrange_member(fake_clients)
    _expect_metrics(
        fake_clients,
        _datum("RootAccessKeysActive", 0.0, MEMBER),
        _datum("AuditErrors", 0.0, MEMBER),
        _datum("AuditErrors", 1.0),
    )
    config = AuditConfig(org_role_name="RootKeyAuditRole", workers=1, metric_namespace=NAMESPACE)
    run = run_audit(config, fake_clients, retry=fast_retry, now=lambda: NOW)  # type: ignore[arg-type]
    assert ([r.status for r in run.accounts], run.status) == ([Status.PASS], Status.ERROR)
    assert run.errors == (
        "organizations:ListAccounts failed (AccessDeniedException: Denied.); the caller lacks permission for "
        "organizations:ListAccounts",
    )
    fake_clients.assert_no_pending()


def _arrange_caller(fake: FakeClients) -> None:
    """The Lambda's default, one account (the caller's), with a compliant report."""
    fake.stub("sts").add_response("get_caller_identity", {"Account": CALLER, "Arn": f"arn:aws:iam::{CALLER}:user/a", "UserId": "A"})
    iam = fake.stub("iam")
    iam.add_response("generate_credential_report", {"State": "COMPLETE"})
    content = baseline_text().replace("111122223333", CALLER)
    iam.add_response("get_credential_report", {"Content": content.encode(), "ReportFormat": "text/csv", "GeneratedTime": NOW})


def _takes(fake: FakeClients, service: str, operation: str, seconds: float, recorder: Recorder) -> None:
    """Every `operation` call takes `seconds` of the run's (virtual) clock."""

    def advance(**_: Any) -> None:
        recorder.now += seconds

    fake(service).meta.events.register(f"before-parameter-build.{service}.{operation}", advance)


ALL_SINKS = AuditConfig(metric_namespace=NAMESPACE, sns_topic_arn=TOPIC, security_hub=True)
CLEAN_METRICS = (
    _datum("RootAccessKeysActive", 0.0, CALLER),
    _datum("AuditErrors", 0.0, CALLER),
    _datum("RootAccessKeysActive", 0.0),
    _datum("AuditErrors", 1.0),
)


def test_run_slow_security_hub_leaves_metrics_and_alert_their_time(
    fake_clients: FakeClients, fast_retry: Any, recorder: Recorder
) -> None:
    # A 100 s budget, and GetFindings takes 30 s. Security Hub must be over 54 s before the end (a worst-case
    # call of 27 s kept for the metrics and one for the alert), so its import no longer fits at 30 s; were it
    # made, a hung import could leave nothing for the sinks the alarms and the on-call read.
    _arrange_caller(fake_clients)
    fake_clients.stub("securityhub").add_response("get_findings", {"Findings": []})
    _takes(fake_clients, "securityhub", "GetFindings", 30.0, recorder)
    _expect_metrics(fake_clients, *CLEAN_METRICS)
    _expect_alert(fake_clients, "[ERROR] Root access key audit: run errors of 1 account(s)")
    run = run_audit(ALL_SINKS, fake_clients, retry=fast_retry, now=lambda: NOW, time_budget_seconds=100.0)  # type: ignore[arg-type]
    assert ([r.status for r in run.accounts], run.status) == ([Status.PASS], Status.ERROR)
    assert run.errors == (
        "securityhub:BatchImportFindings was not called: 16.0 s were left of the run's time budget after the 54 s "
        "kept for the sinks that follow, and one call may take 27 s; 1 finding(s) were not imported",
    )
    fake_clients.assert_no_pending()


def test_run_sink_due_after_its_deadline_is_not_started_and_later_sinks_still_go(
    fake_clients: FakeClients, fast_retry: Any, recorder: Recorder
) -> None:
    # The report download takes 45 s of a 100 s budget: 55 s are left, and Security Hub may use only what the
    # metrics' and the alert's calls (54 s) do not need, too little for one call. It is skipped as its own
    # ERROR, not started to eat the others' time.
    _arrange_caller(fake_clients)
    _takes(fake_clients, "iam", "GetCredentialReport", 45.0, recorder)
    _expect_metrics(fake_clients, *CLEAN_METRICS)
    _expect_alert(fake_clients, "[ERROR] Root access key audit: run errors of 1 account(s)")
    run = run_audit(ALL_SINKS, fake_clients, retry=fast_retry, now=lambda: NOW, time_budget_seconds=100.0)  # type: ignore[arg-type]
    assert ([r.status for r in run.accounts], run.status) == ([Status.PASS], Status.ERROR)
    assert run.errors == (
        "publishing to Security Hub was not started: 1.0 s were left of the run's time budget after the 54 s kept "
        "for the sinks that follow, and one call may take 27 s",
    )
    assert "securityhub" not in fake_clients.own  # not even a client: nothing was attempted
    fake_clients.assert_no_pending()


def test_run_alert_keeps_the_last_call_when_no_other_sink_fits(
    fake_clients: FakeClients, fast_retry: Any, recorder: Recorder
) -> None:
    # The report download takes 70 s of a 100 s budget: 30 s are left, one worst-case call. The alert, a single
    # call that reports every failure before it, is the sink that still goes.
    _arrange_caller(fake_clients)
    _takes(fake_clients, "iam", "GetCredentialReport", 70.0, recorder)
    _expect_alert(fake_clients, "[ERROR] Root access key audit: run errors of 1 account(s)")
    run = run_audit(ALL_SINKS, fake_clients, retry=fast_retry, now=lambda: NOW, time_budget_seconds=100.0)  # type: ignore[arg-type]
    assert ([r.status for r in run.accounts], run.status) == ([Status.PASS], Status.ERROR)
    assert run.errors == (
        "publishing to Security Hub was not started: 0.0 s were left of the run's time budget after the 54 s kept "
        "for the sinks that follow, and one call may take 27 s",
        "publishing to CloudWatch metrics was not started: 3.0 s were left of the run's time budget after the 27 s "
        "kept for the sinks that follow, and one call may take 27 s",
    )
    fake_clients.assert_no_pending()


def test_run_single_account_call_unanswered_at_the_stop_time_is_abandoned(
    fake_clients: FakeClients, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A timeout bounds each socket read, not a whole answer: a report call trickling a byte at a time would hold
    # the Lambda past its timeout. The run gives it up 2 s past its stop time, so it still publishes, as ERROR.
    import threading
    import time

    from audit.aws import RetryPolicy
    from audit.org import CUT_OFF, GIVE_UP_GRACE_S
    from audit.runner import RUN_RESERVE_SECONDS

    fake_clients.stub("sts").add_response(
        "get_caller_identity", {"Account": "111122223333", "Arn": "arn:aws:iam::111122223333:user/a", "UserId": "A"})
    released = threading.Event()

    def trickling(*_: Any, **__: Any) -> Any:
        released.wait(30)
        raise RuntimeError("released")

    monkeypatch.setattr("audit.runner.audit_account", trickling)
    started = time.monotonic()
    try:
        run = run_audit(AuditConfig(), fake_clients, retry=RetryPolicy(call_seconds=0.1),  # type: ignore[arg-type]
                        time_budget_seconds=RUN_RESERVE_SECONDS + 1.0)
        took = time.monotonic() - started
    finally:
        released.set()
    assert took < 1.0 + GIVE_UP_GRACE_S + 1.0
    assert [(a.account_id, a.status, a.reason) for a in run.accounts] == [("111122223333", Status.ERROR, CUT_OFF)]
    assert run.errors == ("the run's time ran out with a call still unanswered",)


def test_run_remediation_that_cannot_fit_before_the_stop_is_not_started(fake_clients: FakeClients, fast_retry: Any) -> None:
    # 150 s of budget: the audit may use 90 s, less than one account's remediation at its worst (162 s). Started
    # anyway, it could eat the time kept for publishing, and the Lambda's timeout would send nothing at all.
    fake_clients.stub("sts").add_response(
        "get_caller_identity", {"Account": CALLER, "Arn": f"arn:aws:iam::{CALLER}:user/a", "UserId": "A"}
    )
    fake_clients.stub("organizations").add_response("list_accounts", {"Accounts": [{"Id": MEMBER, "Name": "member", "State": "ACTIVE"}]})
    _arrange_member(fake_clients, access_key_1_active="true", access_key_1_last_rotated=ROTATED)
    run = run_audit(_config(), fake_clients, retry=fast_retry, now=lambda: NOW, time_budget_seconds=150.0)  # type: ignore[arg-type]
    (result,) = run.accounts
    reason = "not remediated: the run's time budget leaves less than the 162 s one account's remediation may take"
    assert (run.status, result.status) == (Status.ERROR, Status.FAIL)
    assert run.errors == (f"remediation of account {MEMBER} failed: {reason}",)
    assert result.remediation == (reason,)
    fake_clients.assert_no_pending()  # no AssumeRoot was asked for
