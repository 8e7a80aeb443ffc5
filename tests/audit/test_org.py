"""Organization-wide audit (CIS 1.4 / Security Hub IAM.4 in every account): parallel, failures isolated."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import boto3
import pytest
from moto import mock_aws

from audit.aws import Clients, RetryPolicy
from audit.org import (
    CUT_OFF,
    GIVE_UP_GRACE_S,
    INTERRUPTED,
    MAX_IDLE_PAGES,
    AccountAudit,
    AccountListing,
    AuditInterrupted,
    audit_organization,
    validate_role_name,
    validate_workers,
)
from audit.report import Status
from tests.audit.helpers import (
    AUDIT_ROLE,
    BASELINE_ACCOUNT,
    MANAGEMENT_ACCOUNT,
    ORG_MEMBERS,
    ROTATED,
    FakeClients,
    Recorder,
    baseline_text,
    build_org,
    edit_root,
)

NOW = datetime(2026, 11, 29, 10, 0, tzinfo=timezone.utc)

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
    found: list[str] = []
    listing = AccountListing(fake_clients("organizations"), lambda a: found.append(a.account_id), policy=RetryPolicy())
    assert (listing.step(), found) == (0.0, ["222222222222"])  # the first page is audited before the second comes
    assert (listing.step(), found) == (None, ["222222222222", "111111111111"])
    assert (listing.complete, listing.error, listing.listed) == (True, None, 2)
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


def _caller_identity(fake: FakeClients) -> None:
    fake.stub("sts").add_response(
        "get_caller_identity", {"Account": MANAGEMENT_ACCOUNT, "Arn": "arn:aws:iam::123456789012:user/a", "UserId": "A"}
    )


def _report_of(account_id: str, **root: str) -> dict[str, Any]:
    content = edit_root(baseline_text().replace(BASELINE_ACCOUNT, account_id), **root)
    return {"Content": content.encode(), "ReportFormat": "text/csv", "GeneratedTime": NOW - timedelta(minutes=5)}


def _credentials(key: str) -> dict[str, Any]:
    return {"AccessKeyId": key, "SecretAccessKey": "s", "SessionToken": "t", "Expiration": NOW}


def _assumed(fake: FakeClients, account_id: str, key: str) -> Any:
    fake.stub("sts").add_response(
        "assume_role",
        {"Credentials": _credentials(key), "AssumedRoleUser": {"AssumedRoleId": "AROA:x", "Arn": "arn:aws:sts::1:assumed-role/r/x"}},
        {
            "RoleArn": f"arn:aws:iam::{account_id}:role/{AUDIT_ROLE}",
            "RoleSessionName": "root-key-guardrails-audit",
            "DurationSeconds": 900,
        },
    )
    return fake.stub_for(key, "iam")


def test_org_time_budget_spent_later_accounts_error_not_silently_cut(
    fake_clients: FakeClients, fast_retry: RetryPolicy, recorder: Recorder
) -> None:
    # Each IAM call takes 10 s (virtual clock). The caller starts at 0 s, with room for three 13 s calls before
    # the run's stop at 45 s; by the member's turn (10 s or later) there is not, so it is not started at all.
    member = "999999999999"
    _caller_identity(fake_clients)
    fake_clients.stub("organizations").add_response(
        "list_accounts", {"Accounts": [_account(MANAGEMENT_ACCOUNT, "ACTIVE"), _account(member, "ACTIVE")]}
    )
    iam = fake_clients.stub("iam")
    iam.add_response("generate_credential_report", {"State": "COMPLETE"})
    iam.add_response("get_credential_report", _report_of(MANAGEMENT_ACCOUNT))

    def slow_call(**_: Any) -> None:
        recorder.now += 10.0

    fake_clients("iam").meta.events.register("before-parameter-build.iam", slow_call)
    org = audit_organization(
        fake_clients, AUDIT_ROLE, workers=1, retry=fast_retry, progress=False, stop_at=45.0,  # type: ignore[arg-type]
        now=lambda: NOW,
    )
    assert _statuses(org) == {MANAGEMENT_ACCOUNT: "PASS", member: "ERROR"}
    assert org.accounts[1].reason == "not audited: the run's time budget ran out before this account's turn"
    assert org.api_calls == {MANAGEMENT_ACCOUNT: {"iam:GenerateCredentialReport": 1, "iam:GetCredentialReport": 1}}
    fake_clients.assert_no_pending()  # no AssumeRole into the member was even attempted


def test_org_account_listed_twice_audited_once(fake_clients: FakeClients, fast_retry: RetryPolicy) -> None:
    member = "999999999999"
    _caller_identity(fake_clients)
    fake_clients.stub("organizations").add_response(
        "list_accounts", {"Accounts": [_account(member, "ACTIVE"), _account(member, "ACTIVE")], "NextToken": "p2"}
    )
    fake_clients.stub("organizations").add_response(
        "list_accounts", {"Accounts": [_account(member, "ACTIVE")]}, expected_params={"NextToken": "p2"}
    )
    iam = _assumed(fake_clients, member, "ASIAMEMBER0000000001")
    iam.add_response("generate_credential_report", {"State": "COMPLETE"})
    iam.add_response("get_credential_report", _report_of(member))
    org = audit_organization(fake_clients, AUDIT_ROLE, retry=fast_retry, progress=False, now=lambda: NOW)  # type: ignore[arg-type]
    assert [(r.account_id, r.status) for r in org.accounts] == [(member, Status.PASS)]
    fake_clients.assert_no_pending()


def _audit_on_one_worker(fake: FakeClients, policy: RetryPolicy, recorder: Recorder) -> tuple[Any, list[float]]:
    """The organization audited by one worker in virtual time, with the time each account's verdict was made."""
    finished_at: list[float] = []

    def now() -> datetime:
        finished_at.append(recorder.now)
        return NOW

    org = audit_organization(fake, AUDIT_ROLE, workers=1, retry=policy, progress=False, now=now)  # type: ignore[arg-type]
    return org, finished_at


def test_org_throttled_account_waits_alone(fake_clients: FakeClients, fast_retry: RetryPolicy, recorder: Recorder) -> None:
    # One worker: the throttled account's two backoffs (1 s, 2 s) hold no worker, so the other account is
    # audited in the meantime, at virtual time 0, and the scheduler sleeps only when nothing else is due.
    throttled, other = "111111111111", "222222222222"
    _caller_identity(fake_clients)
    fake_clients.stub("organizations").add_response(
        "list_accounts", {"Accounts": [_account(throttled, "ACTIVE"), _account(other, "ACTIVE")]}
    )
    slow = _assumed(fake_clients, throttled, "ASIATHROTTLED0000001")
    fast = _assumed(fake_clients, other, "ASIAOTHER00000000001")
    for _ in range(2):
        slow.add_client_error("generate_credential_report", "Throttling", "Rate exceeded", 400)
    slow.add_response("generate_credential_report", {"State": "COMPLETE"})
    slow.add_response("get_credential_report", _report_of(throttled))
    fast.add_response("generate_credential_report", {"State": "COMPLETE"})
    fast.add_response("get_credential_report", _report_of(other, access_key_1_active="true", access_key_1_last_rotated=ROTATED))
    org, finished_at = _audit_on_one_worker(fake_clients, fast_retry, recorder)
    assert _statuses(org) == {throttled: "PASS", other: "FAIL"}
    assert (finished_at, recorder.sleeps) == ([0.0, 3.0], [1.0, 2.0])
    assert org.api_calls == {
        throttled: {"sts:AssumeRole": 1, "iam:GenerateCredentialReport": 3, "iam:GetCredentialReport": 1},
        other: {"sts:AssumeRole": 1, "iam:GenerateCredentialReport": 1, "iam:GetCredentialReport": 1},
    }
    fake_clients.assert_no_pending()


def test_org_later_account_polls_when_the_first_report_was_ready(
    fake_clients: FakeClients, fast_retry: RetryPolicy, recorder: Recorder
) -> None:
    # One worker, virtual time. The first account's report is ready at its second poll: the run's probe a step
    # (0.1 s) past its first, 1.1 s after STARTED. The second account is on a page throttled three times
    # (1 + 2 + 4 s), so it starts at 7 s, after that was seen: its one poll goes at 7 + 1.1 s and half a step
    # (0.055 s), not at the blind schedule's 1 s, where a 1.1 s report would be missed.
    first, later = "111111111111", "222222222222"
    _caller_identity(fake_clients)
    orgs = fake_clients.stub("organizations")
    orgs.add_response("list_accounts", {"Accounts": [_account(first, "ACTIVE")], "NextToken": "p2"})
    for _ in range(3):
        orgs.add_client_error("list_accounts", "TooManyRequestsException", "Rate exceeded", 400, expected_params={"NextToken": "p2"})
    orgs.add_response("list_accounts", {"Accounts": [_account(later, "ACTIVE")]}, expected_params={"NextToken": "p2"})
    for account_id, key, misses in ((first, "ASIAFIRST00000000001", 1), (later, "ASIALATER00000000001", 0)):
        iam = _assumed(fake_clients, account_id, key)
        iam.add_response("generate_credential_report", {"State": "STARTED"})
        for _ in range(misses):
            iam.add_client_error("get_credential_report", "ReportInProgress", "still generating", 404)
        iam.add_response("get_credential_report", _report_of(account_id))
    org, finished_at = _audit_on_one_worker(fake_clients, fast_retry, recorder)
    assert _statuses(org) == {first: "PASS", later: "PASS"}
    assert finished_at == [1.1, 8.155]
    assert org.api_calls[later] == {"sts:AssumeRole": 1, "iam:GenerateCredentialReport": 1, "iam:GetCredentialReport": 1}
    fake_clients.assert_no_pending()


def test_org_assume_role_throttled_retried_then_audited(fake_clients: FakeClients, fast_retry: RetryPolicy, recorder: Recorder) -> None:
    member = "999999999999"
    _caller_identity(fake_clients)
    fake_clients.stub("organizations").add_response("list_accounts", {"Accounts": [_account(member, "ACTIVE")]})
    fake_clients.stub("sts").add_client_error("assume_role", "Throttling", "Rate exceeded", 400)
    iam = _assumed(fake_clients, member, "ASIAMEMBER0000000001")
    iam.add_response("generate_credential_report", {"State": "COMPLETE"})
    iam.add_response("get_credential_report", _report_of(member))
    org = audit_organization(fake_clients, AUDIT_ROLE, retry=fast_retry, progress=False, now=lambda: NOW)  # type: ignore[arg-type]
    assert (_statuses(org), recorder.sleeps) == ({member: "PASS"}, [1.0])
    assert org.api_calls[member] == {"sts:AssumeRole": 2, "iam:GenerateCredentialReport": 1, "iam:GetCredentialReport": 1}
    fake_clients.assert_no_pending()


def test_org_moto_calls_per_account_minimal(fast_retry: RetryPolicy) -> None:
    # moto answers STARTED with the report ready: AssumeRole, one generation, one download; no AssumeRole and
    # no poll for the calling account beyond its own two calls.
    with mock_aws():
        session = boto3.session.Session()
        ids = build_org(session, {"clean": ORG_MEMBERS["clean"], "leaky": ORG_MEMBERS["leaky"]})
        org = audit_organization(Clients(session, region="us-east-1"), AUDIT_ROLE, retry=fast_retry, progress=False)
    member_calls = {"sts:AssumeRole": 1, "iam:GenerateCredentialReport": 1, "iam:GetCredentialReport": 1}
    assert org.api_calls == {
        MANAGEMENT_ACCOUNT: {"iam:GenerateCredentialReport": 1, "iam:GetCredentialReport": 1},
        ids["clean"]: member_calls,
        ids["leaky"]: member_calls,
    }


def test_org_interrupt_reports_unfinished_as_error(
    fake_clients: FakeClients, fast_retry: RetryPolicy, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ctrl-C arrives as the second account is about to start: the first keeps its verdict, the rest are ERROR.
    first, second, third = "111111111111", "222222222222", "333333333333"
    _caller_identity(fake_clients)
    fake_clients.stub("organizations").add_response(
        "list_accounts", {"Accounts": [_account(a, "ACTIVE") for a in (first, second, third)]}
    )
    iam = _assumed(fake_clients, first, "ASIAFIRST00000000001")
    iam.add_response("generate_credential_report", {"State": "COMPLETE"})
    iam.add_response("get_credential_report", _report_of(first))
    admit = AccountAudit.admit

    def interrupt_second(job: AccountAudit) -> bool:
        if job.account.account_id == second:
            raise KeyboardInterrupt
        return admit(job)

    monkeypatch.setattr(AccountAudit, "admit", interrupt_second)
    with pytest.raises(AuditInterrupted) as excinfo:
        audit_organization(fake_clients, AUDIT_ROLE, workers=1, retry=fast_retry, progress=False, now=lambda: NOW)  # type: ignore[arg-type]
    audit = excinfo.value.audit
    assert [(r.account_id, r.status, r.reason) for r in audit.accounts] == [
        (first, Status.PASS, None),
        (second, Status.ERROR, INTERRUPTED),
        (third, Status.ERROR, INTERRUPTED),
    ]
    assert (excinfo.value.not_audited, audit.status) == (2, Status.ERROR)
    fake_clients.assert_no_pending()


@dataclass(frozen=True)
class _Interrupted:
    returncode: int
    stdout: str
    stderr: str
    account_ids: tuple[str, ...]
    calls: tuple[Any, ...]  # simulate.slow_moto.CallRecord, as the server saw them until `after_s` past the exit
    exited: float  # time.monotonic() when the CLI had exited


def _interrupt_org_cli(timing: Any, members: int, action: str, count: int, after_s: float = 0.0) -> _Interrupted:
    """`python -m audit --org --workers 1` against a latency-modelled moto server, sent SIGINT once the server has
    seen `count` calls of `action`; the server's calls are read `after_s` after the CLI exited."""
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    from simulate import moto_root
    from simulate.slow_moto import SlowMotoServer, create_organization, offline_child_env

    repo = Path(__file__).resolve().parents[2]
    moto_root.install()
    server = SlowMotoServer(timing)
    server.start()
    try:
        with server.delays_paused():
            org = create_organization(server.endpoint_url, members)
        server.clear_calls()
        # A user's Ctrl-C at a terminal, whatever started these tests: a shell starts a background job (`make test &`,
        # a CI step) with SIGINT ignored, and an ignored signal stays ignored across exec, so the CLI would never see
        # the SIGINT below. A handled one is reset to the default in the new program.
        previous = signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            child = subprocess.Popen(
                [sys.executable, "-m", "audit", "--org", "--role-name", org.role_name, "--endpoint-url",
                 server.endpoint_url, "--workers", "1", "--format", "json"],
                cwd=repo, env=offline_child_env(str(repo)), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )
        finally:
            signal.signal(signal.SIGINT, previous)
        deadline = time.monotonic() + 60
        while sum(c.action == action for c in server.calls()) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        child.send_signal(signal.SIGINT)
        stdout, stderr = child.communicate(timeout=30)
        exited = time.monotonic()
        time.sleep(after_s)
        calls = server.calls()
    finally:
        server.reset()  # moto's state is the whole process's: leave no organization behind
        server.stop()
        moto_root.reset()
    return _Interrupted(child.returncode, stdout, stderr, tuple(org.account_ids), tuple(calls), exited)


def test_org_cli_sigint_cancels_queued_accounts_exit_130() -> None:
    # Reports stay in progress for a minute, so no account can finish: Ctrl-C must stop the run at once, start
    # no further account (1 worker: at most 16 under way) and print every account as ERROR.
    import json

    from simulate.slow_moto import Timing

    run = _interrupt_org_cli(Timing(call_delay_s=0.0, report_window_s=60.0), 59, "AssumeRole", 5)
    summary = json.loads(run.stdout)
    assert (run.returncode, run.stderr.splitlines()[-1]) == (130, "python -m audit: interrupted")
    assert (summary["status"], summary["errors"]) == (
        "ERROR", ["the audit was interrupted (Ctrl-C); 60 account(s) were not audited"]
    )
    assert [a["account_id"] for a in summary["accounts"]] == sorted(run.account_ids)
    assert {(a["status"], a["reason"]) for a in summary["accounts"]} == {("ERROR", INTERRUPTED)}
    assert 5 <= sum(c.action == "AssumeRole" for c in run.calls) <= 16


def test_org_cli_sigint_during_the_listing_leaves_no_lister_behind() -> None:
    # `python -m audit` lists in a forked child (audit.lister). Ctrl-C to the audit mid-listing (a page takes
    # 0.3 s, six pages) must end that child too: no page is asked for after the audit has exited.
    import json

    from simulate.slow_moto import Timing

    # Read the calls a second (three pages' time) after the exit: a lister left running would ask for more.
    run = _interrupt_org_cli(Timing(call_delay_s=0.3, report_window_s=60.0), 119, "ListAccounts", 2, after_s=1.0)
    pages = [c for c in run.calls if c.action == "ListAccounts"]
    assert run.returncode == 130
    assert 1 <= len(pages) < 6
    assert [p.started for p in pages if p.started > run.exited] == []
    assert json.loads(run.stdout)["errors"][0] == (
        "organizations:ListAccounts was interrupted before its last page: accounts not yet listed were not audited"
    )


def test_org_listing_failing_midway_keeps_listed_verdicts_and_is_error(
    fake_clients: FakeClients, fast_retry: RetryPolicy
) -> None:
    # Accounts are audited as their page arrives: page 1's member has its verdict, and the run is still ERROR.
    member = "999999999999"
    _caller_identity(fake_clients)
    orgs = fake_clients.stub("organizations")
    orgs.add_response("list_accounts", {"Accounts": [_account(member, "ACTIVE")], "NextToken": "p2"})
    orgs.add_client_error("list_accounts", "AccessDeniedException", "Denied.", 400, expected_params={"NextToken": "p2"})
    iam = _assumed(fake_clients, member, "ASIAMEMBER0000000001")
    iam.add_response("generate_credential_report", {"State": "COMPLETE"})
    iam.add_response("get_credential_report", _report_of(member))
    org = audit_organization(fake_clients, AUDIT_ROLE, retry=fast_retry, progress=False, now=lambda: NOW)  # type: ignore[arg-type]
    assert _statuses(org) == {member: "PASS"}
    assert org.errors == (
        "organizations:ListAccounts failed (AccessDeniedException: Denied.); the caller lacks permission for "
        "organizations:ListAccounts",
    )
    assert org.status is Status.ERROR
    fake_clients.assert_no_pending()


def test_org_listing_throttled_page_waits_and_goes_on(
    fake_clients: FakeClients, fast_retry: RetryPolicy, recorder: Recorder
) -> None:
    member = "999999999999"
    _caller_identity(fake_clients)
    orgs = fake_clients.stub("organizations")
    orgs.add_response("list_accounts", {"Accounts": [], "NextToken": "p2"})
    orgs.add_client_error("list_accounts", "TooManyRequestsException", "Rate exceeded", 400, expected_params={"NextToken": "p2"})
    orgs.add_response("list_accounts", {"Accounts": [_account(member, "ACTIVE")]}, expected_params={"NextToken": "p2"})
    iam = _assumed(fake_clients, member, "ASIAMEMBER0000000001")
    iam.add_response("generate_credential_report", {"State": "COMPLETE"})
    iam.add_response("get_credential_report", _report_of(member))
    org = audit_organization(fake_clients, AUDIT_ROLE, retry=fast_retry, progress=False, now=lambda: NOW)  # type: ignore[arg-type]
    assert (_statuses(org), org.errors, recorder.sleeps) == ({member: "PASS"}, (), [1.0])
    fake_clients.assert_no_pending()


def test_org_listing_token_cycle_is_error(fake_clients: FakeClients, fast_retry: RetryPolicy) -> None:
    # p2 -> p3 -> p2 would list the same pages forever; the second p2 ends the listing as the run's ERROR.
    _caller_identity(fake_clients)
    orgs = fake_clients.stub("organizations")
    orgs.add_response("list_accounts", {"Accounts": [], "NextToken": "p2"})
    orgs.add_response("list_accounts", {"Accounts": [], "NextToken": "p3"}, expected_params={"NextToken": "p2"})
    orgs.add_response("list_accounts", {"Accounts": [], "NextToken": "p2"}, expected_params={"NextToken": "p3"})
    org = audit_organization(fake_clients, AUDIT_ROLE, retry=fast_retry, progress=False, now=lambda: NOW)  # type: ignore[arg-type]
    assert (org.accounts, org.errors) == ((), ("organizations:ListAccounts returned NextToken 'p2' a second time",))
    fake_clients.assert_no_pending()


def test_org_listing_page_of_unexpected_shape_adds_none_of_it(fake_clients: FakeClients, fast_retry: RetryPolicy) -> None:
    # The second entry has no Id: the page is the listing's ERROR, and its first entry is not audited either.
    _caller_identity(fake_clients)
    fake_clients.stub("organizations").add_response(
        "list_accounts", {"Accounts": [_account("999999999999", "ACTIVE"), {"Name": "no id", "State": "ACTIVE"}]}
    )
    org = audit_organization(fake_clients, AUDIT_ROLE, retry=fast_retry, progress=False, now=lambda: NOW)  # type: ignore[arg-type]
    assert (org.accounts, org.errors) == ((), ("organizations:ListAccounts failed (unexpected KeyError: 'Id')",))


def test_org_interrupt_while_listing_says_accounts_were_not_listed(
    fake_clients: FakeClients, fast_retry: RetryPolicy, monkeypatch: pytest.MonkeyPatch
) -> None:
    member = "999999999999"
    _caller_identity(fake_clients)
    fake_clients.stub("organizations").add_response(
        "list_accounts", {"Accounts": [_account(member, "ACTIVE")], "NextToken": "p2"}
    )
    step = AccountListing.step
    pages = iter([False, True])

    def interrupt_second_page(listing: AccountListing) -> float | None:
        if next(pages):
            raise KeyboardInterrupt
        return step(listing)

    monkeypatch.setattr(AccountListing, "step", interrupt_second_page)
    with pytest.raises(AuditInterrupted) as excinfo:
        audit_organization(fake_clients, AUDIT_ROLE, workers=1, retry=fast_retry, progress=False, now=lambda: NOW)  # type: ignore[arg-type]
    audit = excinfo.value.audit
    assert [(r.account_id, r.status, r.reason) for r in audit.accounts] == [(member, Status.ERROR, INTERRUPTED)]
    assert audit.errors == (
        "organizations:ListAccounts was interrupted before its last page: accounts not yet listed were not audited",
    )


def test_org_listing_page_without_accounts_list_is_error(fake_clients: FakeClients, fast_retry: RetryPolicy) -> None:
    # botocore reads a 200 HTML page as {}: no Accounts and no NextToken, which must not end the listing as
    # complete after page 1, leaving every later account out of a PASS.
    member = "999999999999"
    _caller_identity(fake_clients)
    orgs = fake_clients.stub("organizations")
    orgs.add_response("list_accounts", {"Accounts": [_account(member, "ACTIVE")], "NextToken": "p2"})
    orgs.add_response("list_accounts", {}, expected_params={"NextToken": "p2"})
    iam = _assumed(fake_clients, member, "ASIAMEMBER0000000001")
    iam.add_response("generate_credential_report", {"State": "COMPLETE"})
    iam.add_response("get_credential_report", _report_of(member))
    org = audit_organization(fake_clients, AUDIT_ROLE, retry=fast_retry, progress=False, now=lambda: NOW)  # type: ignore[arg-type]
    assert (_statuses(org), org.errors, org.status) == (
        {member: "PASS"}, ("organizations:ListAccounts answered a page without an Accounts list (an empty answer)",), Status.ERROR)
    fake_clients.assert_no_pending()


@pytest.mark.parametrize("state", [None, "SOMETHING_NEW"], ids=["no-state", "unknown-state"])
def test_org_account_of_unrecognised_state_is_audited(fake_clients: FakeClients, fast_retry: RetryPolicy, state: Any) -> None:
    # Only the states that cannot hold a usable key are skipped: an account the audit cannot place is audited.
    member = "999999999999"
    _caller_identity(fake_clients)
    account = {k: v for k, v in _account(member, state or "").items() if k != "State" or state is not None}
    fake_clients.stub("organizations").add_response("list_accounts", {"Accounts": [account]})
    iam = _assumed(fake_clients, member, "ASIAMEMBER0000000001")
    iam.add_response("generate_credential_report", {"State": "COMPLETE"})
    iam.add_response("get_credential_report", _report_of(member, access_key_1_active="true", access_key_1_last_rotated="2025-02-03T04:05:06+00:00"))
    org = audit_organization(fake_clients, AUDIT_ROLE, retry=fast_retry, progress=False, now=lambda: NOW)  # type: ignore[arg-type]
    assert (_statuses(org), org.errors) == ({member: "FAIL"}, ())
    fake_clients.assert_no_pending()


class _EndlessPages:
    """ListAccounts answering forever, each page with a new token: empty, or naming the same account again."""

    def __init__(self, accounts: list[dict[str, Any]]) -> None:
        self.accounts, self.calls = accounts, 0

    def list_accounts(self, **_: Any) -> dict[str, Any]:
        self.calls += 1
        return {"Accounts": self.accounts, "NextToken": f"token-{self.calls}"}


@pytest.mark.parametrize("accounts", [[], [_account("999999999999", "ACTIVE")]], ids=["empty", "same-account"])
def test_org_listing_that_never_ends_is_error(accounts: list[dict[str, Any]]) -> None:
    pages = _EndlessPages(accounts)
    listing = AccountListing(pages, lambda _: None, policy=RetryPolicy())
    while listing.step() is not None:
        assert pages.calls <= MAX_IDLE_PAGES + 2
    assert (listing.complete, listing.listed) == (False, len(accounts))
    assert listing.error == (
        f"organizations:ListAccounts returned {MAX_IDLE_PAGES + 1} pages in a row with no account not listed before, "
        f"each with a new NextToken: the listing does not end")


def test_org_interrupt_before_the_jobs_run_closes_the_listing(monkeypatch: pytest.MonkeyPatch, fast_retry: RetryPolicy) -> None:
    # Ctrl-C while GetCallerIdentity is asked: the listing (a forked child in the CLI) must not outlive the run.
    closed: list[bool] = []
    monkeypatch.setattr(AccountListing, "close", lambda self: closed.append(True))
    monkeypatch.setattr("audit.org.can_fork", lambda: False)

    def interrupted(_: Any) -> str:
        raise KeyboardInterrupt

    class _NoCalls:
        def scheduled(self, service: str) -> object:
            return object()

    monkeypatch.setattr("audit.org.caller_account_id", interrupted)
    with pytest.raises(KeyboardInterrupt):
        audit_organization(_NoCalls(), AUDIT_ROLE, retry=fast_retry, progress=False)  # type: ignore[arg-type]
    assert closed == [True]


def test_org_unexpected_answer_names_the_call(fake_clients: FakeClients, fast_retry: RetryPolicy) -> None:
    member = "999999999999"
    _caller_identity(fake_clients)
    fake_clients.stub("organizations").add_response("list_accounts", {"Accounts": [_account(member, "ACTIVE")]})
    fake_clients.stub("sts").add_response("assume_role", {})
    org = audit_organization(fake_clients, AUDIT_ROLE, retry=fast_retry, progress=False, now=lambda: NOW)  # type: ignore[arg-type]
    assert [a.reason for a in org.accounts] == ["sts:AssumeRole failed (unexpected KeyError: 'Credentials')"]


def test_org_call_unanswered_at_the_stop_time_is_abandoned(fake_clients: FakeClients, monkeypatch: pytest.MonkeyPatch) -> None:
    # A timeout bounds each socket read, not a whole answer: an endpoint trickling a byte at a time keeps a call
    # going past every deadline. The run gives it up shortly after its stop time, so the Lambda still publishes.
    import threading
    import time

    member = "999999999999"
    _caller_identity(fake_clients)
    fake_clients.stub("organizations").add_response("list_accounts", {"Accounts": [_account(member, "ACTIVE")]})
    released = threading.Event()

    def trickling(*_: Any) -> Any:
        released.wait(30)
        raise RuntimeError("released")

    monkeypatch.setattr("audit.org._assume_audit_role", trickling)
    monkeypatch.setattr("audit.org.can_fork", lambda: False)
    policy = RetryPolicy(call_seconds=0.1)
    started = time.monotonic()
    try:
        org = audit_organization(fake_clients, AUDIT_ROLE, retry=policy, progress=False, now=lambda: NOW,  # type: ignore[arg-type]
                                 stop_at=policy.clock() + 1.0)
        took = time.monotonic() - started
    finally:
        released.set()
    assert took < 1.0 + GIVE_UP_GRACE_S + 1.0
    assert [(a.account_id, a.reason) for a in org.accounts] == [(member, CUT_OFF)]
    assert org.errors == ("the run's time ran out with calls still unanswered; 1 account(s) were not audited",)
