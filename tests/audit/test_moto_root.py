"""Tests for simulate.moto_root: moto's credential report gets AWS's root row (CIS 1.4 / IAM.4 audit fixture)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from moto import mock_aws
from moto.server import ThreadedMotoServer

from simulate import moto_root

DEFAULT_ACCOUNT = "123456789012"
OTHER_ACCOUNT = "210987654321"
ROTATED = "2024-03-01T10:00:00+00:00"
CLEAN_ROW = (
    "<root_account>,arn:aws:iam::123456789012:root,2020-01-01T00:00:00+00:00,not_supported,no_information,"
    "not_supported,not_supported,true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A"
)


@pytest.fixture(autouse=True)
def _patched() -> Iterator[None]:
    moto_root.install()
    moto_root.reset()
    yield
    moto_root.reset()


def _report(iam) -> tuple[str, datetime]:
    iam.generate_credential_report()
    response = iam.get_credential_report()
    return response["Content"].decode("utf-8"), response["GeneratedTime"]


def test_moto_root_unset_account_has_clean_root_row_first() -> None:
    with mock_aws():
        iam = boto3.client("iam", region_name="us-east-1")
        iam.create_user(UserName="alice")
        content, _ = _report(iam)
    lines = content.splitlines()
    assert lines[1] == CLEAN_ROW
    assert lines[2].startswith("alice,arn:aws:iam::123456789012:user/alice,")
    assert len(lines[0].split(",")) == 22


@pytest.mark.parametrize(
    ("creds", "column", "expected"),
    [
        (moto_root.RootCredentials(key_1_active=True, key_1_last_rotated=ROTATED), "access_key_1_active", "true"),
        (moto_root.RootCredentials(key_1_active=True, key_1_last_rotated=ROTATED), "access_key_1_last_rotated", ROTATED),
        (moto_root.RootCredentials(key_2_active=True), "access_key_2_active", "true"),
        (moto_root.RootCredentials(key_2_active=True), "access_key_2_last_rotated", "N/A"),
        (moto_root.RootCredentials(key_2_last_used_region="eu-west-1"), "access_key_2_last_used_region", "eu-west-1"),
        (moto_root.RootCredentials(key_1_last_used_service="s3"), "access_key_1_last_used_service", "s3"),
        (moto_root.RootCredentials(mfa_active=False), "mfa_active", "false"),
    ],
)
def test_moto_root_set_credentials_rendered_in_named_column(
    creds: moto_root.RootCredentials, column: str, expected: str
) -> None:
    moto_root.set_root_credentials(DEFAULT_ACCOUNT, creds)
    with mock_aws():
        content, _ = _report(boto3.client("iam", region_name="us-east-1"))
    root = next(csv.DictReader(io.StringIO(content)))
    assert root["user"] == "<root_account>"
    assert root[column] == expected


def test_moto_root_generated_time_is_fresh_not_moto_constant() -> None:
    with mock_aws():
        _, generated = _report(boto3.client("iam", region_name="us-east-1"))
    assert abs(datetime.now(timezone.utc) - generated) < timedelta(minutes=5)


@pytest.mark.parametrize(("age", "renewed"), [(timedelta(hours=3, minutes=59), False), (timedelta(hours=4), True)])
def test_moto_root_report_reused_under_4_hours_then_regenerated(age: timedelta, renewed: bool) -> None:
    from moto.iam.models import iam_backends

    with mock_aws():
        iam = boto3.client("iam", region_name="us-east-1")
        iam.generate_credential_report()
        aged = (datetime.now(timezone.utc) - age).replace(microsecond=0)
        iam_backends[DEFAULT_ACCOUNT]["aws"]._rkg_generated_at = aged
        _, generated = _report(iam)
    assert (generated > aged) is renewed
    if not renewed:
        assert generated == aged


def test_moto_root_dropped_report_regenerated_with_new_time() -> None:
    # A report dropped from moto (the slow server's forget_reports) is a new report, even under 4 hours.
    from moto.iam.models import iam_backends

    with mock_aws():
        iam = boto3.client("iam", region_name="us-east-1")
        iam.generate_credential_report()
        backend = iam_backends[DEFAULT_ACCOUNT]["aws"]
        aged = (datetime.now(timezone.utc) - timedelta(hours=1)).replace(microsecond=0)
        backend._rkg_generated_at = aged
        backend.credential_report = None
        iam.generate_credential_report()
        _, generated = _report(iam)
    assert generated > aged


def test_moto_root_report_before_generation_raises_report_not_present() -> None:
    with mock_aws():
        iam = boto3.client("iam", region_name="us-east-1")
        with pytest.raises(iam.exceptions.CredentialReportNotPresentException):
            iam.get_credential_report()


def test_moto_root_accounts_are_isolated() -> None:
    moto_root.set_root_credentials(OTHER_ACCOUNT, moto_root.RootCredentials(key_1_active=True))
    with mock_aws():
        iam_default = boto3.client("iam", region_name="us-east-1")
        iam_default.create_role(RoleName="audit", AssumeRolePolicyDocument="{}")
        creds = boto3.client("sts", region_name="us-east-1").assume_role(
            RoleArn=f"arn:aws:iam::{OTHER_ACCOUNT}:role/audit", RoleSessionName="isolation-test"
        )["Credentials"]
        iam_other = boto3.client(
            "iam",
            region_name="us-east-1",
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
        )
        default_root = next(csv.DictReader(io.StringIO(_report(iam_default)[0])))
        other_root = next(csv.DictReader(io.StringIO(_report(iam_other)[0])))
    assert (default_root["arn"], default_root["access_key_1_active"]) == (
        f"arn:aws:iam::{DEFAULT_ACCOUNT}:root",
        "false",
    )
    assert (other_root["arn"], other_root["access_key_1_active"]) == (f"arn:aws:iam::{OTHER_ACCOUNT}:root", "true")


def test_moto_root_reset_restores_clean_row() -> None:
    moto_root.set_root_credentials(DEFAULT_ACCOUNT, moto_root.RootCredentials(key_1_active=True))
    moto_root.reset()
    with mock_aws():
        content, _ = _report(boto3.client("iam", region_name="us-east-1"))
    assert content.splitlines()[1] == CLEAN_ROW


def test_moto_root_install_twice_adds_one_root_row() -> None:
    moto_root.install()
    with mock_aws():
        content, _ = _report(boto3.client("iam", region_name="us-east-1"))
    assert sum(line.startswith("<root_account>,") for line in content.splitlines()) == 1


def test_moto_root_threaded_server_serves_root_row_over_http() -> None:
    moto_root.set_root_credentials(DEFAULT_ACCOUNT, moto_root.RootCredentials(key_2_active=True))
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        iam = boto3.client(
            "iam",
            region_name="us-east-1",
            endpoint_url=f"http://{host}:{port}",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        content, _ = _report(iam)
    finally:
        server.stop()
    root = next(csv.DictReader(io.StringIO(content)))
    assert (root["user"], root["access_key_2_active"]) == ("<root_account>", "true")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"key_1_active": "true"}, "RootCredentials.key_1_active must be a bool, got 'true'"),
        (
            {"key_1_last_used_region": "us-east-1,x"},
            "RootCredentials.key_1_last_used_region must be None or a string without comma, quote or newline, "
            "got 'us-east-1,x'",
        ),
    ],
)
def test_moto_root_credentials_invalid_value_raises(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises((TypeError, ValueError)) as excinfo:
        moto_root.RootCredentials(**kwargs)  # type: ignore[arg-type]
    assert str(excinfo.value) == message


@pytest.mark.parametrize("account_id", ["12345", "12345678901a", 123456789012])
def test_moto_root_set_credentials_bad_account_raises(account_id: object) -> None:
    with pytest.raises(ValueError) as excinfo:
        moto_root.set_root_credentials(account_id, moto_root.RootCredentials())  # type: ignore[arg-type]
    assert str(excinfo.value) == f"account_id must be 12 digits, got {account_id!r}"


@pytest.mark.filterwarnings("ignore:Exception\\(STSClientError\\) with code AccessDenied:UserWarning")
def test_moto_root_require_existing_roles_denies_missing_role() -> None:
    moto_root.require_existing_roles(True)
    with mock_aws():
        iam = boto3.client("iam", region_name="us-east-1")
        sts = boto3.client("sts", region_name="us-east-1")
        iam.create_role(RoleName="present", AssumeRolePolicyDocument="{}")
        sts.assume_role(RoleArn=f"arn:aws:iam::{DEFAULT_ACCOUNT}:role/present", RoleSessionName="ok-session")
        with pytest.raises(sts.exceptions.ClientError) as excinfo:
            sts.assume_role(RoleArn=f"arn:aws:iam::{OTHER_ACCOUNT}:role/present", RoleSessionName="denied-session")
    assert excinfo.value.response["Error"]["Code"] == "AccessDenied"
    assert excinfo.value.response["Error"]["Message"] == (
        f"User: arn:aws:iam::{DEFAULT_ACCOUNT}:user/moto is not authorized to perform: sts:AssumeRole on resource: "
        f"arn:aws:iam::{OTHER_ACCOUNT}:role/present"
    )


def test_moto_root_reset_turns_role_check_off() -> None:
    moto_root.require_existing_roles(True)
    moto_root.reset()
    with mock_aws():
        boto3.client("sts", region_name="us-east-1").assume_role(
            RoleArn=f"arn:aws:iam::{OTHER_ACCOUNT}:role/absent", RoleSessionName="allowed-session"
        )
