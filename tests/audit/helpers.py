"""Shared builders for the root access key audit tests (CIS 1.4 / Security Hub IAM.4): the baseline report and
its edits, stubbed clients, a moto organization."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import boto3
from botocore.stub import Stubber

from simulate import moto_root

DATA = Path(__file__).parent / "data"
BASELINE_FILE = DATA / "credential-report-baseline.csv"
BASELINE_ACCOUNT = "111122223333"
ROTATED = "2025-02-03T04:05:06+00:00"
USED = "2026-11-01T12:00:00+00:00"


def baseline_text() -> str:
    return BASELINE_FILE.read_text(encoding="utf-8")


def edit_root(text: str, **changes: str) -> str:
    """The report with the named root-row columns changed; everything else byte-identical."""
    lines = text.split("\n")
    header = next(csv.reader([lines[0]]))
    for index, line in enumerate(lines[1:], start=1):
        if line.startswith("<root_account>,"):
            row = next(csv.reader([line]))
            for column, value in changes.items():
                row[header.index(column)] = value
            buffer = io.StringIO()
            # A "\n" terminator, removed again, so that a value holding a newline is quoted as CSV requires.
            csv.writer(buffer, lineterminator="\n").writerow(row)
            lines[index] = buffer.getvalue()[:-1]
    return "\n".join(lines)


class Recorder:
    """Injectable sleep and clock: records sleeps and advances virtual time instead of waiting."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


_STUB_SESSION: list[boto3.session.Session] = []


def _stub_session() -> boto3.session.Session:
    # One session for all stubbed clients: it caches the loaded service models, which keeps tests fast.
    if not _STUB_SESSION:
        _STUB_SESSION.append(
            boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
        )
    return _STUB_SESSION[0]


class FakeClients:
    """Stands in for audit.aws.Clients with stubbed botocore clients (for faults moto cannot make)."""

    def __init__(self, region: str = "us-east-1") -> None:
        self.region = region
        self.partition = "aws"
        self.session = _stub_session()
        self.own: dict[str, Any] = {}
        self.stubs: dict[str, Stubber] = {}
        self.assumed: dict[str, dict[str, Any]] = {}
        self.assumed_stubs: dict[tuple[str, str], Stubber] = {}
        self.credentials_seen: list[dict[str, Any]] = []

    def stub(self, service: str) -> Stubber:
        if service not in self.own:
            self.own[service] = self.session.client(service, region_name=self.region)
            self.stubs[service] = Stubber(self.own[service])
            self.stubs[service].activate()
        return self.stubs[service]

    def stub_for(self, access_key_id: str, service: str) -> Stubber:
        clients = self.assumed.setdefault(access_key_id, {})
        if service not in clients:
            clients[service] = self.session.client(service, region_name=self.region)
            self.assumed_stubs[(access_key_id, service)] = Stubber(clients[service])
            self.assumed_stubs[(access_key_id, service)].activate()
        return self.assumed_stubs[(access_key_id, service)]

    def __call__(self, service: str) -> Any:
        self.stub(service)
        return self.own[service]

    def scheduled(self, service: str) -> Any:
        return self(service)

    def for_account(self, credentials: dict[str, Any]) -> Callable[[str], Any]:
        return self.for_credentials(credentials)

    def for_credentials(self, credentials: dict[str, Any]) -> Callable[[str], Any]:
        self.credentials_seen.append(credentials)
        key = credentials["AccessKeyId"]

        def factory(service: str) -> Any:
            self.stub_for(key, service)
            return self.assumed[key][service]

        return factory

    def assert_no_pending(self) -> None:
        for stub in list(self.stubs.values()) + list(self.assumed_stubs.values()):
            stub.assert_no_pending_responses()


AUDIT_ROLE = "RootKeyAuditRole"
MANAGEMENT_ACCOUNT = "123456789012"  # moto's default account: the caller and the organization's management account
KEY_ROTATED = "2025-01-02T03:04:05+00:00"


def build_org(
    session: boto3.session.Session,
    members: Mapping[str, moto_root.RootCredentials | None],
    *,
    endpoint_url: str | None = None,
    reachable: bool | None = True,
) -> dict[str, str]:
    """Create a moto organization with one account per name; the audit role exists in each account whose
    credentials are not None (None = unreachable: no role, so AssumeRole is AccessDenied). Returns name -> id."""
    kw: dict[str, Any] = {"region_name": "us-east-1", "endpoint_url": endpoint_url}
    org = session.client("organizations", **kw)
    org.create_organization(FeatureSet="ALL")
    sts = session.client("sts", **kw)
    ids: dict[str, str] = {}
    for name, creds in members.items():
        account_id = org.create_account(Email=f"{name}@example.com", AccountName=name)["CreateAccountStatus"]["AccountId"]
        ids[name] = account_id
        if creds is None:
            continue
        moto_root.set_root_credentials(account_id, creds)
        assumed = sts.assume_role(
            RoleArn=f"arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole", RoleSessionName="fixture-setup"
        )["Credentials"]
        iam = session.client(
            "iam",
            aws_access_key_id=assumed["AccessKeyId"],
            aws_secret_access_key=assumed["SecretAccessKey"],
            aws_session_token=assumed["SessionToken"],
            **kw,
        )
        iam.create_role(RoleName=AUDIT_ROLE, AssumeRolePolicyDocument="{}")
    moto_root.require_existing_roles(True)
    return ids


ORG_MEMBERS: dict[str, moto_root.RootCredentials | None] = {
    "clean": moto_root.RootCredentials(),
    "leaky": moto_root.RootCredentials(key_1_active=True, key_1_last_rotated=KEY_ROTATED),
    "dormant": moto_root.RootCredentials(key_2_last_rotated=KEY_ROTATED),
    "orphan": None,
}
