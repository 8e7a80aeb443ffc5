"""Organization-wide audit (CIS 1.4 / Security Hub IAM.4 in every account): parallel, failures isolated."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import boto3
import pytest
from moto import mock_aws

from audit.aws import Clients, RetryPolicy
from audit.org import audit_organization, list_active_accounts, validate_role_name, validate_workers
from audit.report import Status
from tests.audit.helpers import AUDIT_ROLE, MANAGEMENT_ACCOUNT, ORG_MEMBERS, FakeClients, build_org

pytestmark = [
    pytest.mark.usefixtures("aws_env", "moto_root_installed"),
    # AWS answers AccessDenied for a missing role; moto warns that STS models no such error shape.
    pytest.mark.filterwarnings("ignore:Exception\\(STSClientError\\) with code AccessDenied:UserWarning"),
]


def _statuses(org: Any) -> dict[str, str]:
    return {result.account_id: result.status.value for result in org.accounts}


@pytest.mark.parametrize("workers", [1, 4])
def test_org_one_unreachable_account_is_error_others_audited(workers: int, fast_retry: RetryPolicy) -> None:
    with mock_aws():
        session = boto3.session.Session()
        ids = build_org(session, ORG_MEMBERS)
        org = audit_organization(Clients(session, region="us-east-1"), AUDIT_ROLE, workers=workers, retry=fast_retry)
    assert _statuses(org) == {
        MANAGEMENT_ACCOUNT: "PASS",
        ids["clean"]: "PASS",
        ids["leaky"]: "FAIL",
        ids["dormant"]: "WARN",
        ids["orphan"]: "ERROR",
    }
    assert [r.account_id for r in org.accounts] == sorted(r.account_id or "" for r in org.accounts)
    orphan = next(r for r in org.accounts if r.account_id == ids["orphan"])
    role_arn = f"arn:aws:iam::{ids['orphan']}:role/{AUDIT_ROLE}"
    assert orphan.reason == (
        f"sts:AssumeRole on {role_arn} failed (AccessDenied: User: arn:aws:iam::{MANAGEMENT_ACCOUNT}:user/moto is not "
        f"authorized to perform: sts:AssumeRole on resource: {role_arn}); the role is missing in that account, does "
        "not trust the caller, or the caller lacks sts:AssumeRole on it"
    )
    assert org.status is Status.ERROR
    assert org.errors == ()
    assert org.caller_account == MANAGEMENT_ACCOUNT


def test_org_all_reachable_worst_is_fail(fast_retry: RetryPolicy) -> None:
    members = {name: creds for name, creds in ORG_MEMBERS.items() if creds is not None}
    with mock_aws():
        session = boto3.session.Session()
        build_org(session, members)
        org = audit_organization(Clients(session, region="us-east-1"), AUDIT_ROLE, workers=3, retry=fast_retry)
    assert org.status is Status.FAIL
    assert len(org.accounts) == 4


def _account(account_id: str, state: str) -> dict[str, Any]:
    return {
        "Id": account_id,
        "Arn": f"arn:aws:organizations::{MANAGEMENT_ACCOUNT}:account/o-example/{account_id}",
        "Email": f"{account_id}@example.com",
        "Name": f"acct-{account_id}",
        "State": state,
        "JoinedMethod": "CREATED",
        "JoinedTimestamp": datetime(2024, 1, 1, tzinfo=timezone.utc),
    }


def test_org_list_accounts_follows_pages_and_keeps_active_only(fake_clients: FakeClients) -> None:
    stub = fake_clients.stub("organizations")
    stub.add_response(
        "list_accounts",
        {"Accounts": [_account("222222222222", "ACTIVE"), _account("333333333333", "SUSPENDED")], "NextToken": "page2"},
    )
    stub.add_response(
        "list_accounts",
        {"Accounts": [_account("111111111111", "ACTIVE"), _account("444444444444", "PENDING_CLOSURE")]},
        expected_params={"NextToken": "page2"},
    )
    accounts = list_active_accounts(fake_clients("organizations"))
    assert [a.account_id for a in accounts] == ["111111111111", "222222222222"]
    fake_clients.assert_no_pending()


def test_org_listing_denied_is_run_error(fake_clients: FakeClients) -> None:
    fake_clients.stub("sts").add_response(
        "get_caller_identity", {"Account": MANAGEMENT_ACCOUNT, "Arn": "arn:aws:iam::123456789012:user/a", "UserId": "A"}
    )
    fake_clients.stub("organizations").add_client_error(
        "list_accounts", "AccessDeniedException", "You don't have permissions to access this resource.", 400
    )
    org = audit_organization(fake_clients, AUDIT_ROLE, progress=False)  # type: ignore[arg-type]
    assert org.accounts == ()
    assert org.errors == (
        "organizations:ListAccounts failed (AccessDeniedException: You don't have permissions to access this "
        "resource.); the caller lacks permission for organizations:ListAccounts",
    )
    assert org.status is Status.ERROR


def test_org_no_active_account_is_run_error(fake_clients: FakeClients) -> None:
    fake_clients.stub("sts").add_response(
        "get_caller_identity", {"Account": MANAGEMENT_ACCOUNT, "Arn": "arn:aws:iam::123456789012:user/a", "UserId": "A"}
    )
    fake_clients.stub("organizations").add_response("list_accounts", {"Accounts": [_account("333333333333", "SUSPENDED")]})
    org = audit_organization(fake_clients, AUDIT_ROLE, progress=False)  # type: ignore[arg-type]
    assert (org.status, org.errors) == (Status.ERROR, ("organizations:ListAccounts returned no ACTIVE account",))


@pytest.mark.parametrize(
    ("role", "message"),
    [
        ("", "role name '' is not a valid IAM role name (1-64 characters of letters, digits and +=,.@_-)"),
        ("path/Role", "role name 'path/Role' is not a valid IAM role name (1-64 characters of letters, digits and +=,.@_-)"),
        ("r" * 65, f"role name {'r' * 65!r} is not a valid IAM role name (1-64 characters of letters, digits and +=,.@_-)"),
    ],
)
def test_org_invalid_role_name_raises(role: str, message: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        validate_role_name(role)
    assert str(excinfo.value) == message


@pytest.mark.parametrize("workers", [0, 65, True, 2.5])
def test_org_invalid_workers_raises(workers: Any) -> None:
    with pytest.raises(ValueError) as excinfo:
        validate_workers(workers)
    assert str(excinfo.value) == f"workers must be an integer from 1 to 64, got {workers!r}"


def test_org_progress_bar_shown_when_requested(fast_retry: RetryPolicy, capsys: pytest.CaptureFixture[str]) -> None:
    with mock_aws():
        session = boto3.session.Session()
        build_org(session, {"clean": ORG_MEMBERS["clean"]})
        audit_organization(Clients(session, region="us-east-1"), AUDIT_ROLE, retry=fast_retry, progress=True)
    assert "root key audit: 100%" in capsys.readouterr().err


def test_org_progress_bar_hidden_off_terminal(fast_retry: RetryPolicy, capsys: pytest.CaptureFixture[str]) -> None:
    with mock_aws():
        session = boto3.session.Session()
        build_org(session, {"clean": ORG_MEMBERS["clean"]})
        audit_organization(Clients(session, region="us-east-1"), AUDIT_ROLE, retry=fast_retry, progress=None)
    assert capsys.readouterr().err == ""


def test_org_time_budget_spent_later_accounts_error_not_silently_cut(
    fake_clients: FakeClients, fast_retry: RetryPolicy, recorder: Any
) -> None:
    # One worker, so accounts run in order: the caller's report takes one 1 s backoff (virtual clock), which
    # passes start_by; the member is then reported as not audited instead of being cut off by a timeout.
    from tests.audit.helpers import baseline_text

    member = "999999999999"
    fake_clients.stub("sts").add_response(
        "get_caller_identity", {"Account": MANAGEMENT_ACCOUNT, "Arn": "arn:aws:iam::123456789012:user/a", "UserId": "A"}
    )
    fake_clients.stub("organizations").add_response(
        "list_accounts", {"Accounts": [_account(MANAGEMENT_ACCOUNT, "ACTIVE"), _account(member, "ACTIVE")]}
    )
    iam = fake_clients.stub("iam")
    iam.add_response("generate_credential_report", {"State": "INPROGRESS"})
    iam.add_response("generate_credential_report", {"State": "COMPLETE"})
    iam.add_response(
        "get_credential_report",
        {"Content": baseline_text().replace("111122223333", MANAGEMENT_ACCOUNT).encode(), "ReportFormat": "text/csv",
         "GeneratedTime": datetime(2026, 11, 29, 10, 0, tzinfo=timezone.utc)},
    )
    org = audit_organization(
        fake_clients, AUDIT_ROLE, workers=1, retry=fast_retry, progress=False, start_by=0.5,  # type: ignore[arg-type]
        now=lambda: datetime(2026, 11, 29, 10, 5, tzinfo=timezone.utc),
    )
    assert _statuses(org) == {MANAGEMENT_ACCOUNT: "PASS", member: "ERROR"}
    assert org.accounts[1].reason == "not audited: the run's time budget ran out before this account's turn"
    assert recorder.sleeps == [1.0]
    fake_clients.assert_no_pending()  # no AssumeRole into the member was even attempted
