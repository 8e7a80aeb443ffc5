"""Audit: a scheduled function reads the IAM credential report and reports active root keys (Prowler
iam_no_root_access_key, CIS AWS 1.4 and successors, Security Hub IAM.4), its role holds only what that needs, and
its findings and failures reach someone (an audit nobody hears from proves nothing)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timezone
from collections.abc import Mapping
from typing import Any, Optional

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    Severity,
    StackValidationArgs,
)

from .. import metadata as md
from ..base import Context, Issue, stack_context, stack_policy
from ..alarm_eval import MetricSpec, evaluate_alarm
from ..config import EXTERNAL_TOPICS
from ..regions import SAME, arn_fits, arn_in_region, arn_region, compare_regions, provider_regions, region_of, region_problem
from ..iam_eval import AllowedGrant, allow_statements, as_list, grant_problems, parse_document
from ..iam_eval import _narrowing_condition_keys as narrowing_condition_keys
from ..schedule import ScheduleError, run_gap_problem
from ..types import (
    AUDIT_COMPONENT,
    AUDIT_HANDLER,
    CHATBOT_SLACK,
    CHATBOT_TEAMS,
    EVENT_RULE,
    EVENT_TARGET,
    IAM_POLICY,
    IAM_POLICY_ATTACHMENT,
    IAM_ROLE,
    IAM_ROLE_POLICY,
    IAM_ROLE_POLICY_ATTACHMENT,
    IAM_ROLE_POLICY_ATTACHMENTS_EXCLUSIVE,
    LAMBDA_FUNCTION,
    LAMBDA_INVOKE_CONFIG,
    LAMBDA_PERMISSION,
    METRIC_ALARM,
    TOPIC,
    TOPIC_SUBSCRIPTION,
)
from ..values import MISSING, UNKNOWN, Res, StackView, by_arn, by_props, contains_unknown
from .delivery import topic_subscribed
from .detection import action_issues, as_single_metric

SCHEDULED = md.PolicyMeta(
    name="root-access-key-audit-scheduled",
    description="Ensure an audit function exists and an enabled EventBridge schedule invokes it with permission to do so.",
    severity=Severity.HIGH,
    enforcement=EnforcementLevel.MANDATORY,
    remediation=(
        "Deploy the audit Lambda (handler audit.handler.handler), an aws.cloudwatch.EventRule with a rate() or "
        "cron() scheduleExpression and state ENABLED, an aws.cloudwatch.EventTarget from that rule to the function, "
        "and an aws.lambda_.Permission letting events.amazonaws.com invoke it from that rule."
    ),
    url=md.URL_CREDENTIAL_REPORT,
    frameworks=md.AUDIT,
    kind="stack",
)

LEAST_PRIVILEGE = md.PolicyMeta(
    name="audit-role-least-privilege",
    description="Ensure the audit function's role grants only the actions the audit needs, scoped by resource or condition.",
    severity=Severity.HIGH,
    enforcement=EnforcementLevel.MANDATORY,
    remediation=(
        "Grant the audit role only iam:GenerateCredentialReport / iam:GetCredentialReport, cloudwatch:PutMetricData "
        "with a cloudwatch:namespace condition, sns:Publish on the alert topic, securityhub:BatchImportFindings (and "
        "GetFindings / BatchUpdateFindings on the hub), "
        "kms:GenerateDataKey / kms:Decrypt on the topic key, organizations:ListAccounts and sts:AssumeRole on the "
        "audit role name (org mode), sts:AssumeRoot (remediation) and log delivery; no wildcards, no NotAction."
    ),
    url=md.URL_CREDENTIAL_REPORT,
    frameworks=md.AUDIT,
    kind="stack",
)

# A key ARN is unknown until apply; an account-wide key/* grant is narrow enough only when it is limited to use
# through SNS or to the alert key's alias.
_KMS_SCOPE = ("kms:ViaService", "kms:ResourceAliases", "kms:RequestAlias")

# Resource patterns a grant may use: "*" only where the action has no resource type.
ALLOWED_GRANTS = (
    AllowedGrant("iam:GenerateCredentialReport"),
    AllowedGrant("iam:GetCredentialReport"),
    AllowedGrant("cloudwatch:PutMetricData", required_condition_keys=("cloudwatch:namespace",)),
    AllowedGrant("sns:Publish", ("arn:aws*:sns:*:*:*",)),
    AllowedGrant("securityhub:BatchImportFindings", ("arn:aws*:securityhub:*:*:product/*",)),
    # The previous finding is the audit's memory, and only BatchUpdateFindings can resolve it once the key is gone.
    AllowedGrant("securityhub:GetFindings", ("arn:aws*:securityhub:*:*:hub/default",)),
    AllowedGrant("securityhub:BatchUpdateFindings", ("arn:aws*:securityhub:*:*:hub/default",)),
    AllowedGrant("kms:GenerateDataKey", ("arn:aws*:kms:*:*:key/*",), wildcard_condition_keys=_KMS_SCOPE),
    AllowedGrant("kms:Decrypt", ("arn:aws*:kms:*:*:key/*",), wildcard_condition_keys=_KMS_SCOPE),
    AllowedGrant("organizations:ListAccounts"),
    # The audit role name in every member account, never every role: another role trusting this account could be an admin.
    AllowedGrant("sts:AssumeRole", ("arn:aws*:iam::*:role/*",), literal_name=True),
    AllowedGrant("sts:AssumeRoot", ("arn:aws*:iam::*:root",)),
    AllowedGrant("logs:CreateLogGroup", ("arn:aws*:logs:*:*:log-group:*",)),
    AllowedGrant("logs:CreateLogStream", ("arn:aws*:logs:*:*:log-group:*",)),
    AllowedGrant("logs:PutLogEvents", ("arn:aws*:logs:*:*:log-group:*",)),
)
ALLOWED_MANAGED_POLICIES = (
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
)

SCHEDULE_TYPES = (LAMBDA_FUNCTION, EVENT_RULE, EVENT_TARGET, LAMBDA_PERMISSION)
ROLE_TYPES = (LAMBDA_FUNCTION, IAM_ROLE, IAM_ROLE_POLICY, IAM_ROLE_POLICY_ATTACHMENT, IAM_POLICY, IAM_POLICY_ATTACHMENT,
              IAM_ROLE_POLICY_ATTACHMENTS_EXCLUSIVE, TOPIC)

def _now() -> datetime:
    return datetime.now(timezone.utc)


def schedule_problem(expression: Any, now: datetime) -> Optional[str]:
    """Why the expression does not run the audit at least once every 24 hours from `now`; None when it does."""
    if not isinstance(expression, str) or not expression:
        return "has no scheduleExpression"
    try:
        problem = run_gap_problem(expression, now)
    except ScheduleError as exc:
        return f"has scheduleExpression {expression!r}, which EventBridge rejects or the pack cannot evaluate: {exc}"
    return f"has scheduleExpression {expression!r}, which {problem}" if problem else None


def audit_functions(stack: StackView) -> list[Res]:
    found = []
    for fn in stack.of_type(LAMBDA_FUNCTION):
        in_component = AUDIT_COMPONENT in stack.ancestor_types(fn)
        if fn.get("handler") == AUDIT_HANDLER or in_component:
            found.append(fn)
    return found


# How a known value names a function, rule or role: by name, id or ARN (also one built from the known name).
_IDENTIFIES = by_arn("name", "arn", "id")


def _links(stack: StackView, res: Res, prop: str, target: Res) -> Optional[bool]:
    return stack.refers_to(res, prop, target, _IDENTIFIES)


def _linked(ctx: Context, res: Res, prop: str, target: Res, issues: list[Optional[Issue]], purpose: str, how: str) -> bool:
    """Whether `res.prop` names `target`; an open unknown adds its issue to `issues` and counts as not linked."""
    assert ctx.stack is not None
    linked = _links(ctx.stack, res, prop, target)
    if linked is None:
        issues.append(ctx.unknown_issue(res, prop, purpose, how))
    return bool(linked)


def _invokes(value: Any, target: Res) -> bool:
    """A target's ARN names the function also when qualified by an alias or version (`...:function:name:live`)."""
    if isinstance(value, str) and _FUNCTION_QUALIFIER_RE.match(value):
        value = value.rpartition(":")[0]
    return _IDENTIFIES(value, target)


def _rule_enabled(rule: Res) -> Optional[bool]:
    state, enabled = rule.get("state"), rule.get("isEnabled")
    if state is UNKNOWN or enabled is UNKNOWN:
        return None
    # isEnabled must be a real true (or unset): the string "false" is not a rule that runs.
    return state not in ("DISABLED",) and enabled in (MISSING, None, True)


def schedule_issues(ctx: Context, fn: Res, regions: Mapping[str, Any]) -> list[Optional[Issue]]:
    """[] when an enabled schedule invokes the function with permission; otherwise what is missing."""
    assert ctx.stack is not None
    stack = ctx.stack
    issues: list[Optional[Issue]] = []
    for target in stack.of_type(EVENT_TARGET):
        to_fn = stack.refers_to(target, "arn", fn, _invokes)
        if to_fn is None:
            issues.append(ctx.unknown_issue(target, "arn", f"whether it invokes {fn.urn}", "pass the function's arn output"))
            continue
        if not to_fn:
            continue
        for rule in stack.of_type(EVENT_RULE):
            if not _linked(ctx, target, "rule", rule, issues, "which rule it belongs to", "pass the rule's name output"):
                continue
            expression = rule.get("scheduleExpression")
            if expression is UNKNOWN:
                issues.append(ctx.unknown_issue(rule, "scheduleExpression", f"that it schedules {fn.urn}", "set it literally"))
                continue
            problem = schedule_problem(expression, _now())
            if problem:
                issues.append(Issue(f"{rule.urn}, which targets {fn.urn}, {problem}; expected a rate(...) or cron(...) that runs the audit at least once every 24 hours, such as rate(1 hour).", rule.urn))
                continue
            # A rule's Lambda target must be in the rule's region: the invocation never reaches a function elsewhere.
            rule_region, fn_region = region_of(rule, regions), region_of(fn, regions)
            if rule_region is UNKNOWN or fn_region is UNKNOWN:
                issues.append(ctx.unknown_issue(rule if rule_region is UNKNOWN else fn, "region", f"that {rule.urn} is in the region of {fn.urn}", "set the provider's region literally"))
                continue
            if problem := region_problem(rule.urn, rule_region, f"{fn.urn} runs", fn_region, "and a rule invokes a function only in its own region"):
                issues.append(Issue(f"{problem}; expected the schedule in the function's region.", rule.urn))
                continue
            enabled = _rule_enabled(rule)
            if enabled is None:
                issues.append(ctx.unknown_issue(rule, "state", "that the schedule is enabled", "set state=\"ENABLED\" literally"))
                continue
            if not enabled:
                issues.append(Issue(f"{rule.urn}, which schedules {fn.urn}, is disabled; expected state ENABLED.", rule.urn))
                continue
            permission_issues = permission_problems(ctx, fn, rule, target)
            if not permission_issues:
                return []
            issues.extend(permission_issues)
    if not any(issues):
        issues.append(Issue(
            f"{fn.urn} is not the target of any scheduled EventBridge rule in this stack; expected an "
            f"aws:cloudwatch/eventRule:EventRule with a scheduleExpression and an EventTarget invoking the function.",
            fn.urn,
        ))
    return issues


# AddPermission accepts these action spellings for invoking; each one lets the principal call Invoke.
_INVOKE_ACTIONS = ("lambda:invokefunction", "lambda:*", "*")
_ARN_ACCOUNT_RE = re.compile(r"^arn:[^:]+:[^:]+:[^:]*:([0-9]{12}):")
_FUNCTION_QUALIFIER_RE = re.compile(r"^arn:[^:]+:lambda:[^:]*:[0-9]{12}:function:[^:]+:([^:]+)\Z")


def _invoked_qualifier(target: Res) -> Optional[str]:
    """The qualifier (alias or version) the target invokes; None for the unqualified function.

    An unknown ARN is taken as the function's unqualified `arn` output, which is what a target is normally given.
    """
    arn = target.get("arn")
    match = _FUNCTION_QUALIFIER_RE.match(arn) if isinstance(arn, str) else None
    # $LATEST is the unqualified function by another name: its invocations get the unqualified settings.
    return match.group(1) if match and match.group(1) != "$LATEST" else None


def _rule_account(rule: Res, perm: Res, target: Res, fn: Res) -> Optional[str]:
    """The account the schedule runs in, from whichever of the related ARNs is known."""
    for value in (rule.get("arn"), perm.get("sourceArn"), target.get("arn"), fn.get("arn")):
        match = _ARN_ACCOUNT_RE.match(value) if isinstance(value, str) else None
        if match:
            return match.group(1)
    return None


# AddPermission turns each of these into a condition on the statement (aws:PrincipalOrgID, lambda:EventSourceToken,
# lambda:FunctionUrlAuthType), none of which an EventBridge invocation carries.
_CONDITION_PROPS = ("principalOrgId", "eventSourceToken", "functionUrlAuthType")


def _scope_issues(ctx: Context, fn: Res, rule: Res, target: Res, perm: Res) -> list[Optional[Issue]]:
    """Why the schedule's invocation does not satisfy the permission's qualifier and sourceAccount ([] when it does)."""
    issues: list[Optional[Issue]] = []
    qualifier = perm.get("qualifier")
    if qualifier is UNKNOWN:
        issues.append(ctx.unknown_issue(perm, "qualifier", f"that it covers the invocation by {target.urn}", "set it literally or leave it out"))
    elif qualifier not in (MISSING, None, "") and qualifier != _invoked_qualifier(target):
        invoked = _invoked_qualifier(target)
        shown = f"qualifier {invoked!r}" if invoked else "the unqualified function"
        issues.append(Issue(
            f"{perm.urn} lets events.amazonaws.com invoke {fn.urn} only through qualifier {qualifier!r}, but {target.urn} "
            f"invokes {shown}; expected the qualifier the target invokes, or none.", perm.urn))
    for prop in _CONDITION_PROPS:
        value = perm.get(prop)
        if value is UNKNOWN:
            issues.append(ctx.unknown_issue(perm, prop, f"that it lets {rule.urn} invoke the function", "leave it out"))
        elif value not in (MISSING, None, ""):
            issues.append(Issue(
                f"{perm.urn} sets {prop} {value!r}, which Lambda turns into a condition that the schedule's invocation by "
                f"events.amazonaws.com does not meet; expected no {prop}.", perm.urn))
    account = perm.get("sourceAccount")
    if account is UNKNOWN:
        issues.append(ctx.unknown_issue(perm, "sourceAccount", f"that {rule.urn} satisfies it", "set it literally or leave it out"))
    elif account not in (MISSING, None, ""):
        actual = _rule_account(rule, perm, target, fn)
        if actual is None:
            issues.append(ctx.unknown_issue(perm, "sourceAccount", f"that {rule.urn} runs in account {account!r}", "give the rule's ARN as sourceArn from known values"))
        elif actual != account:
            issues.append(Issue(
                f"{perm.urn} lets events.amazonaws.com invoke {fn.urn} only for source account {account!r}, but {rule.urn} "
                f"runs in account {actual!r}; expected the rule's account, or no sourceAccount.", perm.urn))
    return issues


def permission_problems(ctx: Context, fn: Res, rule: Res, target: Res) -> list[Optional[Issue]]:
    assert ctx.stack is not None
    stack = ctx.stack
    issues: list[Optional[Issue]] = []
    for perm in stack.of_type(LAMBDA_PERMISSION):
        linked = _links(stack, perm, "function", fn)
        if linked is None:
            issues.append(ctx.unknown_issue(perm, "function", f"whether it grants invoking {fn.urn}", "pass the function's name output"))
            continue
        if not linked:
            continue
        action, principal = perm.get("action"), perm.get("principal")
        if action is UNKNOWN or principal is UNKNOWN:
            issues.append(ctx.unknown_issue(perm, "action" if action is UNKNOWN else "principal", "what it grants", "set it literally"))
            continue
        if not (isinstance(action, str) and action.lower() in _INVOKE_ACTIONS) or principal != "events.amazonaws.com":
            continue
        source = perm.get("sourceArn")
        from_rule = None if source in (MISSING, None) else _links(stack, perm, "sourceArn", rule)
        if source in (MISSING, None) or from_rule:
            scope = _scope_issues(ctx, fn, rule, target, perm)
            if not scope:
                return []
            issues.extend(scope)
            continue
        if from_rule is None:
            issues.append(ctx.unknown_issue(perm, "sourceArn", f"that it lets {rule.urn} invoke the function", "pass the rule's arn output"))
    if not any(issues):
        issues.append(Issue(
            f"{fn.urn} is scheduled by {rule.urn} but no aws:lambda/permission:Permission lets events.amazonaws.com "
            f"invoke it from that rule; expected action lambda:InvokeFunction, principal events.amazonaws.com and the "
            f"rule's ARN as sourceArn.",
            fn.urn,
        ))
    return issues


_PYTHON_RUNTIME_RE = re.compile(r"python3\.[0-9]{1,2}", re.ASCII)
# The audit's own settings, read as audit/handler.py's config_from_env reads them: a value it refuses is a ConfigError
# on every run, so the function never audits. tests/policypack/test_shared_truths.py holds the two to the same verdicts.
ORG_ROLE_ENV = "AUDIT_ORG_ROLE_NAME"
TOPIC_ENV = "AUDIT_SNS_TOPIC_ARN"
NAMESPACE_ENV = "AUDIT_METRIC_NAMESPACE"
SECURITY_HUB_ENV = "AUDIT_SECURITY_HUB"
_BLANK = " \t\r\n"
_ENV_INTEGERS = {"AUDIT_MAX_WORKERS": (1, 64), "AUDIT_MAX_REPORT_AGE_HOURS": (1, 24)}
_ENV_BOOLEANS = (SECURITY_HUB_ENV, "AUDIT_REMEDIATE")
AUDIT_SETTINGS = (NAMESPACE_ENV, TOPIC_ENV, ORG_ROLE_ENV, *_ENV_INTEGERS, *_ENV_BOOLEANS)
_ENV_SIGNED_INT = re.compile(r"-?[0-9]+", re.ASCII)
_ENV_TOPIC_ARN = re.compile(r"arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}(?:\.fifo)?", re.ASCII)
_ENV_ROLE_NAME = re.compile(r"[A-Za-z0-9_+=,.@-]{1,64}", re.ASCII)
REFUSED = "which the audit refuses on every run"


def audit_settings_problem(variables: Mapping[str, Any]) -> Optional[str]:
    """Why the audit refuses these known environment variables on every run; None when it accepts them.

    Unknown values are the caller's to judge. A value the engine sends as a non-string is refused: Lambda's
    environment holds strings only.
    """
    def text(key: str) -> Optional[str]:
        value = variables.get(key, MISSING)
        return None if value in (MISSING, None, UNKNOWN) or not isinstance(value, str) else value

    for key in AUDIT_SETTINGS:
        value = variables.get(key, MISSING)
        if value not in (MISSING, None, UNKNOWN) and not isinstance(value, str):
            return f"sets {key} to {value!r}, {REFUSED}; expected a string"
    namespace = text(NAMESPACE_ENV)
    if namespace is not None:
        stripped = namespace.strip(_BLANK)
        if not stripped:
            return f"sets {NAMESPACE_ENV} to {namespace!r}, {REFUSED}; expected a CloudWatch namespace"
        if stripped.startswith("AWS/"):
            return f"sets {NAMESPACE_ENV} to {namespace!r}, {REFUSED} (AWS/ is reserved); expected a namespace of your own"
    topic = text(TOPIC_ENV)
    if topic is not None and topic.strip(_BLANK) and not _ENV_TOPIC_ARN.fullmatch(topic.strip(_BLANK)):
        return f"sets {TOPIC_ENV} to {topic!r}, {REFUSED}; expected an SNS topic ARN or nothing"
    role = text(ORG_ROLE_ENV)
    if role and not _ENV_ROLE_NAME.fullmatch(role.strip(_BLANK)):
        return f"sets {ORG_ROLE_ENV} to {role!r}, {REFUSED}; expected an IAM role name (1-64 of letters, digits and +=,.@_-) or nothing"
    for key, (low, high) in _ENV_INTEGERS.items():
        value = text(key)
        if value is None:
            continue
        stripped = value.strip(_BLANK)
        # int() refuses more than 4,300 digits with an error of its own; so many are out of range anyway.
        if not _ENV_SIGNED_INT.fullmatch(stripped) or len(stripped) > 20 or not low <= int(stripped) <= high:
            return f"sets {key} to {value!r}, {REFUSED}; expected a whole number from {low} to {high}"
    for key in _ENV_BOOLEANS:
        value = text(key)
        if value is not None and value.strip(_BLANK) not in ("true", "false"):
            return f"sets {key} to {value!r}, {REFUSED}; expected true or false"
    return None


def _settings_issue(ctx: Context, fn: Res) -> Optional[Issue]:
    """Why the audit refuses the function's settings on every run, or which needed one is unknown."""
    assert ctx.stack is not None
    how = "set it from the literal config value"
    environment = fn.get("environment")
    if environment is UNKNOWN:
        return ctx.unknown_issue(fn, "environment", "that the audit accepts its settings", how)
    variables = environment.get("variables", MISSING) if isinstance(environment, Mapping) else MISSING
    if variables is UNKNOWN:
        return ctx.unknown_issue(fn, "environment.variables", "that the audit accepts its settings", how)
    if not isinstance(variables, Mapping):
        return None
    for key in AUDIT_SETTINGS:
        if not contains_unknown(variables.get(key, MISSING)):
            continue
        if key == TOPIC_ENV:
            # The topic's arn output is unknown until the topic exists, and it is an ARN: the delivery policies
            # judge which topic it is.
            stand_in = ctx.stack.reference(fn, "environment").stand_in
            if stand_in is not None and ctx.stack.type_of(stand_in) == TOPIC:
                continue
        return ctx.unknown_issue(fn, f"environment variable {key}", "that the audit accepts its settings", how)
    problem = audit_settings_problem(variables)
    return Issue(f"{fn.urn} {problem}.", fn.urn) if problem else None


def throttle_issue(ctx: Context, fn: Res) -> Optional[Issue]:
    """Why the function can never run the audit however it is scheduled; None when it can."""
    runtime, package = fn.get("runtime"), fn.get("packageType")
    if runtime is UNKNOWN:
        return ctx.unknown_issue(fn, "runtime", "that the audit function runs Python", "set it literally")
    if not (isinstance(runtime, str) and _PYTHON_RUNTIME_RE.fullmatch(runtime)):
        shown = "no runtime" if runtime in (MISSING, None) else f"runtime {runtime!r}"
        return Issue(f"{fn.urn} has {shown}, which cannot run the Python audit; expected a python3.x runtime.", fn.urn)
    if package is UNKNOWN:
        return ctx.unknown_issue(fn, "packageType", "that the audit function runs its handler", "set it literally or leave it out")
    if package not in (MISSING, None, "Zip"):
        return Issue(
            f"{fn.urn} has packageType {package!r}, which ignores the handler {AUDIT_HANDLER}; expected a Zip package.", fn.urn)
    handler = fn.get("handler")
    if handler is UNKNOWN:
        return ctx.unknown_issue(fn, "handler", "that the function runs the audit", "set it literally")
    if handler != AUDIT_HANDLER:
        shown = "no handler" if handler in (MISSING, None) else f"handler {handler!r}"
        return Issue(f"{fn.urn} has {shown}, which is not the audit's entry point, so no invocation audits; expected {AUDIT_HANDLER}.", fn.urn)
    if (issue := _settings_issue(ctx, fn)) is not None:
        return issue
    reserved = fn.get("reservedConcurrentExecutions")
    if reserved is UNKNOWN:
        return ctx.unknown_issue(fn, "reservedConcurrentExecutions", "that the audit function may run", "set it literally or leave it out")
    if isinstance(reserved, str):
        # The provider reads an integer written as text as that integer, as it does the alarms' numbers.
        stripped = reserved.strip(_BLANK)
        reserved = int(stripped) if _ENV_SIGNED_INT.fullmatch(stripped) else reserved
    if isinstance(reserved, str) or isinstance(reserved, bool):
        return Issue(
            f"{fn.urn} has reservedConcurrentExecutions {reserved!r}, which is not a whole number; expected no "
            f"reservation (-1) or a positive one.", fn.urn)
    if reserved == 0:
        return Issue(
            f"{fn.urn} has reservedConcurrentExecutions 0, which throttles every invocation, so the audit never runs; "
            f"expected no reservation (-1) or a positive one.", fn.urn)
    return None


def validate_root_access_key_audit_scheduled(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    ctx = stack_context(SCHEDULED, args, report_violation, (), SCHEDULE_TYPES)
    if ctx is None:
        return
    assert ctx.stack is not None
    functions = audit_functions(ctx.stack)
    if not functions:
        stack = ctx.stack.stack_name or "this stack"
        ctx.report(
            f"Stack '{stack}' has no audit function; expected an aws:lambda/function:Function with handler "
            f"{AUDIT_HANDLER} (or inside a {AUDIT_COMPONENT} component) that a schedule invokes."
        )
        return
    regions = provider_regions(args.resources, (LAMBDA_FUNCTION, EVENT_RULE))
    pending: list[Optional[Issue]] = []
    for fn in functions:
        throttled = throttle_issue(ctx, fn)
        if throttled is not None:
            pending.append(throttled)
            continue
        issues = schedule_issues(ctx, fn, regions)
        if not issues:
            return
        pending.extend(issues)
    ctx.report_issues(pending)


def _role_of(ctx: Context, fn: Res) -> tuple[Optional[Res], Optional[Issue]]:
    assert ctx.stack is not None
    resolution = ctx.stack.resolve(fn, "role", ctx.stack.of_type(IAM_ROLE), _IDENTIFIES)
    if resolution.targets:
        return resolution.targets[0], None
    role_arn = fn.get("role")
    if resolution.reference.has_unknown:
        return None, ctx.unknown_issue(fn, "role", "which role the audit function runs as", "pass the role's arn output alone")
    return None, Issue(f"{fn.urn} runs as role {role_arn!r}, which is not in this stack; expected the audit role to be managed with the function so the pack can judge it.", fn.urn)


_IDENTIFIES_POLICY = by_arn("arn", "id")
_HOW_ROLE = "pass the audit role's name output alone"


def _grants_of(ctx: Context, role: Res) -> tuple[list[tuple[Res, str, Any]], list[tuple[Res, Any]], list[Optional[Issue]]]:
    """What grants to the role: (owner, label, document) for every policy document, (owner, ARN) for every managed
    policy attached, and the unknown values that could hide a grant.

    Every way the provider attaches a policy to a role is read: the role's own inline and managed policies,
    RolePolicy, RolePolicyAttachment, PolicyAttachment (by its roles) and RolePolicyAttachmentsExclusive. A grant
    whose role link is open (computed from several resources, or from none the engine recorded) could be this
    role's: it is reported, never taken as someone else's.
    """
    assert ctx.stack is not None
    stack = ctx.stack
    docs: list[tuple[Res, str, Any]] = []
    managed: list[tuple[Res, Any]] = []
    unknown: list[Optional[Issue]] = []
    purpose = f"that it grants nothing beyond the audit's needs to the audit role {role.urn}"
    inline = role.get("inlinePolicies")
    # Both are computed attributes: the provider plans them unknown on every new role that leaves them unset. Only
    # one the program computed from other resources (recorded as a dependency) can hide a grant.
    if inline is UNKNOWN and stack.reference(role, "inlinePolicies").links:
        unknown.append(ctx.unknown_issue(role, "inlinePolicies", purpose, "build them from known values"))
    elif isinstance(inline, list):
        for item in inline:
            if item is UNKNOWN or (isinstance(item, dict) and item.get("policy") is UNKNOWN):
                docs.append((role, "inline policy", UNKNOWN))
            elif isinstance(item, dict) and item.get("policy") not in (MISSING, None, ""):
                docs.append((role, f"inline policy {item.get('name')!r}", item.get("policy")))
    arns = role.get("managedPolicyArns")
    if arns is UNKNOWN and stack.reference(role, "managedPolicyArns").links:
        unknown.append(ctx.unknown_issue(role, "managedPolicyArns", purpose, "attach managed policies by literal ARN"))
    elif isinstance(arns, list):
        managed.extend((role, arn) for arn in arns)
    attachments: list[tuple[Res, str, str, str]] = [
        *((rp, "role", "policy", "") for rp in stack.of_type(IAM_ROLE_POLICY)),
        *((att, "role", "", "policyArn") for att in stack.of_type(IAM_ROLE_POLICY_ATTACHMENT)),
        *((att, "roles", "", "policyArn") for att in stack.of_type(IAM_POLICY_ATTACHMENT)),
        *((att, "roleName", "", "policyArns") for att in stack.of_type(IAM_ROLE_POLICY_ATTACHMENTS_EXCLUSIVE)),
    ]
    for owner, role_prop, doc_prop, arn_prop in attachments:
        linked = _links(stack, owner, role_prop, role)
        if linked is None:
            unknown.append(ctx.unknown_issue(owner, role_prop, f"whether it grants to the audit role {role.urn}", _HOW_ROLE))
        if not linked:
            continue
        if doc_prop:
            docs.append((owner, "policy", owner.get(doc_prop)))
            continue
        value = owner.get(arn_prop)
        for arn in (value if isinstance(value, list) else [value]):
            managed.append((owner, arn))
    return docs, managed, unknown


_LAMBDA_SERVICE = "lambda.amazonaws.com"


def _trust_issues(ctx: Context, role: Res) -> list[Optional[Issue]]:
    """Why someone other than Lambda may assume the audit role ([] when only Lambda may). The role imports and
    resolves Security Hub findings and, in org mode, assumes roles in every member account: whoever can assume
    it can hide a finding or read every account's report."""
    trust = role.get("assumeRolePolicy")
    if trust is UNKNOWN or contains_unknown(trust):
        return [ctx.unknown_issue(role, "assumeRolePolicy", f"that only {_LAMBDA_SERVICE} may assume the audit role", "build it with json.dumps from known values")]
    parsed = parse_document(trust)
    if parsed.document is None:
        return [Issue(f"{role.urn} has an assumeRolePolicy the pack cannot read ({'; '.join(parsed.errors) or 'not a policy document'}); expected a trust policy for {_LAMBDA_SERVICE} alone.", role.urn)]
    issues: list[Optional[Issue]] = []
    for statement in parsed.statements:
        raw = statement.raw
        if raw.get("Effect") != "Allow":
            continue
        principal = raw.get("Principal", MISSING)
        services = principal.get("Service") if isinstance(principal, dict) and set(principal) == {"Service"} else None
        if "NotPrincipal" in raw or as_list(services) != [_LAMBDA_SERVICE]:
            shown = f"NotPrincipal {raw.get('NotPrincipal')!r}" if "NotPrincipal" in raw else f"principal {principal!r}"
            issues.append(Issue(
                f"{role.urn} has a trust policy whose {statement.label} lets {shown} assume the audit role; expected "
                f"only the service {_LAMBDA_SERVICE}.", role.urn))
    return issues


def _managed_issues(ctx: Context, role: Res, managed: list[tuple[Res, Any]]) -> tuple[list[tuple[Res, str, Any]], list[Optional[Issue]]]:
    """The stack's own (customer managed) policies among `managed`, as documents to judge, and what is wrong with
    the rest: only the allowed AWS managed policies may be attached by ARN."""
    assert ctx.stack is not None
    docs: list[tuple[Res, str, Any]] = []
    issues: list[Optional[Issue]] = []
    policies = ctx.stack.of_type(IAM_POLICY)
    for owner, arn in managed:
        if isinstance(arn, str) and arn in ALLOWED_MANAGED_POLICIES:
            continue
        own = [p for p in policies if _IDENTIFIES_POLICY(arn, p)] if isinstance(arn, str) else []
        if arn is UNKNOWN or contains_unknown(arn):
            ref = ctx.stack.reference(owner, "policyArn" if owner.type == IAM_ROLE_POLICY_ATTACHMENT else
                                      "policyArns" if owner.type == IAM_ROLE_POLICY_ATTACHMENTS_EXCLUSIVE else
                                      "managedPolicyArns" if owner is role else "policyArn")
            stand_in = ctx.stack.by_urn(ref.stand_in) if ref.stand_in is not None else None
            if stand_in is not None and stand_in.type == IAM_POLICY:
                own = [stand_in]
            else:
                issues.append(ctx.unknown_issue(owner, "managed policy ARN", f"what the audit role {role.urn} is granted", "attach AWS managed policies by literal ARN, or the stack's own policy's arn output alone"))
                continue
        if own:
            docs.extend((p, "policy", p.get("policy")) for p in own)
            continue
        issues.append(Issue(
            f"{owner.urn} attaches managed policy {arn!r} to the audit role {role.urn}; expected only "
            f"{', '.join(ALLOWED_MANAGED_POLICIES)} besides the audit's own grants, which the pack can judge.", owner.urn))
    return docs, issues


# The role Organizations creates in every account it creates: an administrator, never an audit role.
ADMIN_ROLE = "OrganizationAccountAccessRole"
# Roles that already exist in member accounts with administrator access (Organizations', Control Tower's, the
# StackSet execution role) and prefixes AWS reserves for its own roles; IAM compares role names ignoring case.
# Kept with components/config.py's lists (tests/policypack/test_shared_truths.py).
ADMIN_ROLE_NAMES = (ADMIN_ROLE, "AWSControlTowerExecution", "AWSCloudFormationStackSetExecutionRole")
RESERVED_ROLE_PREFIXES = ("AWSReservedSSO_", "AWSServiceRoleFor", "aws-controltower-", "stacksets-exec-")


def is_admin_role_name(name: str) -> bool:
    folded = name.lower()
    return folded in {n.lower() for n in ADMIN_ROLE_NAMES} or folded.startswith(tuple(p.lower() for p in RESERVED_ROLE_PREFIXES))
# Conditions that keep a role ARN with a wildcard account inside the organization.
_ORG_SCOPE_KEYS = ("aws:resourceorgid", "aws:resourceorgpaths", "aws:resourceaccount")
DELETE_ROOT_TASK = "root-task/IAMDeleteRootUserCredentials"
_TASK_POLICY_RE = re.compile(r"^arn:aws[a-z-]*:iam::aws:policy/" + re.escape(DELETE_ROOT_TASK) + r"\Z")
_TASK_OPERATORS = ("stringequals", "arnequals", "stringlike", "arnlike")
_IDENTIFIES_TOPIC = by_arn("arn", "id")


def _env(fn: Res, key: str) -> Any:
    environment = fn.get("environment")
    if environment is UNKNOWN:
        return UNKNOWN
    variables = environment.get("variables", MISSING) if isinstance(environment, dict) else MISSING
    if variables is UNKNOWN:
        return UNKNOWN
    return variables.get(key, MISSING) if isinstance(variables, dict) else MISSING


def _statement_actions(raw: Any) -> list[str]:
    return [a.lower() for a in (as_list(raw.get("Action")) or []) if isinstance(a, str)]


def _statement_resources(raw: Any) -> list[str]:
    return [r for r in (as_list(raw.get("Resource")) or []) if isinstance(r, str)]


def _assume_role_problems(label: str, resources: list[str], condition_keys: set[str], role_name: Any) -> list[str]:
    problems = []
    for resource in resources:
        name = resource.rpartition("/")[2]
        account = resource.split(":")[4] if resource.count(":") >= 5 else "*"
        if is_admin_role_name(name):
            problems.append(f"{label} grants 'sts:AssumeRole' on '{resource}', an administrator role AWS keeps in member accounts")
        elif role_name in (MISSING, None, ""):
            problems.append(f"{label} grants 'sts:AssumeRole' on '{resource}' but the audit function has no {ORG_ROLE_ENV}, so it needs no role in other accounts")
        elif isinstance(role_name, str) and name != role_name and not any(ch in name for ch in "*?"):
            problems.append(f"{label} grants 'sts:AssumeRole' on '{resource}', which is not the configured audit role {role_name!r}")
        elif not re.fullmatch(r"[0-9]{12}", account) and not condition_keys & set(_ORG_SCOPE_KEYS):
            problems.append(f"{label} grants 'sts:AssumeRole' on '{resource}' in any account, without a condition on aws:ResourceOrgID, aws:ResourceOrgPaths or aws:ResourceAccount keeping it in the organization")
    return problems


def _task_policy_problem(label: str, condition: Any) -> Optional[str]:
    """None when every session sts:AssumeRoot may open is limited to deleting root credentials."""
    named = False
    if isinstance(condition, dict):
        for op, block in condition.items():
            base = str(op).partition(":")[2] or str(op)
            if not isinstance(block, dict):
                continue
            for key, values in block.items():
                if str(key).lower() != "sts:taskpolicyarn":
                    continue
                items = as_list(values) or []
                if base.lower() not in _TASK_OPERATORS or not items or not all(isinstance(v, str) and _TASK_POLICY_RE.match(v) for v in items):
                    return f"{label} grants 'sts:AssumeRoot' with an sts:TaskPolicyArn condition {op} {values!r} that allows other task policies"
                named = True
    if not named:
        return f"{label} grants 'sts:AssumeRoot' without an sts:TaskPolicyArn condition naming {DELETE_ROOT_TASK}"
    return None


def scope_problems(ctx: Context, fn: Res, statement: Any) -> list[str]:
    """Least-privilege problems the allow-list cannot see: which role, which topic, which root task."""
    assert ctx.stack is not None
    raw, label = statement.raw, statement.label
    actions = _statement_actions(raw)
    resources = _statement_resources(raw)
    problems: list[str] = []
    if "sts:assumerole" in actions:
        role_name = _env(fn, ORG_ROLE_ENV)
        if role_name is UNKNOWN:
            ctx.report_issues([ctx.unknown_issue(fn, f"environment variable {ORG_ROLE_ENV}", "which role the audit may assume", "set it from the literal config value")])
        problems.extend(_assume_role_problems(label, resources, narrowing_condition_keys(raw.get("Condition")), role_name))
    if "sns:publish" in actions:
        alert = _env(fn, TOPIC_ENV)
        # The topic the function is told to publish to; the stack's own topics when it is told none.
        topics = [t for t in ctx.stack.of_type(TOPIC) if (isinstance(alert, str) and _IDENTIFIES_TOPIC(alert, t))
                  or (alert is UNKNOWN and ctx.stack.refers_to(fn, "environment", t, _IDENTIFIES_TOPIC))
                  or alert in (MISSING, None, "")]
        for resource in resources:
            if resource == "*":
                continue  # the allow-list already reports it as wider than a topic
            if not (resource == alert or any(_IDENTIFIES_TOPIC(resource, t) for t in topics)):
                problems.append(f"{label} grants 'sns:Publish' on '{resource}', which is not the alert topic the audit publishes to ({TOPIC_ENV})")
    if "sts:assumeroot" in actions:
        problem = _task_policy_problem(label, raw.get("Condition"))
        if problem:
            problems.append(problem)
    return problems


def validate_audit_role_least_privilege(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    ctx = stack_context(LEAST_PRIVILEGE, args, report_violation, (), ROLE_TYPES)
    if ctx is None:
        return
    assert ctx.stack is not None
    functions = audit_functions(ctx.stack)
    if not functions:
        return  # nothing to judge; root-access-key-audit-scheduled reports the missing audit
    for fn in functions:
        role, issue = _role_of(ctx, fn)
        if role is None:
            ctx.report_issues([issue])
            continue
        documents, managed, unknown = _grants_of(ctx, role)
        own_documents, managed_issues = _managed_issues(ctx, role, managed)
        ctx.report_issues(unknown + managed_issues + _trust_issues(ctx, role))
        for owner, label, document in documents + own_documents:
            if document is UNKNOWN or contains_unknown(document):
                ctx.report_issues([ctx.unknown_issue(owner, "policy", f"that the audit role {role.urn} is least privilege", "build the document with json.dumps from known values, e.g. scope KMS with kms:ViaService instead of the key's ARN")])
                continue
            statements, problems = allow_statements(document)
            for problem in problems:
                ctx.report(f"{owner.urn} has a {label} that {problem}; expected a valid IAM policy document.", owner.urn)
            for statement in statements:
                for problem in grant_problems(statement, ALLOWED_GRANTS) + scope_problems(ctx, fn, statement):
                    ctx.report(f"{owner.urn} {problem}; expected only the grants the audit needs, scoped by resource or condition.", owner.urn)


DELIVERED = md.PolicyMeta(
    name="audit-findings-delivered",
    description="Ensure the audit's findings reach someone (Security Hub, its alert topic with a subscriber, or an alarm on its RootAccessKeysActive metric) and a failed audit run raises an alarm or goes to an on-failure topic.",
    severity=Severity.HIGH,
    enforcement=EnforcementLevel.MANDATORY,
    remediation=(
        "Keep AUDIT_SECURITY_HUB true, or set AUDIT_SNS_TOPIC_ARN to a topic in the function's region with an "
        "aws.sns.TopicSubscription, or add an aws.cloudwatch.MetricAlarm on the function's AUDIT_METRIC_NAMESPACE and "
        "metric RootAccessKeysActive (Maximum >= 1) notifying such a topic; and add an alarm on AWS/Lambda Errors with "
        "dimension FunctionName (Sum >= 1) or an aws.lambda_.FunctionEventInvokeConfig whose onFailure destination is "
        "the alert topic."
    ),
    url=md.URL_LAMBDA_FAILURES,
    frameworks=md.AUDIT,
    kind="stack",
)

# audit/handler.py's defaults when a variable is unset; audit/metrics.py's metric names.
DEFAULT_NAMESPACE = "RootKeyGuardrails"
KEYS_ACTIVE_METRIC = "RootAccessKeysActive"
LAMBDA_NAMESPACE, ERRORS_METRIC = "AWS/Lambda", "Errors"
# The keys-active alarm spans two schedule intervals (components/audit.py), so its period is capped only by CloudWatch.
MAX_AUDIT_ALARM_PERIOD = 86400
DELIVERED_TYPES = (LAMBDA_FUNCTION, METRIC_ALARM, TOPIC, TOPIC_SUBSCRIPTION, CHATBOT_SLACK, CHATBOT_TEAMS, LAMBDA_INVOKE_CONFIG,
                   EVENT_TARGET)
_IDENTIFIES_FUNCTION_NAME = by_props("name")


def _subscribed_topic(ctx: Context, topics: list[Res], foreign: list[Any]) -> tuple[bool, list[Optional[Issue]]]:
    """Whether one of these stack topics has a subscriber, or a foreign ARN is listed in externalTopicArns."""
    issues: list[Optional[Issue]] = []
    for topic in topics:
        ok, unknown = topic_subscribed(ctx, topic)
        if ok:
            return True, []
        issues.extend(unknown)
    return any(a in ctx.settings[EXTERNAL_TOPICS] for a in foreign), issues


def _audit_alarm_issues(ctx: Context, fn: Res, alarm: Res, spec: MetricSpec, regions: Mapping[str, Any], expected: str) -> list[Optional[Issue]]:
    """Why `alarm` does not go to ALARM on one datapoint of the function's metric `spec` and notify a live target."""
    fn_region, alarm_region = region_of(fn, regions), region_of(alarm, regions)
    if fn_region is UNKNOWN or alarm_region is UNKNOWN:
        return [ctx.unknown_issue(fn if fn_region is UNKNOWN else alarm, "region", f"that {alarm.urn} is in the region {fn.urn} publishes to", "set the provider's region literally")]
    # The function publishes its metrics (and Lambda its Errors) in the function's region only.
    if problem := region_problem(alarm.urn, alarm_region, f"{fn.urn} publishes the metric", fn_region, "so the alarm never sees a datapoint"):
        return [Issue(f"{problem}; expected {expected}.", alarm.urn)]
    issues: list[Optional[Issue]] = []
    for finding in evaluate_alarm(alarm.props, spec, MAX_AUDIT_ALARM_PERIOD, source=fn.urn):
        if finding.unknown_property:
            issues.append(ctx.unknown_issue(alarm, finding.unknown_property, f"that {alarm.urn} fires on one datapoint of {fn.urn}", "set it literally"))
        else:
            issues.append(Issue(f"{alarm.urn} {finding.problem}; expected {expected}.", alarm.urn))
    return issues + action_issues(ctx, alarm, alarm_region, regions)


def _names_function(value: Any, fn: Res) -> bool:
    return isinstance(value, Mapping) and _IDENTIFIES_FUNCTION_NAME(value.get("FunctionName"), fn)


def _watching(ctx: Context, fn: Res, namespace: str, metric: str, per_function: bool) -> tuple[list[Res], list[Optional[Issue]]]:
    """Alarms on the function's metric: by known namespace and name, and for Lambda's own metrics by the function's
    FunctionName dimension alone (a known value, or the single link of an unknown one)."""
    assert ctx.stack is not None
    found: list[Res] = []
    unknowns: list[Optional[Issue]] = []
    for alarm in ctx.stack.of_type(METRIC_ALARM):
        alarm = as_single_metric(alarm)
        name, space = alarm.get("metricName"), alarm.get("namespace")
        if name is UNKNOWN or space is UNKNOWN:
            unknowns.append(ctx.unknown_issue(alarm, "metricName" if name is UNKNOWN else "namespace", f"whether it watches the metrics of {fn.urn}", "set the metric name and namespace literally"))
            continue
        if (name, space) != (metric, namespace):
            continue
        if per_function:
            dims = alarm.get("dimensions")
            if not (dims is UNKNOWN or (isinstance(dims, Mapping) and set(dims) == {"FunctionName"})):
                continue  # another dimension narrows the metric to one alias or version, or to none of the function
            names_fn = ctx.stack.refers_to(alarm, "dimensions", fn, _names_function)
            if names_fn is None:
                unknowns.append(ctx.unknown_issue(alarm, "dimensions", f"whether it watches {fn.urn}", "pass the function's name output"))
            if not names_fn:
                continue
            # The dimension is matched; the rest of the alarm is judged as the function's metric without it.
            alarm = replace(alarm, props={**alarm.props, "dimensions": MISSING})
        found.append(alarm)
    return found, unknowns


def _topic_issues(ctx: Context, fn: Res, regions: Mapping[str, Any]) -> Optional[list[Optional[Issue]]]:
    """[] when the function's AUDIT_SNS_TOPIC_ARN is a topic in its region with a subscriber; None when it names
    none; otherwise why it is not proven to be."""
    assert ctx.stack is not None
    alert = _env(fn, TOPIC_ENV)
    if alert in (MISSING, None, ""):
        return None
    fn_region = region_of(fn, regions)
    if alert is UNKNOWN:
        stand_in = ctx.stack.reference(fn, "environment").stand_in
        topic = ctx.stack.by_urn(stand_in) if stand_in is not None else None
        if topic is None or topic.type != TOPIC:
            return [ctx.unknown_issue(fn, f"environment variable {TOPIC_ENV}", "which topic the audit alerts", "pass the topic's arn output alone")]
        topics, foreign, topic_region = [topic], [], region_of(topic, regions)
    elif isinstance(alert, str):
        named = [t for t in ctx.stack.of_type(TOPIC) if _IDENTIFIES_TOPIC(alert, t)]
        misplaced = [t for t in named if not arn_fits(alert, t, regions)]
        if misplaced:
            return [Issue(
                f"{fn.urn} sets {TOPIC_ENV} to {alert!r}, but the stack's topic of that name, {misplaced[0].urn}, is in "
                f"region {region_of(misplaced[0], regions) or 'of the default provider'!r}, not the ARN's; expected the "
                f"alert topic's ARN in the region the topic is in.", fn.urn)]
        topics, foreign, topic_region = named, [alert], alert
    else:
        return [Issue(f"{fn.urn} sets {TOPIC_ENV} to {alert!r}, which is not a topic ARN; expected the alert topic's ARN.", fn.urn)]
    subscribed, unknown = _subscribed_topic(ctx, topics, foreign)
    if not subscribed:
        return unknown or [Issue(f"{fn.urn} alerts through {TOPIC_ENV} {alert if isinstance(alert, str) else topics[0].urn!r}, which has no subscription and is not listed in externalTopicArns; expected a topic with a subscriber.", fn.urn)]
    if fn_region is UNKNOWN or topic_region is UNKNOWN:
        return [ctx.unknown_issue(fn if fn_region is UNKNOWN else topics[0], "region", f"that {fn.urn} can publish to its {TOPIC_ENV} topic", "set the provider's region literally")]
    # The audit's SNS client is in the function's region, and SNS publishes only to topics in its own region.
    in_region = arn_in_region(alert, fn_region) if isinstance(alert, str) else compare_regions(topic_region, fn_region) == SAME
    if in_region:
        return []
    shown = arn_region(alert) if isinstance(alert, str) else topic_region
    return [Issue(
        f"{fn.urn} is in region {fn_region or 'of the default provider'!r} but its {TOPIC_ENV} topic is in "
        f"{shown or 'the default provider region'!r}, and the pack cannot show the audit can publish there; expected "
        f"the alert topic in the function's region.", fn.urn)]


def findings_issues(ctx: Context, fn: Res, regions: Mapping[str, Any]) -> list[Optional[Issue]]:
    """[] when the audit's findings reach someone; otherwise why none of its channels is proven to."""
    assert ctx.stack is not None
    issues: list[Optional[Issue]] = []
    hub = _env(fn, SECURITY_HUB_ENV)
    if hub in (MISSING, None, "true"):
        return []  # audit/handler.py sends findings to Security Hub unless told "false"
    if hub is UNKNOWN:
        issues.append(ctx.unknown_issue(fn, f"environment variable {SECURITY_HUB_ENV}", "whether the audit sends its findings to Security Hub", "set it from the literal config value"))
    topic = _topic_issues(ctx, fn, regions)
    if topic is not None and not any(topic):
        return []
    issues.extend(topic or [])
    namespace = _env(fn, NAMESPACE_ENV)
    if namespace is UNKNOWN:
        issues.append(ctx.unknown_issue(fn, f"environment variable {NAMESPACE_ENV}", "which metrics the audit's alarms must watch", "set it from the literal config value"))
        return _unless_relaxed(issues, Issue(f"{fn.urn} is not shown to report its findings to anyone; expected its metric namespace known at preview.", fn.urn))
    namespace = DEFAULT_NAMESPACE if namespace in (MISSING, None) else str(namespace).strip(" \t\r\n")
    expected = f"an alarm that one datapoint >= 1 of {namespace}/{KEYS_ACTIVE_METRIC} moves to ALARM and that notifies a subscribed topic"
    alarms, unknowns = _watching(ctx, fn, namespace, KEYS_ACTIVE_METRIC, per_function=False)
    issues.extend(unknowns)
    spec = MetricSpec(KEYS_ACTIVE_METRIC, namespace, "1", unit="Count", silent_between_events=False)
    for alarm in alarms:
        problems = _audit_alarm_issues(ctx, fn, alarm, spec, regions, expected)
        if any(problems):
            issues.extend(problems)
            continue
        resolution = ctx.stack.resolve(alarm, "alarmActions", ctx.stack.of_type(TOPIC), _IDENTIFIES_TOPIC)
        # This channel is SNS alone, and CloudWatch delivers only to topics in the alarm's region: action_issues
        # is satisfied by any one live action, which need not be the subscribed topic.
        alarm_region = region_of(alarm, regions)
        reachable = [t for t in resolution.targets if compare_regions(region_of(t, regions), alarm_region) == SAME
                     and all(arn_fits(a, t, regions) for a in resolution.reference.known if _IDENTIFIES_TOPIC(a, t))]
        foreign = [a for a in resolution.foreign if arn_in_region(a, alarm_region)]
        subscribed, unknown = _subscribed_topic(ctx, reachable, foreign)
        if subscribed:
            return []
        issues.extend(unknown or [Issue(f"{alarm.urn} notifies no topic with a subscription; expected {expected}.", alarm.urn)])
    return _unless_relaxed(issues, Issue(
        f"{fn.urn} is not shown to report its findings to anyone; expected {SECURITY_HUB_ENV} true, {TOPIC_ENV} naming a "
        f"topic in its region with a subscription, or an alarm on {namespace}/{KEYS_ACTIVE_METRIC} in its region that "
        f"notifies such a topic.", fn.urn))


def failure_issues(ctx: Context, fn: Res, regions: Mapping[str, Any]) -> list[Optional[Issue]]:
    """[] when a failed audit run notifies a live target; otherwise why neither an Errors alarm nor an on-failure
    destination is proven to. A run that ends as ERROR raises (audit/handler.py), so Lambda counts it in Errors."""
    assert ctx.stack is not None
    issues: list[Optional[Issue]] = []
    expected = f"an alarm that one {LAMBDA_NAMESPACE} {ERRORS_METRIC} datapoint of {fn.urn} moves to ALARM"
    alarms, unknowns = _watching(ctx, fn, LAMBDA_NAMESPACE, ERRORS_METRIC, per_function=True)
    issues.extend(unknowns)
    for alarm in alarms:
        problems = _audit_alarm_issues(ctx, fn, alarm, MetricSpec(ERRORS_METRIC, LAMBDA_NAMESPACE, "1", unit="Count", silent_between_events=False), regions, expected)
        if not any(problems):
            return []
        issues.extend(problems)
    # An invoke config applies to the one qualifier it names (none: the unqualified function), and the schedule's
    # invocations of an alias or version get that qualifier's config only. Every qualifier the schedule invokes
    # needs a config that sends its failures on.
    invoked = {_invoked_qualifier(t) for t in ctx.stack.of_type(EVENT_TARGET) if ctx.stack.refers_to(t, "arn", fn, _invokes)} or {None}
    covered: set[Optional[str]] = set()
    for config in ctx.stack.of_type(LAMBDA_INVOKE_CONFIG):
        if not _linked(ctx, config, "functionName", fn, issues, f"whether it configures {fn.urn}", "pass the function's name output"):
            continue
        qualifier = config.get("qualifier")
        if qualifier is UNKNOWN:
            issues.append(ctx.unknown_issue(config, "qualifier", f"that it applies to the scheduled invocations of {fn.urn}", "set it literally or leave it out"))
            continue
        applies_to = None if qualifier in (MISSING, None, "", "$LATEST") else qualifier
        if applies_to not in invoked:
            shown = "the unqualified function" if applies_to is None else f"qualifier {applies_to!r}"
            wanted = " or ".join(sorted("no qualifier" if q is None else repr(q) for q in invoked))
            issues.append(Issue(f"{config.urn} applies only to {shown} of {fn.urn}, which the schedule does not invoke; expected {wanted}.", config.urn))
            continue
        destination = config.get("destinationConfig")
        on_failure = destination.get("onFailure") if isinstance(destination, Mapping) else None
        target = on_failure.get("destination") if isinstance(on_failure, Mapping) else None
        if target is UNKNOWN or contains_unknown(on_failure):
            # The link stands in only for an unknown destination: a known one is judged as a value, whatever an
            # unknown onSuccess beside it is linked to.
            stand_in = ctx.stack.reference(config, "destinationConfig").stand_in
            if stand_in is not None and ctx.stack.type_of(stand_in) == TOPIC:
                covered.add(applies_to)
                if covered >= invoked:
                    return []
                continue
            issues.append(ctx.unknown_issue(config, "destinationConfig", "where failed audit runs go", "pass the topic's arn output alone"))
        elif isinstance(target, str) and (target in ctx.settings[EXTERNAL_TOPICS] or any(_IDENTIFIES_TOPIC(target, t) for t in ctx.stack.of_type(TOPIC))):
            covered.add(applies_to)
            if covered >= invoked:
                return []
        else:
            issues.append(Issue(
                f"{config.urn} sends failed runs of {fn.urn} to {target!r}, which is neither a topic in this stack nor listed "
                f"in externalTopicArns; expected the alert SNS topic as the onFailure destination.", config.urn))
    return _unless_relaxed(issues, Issue(
        f"{fn.urn} is not shown to alert anyone when an audit run fails; expected an alarm on {LAMBDA_NAMESPACE} "
        f"{ERRORS_METRIC} with its FunctionName dimension in its region that notifies the alert topic, or a "
        f"FunctionEventInvokeConfig whose onFailure destination is that topic.", fn.urn))


def _unless_relaxed(issues: list[Optional[Issue]], summary: Issue) -> list[Optional[Issue]]:
    """The issues and the summary of what none of the channels proves, unless allowUnknownValues relaxed the only
    open ones: then no channel is refuted and the check waits for `pulumi up`."""
    if issues and not any(issues):
        return []
    return issues + [summary]


def validate_audit_findings_delivered(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    ctx = stack_context(DELIVERED, args, report_violation, (EXTERNAL_TOPICS,), DELIVERED_TYPES)
    if ctx is None:
        return
    assert ctx.stack is not None
    regions = provider_regions(args.resources, (LAMBDA_FUNCTION, METRIC_ALARM, TOPIC))
    # No audit function: root-access-key-audit-scheduled reports it.
    for fn in audit_functions(ctx.stack):
        ctx.report_issues(findings_issues(ctx, fn, regions) + failure_issues(ctx, fn, regions))


ROOT_ACCESS_KEY_AUDIT_SCHEDULED = stack_policy(SCHEDULED, validate_root_access_key_audit_scheduled, ())
AUDIT_ROLE_LEAST_PRIVILEGE = stack_policy(LEAST_PRIVILEGE, validate_audit_role_least_privilege, ())
AUDIT_FINDINGS_DELIVERED = stack_policy(DELIVERED, validate_audit_findings_delivered, (EXTERNAL_TOPICS,))
