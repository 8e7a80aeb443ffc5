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
TARGET = "root-access-key-audit-schedule-target"
FUNCTION_ARN = f"arn:aws:lambda:{k.REGION}:{k.ACCOUNT}:function:root-access-key-audit-function-5566778"


def org_baseline() -> dict[str, k.Spec]:
    specs = k.baseline()
    fn = specs["root-access-key-audit-function"]
    fn.props["environment"] = {"variables": {"AUDIT_ORG_ROLE_NAME": ROLE}}
    # As the program does: the schedule invokes the function by an ARN built from the account id, known at preview,
    # which tells the pack the account of the audit role.
    specs[TARGET].props["arn"] = FUNCTION_ARN
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


def _with_resource(logical_id: str, resource: dict[str, Any], **changes: Any) -> Callable[[dict[str, k.Spec]], None]:
    """The baseline template (reader role changed by `changes`) plus one more template resource."""
    template = _reader(**changes)
    template["Resources"][logical_id] = resource
    return _template(template)


def _trust(principal: Any, condition: dict[str, Any] | None = None) -> dict[str, Any]:
    statement = {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}
    if condition is not None:
        statement["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [statement]}


def _policy(actions: list[str]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}


OTHER_ACCOUNT = "999999999999"
OTHER_ACCOUNT_ROLE_ARN = f"arn:aws:iam::{OTHER_ACCOUNT}:role/{AUDIT_ROLE_NAME}"
ROOT = f"arn:aws:iam::{k.ACCOUNT}:root"
READER_REF = {"Ref": "RootKeyAuditReaderRole"}
OTHER_ROLE = {"Resources": {"R": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": "SomethingElse"}}}}
NO_STACK_SET = (f"{_urn(FN)} audits the organization through role {ROLE}, but no aws:cloudformation/stackSet:StackSet "
                f"in the stack deploys an AWS::IAM::Role named {ROLE}; expected a service-managed StackSet with "
                "auto-deployment whose template creates the role in every member account.")


def _trusting(shown: str, expected: str = AUDIT_ROLE_ARN) -> str:
    return (f"{_urn(SS)} deploys the audit role {ROLE} trusting {shown}; expected it to trust only the audit function's "
            f"role {expected} (by ARN, or the account root pinned with aws:PrincipalArn).")


def _granting(logical_id: str, kind: str, shown: str) -> str:
    return (f"{_urn(SS)} deploys template resource {logical_id} ({kind}) that grants the audit role {ROLE} {shown}; "
            "expected the role to get only iam:GenerateCredentialReport and iam:GetCredentialReport.")


def _filtered(kind: str) -> str:
    return (f"{_urn(INST)} deploys {_urn(SS)} with accountFilterType \"{kind}\", which can leave accounts of the "
            "targeted organizational units without the audit role; expected no account filter (NONE).")


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
    "change",
    [
        # The audit role's own ARN, known in a deployed stack, names its account without the schedule's.
        pytest.param(lambda specs: (_set("root-access-key-audit-role", "arn", AUDIT_ROLE_ARN)(specs),
                                    _set(TARGET, "arn", k.UNKNOWN)(specs)), id="role-arn-known"),
        pytest.param(_template(_reader(AssumeRolePolicyDocument=_trust(AUDIT_ROLE_ARN))), id="trust-role-by-arn"),
        pytest.param(_with_resource("ReadPolicy", {"Type": "AWS::IAM::Policy", "Properties": {
            "PolicyName": "read", "Roles": [READER_REF], "PolicyDocument": _policy(["iam:GetCredentialReport"])}}),
            id="template-policy-within-report"),
        pytest.param(_with_resource("OtherPolicy", {"Type": "AWS::IAM::Policy", "Properties": {
            "PolicyName": "other", "Roles": ["SomethingElse"], "PolicyDocument": _policy(["*"])}}),
            id="template-policy-other-role"),
        pytest.param(_set(INST, "deploymentTargets", {"organizationalUnitIds": ["r-a1b2"], "accountFilterType": "NONE"}),
                     id="account-filter-none"),
    ],
)
def test_member_role_one_change_passes(change: Callable[[dict[str, k.Spec]], None]) -> None:
    specs = org_baseline()
    change(specs)
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
              f"audit function's role {AUDIT_ROLE_ARN} (by ARN, or the account root pinned with aws:PrincipalArn).",
              _urn(SS))], id="trust-whole-account"),
        pytest.param(_template(_reader(AssumeRolePolicyDocument={"Statement": [{
            "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{k.ACCOUNT}:role/someone-else"},
            "Action": "sts:AssumeRole"}]})),
            [(f"{_urn(SS)} deploys the audit role {ROLE} trusting arn:aws:iam::{k.ACCOUNT}:role/someone-else; expected "
              f"it to trust only the audit function's role {AUDIT_ROLE_ARN} (by ARN, or the account root pinned with "
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
        # D6: the trusted role must be the audit role of the stack's own account, pinned exactly.
        pytest.param(_template(_reader(AssumeRolePolicyDocument=_trust(OTHER_ACCOUNT_ROLE_ARN))),
            [(_trusting(OTHER_ACCOUNT_ROLE_ARN), _urn(SS))], id="trust-role-of-other-account"),
        pytest.param(_template(_reader(AssumeRolePolicyDocument=_trust(
            ROOT, {"ArnEquals": {"aws:PrincipalArn": OTHER_ACCOUNT_ROLE_ARN}}))),
            [(_trusting(OTHER_ACCOUNT_ROLE_ARN), _urn(SS))], id="trust-pin-other-account"),
        pytest.param(_template(_reader(AssumeRolePolicyDocument=_trust(
            "*", {"ArnEquals": {"aws:PrincipalArn": f"arn:aws:iam::*:role/{AUDIT_ROLE_NAME}"}}))),
            [(_trusting(f"arn:aws:iam::*:role/{AUDIT_ROLE_NAME}"), _urn(SS))], id="trust-any-principal-arn-equals-wildcard-account"),
        pytest.param(_template(_reader(AssumeRolePolicyDocument=_trust(
            "*", {"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::*:role/{AUDIT_ROLE_NAME}"}}))),
            [(_trusting(f"arn:aws:iam::*:role/{AUDIT_ROLE_NAME}"), _urn(SS))], id="trust-any-principal-arn-like-wildcard-account"),
        pytest.param(_template(_reader(AssumeRolePolicyDocument=_trust(
            ROOT, {"ArnLike": {"aws:PrincipalArn": f"arn:*:iam::{k.ACCOUNT}:role/{AUDIT_ROLE_NAME}"}}))),
            [(_trusting(f"arn:*:iam::{k.ACCOUNT}:role/{AUDIT_ROLE_NAME}"), _urn(SS))], id="trust-pin-wildcard-partition"),
        # A trust the pack cannot read admits more than named roles, without crashing the policy.
        pytest.param(_template(_reader(AssumeRolePolicyDocument={"Statement": [
            {"Fn::If": ["C", {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"},
                        {"Ref": "AWS::NoValue"}]}]})),
            [(_trusting("more than named roles"), _urn(SS))], id="trust-statement-unreadable"),
        pytest.param(_template(_reader(AssumeRolePolicyDocument={"Statement": [
            {"Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": "sts:AssumeRole", "Condition": "pinned"}]})),
            [(_trusting("more than named roles"), _urn(SS))], id="trust-condition-not-object"),
        # The function's known role ARN says which account's role must be trusted, whatever the template says.
        pytest.param(_set(FN, "role", OTHER_ACCOUNT_ROLE_ARN),
            [(_trusting(AUDIT_ROLE_ARN, expected=OTHER_ACCOUNT_ROLE_ARN), _urn(SS))], id="function-role-in-other-account"),
        pytest.param(_set(TARGET, "arn", k.UNKNOWN), [(
            f"{_urn('root-access-key-audit-role')} has arn unknown during preview, so the pack cannot verify which "
            f"account's role {_urn(FN)} runs as, which the member-account roles must trust; expected a value known at "
            "preview (pass the function its role as an ARN built from the account id), or allowUnknownValues: true in "
            "the 'audit-member-role-deployed' policy config to defer the check to `pulumi up`.",
            _urn('root-access-key-audit-role'))], id="audit-role-account-unknown"),
        # D7: every template resource that attaches a policy to the reader role is judged like its own policies.
        pytest.param(_with_resource("ExtraPolicy", {"Type": "AWS::IAM::Policy", "Properties": {
            "PolicyName": "extra", "Roles": [READER_REF], "PolicyDocument": _policy(["iam:ListUsers"])}}),
            [(_granting("ExtraPolicy", "AWS::IAM::Policy", "iam:listusers"), _urn(SS))], id="template-policy-by-ref"),
        # Properties the pack cannot read could name the reader role: reported, never a crash.
        pytest.param(_with_resource("OddPolicy", {"Type": "AWS::IAM::Policy", "Properties": ROLE}),
            [(f"{_urn(SS)} has template resource 'OddPolicy' (AWS::IAM::Policy) whose Properties the pack cannot read; "
              "expected only policies whose roles and document it can judge.", _urn(SS))], id="template-policy-properties-not-an-object"),
        pytest.param(_with_resource("ExtraRolePolicy", {"Type": "AWS::IAM::RolePolicy", "Properties": {
            "PolicyName": "extra", "RoleName": ROLE, "PolicyDocument": _policy(["*"])}}),
            [(_granting("ExtraRolePolicy", "AWS::IAM::RolePolicy", "*"), _urn(SS))], id="template-role-policy-by-name"),
        pytest.param(_with_resource("ExtraManaged", {"Type": "AWS::IAM::ManagedPolicy", "Properties": {
            "Roles": [ROLE], "PolicyDocument": _policy(["s3:GetObject"])}}),
            [(_granting("ExtraManaged", "AWS::IAM::ManagedPolicy", "s3:getobject"), _urn(SS))], id="template-managed-policy"),
        pytest.param(_with_resource("ExtraPolicy", {"Type": "AWS::IAM::Policy", "Properties": {
            "PolicyName": "extra", "Roles": [{"Fn::Sub": ROLE}], "PolicyDocument": _policy(["iam:ListUsers"])}}),
            [(f"{_urn(SS)} deploys template resource ExtraPolicy (AWS::IAM::Policy) attached to roles the pack cannot "
              f"resolve, which may include the audit role {ROLE}; expected its Roles to name roles literally or by Ref, "
              "so the role provably gets only iam:GenerateCredentialReport and iam:GetCredentialReport.", _urn(SS))],
            id="template-policy-unresolved-role"),
        # An inline policy the pack cannot read is not proven to grant only the report.
        pytest.param(_template(_reader(Policies=[{"Fn::If": ["C", READ_REPORT[0], {"Ref": "AWS::NoValue"}]}])),
            [(f"{_urn(SS)} deploys the audit role {ROLE} granting a policy document the pack cannot read; expected "
              "only iam:GenerateCredentialReport and iam:GetCredentialReport.", _urn(SS))], id="inline-policy-unreadable"),
        # D8: a role under a Condition may not exist in a member account.
        pytest.param(_template({**_reader(), "Conditions": {"IsAudited": {"Fn::Equals": [{"Ref": "AWS::AccountId"}, "1"]}},
                                "Resources": {"RootKeyAuditReaderRole": {**_reader()["Resources"]["RootKeyAuditReaderRole"],
                                                                         "Condition": "IsAudited"}}}),
            [(f"{_urn(SS)} deploys the audit role {ROLE} only under template Condition \"IsAudited\", which may be false "
              "in a member account; expected the role without a Condition so every member account gets it.", _urn(SS))],
            id="role-under-condition"),
        # D9: an account filter leaves accounts of the targeted OUs out.
        pytest.param(_set(INST, "deploymentTargets", {"organizationalUnitIds": ["r-a1b2"], "accountFilterType": "DIFFERENCE",
                                                      "accounts": ["444455556666"]}),
            [(_filtered("DIFFERENCE"), _urn(INST))], id="account-filter-difference"),
        pytest.param(_set(INST, "deploymentTargets", {"organizationalUnitIds": ["r-a1b2"], "accountFilterType": "INTERSECTION",
                                                      "accounts": ["444455556666"]}),
            [(_filtered("INTERSECTION"), _urn(INST))], id="account-filter-intersection"),
        pytest.param(_set(INST, "deploymentTargets", {"organizationalUnitIds": ["r-a1b2"], "accountFilterType": k.UNKNOWN}),
            [(f"{_urn(INST)} has deploymentTargets.accountFilterType unknown during preview, so the pack cannot verify "
              "which accounts of the targeted organizational units get the audit role; expected a value known at preview "
              "(set it literally or leave it out), or allowUnknownValues: true in the 'audit-member-role-deployed' policy "
              "config to defer the check to `pulumi up`.", _urn(INST))],
            id="account-filter-unknown"),
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


def _guard(type_: str, name: str, props: dict[str, Any], urn: str | None = None,
           config: dict[str, Any] | None = None) -> list[tuple[str, Any]]:
    args = k.resource_args(type_, name, props, config)
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


def _unknown_guard(prop: str, purpose: str, how: str) -> str:
    return (f"aws:cloudformation/stackSet:StackSet 'ss' has {prop} unknown during preview, so the pack cannot verify "
            f"{purpose}; expected a value known at preview ({how}), or allowUnknownValues: true in the "
            "'member-stack-set-kept' policy config to defer the check to `pulumi up`.")


SS_URN = "urn:pulumi:dev::root-key-guardrails::aws:cloudformation/stackSet:StackSet::ss"


def test_member_guard_unknown_name_of_compliant_stack_set_passes() -> None:
    # A StackSet that keeps auto-deploying as SERVICE_MANAGED satisfies the guard whatever its name.
    assert _guard(stackset.STACK_SET, "ss", {**GOOD_STACK_SET, "name": k.UNKNOWN}) == []


@pytest.mark.parametrize(
    ("props", "message"),
    [
        # D14: an unknown name is not "unprotected" (as for trails).
        pytest.param({**GOOD_STACK_SET, "name": k.UNKNOWN, "autoDeployment": {"enabled": False}},
                     _unknown_guard("name", "that it is not a protected StackSet (protectedStackSetNames), which must "
                                    "stay SERVICE_MANAGED with auto-deployment on", "set the name literally"),
                     id="unknown-name-auto-deployment-off"),
        pytest.param({**GOOD_STACK_SET, "name": k.UNKNOWN, "permissionModel": "SELF_MANAGED"},
                     _unknown_guard("name", "that it is not a protected StackSet (protectedStackSetNames), which must "
                                    "stay SERVICE_MANAGED with auto-deployment on", "set the name literally"),
                     id="unknown-name-self-managed"),
        pytest.param({**GOOD_STACK_SET, "permissionModel": k.UNKNOWN},
                     _unknown_guard("permissionModel", f"that protected StackSet {STACK_SET_NAME} stays SERVICE_MANAGED",
                                    "set it literally"), id="unknown-permission-model"),
    ],
)
def test_member_guard_unknown_violation(props: dict[str, Any], message: str) -> None:
    assert _guard(stackset.STACK_SET, "ss", props) == [(message, SS_URN)]


def test_member_guard_unknown_relaxed_by_config() -> None:
    props = {**GOOD_STACK_SET, "name": k.UNKNOWN, "autoDeployment": {"enabled": False}}
    assert _guard(stackset.STACK_SET, "ss", props, config={"allowUnknownValues": True}) == []


LOOK_ALIKE_URN = f"urn:pulumi:prod::other-project::{MEMBERS}${stackset.STACK_SET_INSTANCE}::x"


def _look_alike(owner: str, patterns: str) -> str:
    return (f"aws:cloudformation/stackSetInstance:StackSetInstance 'x' manages instances of protected StackSet "
            f"{STACK_SET_NAME} from a {MEMBERS} component in stack {owner}, which matches no guardrailsStacks pattern "
            f"({patterns}); expected only the guardrails' own stack to manage them, since destroying or retargeting this "
            "resource deletes the audit role in member accounts.")


@pytest.mark.parametrize(
    ("urn", "config", "message"),
    [
        # D15: the component's type token is not proof of origin; the project (and configured stacks) must match.
        pytest.param(LOOK_ALIKE_URN, None, _look_alike("other-project/prod", "root-key-guardrails/*"),
                     id="look-alike-component-other-project"),
        pytest.param(_urn(INST).replace("::member-accounts-instances", "::x"), {"guardrailsStacks": ["root-key-guardrails/prod"]},
                     _look_alike("root-key-guardrails/dev", "root-key-guardrails/prod"), id="guardrails-project-other-stack"),
    ],
)
def test_member_guard_look_alike_component(urn: str, config: dict[str, Any] | None, message: str) -> None:
    assert _guard(stackset.STACK_SET_INSTANCE, "x", OTHER_STACK_INSTANCE, urn=urn, config=config) == [(message, urn)]


def test_member_guard_configured_owner_stack_passes() -> None:
    config = {"guardrailsStacks": ["root-key-guardrails/dev"]}
    assert _guard(stackset.STACK_SET_INSTANCE, "member-accounts-instances", OTHER_STACK_INSTANCE, urn=_urn(INST),
                  config=config) == []


def test_member_guard_owner_stacks_config_needs_project() -> None:
    assert _guard(stackset.STACK_SET_INSTANCE, "x", OTHER_STACK_INSTANCE, config={"guardrailsStacks": ["dev"]}) == [(
        "The 'member-stack-set-kept' policy config is invalid: policy config key 'guardrailsStacks' contains 'dev'; "
        "expected glob patterns of <project>/<stack>.", None)]


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


def test_member_guard_unknown_name_in_another_project_is_another_stack_set() -> None:
    # StackSet names are unique in an account and region: only the guardrails' own stacks can be renaming the
    # protected one, so elsewhere an unknown name is someone else's StackSet (self-managed is the provider default).
    urn = f"urn:pulumi:prod::networking::{stackset.STACK_SET}::shared"
    assert _guard(stackset.STACK_SET, "shared", {"name": k.UNKNOWN, "permissionModel": "SELF_MANAGED"}, urn=urn) == []


def test_member_guard_instance_under_a_wrapper_inside_the_component_is_the_guardrails() -> None:
    urn = f"urn:pulumi:dev::root-key-guardrails::{MEMBERS}$acme:wrap:Wrapper${stackset.STACK_SET_INSTANCE}::x"
    assert _guard(stackset.STACK_SET_INSTANCE, "x", {**OTHER_STACK_INSTANCE}, urn=urn) == []
