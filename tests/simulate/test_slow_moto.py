"""Tests for simulate.slow_moto: the AWS-timed moto server behind the root access key audit's benchmark and demo
(CIS 1.4, Security Hub IAM.4)."""

from __future__ import annotations

import csv
import io
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from simulate import moto_root
from simulate.slow_moto import (
    AUDIT_ROLE_NAME,
    SlowMotoServer,
    Timing,
    client,
    create_organization,
)

# Short enough to keep the suite fast, long enough that "immediately after" is well inside it.
WINDOW_S = 1.0


@pytest.fixture(scope="module")
def server() -> Iterator[SlowMotoServer]:
    moto_root.install()
    srv = SlowMotoServer(Timing(call_delay_s=0.0, report_window_s=WINDOW_S))
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(autouse=True)
def _clean(server: SlowMotoServer) -> Iterator[None]:
    server.reset()
    server.timing = Timing(call_delay_s=0.0, report_window_s=WINDOW_S)
    moto_root.reset()
    yield
    # moto's state is the whole process's: leave no organization for another in-process server's tests.
    server.reset()
    moto_root.reset()


def _member_iam(server: SlowMotoServer, account_id: str) -> Any:
    creds = client("sts", server.endpoint_url).assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/{AUDIT_ROLE_NAME}", RoleSessionName="test-audit"
    )["Credentials"]
    return client("iam", server.endpoint_url, creds)


def _error_code(call: Any) -> str:
    with pytest.raises(ClientError) as excinfo:
        call()
    return str(excinfo.value.response["Error"]["Code"])


def test_slow_moto_report_in_window_in_progress_then_ready(server: SlowMotoServer) -> None:
    iam = client("iam", server.endpoint_url)
    first = iam.generate_credential_report()["State"]
    again = iam.generate_credential_report()["State"]
    in_window = _error_code(iam.get_credential_report)
    time.sleep(WINDOW_S)
    report = iam.get_credential_report()
    after = iam.generate_credential_report()["State"]
    assert (first, again, in_window, after) == ("STARTED", "INPROGRESS", "ReportInProgress", "COMPLETE")
    assert next(csv.DictReader(io.StringIO(report["Content"].decode("utf-8"))))["user"] == "<root_account>"


def test_slow_moto_report_in_progress_is_iam_error_shape(server: SlowMotoServer) -> None:
    iam = client("iam", server.endpoint_url)
    iam.generate_credential_report()
    with pytest.raises(iam.exceptions.CredentialReportNotReadyException) as excinfo:
        iam.get_credential_report()
    error, metadata = excinfo.value.response["Error"], excinfo.value.response["ResponseMetadata"]
    assert (error["Code"], error["Message"], metadata["HTTPStatusCode"]) == (
        "ReportInProgress",
        "The credential report is still being generated.",
        404,
    )


def test_slow_moto_report_not_requested_not_present(server: SlowMotoServer) -> None:
    assert _error_code(client("iam", server.endpoint_url).get_credential_report) == "ReportNotPresent"


def test_slow_moto_report_window_per_account_other_account_unaffected(server: SlowMotoServer) -> None:
    with server.delays_paused():
        org = create_organization(server.endpoint_url, 2)
    first, second = (_member_iam(server, account) for account in org.member_account_ids)
    first.generate_credential_report()
    assert _error_code(first.get_credential_report) == "ReportInProgress"
    assert _error_code(second.get_credential_report) == "ReportNotPresent"
    assert second.generate_credential_report()["State"] == "STARTED"


def test_slow_moto_report_window_zero_ready_at_once(server: SlowMotoServer) -> None:
    server.timing = Timing(call_delay_s=0.0, report_window_s=0.0)
    iam = client("iam", server.endpoint_url)
    assert iam.generate_credential_report()["State"] == "STARTED"
    assert iam.get_credential_report()["ReportFormat"] == "text/csv"


def test_slow_moto_delays_paused_no_window(server: SlowMotoServer) -> None:
    iam = client("iam", server.endpoint_url)
    iam.generate_credential_report()
    with server.delays_paused():
        assert iam.get_credential_report()["ReportFormat"] == "text/csv"
    assert _error_code(iam.get_credential_report) == "ReportInProgress"


def test_slow_moto_delay_holds_every_call_at_least_delay(server: SlowMotoServer) -> None:
    delay = 0.2
    server.timing = Timing(call_delay_s=delay, report_window_s=0.0)
    server.clear_calls()
    sts = client("sts", server.endpoint_url)
    sts.get_caller_identity()
    sts.get_caller_identity()
    calls = server.calls()
    # A lower bound only: sleep never returns early, so this cannot flake on a busy machine.
    assert [(c.action, c.finished - c.started >= delay) for c in calls] == [
        ("GetCallerIdentity", True),
        ("GetCallerIdentity", True),
    ]


def test_slow_moto_delayed_calls_served_concurrently(server: SlowMotoServer) -> None:
    # If the server handled one request at a time, each call would start after the previous one finished.
    server.timing = Timing(call_delay_s=1.0, report_window_s=0.0)
    server.clear_calls()
    start = threading.Barrier(4)

    def call() -> None:
        sts = client("sts", server.endpoint_url)
        start.wait()
        sts.get_caller_identity()

    threads = [threading.Thread(target=call) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    calls = server.calls()
    assert len(calls) == 4
    assert max(c.started for c in calls) < min(c.finished for c in calls)


@pytest.mark.parametrize("members", [0, 1, 5])
def test_slow_moto_create_organization_lists_members_active(server: SlowMotoServer, members: int) -> None:
    with server.delays_paused():
        org = create_organization(server.endpoint_url, members)
    pages = client("organizations", server.endpoint_url).get_paginator("list_accounts").paginate(MaxResults=2)
    listed = [(a["Id"], a["Status"]) for page in pages for a in page["Accounts"]]
    assert sorted(listed) == sorted((account, "ACTIVE") for account in org.account_ids)
    assert len(set(org.member_account_ids)) == members
    assert org.management_account_id not in org.member_account_ids


def test_slow_moto_keeps_connections_alive(server: SlowMotoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    # AWS's endpoints keep a connection open; moto's werkzeug server closed it after every answer, so each call
    # paid for a new connection and a new server thread. Every TCP connect urllib3 makes, reconnects too, is counted.
    import urllib3.util.connection

    connects: list[object] = []
    create = urllib3.util.connection.create_connection

    def counting(*args: Any, **kwargs: Any) -> Any:
        connects.append(args[0])
        return create(*args, **kwargs)

    monkeypatch.setattr(urllib3.util.connection, "create_connection", counting)
    sts = client("sts", server.endpoint_url)
    for _ in range(5):
        sts.get_caller_identity()
    assert len(connects) == 1


def test_slow_moto_lists_accounts_by_awss_largest_page(server: SlowMotoServer) -> None:
    with server.delays_paused():
        org = create_organization(server.endpoint_url, 44)
    pages = list(client("organizations", server.endpoint_url).get_paginator("list_accounts").paginate())
    assert [len(page["Accounts"]) for page in pages] == [20, 20, 5]
    assert sorted(a["Id"] for page in pages for a in page["Accounts"]) == sorted(org.account_ids)


def test_slow_moto_stop_gives_moto_its_own_page_back() -> None:
    from moto.organizations.utils import PAGINATION_MODEL

    model = PAGINATION_MODEL["list_accounts"]
    before = model["limit_default"]
    model["limit_default"] = 77  # whatever it was: a stopped server leaves it so
    try:
        other = SlowMotoServer(Timing(call_delay_s=0.0, report_window_s=0.0))
        other.start()
        during = model["limit_default"]
        other.stop()
        assert (during, model["limit_default"]) == (20, 77)
    finally:
        model["limit_default"] = before


def test_slow_moto_create_organization_assumed_role_lands_in_member(server: SlowMotoServer) -> None:
    with server.delays_paused():
        org = create_organization(server.endpoint_url, 3)
    landed = []
    for account in org.member_account_ids:
        creds = client("sts", server.endpoint_url).assume_role(
            RoleArn=f"arn:aws:iam::{account}:role/{AUDIT_ROLE_NAME}", RoleSessionName="test-audit"
        )["Credentials"]
        identity = client("sts", server.endpoint_url, creds).get_caller_identity()
        role = client("iam", server.endpoint_url, creds).get_role(RoleName=AUDIT_ROLE_NAME)["Role"]
        landed.append((identity["Account"], role["Arn"]))
    assert landed == [(a, f"arn:aws:iam::{a}:role/{AUDIT_ROLE_NAME}") for a in org.member_account_ids]


def test_slow_moto_create_organization_root_credentials_only_in_chosen_member(server: SlowMotoServer) -> None:
    server.timing = Timing(call_delay_s=0.0, report_window_s=0.0)
    with server.delays_paused():
        org = create_organization(
            server.endpoint_url, 3, root_credentials={1: moto_root.RootCredentials(key_1_active=True)}
        )
    active = []
    for account in org.member_account_ids:
        iam = _member_iam(server, account)
        iam.generate_credential_report()
        root = next(csv.DictReader(io.StringIO(iam.get_credential_report()["Content"].decode("utf-8"))))
        active.append((root["arn"], root["access_key_1_active"]))
    assert active == [
        (f"arn:aws:iam::{org.member_account_ids[0]}:root", "false"),
        (f"arn:aws:iam::{org.member_account_ids[1]}:root", "true"),
        (f"arn:aws:iam::{org.member_account_ids[2]}:root", "false"),
    ]


def test_slow_moto_calls_counted_by_subject_account_and_action(server: SlowMotoServer) -> None:
    with server.delays_paused():
        org = create_organization(server.endpoint_url, 1)
    server.clear_calls()
    member = org.member_account_ids[0]
    iam = _member_iam(server, member)
    iam.generate_credential_report()
    with pytest.raises(ClientError):
        iam.get_credential_report()
    client("organizations", server.endpoint_url).list_accounts()
    counted = Counter((c.subject_account_id, c.service, c.action, c.status) for c in server.calls())
    assert counted == Counter(
        {
            (member, "sts", "AssumeRole", 200): 1,
            (member, "iam", "GenerateCredentialReport", 200): 1,
            (member, "iam", "GetCredentialReport", 404): 1,
            (org.management_account_id, "organizations", "ListAccounts", 200): 1,
        }
    )
    assume = next(c for c in server.calls() if c.action == "AssumeRole")
    assert (assume.account_id, assume.subject_account_id) == (org.management_account_id, member)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"call_delay_s": -0.1}, "Timing.call_delay_s must be a number of seconds from 0 to 600, got -0.1"),
        ({"report_window_s": "2"}, "Timing.report_window_s must be a number of seconds from 0 to 600, got '2'"),
        ({"report_window_s": True}, "Timing.report_window_s must be a number of seconds from 0 to 600, got True"),
        ({"call_delay_s": 601}, "Timing.call_delay_s must be a number of seconds from 0 to 600, got 601"),
    ],
)
def test_slow_moto_timing_invalid_value_raises(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        Timing(**kwargs)  # type: ignore[arg-type]
    assert str(excinfo.value) == message


@pytest.mark.parametrize(
    ("members", "message"),
    [
        (-1, "members must be an integer from 0 to 5000, got -1"),
        (True, "members must be an integer from 0 to 5000, got True"),
        ("3", "members must be an integer from 0 to 5000, got '3'"),
    ],
)
def test_slow_moto_create_organization_bad_members_raises(
    server: SlowMotoServer, members: object, message: str
) -> None:
    with pytest.raises(ValueError) as excinfo:
        create_organization(server.endpoint_url, members)  # type: ignore[arg-type]
    assert str(excinfo.value) == message


def test_slow_moto_create_organization_root_credentials_bad_index_raises(server: SlowMotoServer) -> None:
    with pytest.raises(ValueError) as excinfo:
        with server.delays_paused():
            create_organization(server.endpoint_url, 2, root_credentials={2: moto_root.RootCredentials()})
    assert str(excinfo.value) == "root_credentials index 2 is outside 0..1"


def test_slow_moto_forget_reports_next_generation_opens_new_window(server: SlowMotoServer) -> None:
    iam = client("iam", server.endpoint_url)
    iam.generate_credential_report()
    with server.delays_paused():
        iam.get_credential_report()
    server.forget_reports()
    assert _error_code(iam.get_credential_report) == "ReportNotPresent"
    assert iam.generate_credential_report()["State"] == "STARTED"
    assert _error_code(iam.get_credential_report) == "ReportInProgress"


def test_slow_moto_report_generated_while_paused_ready_after_pause(server: SlowMotoServer) -> None:
    iam = client("iam", server.endpoint_url)
    with server.delays_paused():
        assert iam.generate_credential_report()["State"] == "STARTED"
    assert iam.generate_credential_report()["State"] == "COMPLETE"
    assert iam.get_credential_report()["ReportFormat"] == "text/csv"
