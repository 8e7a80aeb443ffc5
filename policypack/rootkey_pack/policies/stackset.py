"""The organization audit's member-account role: deployed by a service-managed StackSet, and kept deployed.

Serves CIS 1.4 / Security Hub IAM.4 across the organization: an audit in organization mode that finds no reader role
in a member account reports ERROR there, and an account that joins later would never be audited if the StackSet
stopped auto-deploying. The stack policy proves the owning stack deploys the role to the organization or OUs with
auto-deployment on, and that the role it deploys exists unconditionally, trusts only the audit role of the stack's own
account and can read nothing but the credential report; the guard stops any stack from switching auto-deployment off
or managing (and so, on destroy, deleting) the protected StackSet's instances from outside the guardrails' component
in the guardrails' own stacks.
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
from ..types import EVENT_TARGET, IAM_ROLE, LAMBDA_FUNCTION
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
_OWNER_RE = re.compile(r"^[^/]+/[^/]+$")
GUARDRAILS_STACKS = ConfigKey(
    "guardrailsStacks",
    {
        "type": "array",
        "items": {"type": "string", "pattern": _OWNER_RE.pattern},
        "default": ["root-key-guardrails/*"],
        "description": "Glob patterns (fnmatch, case-sensitive) of <project>/<stack> of the stacks that own the protected "
        "StackSets; only their MemberAccounts component may manage the StackSets' instances.",
    },
    ("root-key-guardrails/*",),
    _string_list(_OWNER_RE, "glob patterns of <project>/<stack>"),
)

MEMBER_ROLE = md.PolicyMeta(
    name="audit-member-role-deployed",
    description="Ensure an organization-mode audit has a service-managed, auto-deploying StackSet that creates its role in the organization's member accounts.",
    severity=Severity.HIGH,
    enforcement=EnforcementLevel.MANDATORY,
    remediation=(
        "Keep memberStackSet true (the default) when auditOrgRoleName is set: an aws.cloudformation.StackSet with "
        "permissionModel SERVICE_MANAGED and autoDeployment.enabled true whose template creates the AWS::IAM::Role "
        "named auditOrgRoleName without a Condition, trusting only the audit role's ARN in this account and granted "
        "nothing but the credential report, and a StackSetInstance targeting the organization root or OUs without an "
        "account filter."
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
        "manage its StackSetInstances only in the MemberAccounts component of the root-key-guardrails stack that "
        "owns it (guardrailsStacks)."
    ),
    url=URL_STACKSETS,
    frameworks=md.AUDIT,
    kind="resource",
)

STACK_TYPES = (LAMBDA_FUNCTION, IAM_ROLE, EVENT_TARGET, STACK_SET, STACK_SET_INSTANCE)


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
READER_EXPECTED = "iam:GenerateCredentialReport and iam:GetCredentialReport"
# Template resources that attach a policy to roles, and the property naming those roles.
_GRANTING_TYPES = {"AWS::IAM::Policy": "Roles", "AWS::IAM::ManagedPolicy": "Roles", "AWS::IAM::RolePolicy": "RoleName"}
_ROLE_ARN_RE = re.compile(r"^arn:(aws[a-z-]*):iam::([0-9]{12}):role/[^*?]+\Z")
_ARN_ACCOUNT_RE = re.compile(r"^arn:(aws[a-z-]*):[a-z0-9-]+:[a-z0-9-]*:([0-9]{12}):")
# urn:pulumi:<stack>::<project>::<parent types $-joined>$<type>::<name>; types hold single colons, names anything.
_URN_RE = re.compile(r"^urn:pulumi:([^:]+)::([^:]+)::((?:[^:]|:(?!:))+)::")


def _template_resources(body: Any) -> Optional[dict[str, Any]]:
    """Logical id -> resource of the template; None when the body is not a JSON template."""
    if not isinstance(body, str):
        return None
    try:
        template = json.loads(body)
    except json.JSONDecodeError:
        return None
    resources = template.get("Resources") if isinstance(template, dict) else None
    return resources if isinstance(resources, dict) else None


def _roles_named(resources: dict[str, Any], role: str) -> list[tuple[str, dict[str, Any]]]:
    """(logical id, resource) of each AWS::IAM::Role the template creates with this literal RoleName."""
    found = []
    for logical_id, resource in resources.items():
        if isinstance(resource, dict) and resource.get("Type") == "AWS::IAM::Role":
            properties = resource.get("Properties")
            if isinstance(properties, dict) and properties.get("RoleName") == role:
                found.append((logical_id, resource))
    return found


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _has_wildcard(arn: str) -> bool:
    return "*" in arn or "?" in arn


def _trusted_arns(trust: Any) -> Optional[set[str]]:
    """Every principal ARN the trust admits: role ARNs named as principals or pinned by aws:PrincipalArn; None
    when some Allow admits more than named roles (an account root without a pin, "*", a service)."""
    if not isinstance(trust, dict):
        return None
    admitted: set[str] = set()
    for statement in _as_list(trust.get("Statement")):
        effect = statement.get("Effect") if isinstance(statement, dict) else None
        if effect == "Deny":
            continue
        if effect != "Allow":
            # An intrinsic function (Fn::If) in place of a statement or its Effect may yield an Allow.
            return None
        condition = statement.get("Condition")
        if condition is not None and not isinstance(condition, dict):
            return None
        pinned: set[str] = set()
        # ArnEquals matches wildcards just as ArnLike does; a pattern stays in the set as written, so only the one
        # exact ARN expected can ever satisfy the caller's comparison.
        for operator in ("ArnEquals", "ArnLike", "StringEquals"):
            tests = (condition or {}).get(operator) or {}
            for key, value in tests.items() if isinstance(tests, dict) else ():
                if isinstance(key, str) and key.lower() == "aws:principalarn":
                    pinned.update(v if isinstance(v, str) else json.dumps(v) for v in _as_list(value))
        principal = statement.get("Principal")
        aws = principal.get("AWS") if isinstance(principal, dict) else None
        if aws is None or set(principal) != {"AWS"}:
            return None
        for entry in _as_list(aws):
            if isinstance(entry, str) and ":role/" in entry and not _has_wildcard(entry):
                admitted.add(entry)
            elif pinned:
                admitted.update(pinned)
            else:
                return None
    return admitted


def _document_grants(document: Any) -> list[str]:
    """What a policy document allows beyond the credential report: lower-cased actions, or why it cannot be read."""
    if not isinstance(document, dict):
        return ["a policy document the pack cannot read"]
    extra: list[str] = []
    for statement in _as_list(document.get("Statement")):
        effect = statement.get("Effect") if isinstance(statement, dict) else None
        if effect == "Deny":
            continue
        if effect != "Allow":
            # An intrinsic function (Fn::If) in place of a statement or its Effect may yield an Allow.
            extra.append("a statement the pack cannot read")
            continue
        if "NotAction" in statement:
            extra.append("NotAction")
        for action in _as_list(statement.get("Action")) if "Action" in statement else ():
            extra.append(action.lower() if isinstance(action, str) else "an action the pack cannot read")
    return sorted(a for a in set(extra) if a not in READER_ACTIONS)


def _names_reader(ref: Any, reader_id: str, role: str, resources: dict[str, Any]) -> Optional[bool]:
    """Whether one entry of a policy's Roles/RoleName names the reader role; None when the pack cannot tell."""
    if isinstance(ref, str):
        return ref == role
    if isinstance(ref, dict) and set(ref) == {"Ref"} and isinstance(ref["Ref"], str):
        target = ref["Ref"]
        if target == reader_id:
            return True
        if target == "AWS::NoValue":
            return False
        resource = resources.get(target)
        if isinstance(resource, dict):
            # Ref of a role is its name; of anything else, not a role name at all.
            properties = resource.get("Properties")
            name = properties.get("RoleName") if isinstance(properties, dict) else None
            return resource.get("Type") == "AWS::IAM::Role" and name == role
        # A parameter or pseudo parameter: its value is chosen at deployment.
        return None
    if ref is None or isinstance(ref, (bool, int, float)):
        return False
    return None


def _template_grant_issues(stack_set: Res, role: str, reader_id: str, resources: dict[str, Any]) -> list[Optional[Issue]]:
    """Grants to the reader role from the template's other resources, judged as the role's own policies are."""
    issues: list[Optional[Issue]] = []
    for logical_id, resource in resources.items():
        kind = resource.get("Type") if isinstance(resource, dict) else None
        key = _GRANTING_TYPES.get(kind) if isinstance(kind, str) else None
        if key is None:
            continue
        properties = resource.get("Properties")
        if not isinstance(properties, dict):
            # Without an object of properties the pack cannot tell which roles it grants to: it could be the reader.
            issues.append(Issue(
                f"{stack_set.urn} has template resource {logical_id!r} ({kind}) whose Properties the pack cannot read; "
                f"expected only policies whose roles and document it can judge.", stack_set.urn))
            continue
        refs = _as_list(properties.get(key))
        named = [_names_reader(ref, reader_id, role, resources) for ref in refs]
        if True in named:
            extra = _document_grants(properties.get("PolicyDocument"))
            if extra:
                issues.append(Issue(
                    f"{stack_set.urn} deploys template resource {logical_id} ({kind}) that grants the audit role {role} "
                    f"{', '.join(extra)}; expected the role to get only {READER_EXPECTED}.", stack_set.urn))
        elif None in named:
            issues.append(Issue(
                f"{stack_set.urn} deploys template resource {logical_id} ({kind}) attached to roles the pack cannot "
                f"resolve, which may include the audit role {role}; expected its {key} to name roles literally or by "
                f"Ref, so the role provably gets only {READER_EXPECTED}.", stack_set.urn))
    return issues


def _reader_role_issues(stack_set: Res, role: str, reader_id: str, reader: dict[str, Any],
                        resources: dict[str, Any], expected_principal: Optional[str]) -> list[Optional[Issue]]:
    issues: list[Optional[Issue]] = []
    properties = reader["Properties"]
    condition = reader.get("Condition", MISSING)
    if condition is not MISSING:
        issues.append(Issue(
            f"{stack_set.urn} deploys the audit role {role} only under template Condition {json.dumps(condition)}, "
            "which may be false in a member account; expected the role without a Condition so every member account "
            "gets it.", stack_set.urn))
    if expected_principal is not None:
        trusted = _trusted_arns(properties.get("AssumeRolePolicyDocument"))
        if trusted is None or not trusted or any(arn != expected_principal for arn in trusted):
            shown = "more than named roles" if trusted is None else (", ".join(sorted(trusted)) or "no one")
            issues.append(Issue(
                f"{stack_set.urn} deploys the audit role {role} trusting {shown}; expected it to trust only the audit "
                f"function's role {expected_principal} (by ARN, or the account root pinned with aws:PrincipalArn).",
                stack_set.urn))
    extra: list[str] = []
    for policy in _as_list(properties.get("Policies") or []):
        extra += _document_grants(policy.get("PolicyDocument") if isinstance(policy, dict) else None)
    extra = sorted(set(extra)) + (["ManagedPolicyArns"] if properties.get("ManagedPolicyArns") else [])
    if extra:
        issues.append(Issue(
            f"{stack_set.urn} deploys the audit role {role} granting {', '.join(extra)}; expected only "
            f"{READER_EXPECTED}.", stack_set.urn))
    issues += _template_grant_issues(stack_set, role, reader_id, resources)
    return issues


def _instances_of(ctx: Context, stack_set: Res) -> list[Res]:
    """The instances whose stackSetName names this StackSet: by its known value, or (unknown) by its one link."""
    assert ctx.stack is not None
    # Only a decided reference counts: an instance that merely could belong to it deploys nothing provably.
    return [i for i in ctx.stack.of_type(STACK_SET_INSTANCE)
            if ctx.stack.refers_to(i, "stackSetName", stack_set, by_props("name", "id")) is True]


def _stack_set_issues(ctx: Context, stack_set: Res, role: str, resources: dict[str, Any],
                      expected_principal: Optional[str]) -> list[Optional[Issue]]:
    issues: list[Optional[Issue]] = []
    for reader_id, reader in _roles_named(resources, role):
        issues += _reader_role_issues(stack_set, role, reader_id, reader, resources, expected_principal)
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
        account_filter = targets.get("accountFilterType") if isinstance(targets, dict) else MISSING
        if targets is UNKNOWN or contains_unknown(ous):
            issues.append(ctx.unknown_issue(instance, "deploymentTargets", "where the audit role is deployed", "pass the OU ids literally"))
        elif account_filter is UNKNOWN:
            issues.append(ctx.unknown_issue(instance, "deploymentTargets.accountFilterType",
                                            "which accounts of the targeted organizational units get the audit role",
                                            "set it literally or leave it out"))
        elif not isinstance(ous, list) or not ous or not all(isinstance(t, str) and _TARGET_RE.match(t) for t in ous):
            issues.append(Issue(
                f"{instance.urn} deploys {stack_set.urn} to {json.dumps(ous) if isinstance(ous, list) and ous else 'no organizational units'}; "
                "expected deploymentTargets.organizationalUnitIds with the organization root (r-...) or OU ids (ou-...).",
                instance.urn))
        elif account_filter not in (MISSING, None, "", "NONE"):
            # Auto-deployment follows the OUs, but a filter narrows (or redefines) which of their accounts get the role.
            issues.append(Issue(
                f"{instance.urn} deploys {stack_set.urn} with accountFilterType {json.dumps(account_filter)}, which can "
                "leave accounts of the targeted organizational units without the audit role; expected no account "
                "filter (NONE).", instance.urn))
    return issues


def _function_account(ctx: Context, fn: Res) -> Optional[tuple[str, str]]:
    """(partition, account) of the audit function: from its ARN, or a known ARN the stack invokes it by.

    A Lambda function's execution role lives in the function's account, so this is the audit role's account too.
    """
    assert ctx.stack is not None
    names_fn = by_arn("name", "arn", "id")
    values: list[Any] = [fn.get("arn")]
    for target in ctx.stack.of_type(EVENT_TARGET):
        values += [v for v in ctx.stack.reference(target, "arn").known if names_fn(v, fn)]
    for value in values:
        match = _ARN_ACCOUNT_RE.match(value) if isinstance(value, str) else None
        if match:
            return match.group(1), match.group(2)
    return None


def _audit_role_arn(ctx: Context, fn: Res) -> tuple[Optional[str], Optional[Issue]]:
    """The ARN of the role the audit function runs as, or why the pack cannot tell (None when relaxed)."""
    assert ctx.stack is not None
    found = ctx.stack.resolve(fn, "role", ctx.stack.of_type(IAM_ROLE), by_arn("arn"))
    if found.reference.known:
        value = found.reference.known[0]
        if isinstance(value, str) and _ROLE_ARN_RE.match(value):
            return value, None
        return None, Issue(
            f"{fn.urn} runs as {json.dumps(value)}, which is not an IAM role ARN, so the pack cannot tell which role "
            "the member-account roles must trust; expected the audit role's ARN.", fn.urn)
    if len(found.targets) == 1:
        role = found.targets[0]
        arn = role.get("arn")
        if isinstance(arn, str) and _ROLE_ARN_RE.match(arn):
            return arn, None
        name, path = role.get("name"), role.get("path")
        located = _function_account(ctx, fn)
        if isinstance(name, str) and name and path is not UNKNOWN and located is not None:
            partition, account = located
            path = path if isinstance(path, str) and path else "/"
            return f"arn:{partition}:iam::{account}:role{path}{name}", None
        unknown = "name" if name is UNKNOWN else "path" if path is UNKNOWN else "arn"
        return None, ctx.unknown_issue(
            role, unknown, f"which account's role {fn.urn} runs as, which the member-account roles must trust",
            "pass the function its role as an ARN built from the account id")
    if found.reference.has_unknown:
        return None, ctx.unknown_issue(fn, "role", "which role the member roles must trust", "give the audit role a fixed name")
    return None, Issue(
        f"{fn.urn} has no role, so the pack cannot tell which role the member-account roles must trust; expected "
        "the audit role's ARN.", fn.urn)


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
            resources = _template_resources(body)
            if resources is not None and _roles_named(resources, role):
                candidates.append((stack_set, resources))
        if not candidates:
            pending.append(Issue(
                f"{fn.urn} audits the organization through role {role}, but no {STACK_SET} in the stack deploys an "
                f"AWS::IAM::Role named {role}; expected a service-managed StackSet with auto-deployment whose "
                "template creates the role in every member account.", fn.urn))
            ctx.report_issues(pending)
            continue
        # A compliant StackSet settles it, unless the role it must trust is itself unknown.
        expected_principal, why = _audit_role_arn(ctx, fn)
        ctx.report_issues([why])
        found: list[Optional[Issue]] = list(pending)
        for stack_set, resources in candidates:
            issues = _stack_set_issues(ctx, stack_set, role, resources, expected_principal)
            if not issues:
                found = []
                break
            found.extend(issues)
        ctx.report_issues(found)


def _stack_set_problems(res: Res, name: str) -> list[tuple[Optional[str], str]]:
    """(unknown property, purpose) or (None, violation message) for each way the StackSet stops auto-deploying."""
    problems: list[tuple[Optional[str], str]] = []
    auto = res.get("autoDeployment")
    enabled = auto.get("enabled") if isinstance(auto, dict) else MISSING
    if auto is UNKNOWN or enabled is UNKNOWN:
        problems.append(("autoDeployment", f"that protected StackSet {name} keeps auto-deploying"))
    elif enabled is not True:
        problems.append((None, f"{res.label} turns auto-deployment off on protected StackSet {name}; expected autoDeployment.enabled true, or accounts that join the organization are never audited."))
    model = res.get("permissionModel")
    if model is UNKNOWN:
        problems.append(("permissionModel", f"that protected StackSet {name} stays SERVICE_MANAGED"))
    elif model != "SERVICE_MANAGED":
        problems.append((None, f"{res.label} makes protected StackSet {name} {model if model is not MISSING else 'SELF_MANAGED'}; expected SERVICE_MANAGED, which alone auto-deploys to the organization."))
    return problems


def _owner(urn: str) -> Optional[tuple[str, tuple[str, ...]]]:
    """(<project>/<stack>, the parent types, outermost first) from the engine's URN; None when it does not parse."""
    match = _URN_RE.match(urn)
    if match is None:
        return None
    stack, project, chain = match.groups()
    return f"{project}/{stack}", tuple(chain.split("$")[:-1])


def validate_member_stack_set_kept(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    ctx = resource_context(MEMBER_STACK_SET_KEPT, args, report_violation, (PROTECTED_STACK_SETS, GUARDRAILS_STACKS),
                           (STACK_SET, STACK_SET_INSTANCE))
    if ctx is None:
        return
    res = ctx.resource
    assert res is not None
    patterns = ctx.settings[PROTECTED_STACK_SETS]
    if res.type == STACK_SET:
        name = res.get("name")
        if name is UNKNOWN:
            # Only a StackSet that would break the guard if protected needs its name: as with trails, unknown is
            # not "unprotected". StackSet names are unique in an account and region, so only the guardrails' own
            # stacks can be renaming the protected one; elsewhere an unknown name is another StackSet.
            owner = _owner(res.urn)
            ours = owner is not None and name_matches(owner[0], ctx.settings[GUARDRAILS_STACKS])
            if ours and _stack_set_problems(res, "(unknown)"):
                ctx.unknown(res, "name", "that it is not a protected StackSet (protectedStackSetNames), which must "
                            "stay SERVICE_MANAGED with auto-deployment on", "set the name literally")
            return
        if not (isinstance(name, str) and name_matches(name, patterns)):
            return
        for prop, text in _stack_set_problems(res, name):
            if prop is None:
                ctx.report(text)
            else:
                ctx.unknown(res, prop, text, "set it literally")
        return
    owners = ctx.settings[GUARDRAILS_STACKS]
    owner = _owner(res.urn)
    in_component = owner is not None and MEMBERS_COMPONENT in owner[1]
    # The component's type token is no proof of origin: any program can declare one, so the stack must be the
    # guardrails' own too.
    if in_component and owner is not None and name_matches(owner[0], owners):
        return
    name = res.get("stackSetName")
    if name is UNKNOWN:
        ctx.unknown(res, "stackSetName", "that this instance does not belong to a protected StackSet", "pass the StackSet name literally")
    elif isinstance(name, str) and name_matches(name, patterns):
        if in_component and owner is not None:
            ctx.report(f"{res.label} manages instances of protected StackSet {name} from a {MEMBERS_COMPONENT} component in stack {owner[0]}, which matches no guardrailsStacks pattern ({', '.join(owners)}); expected only the guardrails' own stack to manage them, since destroying or retargeting this resource deletes the audit role in member accounts.")
        else:
            ctx.report(f"{res.label} manages instances of protected StackSet {name} outside the guardrails' {MEMBERS_COMPONENT} component; expected only the owning stack to manage them, since destroying or retargeting this resource deletes the audit role in member accounts.")


AUDIT_MEMBER_ROLE_DEPLOYED = stack_policy(MEMBER_ROLE, validate_audit_member_role_deployed, ())
MEMBER_STACK_SET_KEPT_POLICY = resource_policy(MEMBER_STACK_SET_KEPT, validate_member_stack_set_kept, (PROTECTED_STACK_SETS, GUARDRAILS_STACKS))
