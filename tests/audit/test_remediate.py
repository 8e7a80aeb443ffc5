"""Opt-in remediation of CIS 1.4 / IAM.4 through sts:AssumeRoot (moto has no AssumeRoot: botocore Stubber)."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

import pytest

from audit.remediate import remediate_account, task_policy_arn
from tests.audit.helpers import FakeClients

MEMBER = "444455556666"
ROOT_CREDS: dict[str, Any] = {
    "AccessKeyId": "ASIAROOTSESSION00001",
    "SecretAccessKey": "secret",
    "SessionToken": "token",
    "Expiration": datetime(2026, 11, 29, 11, 0, tzinfo=timezone.utc),
}
ASSUME_ROOT_PARAMS = {
    "TargetPrincipal": MEMBER,
    "TaskPolicyArn": {"arn": "arn:aws:iam::aws:policy/root-task/IAMDeleteRootUserCredentials"},
    "DurationSeconds": 900,
}


def _keys(*pairs: tuple[str, str]) -> dict[str, Any]:
    return {
        "AccessKeyMetadata": [
            {"UserName": "root", "AccessKeyId": key, "Status": status, "CreateDate": datetime(2025, 1, 1, tzinfo=timezone.utc)}
            for key, status in pairs
        ],
        "IsTruncated": False,
    }


def _arrange(fake: FakeClients, keys: dict[str, Any]) -> Any:
    fake.stub("sts").add_response("assume_root", {"Credentials": ROOT_CREDS}, expected_params=ASSUME_ROOT_PARAMS)
    iam = fake.stub_for(ROOT_CREDS["AccessKeyId"], "iam")
    iam.add_response("list_access_keys", keys, expected_params={})
    return iam


def test_remediate_deletes_every_root_key_and_logs_each(fake_clients: FakeClients, caplog: pytest.LogCaptureFixture) -> None:
    iam = _arrange(fake_clients, _keys(("AKIAROOTKEY000000001", "Active"), ("AKIAROOTKEY000000002", "Inactive")))
    iam.add_response("delete_access_key", {}, expected_params={"AccessKeyId": "AKIAROOTKEY000000001"})
    iam.add_response("delete_access_key", {}, expected_params={"AccessKeyId": "AKIAROOTKEY000000002"})
    with caplog.at_level(logging.WARNING, logger="audit.remediate"):
        outcome = remediate_account(fake_clients, MEMBER, dry_run=False)  # type: ignore[arg-type]
    expected = (
        f"account {MEMBER}: deleted active root access key AKIAROOTKEY000000001",
        f"account {MEMBER}: deleted inactive root access key AKIAROOTKEY000000002",
    )
    assert (outcome.actions, outcome.error) == (expected, None)
    assert tuple(r.getMessage() for r in caplog.records) == expected
    assert fake_clients.credentials_seen == [ROOT_CREDS]
    fake_clients.assert_no_pending()


def test_remediate_dry_run_deletes_nothing(fake_clients: FakeClients) -> None:
    _arrange(fake_clients, _keys(("AKIAROOTKEY000000001", "Active")))
    outcome = remediate_account(fake_clients, MEMBER, dry_run=True)  # type: ignore[arg-type]
    assert outcome.actions == (f"account {MEMBER}: would delete active root access key AKIAROOTKEY000000001 (dry run)",)
    assert outcome.error is None
    fake_clients.assert_no_pending()  # no delete_access_key was queued, and none was called


def test_remediate_no_keys_says_so(fake_clients: FakeClients) -> None:
    _arrange(fake_clients, _keys())
    outcome = remediate_account(fake_clients, MEMBER, dry_run=False)  # type: ignore[arg-type]
    assert outcome.actions == (f"account {MEMBER}: the root user has no access key to delete",)


def test_remediate_assume_root_denied_is_error(fake_clients: FakeClients) -> None:
    fake_clients.stub("sts").add_client_error("assume_root", "AccessDenied", "not authorized to perform sts:AssumeRoot", 403)
    outcome = remediate_account(fake_clients, MEMBER, dry_run=False)  # type: ignore[arg-type]
    assert outcome.actions == ()
    assert outcome.error == (
        f"sts:AssumeRoot into {MEMBER} failed (AccessDenied: not authorized to perform sts:AssumeRoot); centralized "
        "root access must be enabled and the caller must be the management account or the delegated administrator "
        "for IAM, with sts:AssumeRoot"
    )


def test_remediate_delete_failure_stops_and_reports(fake_clients: FakeClients) -> None:
    iam = _arrange(fake_clients, _keys(("AKIAROOTKEY000000001", "Active"), ("AKIAROOTKEY000000002", "Active")))
    iam.add_response("delete_access_key", {}, expected_params={"AccessKeyId": "AKIAROOTKEY000000001"})
    iam.add_client_error("delete_access_key", "NoSuchEntity", "The Access Key with id AKIAROOTKEY000000002 cannot be found.", 404)
    outcome = remediate_account(fake_clients, MEMBER, dry_run=False)  # type: ignore[arg-type]
    assert outcome.actions == (f"account {MEMBER}: deleted active root access key AKIAROOTKEY000000001",)
    assert outcome.error == (
        f"iam:DeleteAccessKey AKIAROOTKEY000000002 as root of {MEMBER} failed (NoSuchEntity: The Access Key with id "
        "AKIAROOTKEY000000002 cannot be found.)"
    )


@pytest.mark.parametrize(
    ("partition", "arn"),
    [
        ("aws", "arn:aws:iam::aws:policy/root-task/IAMDeleteRootUserCredentials"),
        ("aws-us-gov", "arn:aws-us-gov:iam::aws:policy/root-task/IAMDeleteRootUserCredentials"),
    ],
)
def test_remediate_task_policy_arn_follows_partition(partition: str, arn: str) -> None:
    assert task_policy_arn(partition) == arn
