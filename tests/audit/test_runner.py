"""One audit run (CIS 1.4 / IAM.4): org mode with opt-in remediation through sts:AssumeRoot (Stubber, since moto
has no AssumeRoot), and the run's status when steps fail."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from audit.cli import render_text
from audit.report import Status
from audit.runner import AuditConfig, RunResult, run_audit
from tests.audit.helpers import FakeClients, ROTATED, baseline_text, edit_root

NOW = datetime(2026, 11, 29, 10, 0, tzinfo=timezone.utc)
CALLER = "123456789012"
MEMBER = "444455556666"
MEMBER_CREDS: dict[str, Any] = {"AccessKeyId": "ASIAMEMBERSESSION001", "SecretAccessKey": "s", "SessionToken": "t", "Expiration": NOW}
ROOT_CREDS: dict[str, Any] = {"AccessKeyId": "ASIAROOTSESSION00001", "SecretAccessKey": "s", "SessionToken": "t", "Expiration": NOW}


def _arrange_org(fake: FakeClients, *, assume_root_error: str | None = None, include_caller: bool = False) -> None:
    fake.stub("sts").add_response(
        "get_caller_identity", {"Account": CALLER, "Arn": f"arn:aws:iam::{CALLER}:user/a", "UserId": "A"}
    )
    accounts = [{"Id": MEMBER, "Name": "member", "State": "ACTIVE"}]
    fake.stub("organizations").add_response("list_accounts", {"Accounts": accounts})
    fake.stub("sts").add_response(
        "assume_role",
        {"Credentials": MEMBER_CREDS, "AssumedRoleUser": {"AssumedRoleId": "AROA:x", "Arn": "arn:aws:sts::1:assumed-role/r/x"}},
        {"RoleArn": f"arn:aws:iam::{MEMBER}:role/RootKeyAuditRole", "RoleSessionName": "root-key-guardrails-audit", "DurationSeconds": 900},
    )
    member_iam = fake.stub_for(MEMBER_CREDS["AccessKeyId"], "iam")
    member_iam.add_response("generate_credential_report", {"State": "COMPLETE"})
    content = edit_root(baseline_text().replace("111122223333", MEMBER), access_key_1_active="true", access_key_1_last_rotated=ROTATED)
    member_iam.add_response(
        "get_credential_report", {"Content": content.encode(), "ReportFormat": "text/csv", "GeneratedTime": NOW}
    )
    if assume_root_error:
        fake.stub("sts").add_client_error("assume_root", assume_root_error, "not enabled", 403)
        return
    fake.stub("sts").add_response("assume_root", {"Credentials": ROOT_CREDS})
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
