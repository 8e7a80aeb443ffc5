"""Organization rollout: prerequisites checked before any resource, the delegated-administrator path, the
member-account StackSet and the central event bus. One change per case from a compliant org-mode baseline."""

from __future__ import annotations

import json
from typing import Any

import pytest

from preflight.engine import (
    ACCOUNT_ID,
    DELEGATED_ADMIN_ACCOUNT_ID,
    ORGANIZATION_ID,
    ROOT_ID,
    SERVICE_ACCESS_PRINCIPALS,
    ProgramError,
    run_program,
)
from tests.components.support import PROJECT_DIR, STACK, Registered, encode, key, program

STACK_SET = "aws:cloudformation/stackSet:StackSet"
INSTANCE = "aws:cloudformation/stackSetInstance:StackSetInstance"
BUS = "aws:cloudwatch/eventBus:EventBus"
AUDIT_ROLE_ARN = f"arn:aws:iam::{ACCOUNT_ID}:role/root-key-guardrails-dev-audit"
BUS_ARN = f"arn:aws:events:us-east-1:{ACCOUNT_ID}:event-bus/root-key-guardrails-dev-root-key-events"
ORG_AUDIT = {"auditOrgRoleName": "RootKeyAuditReader"}
DELEGATED = {"preflight:callerAccountId": DELEGATED_ADMIN_ACCOUNT_ID}
# A member account of the mock organization that administers no service.
PLAIN_MEMBER = {"preflight:callerAccountId": "444455556666", "preflight:delegatedServices": "[]"}
REMEDIATE = {**ORG_AUDIT, "auditRemediate": True}
TRAIL_NAME = "root-key-guardrails-dev-trail"


def _run(overrides: dict[str, Any], mock: dict[str, str] | None = None) -> Registered:
    config = {key(k): encode(v) for k, v in overrides.items()}
    return Registered(tuple(run_program(PROJECT_DIR, STACK, {**config, **(mock or {})})))


def _failure(overrides: dict[str, Any], mock: dict[str, str]) -> ProgramError:
    with pytest.raises(ProgramError) as err:
        _run(overrides, mock)
    return err.value


def _org(**changes: Any) -> dict[str, str]:
    return {"preflight:organization": json.dumps(changes)}


def _template(reg: Registered) -> dict[str, Any]:
    return json.loads(reg.one(STACK_SET).inputs["templateBody"])


# --- Prerequisites ----------------------------------------------------------------------------------------------------

HEADER = "Organization o-a1b2c3d4e5 is missing 1 prerequisite(s) of this configuration; nothing was deployed:\n  "
NO_SCP_ROOT = [{"id": ROOT_ID, "arn": "arn:aws:organizations::111122223333:root/o-a1b2c3d4e5/r-a1b2", "name": "Root",
                "policyTypes": [{"status": "PENDING_DISABLE", "type": "SERVICE_CONTROL_POLICY"}]}]


def _without(principal: str) -> dict[str, str]:
    return _org(awsServiceAccessPrincipals=[p for p in SERVICE_ACCESS_PRINCIPALS if p != principal])


@pytest.mark.parametrize(
    ("overrides", "mock", "line"),
    [
        pytest.param({}, _org(featureSet="CONSOLIDATED_BILLING"),
                     "feature set ALL (organization o-a1b2c3d4e5 has CONSOLIDATED_BILLING; SCPs, organization trails, "
                     "trusted access and service-managed StackSets need it): aws organizations enable-all-features, "
                     "then every member account accepts the handshake", id="feature-set"),
        pytest.param({}, _org(roots=NO_SCP_ROOT),
                     "policy type SERVICE_CONTROL_POLICY enabled on root r-a1b2: aws organizations enable-policy-type "
                     "--root-id r-a1b2 --policy-type SERVICE_CONTROL_POLICY", id="scp-policy-type"),
        pytest.param({}, _without("cloudtrail.amazonaws.com"),
                     "trusted access for cloudtrail.amazonaws.com (organization trail): aws organizations "
                     "enable-aws-service-access --service-principal cloudtrail.amazonaws.com", id="cloudtrail-access"),
        pytest.param({"enableCentralizedRootAccess": True}, _without("iam.amazonaws.com"),
                     "trusted access for iam.amazonaws.com (centralized root access): aws organizations "
                     "enable-aws-service-access --service-principal iam.amazonaws.com", id="iam-access"),
        pytest.param(ORG_AUDIT, _without("member.org.stacksets.cloudformation.amazonaws.com"),
                     "trusted access for member.org.stacksets.cloudformation.amazonaws.com (service-managed StackSet "
                     "to member accounts): aws cloudformation activate-organizations-access (from the management "
                     "account)", id="stacksets-access"),
        pytest.param({}, {**DELEGATED, "preflight:delegatedServices": '["member.org.stacksets.cloudformation.amazonaws.com"]'},
                     f"account {DELEGATED_ADMIN_ACCOUNT_ID} registered as delegated administrator for "
                     "cloudtrail.amazonaws.com (an organization trail from outside the management account): aws "
                     f"cloudtrail register-organization-delegated-admin --member-account-id {DELEGATED_ADMIN_ACCOUNT_ID}"
                     " (from the management account)", id="delegated-cloudtrail"),
        pytest.param(ORG_AUDIT, {**DELEGATED, "preflight:delegatedServices": '["cloudtrail.amazonaws.com"]'},
                     f"account {DELEGATED_ADMIN_ACCOUNT_ID} registered as delegated administrator for "
                     "member.org.stacksets.cloudformation.amazonaws.com (StackSet with callAs DELEGATED_ADMIN): aws "
                     f"organizations register-delegated-administrator --account-id {DELEGATED_ADMIN_ACCOUNT_ID} "
                     "--service-principal member.org.stacksets.cloudformation.amazonaws.com (from the management "
                     "account)", id="delegated-stacksets"),
        # Remediation from a delegated administrator: sts:AssumeRoot needs the IAM registration and IAM's trusted
        # access (centralized root access), though the management account enables the feature itself.
        pytest.param(REMEDIATE, {**DELEGATED, "preflight:delegatedServices": json.dumps(
                         ["cloudtrail.amazonaws.com", "member.org.stacksets.cloudformation.amazonaws.com"])},
                     f"account {DELEGATED_ADMIN_ACCOUNT_ID} registered as delegated administrator for iam.amazonaws.com "
                     "(sts:AssumeRoot from outside the management account): aws organizations "
                     f"register-delegated-administrator --account-id {DELEGATED_ADMIN_ACCOUNT_ID} --service-principal "
                     "iam.amazonaws.com (from the management account)", id="delegated-remediate-iam"),
        pytest.param(REMEDIATE, {**DELEGATED, **_without("iam.amazonaws.com")},
                     "trusted access for iam.amazonaws.com (centralized root access): aws organizations "
                     "enable-aws-service-access --service-principal iam.amazonaws.com", id="delegated-remediate-access"),
        # The org audit lists the accounts with organizations:ListAccounts, which a plain member account cannot call.
        pytest.param({**ORG_AUDIT, "memberStackSet": False, "enableScp": False, "trailMode": "account"}, PLAIN_MEMBER,
                     "account 444455556666 registered as delegated administrator for an AWS service "
                     "(root-key-guardrails:auditOrgRoleName makes the audit call organizations:ListAccounts, which AWS "
                     "answers only in the management account or a delegated administrator): aws organizations "
                     "register-delegated-administrator --account-id 444455556666 --service-principal iam.amazonaws.com "
                     "(from the management account; any service will do), or deploy this stack from the management "
                     "account", id="member-org-audit"),
    ],
)
def test_prerequisite_missing_fails_before_any_resource(overrides: dict[str, Any], mock: dict[str, str],
                                                        line: str) -> None:
    failure = _failure(overrides, mock)
    assert failure.message == HEADER + line
    # Only the stack itself: not one AWS resource was registered.
    assert [r.type for r in failure.resources] == ["pulumi:pulumi:Stack"]


def test_prerequisites_all_missing_one_line_each() -> None:
    failure = _failure({**ORG_AUDIT, "enableCentralizedRootAccess": True},
                       _org(featureSet="CONSOLIDATED_BILLING", awsServiceAccessPrincipals=[], roots=NO_SCP_ROOT))
    first, *lines = failure.message.split("\n")
    assert first.startswith("Organization o-a1b2c3d4e5 is missing 5 prerequisite(s)")
    assert [line.split(":")[0].strip() for line in lines] == [
        "feature set ALL (organization o-a1b2c3d4e5 has CONSOLIDATED_BILLING; SCPs, organization trails, trusted "
        "access and service-managed StackSets need it)",
        "policy type SERVICE_CONTROL_POLICY enabled on root r-a1b2",
        "trusted access for cloudtrail.amazonaws.com (organization trail)",
        "trusted access for iam.amazonaws.com (centralized root access)",
        "trusted access for member.org.stacksets.cloudformation.amazonaws.com (service-managed StackSet to member "
        "accounts)",
    ]


def test_prerequisites_not_needed_not_checked() -> None:
    # An account trail, no SCP, no org audit: the organization's settings do not matter.
    reg = _run({"enableScp": False, "trailMode": "account"},
               _org(featureSet="CONSOLIDATED_BILLING", awsServiceAccessPrincipals=[], roots=NO_SCP_ROOT))
    assert reg.one("aws:cloudtrail/trail:Trail").inputs["isOrganizationTrail"] is False


def test_preflight_cli_missing_prerequisite_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    from preflight.cli import main

    code = main(["-C", str(PROJECT_DIR), "--format", "json", "--config", "auditOrgRoleName=RootKeyAuditReader",
                 "--config", 'preflight:organization={"awsServiceAccessPrincipals": ["cloudtrail.amazonaws.com"]}'])
    err = capsys.readouterr().err
    assert code == 2
    assert "trusted access for member.org.stacksets.cloudformation.amazonaws.com" in err


# --- Delegated administrator ------------------------------------------------------------------------------------------


def test_delegated_admin_centralized_root_access_refused_at_preview() -> None:
    failure = _failure({"enableCentralizedRootAccess": True}, DELEGATED)
    assert failure.message == (
        "Invalid configuration:\n  root-key-guardrails:enableCentralizedRootAccess = \"true\": "
        "aws.iam.OrganizationsFeatures can only be managed from the management account 111122223333 (this stack "
        f"deploys from {DELEGATED_ADMIN_ACCOUNT_ID}, not the management account); set it false here and enable "
        "centralized root access from the management account (aws iam enable-organizations-root-credentials-"
        "management and aws iam enable-organizations-root-sessions)")
    assert [r.type for r in failure.resources] == ["pulumi:pulumi:Stack"]


def test_plain_member_account_audit_alone_is_not_refused() -> None:
    # Without auditOrgRoleName the audit reads only its own account: no organization call, nothing to register.
    reg = _run({"enableScp": False, "trailMode": "account"}, PLAIN_MEMBER)
    assert reg.one("aws:lambda/function:Function").inputs["environment"]["variables"]["AUDIT_ORG_ROLE_NAME"] == ""


def _warnings(overrides: dict[str, Any], mock: dict[str, str]) -> list[str]:
    log: list[tuple[str, str]] = []
    config = {key(k): encode(v) for k, v in overrides.items()}
    run_program(PROJECT_DIR, STACK, {**config, **mock}, log=log)
    return [m for sev, m in log if sev == "warning"]


def test_delegated_admin_org_audit_without_stack_set_warns_about_every_account() -> None:
    # With memberStackSet false no StackSet exists: the warning names the role to create everywhere, not a StackSet.
    warnings = _warnings({**ORG_AUDIT, "memberStackSet": False}, DELEGATED)
    assert not any("service-managed StackSet" in m for m in warnings)
    assert (f"the org audit runs in {DELEGATED_ADMIN_ACCOUNT_ID} and assumes RootKeyAuditReader in every other ACTIVE "
            "account, the management account 111122223333 included: with memberStackSet false nothing here deploys "
            "that role, so create it in each of them yourself, or those accounts read as ERROR") in warnings


def test_delegated_admin_remediation_deploys_and_warns_that_the_feature_is_the_management_accounts() -> None:
    # sts:AssumeRoot works from the delegated administrator for IAM; enabling RootSessions is the management
    # account's (enableCentralizedRootAccess is refused here), and no data source tells whether it did.
    log: list[tuple[str, str]] = []
    config = {key(k): encode(v) for k, v in REMEDIATE.items()}
    reg = Registered(tuple(run_program(PROJECT_DIR, STACK, {**config, **DELEGATED}, log=log)))
    assert reg.one("aws:lambda/function:Function").inputs["environment"]["variables"]["AUDIT_REMEDIATE"] == "true"
    assert reg.document("root-access-key-audit-policy")["Statement"][-1]["Action"] == "sts:AssumeRoot"
    assert reg.of_type("aws:iam/organizationsFeatures:OrganizationsFeatures") == []
    assert (f"auditRemediate from {DELEGATED_ADMIN_ACCOUNT_ID}: sts:AssumeRoot works only once the management account "
            "111122223333 has enabled centralized root access with root sessions (aws iam "
            "enable-organizations-root-credentials-management and aws iam enable-organizations-root-sessions, or "
            "enableCentralizedRootAccess in a stack there); the preview cannot read that, and without it every "
            "remediation fails and the audit run reports the error") in [m for sev, m in log if sev == "warning"]


def test_management_account_remediation_without_centralized_root_access_refused() -> None:
    failure = _failure(REMEDIATE, {})
    assert failure.message == (
        "Invalid configuration:\n  root-key-guardrails:auditRemediate = \"true\": needs enableCentralizedRootAccess "
        "true when deployed from the management account (sts:AssumeRoot only works with RootSessions enabled, which "
        "this stack enables there); otherwise leave it at its default \"false\"")
    assert [r.type for r in failure.resources] == ["pulumi:pulumi:Stack"]


def test_delegated_admin_trail_arn_names_management_account() -> None:
    reg = _run({}, DELEGATED)
    trail_arn = f"arn:aws:cloudtrail:us-east-1:{ACCOUNT_ID}:trail/{TRAIL_NAME}"
    bucket = reg.document("root-access-key-detection-trail-bucket-policy")["Statement"]
    assert bucket[0]["Condition"] == {"StringEquals": {"aws:SourceArn": trail_arn}}
    assert bucket[1]["Condition"]["StringEquals"]["aws:SourceArn"] == trail_arn
    bucket_arn = f"arn:aws:s3:::{reg.one('aws:s3/bucket:Bucket').inputs['bucket']}"
    assert bucket[1]["Resource"] == [f"{bucket_arn}/AWSLogs/{ACCOUNT_ID}/*", f"{bucket_arn}/AWSLogs/{ORGANIZATION_ID}/*"]
    key_policy = reg.document("root-access-key-detection-trail-key")["Statement"][1]["Condition"]
    assert key_policy == {
        "StringEquals": {"aws:SourceArn": trail_arn},
        "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": f"arn:aws:cloudtrail:*:{ACCOUNT_ID}:trail/*"},
    }
    # The key's administrators stay the deploying account.
    assert reg.document("root-access-key-detection-trail-key")["Statement"][0]["Principal"] == {
        "AWS": f"arn:aws:iam::{DELEGATED_ADMIN_ACCOUNT_ID}:root"}


def test_delegated_admin_account_trail_names_own_account() -> None:
    reg = _run({"trailMode": "account"}, DELEGATED)
    condition = reg.document("root-access-key-detection-trail-bucket-policy")["Statement"][0]["Condition"]
    assert condition == {"StringEquals": {
        "aws:SourceArn": f"arn:aws:cloudtrail:us-east-1:{DELEGATED_ADMIN_ACCOUNT_ID}:trail/{TRAIL_NAME}"}}


def test_delegated_admin_stack_set_calls_as_delegated_admin() -> None:
    log: list[tuple[str, str]] = []
    config = {key("auditOrgRoleName"): "RootKeyAuditReader", **DELEGATED}
    reg = Registered(tuple(run_program(PROJECT_DIR, STACK, config, log=log)))
    assert reg.one(STACK_SET).inputs["callAs"] == "DELEGATED_ADMIN"
    assert reg.one(INSTANCE).inputs["callAs"] == "DELEGATED_ADMIN"
    warnings = [m for sev, m in log if sev == "warning"]
    assert any(m.startswith(f"deploying from {DELEGATED_ADMIN_ACCOUNT_ID}, not the management account 111122223333: "
                            "the SCP needs an Organizations delegation policy") for m in warnings)
    assert any("never deploys to the management account 111122223333" in m for m in warnings)


# --- The member StackSet ----------------------------------------------------------------------------------------------


def test_stack_set_service_managed_auto_deploys_to_org_root() -> None:
    reg = program(ORG_AUDIT)
    stack_set = reg.one(STACK_SET).inputs
    assert {k: stack_set[k] for k in ("name", "permissionModel", "autoDeployment", "callAs", "capabilities")} == {
        "name": "root-key-guardrails-dev-members",
        "permissionModel": "SERVICE_MANAGED",
        "autoDeployment": {"enabled": True, "retainStacksOnAccountRemoval": False},
        "callAs": "SELF",
        "capabilities": ["CAPABILITY_NAMED_IAM"],
    }
    instance = reg.one(INSTANCE)
    assert {k: instance.inputs[k] for k in ("deploymentTargets", "stackSetInstanceRegion", "retainStack", "callAs")} == {
        "deploymentTargets": {"organizationalUnitIds": [ROOT_ID]},
        "stackSetInstanceRegion": "us-east-1",
        "retainStack": False,
        "callAs": "SELF",
    }
    assert instance.property_dependencies["stackSetName"] == (reg.one(STACK_SET).urn,)


def test_stack_set_reader_role_trusts_only_audit_role_reads_only_report() -> None:
    role = _template(program(ORG_AUDIT))["Resources"]["RootKeyAuditReaderRole"]["Properties"]
    assert role["RoleName"] == "RootKeyAuditReader"
    assert role["AssumeRolePolicyDocument"] == {"Version": "2012-10-17", "Statement": [{
        "Sid": "TrustRootKeyAuditFunction", "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"}, "Action": "sts:AssumeRole",
        "Condition": {"ArnEquals": {"aws:PrincipalArn": AUDIT_ROLE_ARN}}}]}
    assert role["Policies"] == [{"PolicyName": "ReadCredentialReport", "PolicyDocument": {
        "Version": "2012-10-17", "Statement": [{
            "Sid": "ReadCredentialReport", "Effect": "Allow",
            "Action": ["iam:GenerateCredentialReport", "iam:GetCredentialReport"], "Resource": "*"}]}}]
    # The audit function's role is the one the trust names.
    assert program(ORG_AUDIT).named("root-access-key-audit-role").inputs["name"] == "root-key-guardrails-dev-audit"
    assert set(_template(program(ORG_AUDIT))["Resources"]) == {"RootKeyAuditReaderRole"}


def test_stack_set_targets_configured_ous() -> None:
    reg = program({**ORG_AUDIT, "memberStackSetTargets": ["ou-a1b2-workload1", "ou-a1b2-sandbox01"]})
    assert reg.one(INSTANCE).inputs["deploymentTargets"] == {
        "organizationalUnitIds": ["ou-a1b2-workload1", "ou-a1b2-sandbox01"]}


def test_stack_set_absent_without_org_audit_or_forwarding(baseline: Registered) -> None:
    assert baseline.of_type(STACK_SET) == [] and baseline.of_type(INSTANCE) == []
    assert program({**ORG_AUDIT, "memberStackSet": False}).of_type(STACK_SET) == []


def test_org_event_forwarding_member_rule_central_bus_org_only() -> None:
    reg = program({**ORG_AUDIT, "orgEventForwarding": True})
    resources = _template(reg)["Resources"]
    rule = resources["ForwardRootKeyEventsRule"]["Properties"]
    assert rule["EventBusName"] == "default"
    assert rule["EventPattern"] == {
        "source": ["aws.iam"], "detail-type": ["AWS API Call via CloudTrail"],
        "detail": {"eventSource": ["iam.amazonaws.com"], "eventName": ["CreateAccessKey"],
                   "userIdentity": {"type": ["Root"]}}}
    assert rule["Targets"] == [{"Id": "central-bus", "Arn": BUS_ARN,
                                "RoleArn": {"Fn::GetAtt": ["ForwardRootKeyEventsRole", "Arn"]}}]
    forward_role = resources["ForwardRootKeyEventsRole"]["Properties"]
    assert forward_role["Policies"][0]["PolicyDocument"]["Statement"] == [
        {"Effect": "Allow", "Action": "events:PutEvents", "Resource": BUS_ARN}]
    assert forward_role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "events.amazonaws.com"}
    assert reg.one(BUS).inputs["name"] == "root-key-guardrails-dev-root-key-events"
    assert reg.document("member-accounts-central-bus-policy") == {"Version": "2012-10-17", "Statement": [{
        "Sid": "AllowOrganizationPutEvents", "Effect": "Allow", "Principal": "*", "Action": "events:PutEvents",
        "Resource": BUS_ARN, "Condition": {"StringEquals": {"aws:PrincipalOrgID": ORGANIZATION_ID}}}]}
    central = reg.named("member-accounts-central-root-create-access-key")
    assert central.property_dependencies["eventBusName"] == (reg.one(BUS).urn,)
    target = reg.named("member-accounts-central-root-create-access-key-alert")
    topic = reg.one("aws:sns/topic:Topic")
    assert target.inputs["arn"] == f"arn:aws:sns:us-east-1:{ACCOUNT_ID}:{topic.inputs['name']}"


def test_org_event_forwarding_alone_deploys_only_forwarding() -> None:
    reg = program({"orgEventForwarding": True})
    assert set(_template(reg)["Resources"]) == {"ForwardRootKeyEventsRole", "ForwardRootKeyEventsRule"}


def test_stack_set_template_is_the_one_proved_on_moto() -> None:
    # tests/components/test_member_stack_set.py deploys documents.member_template; the program ships exactly it.
    from components import documents

    assert _template(program(ORG_AUDIT)) == documents.member_template(
        "aws", audit_account_id=ACCOUNT_ID, audit_role_arn=AUDIT_ROLE_ARN, audit_role_name="RootKeyAuditReader",
        central_bus_arn=None)
