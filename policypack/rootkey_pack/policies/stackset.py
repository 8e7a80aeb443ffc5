"""The organization audit's member-account role: deployed by a service-managed StackSet, and kept deployed.

Serves CIS 1.4 / Security Hub IAM.4 across the organization: an audit in organization mode that finds no reader role
in a member account reports ERROR there, and an account that joins later would never be audited if the StackSet
stopped auto-deploying. The stack policy proves the owning stack deploys the role to the organization or OUs with
auto-deployment on; the guard stops any stack from switching auto-deployment off or managing (and so, on destroy,
deleting) the protected StackSet's instances from outside the guardrails' component.
"""

from __future__ import annotations

import json
import re
from typing import Any, Optional

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    Severity,
    StackValidationArgs,
)

from .. import metadata as md
from ..base import Context, Issue, resource_context, resource_policy, stack_context, stack_policy
from ..config import ConfigKey, _string_list, name_matches
from ..types import IAM_ROLE, LAMBDA_FUNCTION
from ..values import MISSING, UNKNOWN, Res, by_arn, by_props, contains_unknown
from .audit import audit_functions

STACK_SET = "aws:cloudformation/stackSet:StackSet"
STACK_SET_INSTANCE = "aws:cloudformation/stackSetInstance:StackSetInstance"
MEMBERS_COMPONENT = "root-key-guardrails:members:MemberAccounts"
URL_STACKSETS = "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-orgs-manage-auto-deployment.html"
_TARGET_RE = re.compile(r"^(r-[0-9a-z]{4,32}|ou-[0-9a-z]{4,32}-[a-z0-9]{8,32})\Z")

PROTECTED_STACK_SETS = ConfigKey(
    "protectedStackSetNames",
    {
        "type": "array",
        "items": {"type": "string", "minLength": 1},
        "default": ["root-key-guardrails-*-members"],
        "description": "Glob patterns of the StackSet names that deploy the audit's member-account role.",
    },
    ("root-key-guardrails-*-members",),
    _string_list(None, "non-empty glob patterns of StackSet names"),
)

MEMBER_ROLE = md.PolicyMeta(
    name="audit-member-role-deployed",
    description="Ensure an organization-mode audit has a service-managed, auto-deploying StackSet that creates its role in the organization's member accounts.",
    severity=Severity.HIGH,
    enforcement=EnforcementLevel.MANDATORY,
    remediation=(
        "Keep memberStackSet true (the default) when auditOrgRoleName is set: an aws.cloudformation.StackSet with "
        "permissionModel SERVICE_MANAGED and autoDeployment.enabled true whose template creates the AWS::IAM::Role "
        "named auditOrgRoleName, and a StackSetInstance targeting the organization root or OUs."
    ),
    url=URL_STACKSETS,
    frameworks=md.AUDIT,
    kind="stack",
)
MEMBER_STACK_SET_KEPT = md.PolicyMeta(
    name="member-stack-set-kept",
    description="Ensure no stack turns off auto-deployment of the audit's member StackSet or manages its instances from outside the guardrails.",
    severity=Severity.HIGH,
    enforcement=EnforcementLevel.MANDATORY,
    remediation=(
        "Leave the protected StackSet (protectedStackSetNames) SERVICE_MANAGED with autoDeployment.enabled true, and "
        "manage its StackSetInstances only in the root-key-guardrails stack that owns it."
    ),
    url=URL_STACKSETS,
    frameworks=md.AUDIT,
    kind="resource",
)

STACK_TYPES = (LAMBDA_FUNCTION, IAM_ROLE, STACK_SET, STACK_SET_INSTANCE)


def _org_role_name(fn: Res) -> Any:
    env = fn.get("environment")
    if env is UNKNOWN:
        return UNKNOWN
    variables = env.get("variables") if isinstance(env, dict) else None
    if variables is UNKNOWN:
        return UNKNOWN
    value = variables.get("AUDIT_ORG_ROLE_NAME", "") if isinstance(variables, dict) else ""
    return value


READER_ACTIONS = frozenset({"iam:generatecredentialreport", "iam:getcredentialreport"})


def _template_roles(body: Any) -> Optional[dict[str, dict[str, Any]]]:
    """Role name -> Properties of each role the template creates; None when the body is not a JSON template."""
    if not isinstance(body, str):
        return None
    try:
        template = json.loads(body)
    except json.JSONDecodeError:
        return None
    resources = template.get("Resources") if isinstance(template, dict) else None
    if not isinstance(resources, dict):
        return None
    roles: dict[str, dict[str, Any]] = {}
    for resource in resources.values():
        if isinstance(resource, dict) and resource.get("Type") == "AWS::IAM::Role":
            properties = resource.get("Properties") or {}
            if isinstance(properties, dict) and isinstance(properties.get("RoleName"), str):
                roles[properties["RoleName"]] = properties
    return roles


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _trusted_arns(trust: Any) -> Optional[set[str]]:
    """Every principal ARN the trust admits: role ARNs named as principals or pinned by aws:PrincipalArn; None
    when some Allow admits more than named roles (an account root without a pin, "*", a service)."""
    if not isinstance(trust, dict):
        return None
    admitted: set[str] = set()
    for statement in _as_list(trust.get("Statement")):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        pinned: set[str] = set()
        for operator in ("ArnEquals", "StringEquals"):
            tests = (statement.get("Condition") or {}).get(operator) or {}
            for key, value in tests.items() if isinstance(tests, dict) else ():
                if key.lower() == "aws:principalarn":
                    pinned.update(v for v in _as_list(value) if isinstance(v, str))
        principal = statement.get("Principal")
        aws = principal.get("AWS") if isinstance(principal, dict) else None
        if aws is None or set(principal) != {"AWS"}:
            return None
        for entry in _as_list(aws):
            if isinstance(entry, str) and ":role/" in entry and "*" not in entry:
                admitted.add(entry)
            elif pinned:
                admitted.update(pinned)
            else:
                return None
    return admitted


def _reader_role_issues(stack_set: Res, role: str, properties: dict[str, Any], audit_role_name: Any) -> list[Optional[Issue]]:
    issues: list[Optional[Issue]] = []
    if isinstance(audit_role_name, str):
        trusted = _trusted_arns(properties.get("AssumeRolePolicyDocument"))
        if trusted is None or not trusted or any(not arn.endswith(f":role/{audit_role_name}") for arn in trusted):
            shown = "more than named roles" if trusted is None else (", ".join(sorted(trusted)) or "no one")
            issues.append(Issue(
                f"{stack_set.urn} deploys the audit role {role} trusting {shown}; expected it to trust only the audit "
                f"function's role {audit_role_name} (by ARN, or the account root pinned with aws:PrincipalArn).",
                stack_set.urn))
    actions: set[str] = set()
    for policy in _as_list(properties.get("Policies") or []):
        document = policy.get("PolicyDocument") if isinstance(policy, dict) else None
        for statement in _as_list((document or {}).get("Statement") if isinstance(document, dict) else []):
            if isinstance(statement, dict) and statement.get("Effect") == "Allow":
                actions.update(str(a).lower() for a in _as_list(statement.get("Action")))
    extra = sorted(actions - READER_ACTIONS) + (["ManagedPolicyArns"] if properties.get("ManagedPolicyArns") else [])
    if extra:
        issues.append(Issue(
            f"{stack_set.urn} deploys the audit role {role} granting {', '.join(extra)}; expected only "
            "iam:GenerateCredentialReport and iam:GetCredentialReport.", stack_set.urn))
    return issues


def _instances_of(ctx: Context, stack_set: Res) -> list[Res]:
    """The instances whose stackSetName names this StackSet: by its known value, or (unknown) by its one link."""
    assert ctx.stack is not None
    # Only a decided reference counts: an instance that merely could belong to it deploys nothing provably.
    return [i for i in ctx.stack.of_type(STACK_SET_INSTANCE)
            if ctx.stack.refers_to(i, "stackSetName", stack_set, by_props("name", "id")) is True]


def _stack_set_issues(ctx: Context, stack_set: Res, role: str, properties: dict[str, Any],
                      audit_role_name: Any) -> list[Optional[Issue]]:
    issues: list[Optional[Issue]] = _reader_role_issues(stack_set, role, properties, audit_role_name)
    model = stack_set.get("permissionModel")
    if model is UNKNOWN:
        issues.append(ctx.unknown_issue(stack_set, "permissionModel", "that the StackSet is service-managed", "set it literally"))
    elif model != "SERVICE_MANAGED":
        issues.append(Issue(
            f"{stack_set.urn} deploys the audit role {role} with permissionModel {model if model is not MISSING else 'SELF_MANAGED (the default)'}; "
            "expected SERVICE_MANAGED so every member account gets the role through Organizations.", stack_set.urn))
    auto = stack_set.get("autoDeployment")
    enabled = auto.get("enabled") if isinstance(auto, dict) else MISSING
    if auto is UNKNOWN or enabled is UNKNOWN:
        issues.append(ctx.unknown_issue(stack_set, "autoDeployment", "that accounts joining later get the role", "set it literally"))
    elif enabled is not True:
        issues.append(Issue(
            f"{stack_set.urn} deploys the audit role {role} with auto-deployment off; expected autoDeployment.enabled "
            "true so accounts that join the organization get the role.", stack_set.urn))
    instances = _instances_of(ctx, stack_set)
    if not instances:
        issues.append(Issue(
            f"{stack_set.urn} deploys the audit role {role} but no {STACK_SET_INSTANCE} targets it; expected an "
            "instance with deploymentTargets.organizationalUnitIds naming the organization root or OUs.", stack_set.urn))
    for instance in instances:
        targets = instance.get("deploymentTargets")
        ous = targets.get("organizationalUnitIds") if isinstance(targets, dict) else MISSING
        if targets is UNKNOWN or contains_unknown(ous):
            issues.append(ctx.unknown_issue(instance, "deploymentTargets", "where the audit role is deployed", "pass the OU ids literally"))
        elif not isinstance(ous, list) or not ous or not all(isinstance(t, str) and _TARGET_RE.match(t) for t in ous):
            issues.append(Issue(
                f"{instance.urn} deploys {stack_set.urn} to {json.dumps(ous) if isinstance(ous, list) and ous else 'no organizational units'}; "
                "expected deploymentTargets.organizationalUnitIds with the organization root (r-...) or OU ids (ou-...).",
                instance.urn))
    return issues


def _audit_role_name(ctx: Context, fn: Res) -> Any:
    """The name of the role the audit function runs as (fixed by the program), UNKNOWN or MISSING."""
    assert ctx.stack is not None
    found = ctx.stack.resolve(fn, "role", ctx.stack.of_type(IAM_ROLE), by_arn("arn"))
    if len(found.targets) == 1 and not found.foreign:
        return found.targets[0].get("name")
    arn = found.reference.known[0] if len(found.reference.known) == 1 else MISSING
    if isinstance(arn, str) and ":role/" in arn:
        return arn.rsplit("/", 1)[-1]
    return UNKNOWN if found.open or found.targets else MISSING


def validate_audit_member_role_deployed(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    ctx = stack_context(MEMBER_ROLE, args, report_violation, (), STACK_TYPES)
    if ctx is None:
        return
    assert ctx.stack is not None
    for fn in audit_functions(ctx.stack):
        role = _org_role_name(fn)
        if role is UNKNOWN:
            ctx.unknown(fn, "environment.variables.AUDIT_ORG_ROLE_NAME", "whether the audit runs in organization mode", "pass the role name literally")
            continue
        if not isinstance(role, str) or not role:
            continue
        pending: list[Optional[Issue]] = []
        candidates = []
        for stack_set in ctx.stack.of_type(STACK_SET):
            body = stack_set.get("templateBody")
            if body is UNKNOWN:
                pending.append(ctx.unknown_issue(stack_set, "templateBody", "which roles the StackSet deploys", "build the template with json.dumps from literal values"))
                continue
            roles = _template_roles(body)
            if roles is not None and role in roles:
                candidates.append((stack_set, roles[role]))
        if not candidates:
            pending.append(Issue(
                f"{fn.urn} audits the organization through role {role}, but no {STACK_SET} in the stack deploys an "
                f"AWS::IAM::Role named {role}; expected a service-managed StackSet with auto-deployment whose "
                "template creates the role in every member account.", fn.urn))
            ctx.report_issues(pending)
            continue
        # A compliant StackSet settles it, unless the role it must trust is itself unknown.
        audit_role_name = _audit_role_name(ctx, fn)
        if audit_role_name is UNKNOWN or audit_role_name is MISSING:
            ctx.report_issues([ctx.unknown_issue(fn, "role", "which role the member roles must trust",
                                                 "give the audit role a fixed name")])
        found: list[Optional[Issue]] = list(pending)
        for stack_set, properties in candidates:
            issues = _stack_set_issues(ctx, stack_set, role, properties, audit_role_name)
            if not issues:
                found = []
                break
            found.extend(issues)
        ctx.report_issues(found)


def validate_member_stack_set_kept(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    ctx = resource_context(MEMBER_STACK_SET_KEPT, args, report_violation, (PROTECTED_STACK_SETS,), (STACK_SET, STACK_SET_INSTANCE))
    if ctx is None:
        return
    res = ctx.resource
    assert res is not None
    patterns = ctx.settings[PROTECTED_STACK_SETS]
    if res.type == STACK_SET:
        name = res.get("name")
        if not (isinstance(name, str) and name_matches(name, patterns)):
            return
        auto = res.get("autoDeployment")
        enabled = auto.get("enabled") if isinstance(auto, dict) else MISSING
        if auto is UNKNOWN or enabled is UNKNOWN:
            ctx.unknown(res, "autoDeployment", f"that protected StackSet {name} keeps auto-deploying", "set it literally")
        elif enabled is not True:
            ctx.report(f"{res.label} turns auto-deployment off on protected StackSet {name}; expected autoDeployment.enabled true, or accounts that join the organization are never audited.")
        model = res.get("permissionModel")
        if model is not UNKNOWN and model != "SERVICE_MANAGED":
            ctx.report(f"{res.label} makes protected StackSet {name} {model if model is not MISSING else 'SELF_MANAGED'}; expected SERVICE_MANAGED, which alone auto-deploys to the organization.")
        return
    if MEMBERS_COMPONENT + "$" in res.urn:
        return
    name = res.get("stackSetName")
    if name is UNKNOWN:
        ctx.unknown(res, "stackSetName", "that this instance does not belong to a protected StackSet", "pass the StackSet name literally")
    elif isinstance(name, str) and name_matches(name, patterns):
        ctx.report(f"{res.label} manages instances of protected StackSet {name} outside the guardrails' {MEMBERS_COMPONENT} component; expected only the owning stack to manage them, since destroying or retargeting this resource deletes the audit role in member accounts.")


AUDIT_MEMBER_ROLE_DEPLOYED = stack_policy(MEMBER_ROLE, validate_audit_member_role_deployed, ())
MEMBER_STACK_SET_KEPT_POLICY = resource_policy(MEMBER_STACK_SET_KEPT, validate_member_stack_set_kept, (PROTECTED_STACK_SETS,))
