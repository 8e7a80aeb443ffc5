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


ROOT_ARN = f"arn:aws:iam::{MEMBER}:root"


def _keys(*pairs: tuple[str, str], user: str = "root") -> dict[str, Any]:
    return {
        "AccessKeyMetadata": [
            {"UserName": user, "AccessKeyId": key, "Status": status, "CreateDate": datetime(2025, 1, 1, tzinfo=timezone.utc)}
            for key, status in pairs
        ],
        "IsTruncated": False,
    }


def _arrange(fake: FakeClients, keys: dict[str, Any], *, arn: str | None = ROOT_ARN) -> Any:
    fake.stub("sts").add_response("assume_root", {"Credentials": ROOT_CREDS}, expected_params=ASSUME_ROOT_PARAMS)
    identity = {"UserId": MEMBER, "Account": MEMBER, **({"Arn": arn} if arn is not None else {})}
    fake.stub_for(ROOT_CREDS["AccessKeyId"], "sts").add_response("get_caller_identity", identity, expected_params={})
    iam = fake.stub_for(ROOT_CREDS["AccessKeyId"], "iam")
    if arn == ROOT_ARN:
        iam.add_response("list_access_keys", keys, expected_params={})
    return iam


def _arrange_deleted(fake: FakeClients, *, relisted: dict[str, Any] | None = None) -> Any:
    """The baseline: one active root key, deleted, and gone from the second listing (or `relisted`)."""
    iam = _arrange(fake, _keys(("AKIAROOTKEY000000001", "Active")))
    iam.add_response("delete_access_key", {}, expected_params={"AccessKeyId": "AKIAROOTKEY000000001"})
    iam.add_response("list_access_keys", relisted if relisted is not None else _keys(), expected_params={})
    return iam


def test_remediate_deletes_every_root_key_and_logs_each(fake_clients: FakeClients, caplog: pytest.LogCaptureFixture) -> None:
    iam = _arrange(fake_clients, _keys(("AKIAROOTKEY000000001", "Active"), ("AKIAROOTKEY000000002", "Inactive")))
    iam.add_response("delete_access_key", {}, expected_params={"AccessKeyId": "AKIAROOTKEY000000001"})
    iam.add_response("delete_access_key", {}, expected_params={"AccessKeyId": "AKIAROOTKEY000000002"})
    iam.add_response("list_access_keys", _keys(), expected_params={})
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


def test_remediate_baseline_deletes_and_confirms(fake_clients: FakeClients) -> None:
    _arrange_deleted(fake_clients)
    outcome = remediate_account(fake_clients, MEMBER, dry_run=False)  # type: ignore[arg-type]
    assert (outcome.actions, outcome.error) == ((f"account {MEMBER}: deleted active root access key AKIAROOTKEY000000001",), None)
    fake_clients.assert_no_pending()


def test_remediate_empty_listing_after_a_deletion_is_a_note_not_an_error(fake_clients: FakeClients) -> None:
    # AWS serves the report for up to 4 hours: the run after a deletion still sees the key in it. That must not
    # make every hourly run ERROR; the verdict stays FAIL until a newer report shows no key.
    _arrange(fake_clients, _keys())
    outcome = remediate_account(fake_clients, MEMBER, dry_run=False)  # type: ignore[arg-type]
    assert outcome.error is None
    assert outcome.actions == (
        f"account {MEMBER}: the root user lists no access key now; the credential report, which shows one, predates "
        "its deletion, and the verdict stands until a newer report confirms it",
    )
    fake_clients.assert_no_pending()


@pytest.mark.parametrize(
    ("arn", "returned"),
    [
        ("arn:aws:iam::999988887777:root", "Arn arn:aws:iam::999988887777:root"),
        (f"arn:aws:sts::{MEMBER}:assumed-role/Admin/s", f"Arn arn:aws:sts::{MEMBER}:assumed-role/Admin/s"),
        (f"arn:aws-us-gov:iam::{MEMBER}:root", f"Arn arn:aws-us-gov:iam::{MEMBER}:root"),
        (None, "no Arn"),
    ],
)
@pytest.mark.parametrize("dry_run", [False, True])
def test_remediate_session_not_target_root_is_error(
    fake_clients: FakeClients, arn: str | None, returned: str, dry_run: bool
) -> None:
    _arrange(fake_clients, _keys(("AKIAROOTKEY000000001", "Active")), arn=arn)
    outcome = remediate_account(fake_clients, MEMBER, dry_run=dry_run)  # type: ignore[arg-type]
    assert outcome.actions == ()
    assert outcome.error == (
        f"the sts:AssumeRoot session for {MEMBER} is not that account's root user: sts:GetCallerIdentity returned "
        f"{returned}, expected {ROOT_ARN}; nothing deleted"
    )
    fake_clients.assert_no_pending()  # nothing listed, nothing deleted


def test_remediate_caller_identity_failure_is_error(fake_clients: FakeClients) -> None:
    fake_clients.stub("sts").add_response("assume_root", {"Credentials": ROOT_CREDS}, expected_params=ASSUME_ROOT_PARAMS)
    fake_clients.stub_for(ROOT_CREDS["AccessKeyId"], "sts").add_client_error(
        "get_caller_identity", "ExpiredToken", "The security token included in the request is expired", 403
    )
    outcome = remediate_account(fake_clients, MEMBER, dry_run=False)  # type: ignore[arg-type]
    assert outcome.actions == ()
    assert outcome.error == (
        f"sts:GetCallerIdentity with the sts:AssumeRoot session for {MEMBER} failed (ExpiredToken: The security token "
        "included in the request is expired)"
    )
    fake_clients.assert_no_pending()


@pytest.mark.parametrize("dry_run", [False, True])
def test_remediate_listed_key_of_iam_user_is_not_deleted(fake_clients: FakeClients, dry_run: bool) -> None:
    _arrange(fake_clients, _keys(("AKIAUSERKEYOTHER0001", "Active"), user="alice"))
    outcome = remediate_account(fake_clients, MEMBER, dry_run=dry_run)  # type: ignore[arg-type]
    assert outcome.actions == ()
    assert outcome.error == (
        f"iam:ListAccessKeys as root of {MEMBER} listed access key AKIAUSERKEYOTHER0001 of user alice, not of the root "
        "user; nothing deleted"
    )
    fake_clients.assert_no_pending()  # no delete_access_key queued, none called


def test_remediate_key_without_user_name_is_roots(fake_clients: FakeClients) -> None:
    keys = _keys(("AKIAROOTKEY000000001", "Active"))
    del keys["AccessKeyMetadata"][0]["UserName"]
    iam = _arrange(fake_clients, keys)
    iam.add_response("delete_access_key", {}, expected_params={"AccessKeyId": "AKIAROOTKEY000000001"})
    iam.add_response("list_access_keys", _keys(), expected_params={})
    outcome = remediate_account(fake_clients, MEMBER, dry_run=False)  # type: ignore[arg-type]
    assert (outcome.actions, outcome.error) == ((f"account {MEMBER}: deleted active root access key AKIAROOTKEY000000001",), None)
    fake_clients.assert_no_pending()


def test_remediate_key_still_listed_after_delete_is_error(fake_clients: FakeClients) -> None:
    _arrange_deleted(fake_clients, relisted=_keys(("AKIAROOTKEY000000001", "Active")))
    outcome = remediate_account(fake_clients, MEMBER, dry_run=False)  # type: ignore[arg-type]
    assert outcome.actions == ()  # never "deleted"
    assert outcome.error == (
        f"iam:DeleteAccessKey answered but key AKIAROOTKEY000000001 is still listed for the root of {MEMBER}"
    )
    fake_clients.assert_no_pending()


def test_remediate_new_key_after_delete_is_error(fake_clients: FakeClients) -> None:
    _arrange_deleted(fake_clients, relisted=_keys(("AKIAROOTKEY000000009", "Active")))
    outcome = remediate_account(fake_clients, MEMBER, dry_run=False)  # type: ignore[arg-type]
    assert outcome.actions == (f"account {MEMBER}: deleted active root access key AKIAROOTKEY000000001",)
    assert outcome.error == (
        f"the root user of {MEMBER} has access key AKIAROOTKEY000000009 after the deletion, not listed before; not deleted"
    )
    fake_clients.assert_no_pending()


def test_remediate_relisting_of_iam_user_key_is_error(fake_clients: FakeClients) -> None:
    _arrange_deleted(fake_clients, relisted=_keys(("AKIAUSERKEYOTHER0001", "Active"), user="alice"))
    outcome = remediate_account(fake_clients, MEMBER, dry_run=False)  # type: ignore[arg-type]
    assert outcome.actions == ()
    assert outcome.error == (
        f"iam:ListAccessKeys as root of {MEMBER} after the deletion listed access key AKIAUSERKEYOTHER0001 of user "
        "alice, not of the root user; the deletion of key AKIAROOTKEY000000001 is unconfirmed"
    )
    fake_clients.assert_no_pending()


def test_remediate_relisting_failure_leaves_deletion_unconfirmed(fake_clients: FakeClients) -> None:
    iam = _arrange(fake_clients, _keys(("AKIAROOTKEY000000001", "Active")))
    iam.add_response("delete_access_key", {}, expected_params={"AccessKeyId": "AKIAROOTKEY000000001"})
    iam.add_client_error("list_access_keys", "ServiceFailure", "internal error", 500)
    outcome = remediate_account(fake_clients, MEMBER, dry_run=False)  # type: ignore[arg-type]
    assert outcome.actions == ()
    assert outcome.error == (
        f"iam:ListAccessKeys as root of {MEMBER} after the deletion failed (ServiceFailure: internal error); the deletion of "
        "key AKIAROOTKEY000000001 is unconfirmed"
    )
    fake_clients.assert_no_pending()


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
    iam.add_response("list_access_keys", _keys(), expected_params={})
    outcome = remediate_account(fake_clients, MEMBER, dry_run=False)  # type: ignore[arg-type]
    assert outcome.actions == (f"account {MEMBER}: deleted active root access key AKIAROOTKEY000000001",)
    assert outcome.error == (
        f"iam:DeleteAccessKey AKIAROOTKEY000000002 as root of {MEMBER} failed (NoSuchEntity: The Access Key with id "
        "AKIAROOTKEY000000002 cannot be found.)"
    )
    fake_clients.assert_no_pending()


@pytest.mark.parametrize(
    ("partition", "arn"),
    [
        ("aws", "arn:aws:iam::aws:policy/root-task/IAMDeleteRootUserCredentials"),
        ("aws-us-gov", "arn:aws-us-gov:iam::aws:policy/root-task/IAMDeleteRootUserCredentials"),
    ],
)
def test_remediate_task_policy_arn_follows_partition(partition: str, arn: str) -> None:
    assert task_policy_arn(partition) == arn
