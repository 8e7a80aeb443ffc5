"""Prevention: an Organizations SCP denies iam:CreateAccessKey to every member account's root user, and every SCP
document is one AWS accepts (CIS AWS 1.4 and successors, Security Hub IAM.4, Control Tower
AWS-GR_RESTRICT_ROOT_USER_ACCESS_KEYS)."""

from __future__ import annotations

import re
from typing import Optional

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    Severity,
    StackValidationArgs,
)

from .. import metadata as md
from ..base import (
    Context,
    Issue,
    resource_context,
    resource_policy,
    stack_context,
    stack_policy,
)
from ..config import MANAGEMENT_ACCOUNT, PARTITION, TARGET_ID_RE
from ..account_sets import Universe
from ..iam_eval import root_access_key_denial, scp_denied_accounts, validate_scp
from ..types import ACCOUNT, ORGANIZATION, ORGANIZATIONAL_UNIT, SCP, SCP_ATTACHMENT
from ..values import MISSING, UNKNOWN, Res, by_props

SCP_TYPE = "SERVICE_CONTROL_POLICY"
PREVENTION_TYPES = (SCP, SCP_ATTACHMENT, ORGANIZATION)
EXPECTED_SCP = (
    "expected a SERVICE_CONTROL_POLICY with a Deny statement for iam:CreateAccessKey on Resource \"*\" whose only "
    "condition is ArnLike/StringLike aws:PrincipalArn \"arn:aws:iam::*:root\""
)
HOW_KNOWN_DOCUMENT = "build the document with json.dumps from literal values instead of from resource outputs"

CREATION_DENIED = md.PolicyMeta(
    name="root-access-key-creation-denied",
    description="Ensure an attached service control policy denies iam:CreateAccessKey to the root user of every member account.",
    severity=Severity.CRITICAL,
    enforcement=EnforcementLevel.MANDATORY,
    remediation=(
        "Create an aws.organizations.Policy of type SERVICE_CONTROL_POLICY whose document denies iam:CreateAccessKey "
        "on \"*\" with the condition ArnLike aws:PrincipalArn arn:aws:iam::*:root and no other condition, and attach "
        "it with an aws.organizations.PolicyAttachment to the organization root (or every OU/account to protect)."
    ),
    url=md.URL_SCP_EXAMPLES,
    frameworks=md.PREVENTION,
    kind="stack",
)

DOCUMENT_VALID = md.PolicyMeta(
    name="scp-document-valid",
    description="Ensure every service control policy document is valid JSON within 5,120 characters, without Principal or NotPrincipal, and with only Allow or Deny effects.",
    severity=Severity.HIGH,
    enforcement=EnforcementLevel.MANDATORY,
    remediation=(
        "Write the SCP document with json.dumps from a dict, keep it under 5,120 characters, drop Principal / "
        "NotPrincipal (SCPs apply to every principal of the accounts they are attached to), and use Effect \"Allow\" "
        "or \"Deny\" with exactly one of Action/NotAction and one of Resource/NotResource per statement."
    ),
    url=md.URL_SCP_SYNTAX,
    frameworks=md.PREVENTION,
    kind="resource",
)


def _is_scp(ctx: Context, res: Res) -> Optional[bool]:
    kind = res.get("type")
    if kind is UNKNOWN:
        return None
    # AWS Organizations (and the provider) default the policy type to SERVICE_CONTROL_POLICY.
    return kind in (MISSING, None, "", SCP_TYPE)


_KNOWN_ID = by_props("id", "arn")


def _POLICY_ID(value: object, policy: Res) -> bool:
    """A policyId names the policy by its id, which is also the last part of its ARN (.../service_control_policy/p-...),
    so a deployed policy is recognised even where the id itself is not among the outputs."""
    arn = policy.get("arn")
    return _KNOWN_ID(value, policy) or (
        isinstance(value, str) and bool(value) and isinstance(arn, str) and arn.rpartition("/")[2] == value
    )


HOW_LINK = "pass the policy's id output alone, not a value computed from several resources"


def attachments_of(ctx: Context, policy: Res) -> tuple[list[Res], list[Res]]:
    """PolicyAttachments whose policyId is this SCP (by its known id, or by the single link of an unknown policyId),
    and those whose unknown policyId could be it but is computed from several resources."""
    assert ctx.stack is not None
    found: list[Res] = []
    undecided: list[Res] = []
    for att in ctx.stack.of_type(SCP_ATTACHMENT):
        state = ctx.stack.refers_to(att, "policyId", policy, _POLICY_ID)
        if state:
            found.append(att)
        elif state is None:
            undecided.append(att)
    return found, undecided


_ACCOUNT_ID_RE = re.compile(r"^[0-9]{12}\Z")
# An unknown targetId computed from one of these is an OU or a member account: never the management account.
_MEMBER_TARGET_TYPES = (ORGANIZATIONAL_UNIT, ACCOUNT)


def management_account(ctx: Context) -> Optional[str]:
    """The organization's management account: the policy config, else a known masterAccountId of an Organization
    in the stack (the program manages or adopts it). None when the pack cannot know it."""
    assert ctx.stack is not None
    configured = ctx.settings[MANAGEMENT_ACCOUNT]
    if configured:
        return str(configured)
    for org in ctx.stack.of_type(ORGANIZATION):
        master = org.get("masterAccountId")
        if isinstance(master, str) and _ACCOUNT_ID_RE.match(master):
            return master
    return None


def _target_issue(ctx: Context, att: Res, management: Optional[str]) -> Optional[Issue]:
    """Why this attachment does not apply the SCP to any member account; None when it does."""
    assert ctx.stack is not None
    target = att.get("targetId")
    if target is UNKNOWN:
        ref = ctx.stack.reference(att, "targetId")
        if ref.stand_in is not None and ctx.stack.type_of(ref.stand_in) in _MEMBER_TARGET_TYPES:
            return None
        return ctx.unknown_issue(att, "targetId", "that it attaches the SCP where it applies (not the management account)",
                                 "pass the root, OU or account id literally, or an OU's or member account's id output")
    if not (isinstance(target, str) and TARGET_ID_RE.fullmatch(target)):
        # Exactly AWS's forms: "111122223333\n" is not the management account's id, nor any account's.
        return Issue(f"{att.urn} has targetId {target!r}; expected the organization root (r-...), an OU (ou-...-...) or a 12-digit account id.", att.urn)
    if not _ACCOUNT_ID_RE.fullmatch(target):
        return None
    if management is None:
        return Issue(
            f"{att.urn} attaches the SCP to account {target}, and the pack cannot tell whether that is the "
            f"organization's management account, where SCPs never apply; expected managementAccountId in the "
            f"'{ctx.meta.name}' policy config (or an {ORGANIZATION} in this stack with a known masterAccountId).", att.urn)
    if target == management:
        return Issue(
            f"{att.urn} attaches the SCP to the organization's management account {target}, where SCPs never apply; "
            f"expected the organization root, an OU or a member account.", att.urn)
    return None


def _jointly_denied(ctx: Context, partial: list[Res], management: Optional[str]) -> bool:
    """Whether SCPs that each deny only some accounts, attached to the same target, together deny every account
    (a deny split over several policies, as over several statements, is equivalent)."""
    assert ctx.stack is not None
    universe = Universe()
    by_target: dict[str, list[int]] = {}
    for policy in partial:
        denied = scp_denied_accounts(policy.get("content"), universe, ctx.settings[PARTITION])
        if denied is None:
            continue
        attachments, _ = attachments_of(ctx, policy)
        for att in attachments:
            target = att.get("targetId")
            if isinstance(target, str) and _target_issue(ctx, att, management) is None:
                by_target.setdefault(target, []).append(denied)
    return any(universe.union(*sets) == universe.full for sets in by_target.values())


def validate_root_access_key_creation_denied(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    ctx = stack_context(CREATION_DENIED, args, report_violation, (PARTITION, MANAGEMENT_ACCOUNT), PREVENTION_TYPES)
    if ctx is None:
        return
    assert ctx.stack is not None
    denying: list[Res] = []
    near_misses: list[tuple[Res, str]] = []
    for policy in ctx.stack.of_type(SCP):
        is_scp = _is_scp(ctx, policy)
        if is_scp is None:
            if ctx.unknown(policy, "type", "that it is a service control policy", "set type=\"SERVICE_CONTROL_POLICY\" literally"):
                is_scp = True
            else:
                continue
        if not is_scp:
            continue
        content = policy.get("content")
        if content is UNKNOWN:
            if ctx.unknown(policy, "content", "that the SCP denies root access-key creation", HOW_KNOWN_DOCUMENT):
                denying.append(policy)
            continue
        verdict = root_access_key_denial(content, ctx.settings[PARTITION])
        if verdict.denies:
            denying.append(policy)
        else:
            near_misses.append((policy, verdict.explanation))

    attached = False
    unattached: list[Res] = []
    target_problems: list[tuple[Res, Issue]] = []
    undecided: list[Res] = []
    management = management_account(ctx)
    for policy in denying:
        attachments, maybe = attachments_of(ctx, policy)
        undecided.extend(a for a in maybe if a not in undecided)
        issues = [(a, _target_issue(ctx, a, management)) for a in attachments]
        # A relaxed unknown target (allowUnknownValues) has no issue, so it counts as attached.
        good = [a for a, issue in issues if issue is None]
        target_problems.extend((a, issue) for a, issue in issues if issue is not None)
        if good:
            attached = True
        elif not attachments and not maybe:
            unattached.append(policy)
    if attached or _jointly_denied(ctx, [p for p, _ in near_misses], management):
        return
    if denying:
        for att in undecided:
            ctx.unknown(att, "policyId", "which policy it attaches", HOW_LINK)
        if undecided and ctx.allow_unknown:
            return
        for att, issue in target_problems:
            ctx.report(issue.message, issue.urn)
        for policy in unattached:
            ctx.report(
                f"{policy.urn} denies root access-key creation but is not attached to any target; expected an "
                f"aws:organizations/policyAttachment:PolicyAttachment of it to the organization root, an OU or an account.",
                policy.urn,
            )
        return
    if ctx.reported:
        return  # unknown values were already reported for the candidate SCPs
    relevant = [(p, why) for p, why in near_misses if "CreateAccessKey".lower() in str(p.get("content")).lower()]
    for policy, why in relevant or near_misses:
        ctx.report(
            f"{policy.urn} does not deny iam:CreateAccessKey to the root user of every account because {why}; {EXPECTED_SCP}.",
            policy.urn,
        )
    if not near_misses:
        stack = ctx.stack.stack_name or "this stack"
        ctx.report(f"Stack '{stack}' has no service control policy denying iam:CreateAccessKey to the root user; {EXPECTED_SCP}, attached to the organization root.")


def validate_scp_document_valid(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    ctx = resource_context(DOCUMENT_VALID, args, report_violation, (), (SCP,))
    if ctx is None:
        return
    res = ctx.resource
    assert res is not None
    kind = res.get("type")
    if kind is UNKNOWN:
        ctx.unknown(res, "type", "that it is a service control policy", "set type literally")
        return
    if kind not in (MISSING, None, "", SCP_TYPE):
        return
    content = res.get("content")
    if content is UNKNOWN:
        ctx.unknown(res, "content", "that the SCP document is valid", HOW_KNOWN_DOCUMENT)
        return
    problems = validate_scp(content)
    if problems:
        more = f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})" if len(problems) > 1 else ""
        ctx.report(
            f"{res.label} has an SCP document that {problems[0]}{more}; expected valid JSON under 5,120 characters "
            f"without Principal/NotPrincipal and with Allow or Deny effects only."
        )


ROOT_ACCESS_KEY_CREATION_DENIED = stack_policy(
    CREATION_DENIED, validate_root_access_key_creation_denied, (PARTITION, MANAGEMENT_ACCOUNT)
)
SCP_DOCUMENT_VALID = resource_policy(DOCUMENT_VALID, validate_scp_document_valid, ())
