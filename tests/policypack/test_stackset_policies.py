"""The member StackSet policies: from a compliant organization-mode baseline, one change per case, exact messages."""

from __future__ import annotations

import json
from typing import Any, Callable

import pytest
from rootkey_pack.policies import stackset

from tests.policypack import stackkit as k

MEMBERS = "root-key-guardrails:members:MemberAccounts"
ROLE = "RootKeyAuditReader"
STACK_SET_NAME = "root-key-guardrails-dev-members"
AUDIT_ROLE_NAME = "root-access-key-audit-role-1122334"  # stackkit's audit function role
AUDIT_ROLE_ARN = f"arn:aws:iam::{k.ACCOUNT}:role/{AUDIT_ROLE_NAME}"
TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{k.ACCOUNT}:root"}, "Action": "sts:AssumeRole",
    "Condition": {"ArnEquals": {"aws:PrincipalArn": AUDIT_ROLE_ARN}}}]}
READ_REPORT = [{"PolicyName": "ReadCredentialReport", "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Action": ["iam:GenerateCredentialReport", "iam:GetCredentialReport"], "Resource": "*"}]}}]


def _reader(**changes: Any) -> dict[str, Any]:
    properties = {"RoleName": ROLE, "AssumeRolePolicyDocument": TRUST, "Policies": READ_REPORT, **changes}
    return {"AWSTemplateFormatVersion": "2010-09-09",
            "Resources": {"RootKeyAuditReaderRole": {"Type": "AWS::IAM::Role", "Properties": properties}}}


TEMPLATE = _reader()


def org_baseline() -> dict[str, k.Spec]:
    specs = k.baseline()
    fn = specs["root-access-key-audit-function"]
    fn.props["environment"] = {"variables": {"AUDIT_ORG_ROLE_NAME": ROLE}}
    stack = f"{k.PROJECT}-{k.STACK}"
    for spec in (
        k.Spec(MEMBERS, "member-accounts", {}, parent=stack),
        k.Spec(stackset.STACK_SET, "member-accounts-stack-set", {
            "name": STACK_SET_NAME, "permissionModel": "SERVICE_MANAGED",
            "autoDeployment": {"enabled": True, "retainStacksOnAccountRemoval": False}, "callAs": "SELF",
            "capabilities": ["CAPABILITY_NAMED_IAM"], "templateBody": json.dumps(TEMPLATE)}, parent="member-accounts"),
        k.Spec(stackset.STACK_SET_INSTANCE, "member-accounts-instances", {
            "stackSetName": k.UNKNOWN, "deploymentTargets": {"organizationalUnitIds": ["r-a1b2"]},
            "stackSetInstanceRegion": "us-east-1", "callAs": "SELF"},
            parent="member-accounts", links={"stackSetName": ["member-accounts-stack-set"]}),
    ):
        specs[spec.name] = spec
    return specs


def _urn(name: str) -> str:
    return k.urn_of(org_baseline(), name)


FN = "root-access-key-audit-function"
SS = "member-accounts-stack-set"
INST = "member-accounts-instances"


def _set(name: str, prop: str, value: Any) -> Callable[[dict[str, k.Spec]], None]:
    def change(specs: dict[str, k.Spec]) -> None:
        specs[name].props[prop] = value
    return change


def _drop(*names: str) -> Callable[[dict[str, k.Spec]], None]:
    def change(specs: dict[str, k.Spec]) -> None:
        for name in names:
            del specs[name]
    return change


def _template(template: dict[str, Any]) -> Callable[[dict[str, k.Spec]], None]:
    return _set(SS, "templateBody", json.dumps(template))


OTHER_ROLE = {"Resources": {"R": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": "SomethingElse"}}}}
NO_STACK_SET = (f"{_urn(FN)} audits the organization through role {ROLE}, but no aws:cloudformation/stackSet:StackSet "
                f"in the stack deploys an AWS::IAM::Role named {ROLE}; expected a service-managed StackSet with "
                "auto-deployment whose template creates the role in every member account.")


def test_member_role_org_baseline_passes() -> None:
    assert k.run(stackset.validate_audit_member_role_deployed, k.stack_args(org_baseline())).messages == ()


def test_member_role_account_mode_not_required() -> None:
    # The default program: the audit reads its own account only, so no StackSet is needed.
    assert k.run(stackset.validate_audit_member_role_deployed, k.stack_args(k.baseline())).messages == ()


def test_member_role_instance_known_name_passes_without_link() -> None:
    specs = org_baseline()
    specs[INST].props["stackSetName"] = STACK_SET_NAME
    specs[INST].links.clear()
    assert k.run(stackset.validate_audit_member_role_deployed, k.stack_args(specs)).messages == ()


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        pytest.param(_drop(SS, INST), [(NO_STACK_SET, _urn(FN))], id="no-stack-set"),
        pytest.param(_template(OTHER_ROLE), [(NO_STACK_SET, _urn(FN))], id="template-other-role"),
        pytest.param(_set(SS, "templateBody", "Resources: {}"), [(NO_STACK_SET, _urn(FN))], id="template-not-json"),
        pytest.param(_template(_reader(AssumeRolePolicyDocument={"Statement": [{
            "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{k.ACCOUNT}:root"}, "Action": "sts:AssumeRole"}]})),
            [(f"{_urn(SS)} deploys the audit role {ROLE} trusting more than named roles; expected it to trust only the "
              f"audit function's role {AUDIT_ROLE_NAME} (by ARN, or the account root pinned with aws:PrincipalArn).",
              _urn(SS))], id="trust-whole-account"),
        pytest.param(_template(_reader(AssumeRolePolicyDocument={"Statement": [{
            "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{k.ACCOUNT}:role/someone-else"},
            "Action": "sts:AssumeRole"}]})),
            [(f"{_urn(SS)} deploys the audit role {ROLE} trusting arn:aws:iam::{k.ACCOUNT}:role/someone-else; expected "
              f"it to trust only the audit function's role {AUDIT_ROLE_NAME} (by ARN, or the account root pinned with "
              "aws:PrincipalArn).", _urn(SS))], id="trust-other-role"),
        pytest.param(_template(_reader(Policies=[{"PolicyName": "p", "PolicyDocument": {"Statement": [
            {"Effect": "Allow", "Action": ["iam:GetCredentialReport", "iam:ListUsers"], "Resource": "*"}]}}])),
            [(f"{_urn(SS)} deploys the audit role {ROLE} granting iam:listusers; expected only "
              "iam:GenerateCredentialReport and iam:GetCredentialReport.", _urn(SS))], id="extra-action"),
        pytest.param(_template(_reader(ManagedPolicyArns=["arn:aws:iam::aws:policy/ReadOnlyAccess"])),
            [(f"{_urn(SS)} deploys the audit role {ROLE} granting ManagedPolicyArns; expected only "
              "iam:GenerateCredentialReport and iam:GetCredentialReport.", _urn(SS))], id="managed-policy"),
        pytest.param(_set(SS, "permissionModel", "SELF_MANAGED"), [(
            f"{_urn(SS)} deploys the audit role {ROLE} with permissionModel SELF_MANAGED; expected SERVICE_MANAGED so "
            "every member account gets the role through Organizations.", _urn(SS))], id="self-managed"),
        pytest.param(_set(SS, "autoDeployment", {"enabled": False}), [(
            f"{_urn(SS)} deploys the audit role {ROLE} with auto-deployment off; expected autoDeployment.enabled true "
            "so accounts that join the organization get the role.", _urn(SS))], id="auto-deployment-off"),
        pytest.param(_drop(INST), [(
            f"{_urn(SS)} deploys the audit role {ROLE} but no aws:cloudformation/stackSetInstance:StackSetInstance "
            "targets it; expected an instance with deploymentTargets.organizationalUnitIds naming the organization "
            "root or OUs.", _urn(SS))], id="no-instance"),
        pytest.param(_set(INST, "deploymentTargets", {"accounts": ["444455556666"]}), [(
            f"{_urn(INST)} deploys {_urn(SS)} to no organizational units; expected "
            "deploymentTargets.organizationalUnitIds with the organization root (r-...) or OU ids (ou-...).",
            _urn(INST))], id="accounts-not-ous"),
        pytest.param(_set(INST, "deploymentTargets", {"organizationalUnitIds": ["444455556666"]}), [(
            f"{_urn(INST)} deploys {_urn(SS)} to [\"444455556666\"]; expected "
            "deploymentTargets.organizationalUnitIds with the organization root (r-...) or OU ids (ou-...).",
            _urn(INST))], id="bad-ou-id"),
        # Known values beat links: the instance's known stackSetName names another StackSet, its link kept.
        pytest.param(_set(INST, "stackSetName", "some-other-stack-set"), [(
            f"{_urn(SS)} deploys the audit role {ROLE} but no aws:cloudformation/stackSetInstance:StackSetInstance "
            "targets it; expected an instance with deploymentTargets.organizationalUnitIds naming the organization "
            "root or OUs.", _urn(SS))], id="instance-value-names-other-stack-set"),
        pytest.param(_set(SS, "templateBody", k.UNKNOWN), [(
            f"{_urn(SS)} has templateBody unknown during preview, so the pack cannot verify which roles the StackSet "
            "deploys; expected a value known at preview (build the template with json.dumps from literal values), or "
            "allowUnknownValues: true in the 'audit-member-role-deployed' policy config to defer the check to "
            "`pulumi up`.", _urn(SS)), (NO_STACK_SET, _urn(FN))], id="template-unknown"),
    ],
)
def test_member_role_one_change_violation(change: Callable[[dict[str, k.Spec]], None],
                                          expected: list[tuple[str, str]]) -> None:
    specs = org_baseline()
    change(specs)
    assert list(k.run(stackset.validate_audit_member_role_deployed, k.stack_args(specs)).messages) == expected


# --- The guard --------------------------------------------------------------------------------------------------------

GOOD_STACK_SET = {"name": STACK_SET_NAME, "permissionModel": "SERVICE_MANAGED", "autoDeployment": {"enabled": True}}
OTHER_STACK_INSTANCE = {"stackSetName": STACK_SET_NAME, "deploymentTargets": {"organizationalUnitIds": ["ou-a1b2-sandbox01"]}}


def _guard(type_: str, name: str, props: dict[str, Any], urn: str | None = None) -> list[tuple[str, Any]]:
    args = k.resource_args(type_, name, props)
    if urn:
        args.urn = urn
    return list(k.run(stackset.validate_member_stack_set_kept, args).messages)


def test_member_guard_owner_resources_pass() -> None:
    assert _guard(stackset.STACK_SET, "member-accounts-stack-set", GOOD_STACK_SET) == []
    assert _guard(stackset.STACK_SET_INSTANCE, "member-accounts-instances", {**OTHER_STACK_INSTANCE},
                  urn=_urn(INST)) == []
    # Unprotected StackSets and their instances are none of the guard's business.
    assert _guard(stackset.STACK_SET, "x", {"name": "networking", "autoDeployment": {"enabled": False}}) == []
    assert _guard(stackset.STACK_SET_INSTANCE, "x", {"stackSetName": "networking"}) == []


@pytest.mark.parametrize(
    ("type_", "props", "message"),
    [
        pytest.param(stackset.STACK_SET, {**GOOD_STACK_SET, "autoDeployment": {"enabled": False}},
                     f"aws:cloudformation/stackSet:StackSet 'ss' turns auto-deployment off on protected StackSet "
                     f"{STACK_SET_NAME}; expected autoDeployment.enabled true, or accounts that join the organization "
                     "are never audited.", id="auto-deployment-off"),
        pytest.param(stackset.STACK_SET, {"name": STACK_SET_NAME, "autoDeployment": {"enabled": True}},
                     f"aws:cloudformation/stackSet:StackSet 'ss' makes protected StackSet {STACK_SET_NAME} SELF_MANAGED; "
                     "expected SERVICE_MANAGED, which alone auto-deploys to the organization.", id="self-managed"),
        pytest.param(stackset.STACK_SET_INSTANCE, OTHER_STACK_INSTANCE,
                     f"aws:cloudformation/stackSetInstance:StackSetInstance 'ss' manages instances of protected StackSet "
                     f"{STACK_SET_NAME} outside the guardrails' {MEMBERS} component; expected only the owning stack to "
                     "manage them, since destroying or retargeting this resource deletes the audit role in member "
                     "accounts.", id="foreign-instance"),
    ],
)
def test_member_guard_one_change_violation(type_: str, props: dict[str, Any], message: str) -> None:
    assert _guard(type_, "ss", props) == [(message, f"urn:pulumi:dev::root-key-guardrails::{type_}::ss")]


# --- Over the analyzer protocol: the real program in organization mode ------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "code", "fired"),
    [
        pytest.param([], 0, [], id="org-audit-passes"),
        pytest.param(["--config", "orgEventForwarding=true"], 0, [], id="org-audit-and-forwarding-pass"),
        pytest.param(["--config", "memberStackSet=false"], 1, [("audit-member-role-deployed", "mandatory")],
                     id="no-stack-set-blocked"),
    ],
)
def test_member_policies_program_over_protocol(capsys: pytest.CaptureFixture[str], extra: list[str], code: int,
                                              fired: list[tuple[str, str]]) -> None:
    from preflight.cli import main

    actual = main(["-C", str(k_root()), "--format", "json", "--config", 'alarmEmails=["secops@example.com"]',
                   "--config", f"auditOrgRoleName={ROLE}", *extra])
    result = json.loads(capsys.readouterr().out)
    assert [(v["policy"], v["enforcement"]) for v in result["violations"]] == fired
    assert actual == code


def k_root() -> Any:
    from pathlib import Path

    return Path(__file__).resolve().parents[2]
