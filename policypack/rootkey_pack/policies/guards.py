"""Guards applied to every stack, so a stack that does not own the guardrails cannot quietly switch them off:
SCPs stay enabled in the organization, the trail keeps logging from every region and keeps feeding CloudWatch Logs,
and the deny-root-keys SCP keeps denying and stays attached where it was (CIS AWS 1.4 and 3.x/4.x/5.x monitoring
prerequisites, Security Hub IAM.4 / CloudWatch.1, Control Tower AWS-GR_RESTRICT_ROOT_USER_ACCESS_KEYS).

These are resource policies: they judge the inputs of each resource being created or updated. Deleting a resource
is invisible to them (the engine analyzes no deletion); the owning stack's stack policies catch a removal there.
"""

from __future__ import annotations

from typing import Optional

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    Severity,
)

from .. import metadata as md
from ..base import Context, resource_context, resource_policy
from ..cloudtrail import records_create_access_key, trail_findings
from ..config import (
    PARTITION,
    PROTECTED_SCP_IDS,
    PROTECTED_SCP_NAMES,
    PROTECTED_TRAILS,
    REQUIRED_SERVICE_PRINCIPALS,
    REQUIRED_TARGETS,
    name_matches,
)
from ..iam_eval import mentions_create_access_key, root_access_key_denial
from ..types import ORGANIZATION, SCP, SCP_ATTACHMENT, TRAIL
from ..values import MISSING, UNKNOWN, Res, contains_unknown

ORG_SCPS = md.PolicyMeta(
    name="organization-keeps-scps-enabled",
    description="Ensure a managed AWS Organization keeps feature set ALL, SERVICE_CONTROL_POLICY among its enabled policy types, and the required service access (such as CloudTrail's).",
    severity=Severity.CRITICAL,
    enforcement=EnforcementLevel.MANDATORY,
    remediation="Keep featureSet \"ALL\" and list \"SERVICE_CONTROL_POLICY\" in enabledPolicyTypes of aws.organizations.Organization; without them no SCP applies.",
    url=md.URL_ORG_POLICIES,
    frameworks=md.PREVENTION,
    kind="resource",
)
TRAIL_LOGGING = md.PolicyMeta(
    name="trail-keeps-logging-multi-region",
    description="Ensure a protected CloudTrail trail keeps logging, stays multi-region and keeps recording global service events.",
    severity=Severity.HIGH,
    enforcement=EnforcementLevel.MANDATORY,
    remediation="Keep enableLogging true, isMultiRegionTrail true and includeGlobalServiceEvents true on the trail (narrow protectedTrailNames to the detection trails).",
    url=md.URL_TRAIL,
    frameworks=md.DETECTION,
    kind="resource",
)
TRAIL_FEEDING = md.PolicyMeta(
    name="trail-keeps-feeding-detection",
    description="Ensure a protected CloudTrail trail keeps delivering IAM write management events to CloudWatch Logs.",
    severity=Severity.HIGH,
    enforcement=EnforcementLevel.MANDATORY,
    remediation="Keep cloudWatchLogsGroupArn and cloudWatchLogsRoleArn on the trail and keep an event selector that records write management events from iam.amazonaws.com.",
    url=md.URL_CLOUDTRAIL_ALARMS,
    frameworks=md.DETECTION,
    kind="resource",
)
SCP_PROTECTED = md.PolicyMeta(
    name="deny-root-keys-scp-not-weakened",
    description="Ensure no stack shrinks the deny-root-access-keys SCP or moves its attachment off the required targets.",
    severity=Severity.CRITICAL,
    enforcement=EnforcementLevel.MANDATORY,
    remediation=(
        "Keep every SCP that names iam:CreateAccessKey (or matches protectedPolicyNames) a full denial of root "
        "access-key creation, and attach the protected policy ids only to requiredTargetIds."
    ),
    url=md.URL_SCP_EXAMPLES,
    frameworks=md.PREVENTION,
    kind="resource",
)


def validate_organization_keeps_scps_enabled(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    ctx = resource_context(ORG_SCPS, args, report_violation, (REQUIRED_SERVICE_PRINCIPALS,), (ORGANIZATION,))
    if ctx is None:
        return
    res = ctx.resource
    assert res is not None
    feature_set = res.get("featureSet")
    if feature_set is UNKNOWN:
        ctx.unknown(res, "featureSet", "that all features stay enabled", "set featureSet=\"ALL\" literally")
    elif feature_set not in (MISSING, None, "ALL"):
        ctx.report(f"{res.label} has featureSet {feature_set!r}, which disables every SCP; expected \"ALL\".")
    types = res.get("enabledPolicyTypes")
    if types is UNKNOWN or contains_unknown(types):
        ctx.unknown(res, "enabledPolicyTypes", "that SCPs stay enabled", "list the policy types literally")
    elif not isinstance(types, list) or "SERVICE_CONTROL_POLICY" not in types:
        shown = "no enabledPolicyTypes" if types in (MISSING, None) else f"enabledPolicyTypes {types!r}"
        ctx.report(f"{res.label} has {shown}, without SERVICE_CONTROL_POLICY; expected it listed so the deny-root-keys SCP applies.")
    required = ctx.settings[REQUIRED_SERVICE_PRINCIPALS]
    if required:
        principals = res.get("awsServiceAccessPrincipals")
        if principals is UNKNOWN or contains_unknown(principals):
            ctx.unknown(res, "awsServiceAccessPrincipals", "that the organization trail keeps its service access", "list the principals literally")
        else:
            present = principals if isinstance(principals, list) else []
            missing = [p for p in required if p not in present]
            if missing:
                ctx.report(f"{res.label} no longer trusts {', '.join(missing)} in awsServiceAccessPrincipals, which stops the organization trail; expected {', '.join(required)} to stay.")


def _protected_trail(ctx: Context, res: Res) -> bool:
    patterns = ctx.settings[PROTECTED_TRAILS]
    if not patterns:
        return True
    name = res.get("name")
    # A trail whose name is not known is protected: the guard cannot tell it apart (fail closed).
    return not isinstance(name, str) or name_matches(name, patterns)


def validate_trail_keeps_logging_multi_region(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    ctx = resource_context(TRAIL_LOGGING, args, report_violation, (PROTECTED_TRAILS,), (TRAIL,))
    if ctx is None:
        return
    res = ctx.resource
    assert res is not None
    if not _protected_trail(ctx, res):
        return
    for finding in trail_findings(res.props):
        if finding.unknown_property in ("enableLogging", "isMultiRegionTrail", "includeGlobalServiceEvents"):
            ctx.unknown(res, finding.unknown_property, "that the trail keeps logging from every region", "set it literally")
        elif finding.problem and not finding.problem.startswith("its "):
            ctx.report(f"{res.label} {finding.problem}; expected a logging, multi-region trail that records global service events.")


def validate_trail_keeps_feeding_detection(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    ctx = resource_context(TRAIL_FEEDING, args, report_violation, (PROTECTED_TRAILS,), (TRAIL,))
    if ctx is None:
        return
    res = ctx.resource
    assert res is not None
    if not _protected_trail(ctx, res):
        return
    for prop in ("cloudWatchLogsGroupArn", "cloudWatchLogsRoleArn"):
        value = res.get(prop)
        # An unknown ARN is still set: the engine leaves it unknown only because it comes from a new resource.
        if value is not UNKNOWN and not (isinstance(value, str) and value.strip()):
            ctx.report(f"{res.label} has no {prop}, so it stops feeding the root access-key alarms; expected the CloudWatch Logs group (and delivery role) of the detection.")
    recorded, why = records_create_access_key(res.props)
    if recorded is None:
        ctx.unknown(res, why, "that the trail records IAM write management events", "set the selectors literally")
    elif not recorded:
        ctx.report(f"{res.label} stops feeding the root access-key alarms because {why}; expected a selector recording write management events from iam.amazonaws.com.")


def _scp_protected(ctx: Context, res: Res, content: object) -> tuple[Optional[bool], str]:
    """Whether the SCP is protected (by name, or by what it denies), or None with the property that decides it."""
    name = res.get("name")
    if isinstance(name, str) and name_matches(name, ctx.settings[PROTECTED_SCP_NAMES]):
        return True, ""
    if content is UNKNOWN:
        return None, "content"
    if mentions_create_access_key(content):
        return True, ""
    # A protected SCP whose Deny was edited away no longer mentions the action: only its name says it is protected.
    # A tag, backup or other policy type is no SCP, whatever its name.
    kind = res.get("type")
    if name is UNKNOWN and ctx.settings[PROTECTED_SCP_NAMES] and kind in (MISSING, None, "", "SERVICE_CONTROL_POLICY", UNKNOWN):
        return None, "name"
    return False, ""


def validate_deny_root_keys_scp_not_weakened(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    ctx = resource_context(
        SCP_PROTECTED, args, report_violation, (PROTECTED_SCP_NAMES, PROTECTED_SCP_IDS, REQUIRED_TARGETS, PARTITION), (SCP, SCP_ATTACHMENT)
    )
    if ctx is None:
        return
    res = ctx.resource
    assert res is not None
    if res.type == SCP:
        content = res.get("content")
        protected, deciding = _scp_protected(ctx, res, content)
        if protected is None:
            how = "build the document with json.dumps from literal values" if deciding == "content" else "set the policy's name literally"
            ctx.unknown(res, deciding, "whether this SCP still denies root access-key creation", how)
            return
        if not protected:
            return
        kind = res.get("type")
        if kind not in (MISSING, None, "", "SERVICE_CONTROL_POLICY"):
            ctx.report(f"{res.label} names iam:CreateAccessKey but has type {kind!r}; expected SERVICE_CONTROL_POLICY so it keeps denying root access-key creation.")
            return
        if content is UNKNOWN:
            ctx.unknown(res, "content", "that this protected SCP still denies root access-key creation", "build the document with json.dumps from literal values")
            return
        verdict = root_access_key_denial(content, ctx.settings[PARTITION])
        if not verdict.denies:
            ctx.report(f"{res.label} is a deny-root-keys SCP that no longer denies iam:CreateAccessKey to every root user because {verdict.explanation}; expected the full denial to stay.")
        return
    policy_id = res.get("policyId")
    if not (isinstance(policy_id, str) and policy_id in ctx.settings[PROTECTED_SCP_IDS]):
        return
    required = ctx.settings[REQUIRED_TARGETS]
    target = res.get("targetId")
    if not required:
        return
    if target is UNKNOWN:
        ctx.unknown(res, "targetId", f"that protected SCP {policy_id} stays on its required targets", "pass the target id literally")
    elif target not in required:
        ctx.report(f"{res.label} attaches protected SCP {policy_id} to {target!r}; expected one of the required targets {', '.join(required)}, since moving the attachment detaches the SCP from them.")


ORGANIZATION_KEEPS_SCPS_ENABLED = resource_policy(
    ORG_SCPS, validate_organization_keeps_scps_enabled, (REQUIRED_SERVICE_PRINCIPALS,)
)
TRAIL_KEEPS_LOGGING_MULTI_REGION = resource_policy(TRAIL_LOGGING, validate_trail_keeps_logging_multi_region, (PROTECTED_TRAILS,))
TRAIL_KEEPS_FEEDING_DETECTION = resource_policy(TRAIL_FEEDING, validate_trail_keeps_feeding_detection, (PROTECTED_TRAILS,))
DENY_ROOT_KEYS_SCP_NOT_WEAKENED = resource_policy(
    SCP_PROTECTED, validate_deny_root_keys_scp_not_weakened, (PROTECTED_SCP_NAMES, PROTECTED_SCP_IDS, REQUIRED_TARGETS, PARTITION)
)
