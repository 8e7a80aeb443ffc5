"""The member-account StackSet template, proved: cfn-lint accepts it, and deployed by moto's CloudFormation into the
member accounts of a moto organization it gives the organization audit (`python -m audit --org`) the roles it
assumes, with their trust policies evaluated (simulate.moto_trust)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from components import documents
from simulate import moto_root, moto_trust

MANAGEMENT = "123456789012"  # moto's default account: the organization's management account
AUDIT_ROLE = "root-key-guardrails-dev-audit"
AUDIT_ROLE_ARN = f"arn:aws:iam::{MANAGEMENT}:role/{AUDIT_ROLE}"
READER = "RootKeyAuditReader"
BUS_ARN = f"arn:aws:events:us-east-1:{MANAGEMENT}:event-bus/root-key-guardrails-dev-root-key-events"
REGION = "us-east-1"


def _template(*, audit_role_arn: str | None = AUDIT_ROLE_ARN, bus: str | None = BUS_ARN) -> dict[str, Any]:
    return documents.member_template("aws", audit_account_id=MANAGEMENT, audit_role_arn=audit_role_arn,
                                     audit_role_name=READER, central_bus_arn=bus)


# --- cfn-lint ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "template",
    [
        pytest.param(_template(), id="audit-role-and-forwarding"),
        pytest.param(_template(bus=None), id="audit-role-only"),
        pytest.param(_template(audit_role_arn=None), id="forwarding-only"),
    ],
)
def test_member_template_cfn_lint_clean(template: dict[str, Any]) -> None:
    from cfnlint.api import ManualArgs, lint

    matches = lint(json.dumps(template), config=ManualArgs(regions=[REGION]))
    assert [f"{m.rule.id} {m.message}" for m in matches] == []


def test_member_template_cfn_lint_catches_a_broken_template() -> None:
    # The lint is live: a property CloudFormation does not know is reported.
    from cfnlint.api import ManualArgs, lint

    broken = _template()
    broken["Resources"]["RootKeyAuditReaderRole"]["Properties"]["RoleNme"] = READER
    assert [m.rule.id for m in lint(json.dumps(broken), config=ManualArgs(regions=[REGION]))] == ["E3002"]


# --- moto: the StackSet deployed to member accounts, the audit through the roles it created ------------------------


@pytest.fixture()
def org() -> Iterator[dict[str, Any]]:
    with mock_aws():
        moto_root.install()
        session = boto3.Session(region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")
        organizations = session.client("organizations")
        organizations.create_organization(FeatureSet="ALL")
        root = organizations.list_roots()["Roots"][0]["Id"]
        good_ou = organizations.create_organizational_unit(ParentId=root, Name="workloads")["OrganizationalUnit"]["Id"]
        bad_ou = organizations.create_organizational_unit(ParentId=root, Name="misconfigured")["OrganizationalUnit"]["Id"]
        accounts: dict[str, str] = {}
        for name, ou in (("alpha", good_ou), ("bravo", good_ou), ("wrongtrust", bad_ou)):
            account_id = organizations.create_account(Email=f"{name}@example.com", AccountName=name)[
                "CreateAccountStatus"]["AccountId"]
            organizations.move_account(AccountId=account_id, SourceParentId=root, DestinationParentId=ou)
            accounts[name] = account_id
        moto_root.set_root_credentials(accounts["bravo"], moto_root.RootCredentials(
            key_1_active=True, key_1_last_rotated="2025-01-02T03:04:05+00:00"))
        # The audit function's role in the management account, as the program names it.
        iam = session.client("iam")
        iam.create_role(RoleName=AUDIT_ROLE, AssumeRolePolicyDocument=json.dumps(
            documents.service_trust_policy("lambda.amazonaws.com")))
        iam.create_role(RoleName="someone-else", AssumeRolePolicyDocument=json.dumps(
            documents.service_trust_policy("lambda.amazonaws.com")))
        cloudformation = session.client("cloudformation")
        # The program's StackSet to the workloads OU; the same template trusting another role to the other OU.
        for stack_set, template, ou in (
            ("root-key-guardrails-dev-members", _template(), good_ou),
            ("misconfigured-members", _template(audit_role_arn=f"arn:aws:iam::{MANAGEMENT}:role/someone-else"), bad_ou),
        ):
            cloudformation.create_stack_set(
                StackSetName=stack_set, TemplateBody=json.dumps(template), PermissionModel="SERVICE_MANAGED",
                AutoDeployment={"Enabled": True, "RetainStacksOnAccountRemoval": False},
                Capabilities=["CAPABILITY_NAMED_IAM"], CallAs="SELF")
            cloudformation.create_stack_instances(
                StackSetName=stack_set, DeploymentTargets={"OrganizationalUnitIds": [ou]}, Regions=[REGION],
                CallAs="SELF")
        yield {"session": session, "accounts": accounts}
        moto_root.reset()


def _audit_session(session: boto3.Session) -> boto3.Session:
    """Credentials of the audit function's role, as the Lambda would have them."""
    creds = session.client("sts").assume_role(RoleArn=AUDIT_ROLE_ARN, RoleSessionName="audit")["Credentials"]
    return boto3.Session(region_name=REGION, aws_access_key_id=creds["AccessKeyId"],
                         aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"])


def test_stack_set_creates_reader_role_in_each_member_account(org: dict[str, Any]) -> None:
    from moto.iam.models import iam_backends

    for name, account_id in org["accounts"].items():
        roles = {r.name: r for r in iam_backends[account_id]["aws"].roles.values()}
        assert READER in roles, name
        trust = json.loads(roles[READER].assume_role_policy_document)
        assert trust["Statement"][0]["Principal"] == {"AWS": f"arn:aws:iam::{MANAGEMENT}:root"}
    # Never the management account: a service-managed StackSet skips it (the audit uses its own credentials there).
    assert READER not in {r.name for r in iam_backends[MANAGEMENT]["aws"].roles.values()}


def test_org_audit_through_stack_set_roles_wrong_trust_is_error(org: dict[str, Any]) -> None:
    from audit.cli import main

    audit_session = _audit_session(org["session"])
    out = io.StringIO()
    with moto_trust.enforced():
        code = main(["--org", "--role-name", READER, "--format", "json", "--no-progress"], session=audit_session,
                    stdout=out)
    report = json.loads(out.getvalue())
    statuses = {a["account_id"]: a["status"] for a in report["accounts"]}
    accounts = org["accounts"]
    assert statuses[accounts["alpha"]] == "PASS"
    assert statuses[accounts["bravo"]] == "FAIL"
    assert statuses[accounts["wrongtrust"]] == "ERROR"
    wrong = next(a for a in report["accounts"] if a["account_id"] == accounts["wrongtrust"])
    assert "AccessDenied" in json.dumps(wrong)
    assert code != 0


def test_org_audit_caller_other_than_audit_role_refused(org: dict[str, Any]) -> None:
    # The reader role trusts the audit function's role only: the deployer's own user is refused.
    with moto_trust.enforced():
        sts = org["session"].client("sts")
        with pytest.raises(sts.exceptions.ClientError) as err:
            sts.assume_role(RoleArn=f"arn:aws:iam::{org['accounts']['alpha']}:role/{READER}", RoleSessionName="deployer")
    assert err.value.response["Error"]["Code"] == "AccessDenied"


@pytest.mark.parametrize(
    ("policy", "caller", "allowed"),
    [
        pytest.param(documents.member_audit_trust_policy("aws", audit_account_id=MANAGEMENT,
                                                         audit_role_arn=AUDIT_ROLE_ARN),
                     f"arn:aws:sts::{MANAGEMENT}:assumed-role/{AUDIT_ROLE}/s", True, id="audit-role-session"),
        pytest.param(documents.member_audit_trust_policy("aws", audit_account_id=MANAGEMENT,
                                                         audit_role_arn=AUDIT_ROLE_ARN),
                     f"arn:aws:sts::{MANAGEMENT}:assumed-role/other/s", False, id="other-role-same-account"),
        pytest.param(documents.member_audit_trust_policy("aws", audit_account_id=MANAGEMENT,
                                                         audit_role_arn=AUDIT_ROLE_ARN),
                     f"arn:aws:sts::999999999999:assumed-role/{AUDIT_ROLE}/s", False, id="same-name-other-account"),
        pytest.param({"Statement": [{"Effect": "Allow", "Principal": {"AWS": MANAGEMENT}, "Action": "sts:*"}]},
                     f"arn:aws:iam::{MANAGEMENT}:user/u", True, id="bare-account-id"),
        pytest.param({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"},
                                    {"Effect": "Deny", "Principal": "*", "Action": "sts:AssumeRole"}]},
                     f"arn:aws:iam::{MANAGEMENT}:user/u", False, id="deny-wins"),
        pytest.param({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole",
                                     "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}]},
                     f"arn:aws:iam::{MANAGEMENT}:user/u", False, id="unmodelled-condition-refuses"),
        pytest.param({"Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                     "Action": "sts:AssumeRole"}]},
                     f"arn:aws:iam::{MANAGEMENT}:user/u", False, id="service-principal-only"),
    ],
)
def test_moto_trust_evaluation(policy: dict[str, Any], caller: str, allowed: bool) -> None:
    assert moto_trust.trust_allows(policy, caller) is allowed
