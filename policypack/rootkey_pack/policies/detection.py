"""Detection: a CloudWatch Logs metric filter on a CloudTrail-fed log group matches a root CreateAccessKey event and
an alarm on its metric fires on a single event (CIS AWS 1.4 detective counterpart, CIS AWS 3.3 / 4.3 / 5.3 root-usage
monitoring, Security Hub CloudWatch.1). EventBridge rules are welcome extra detection but do not count here: they
have no alarm state, no CIS mapping and no metric history."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any, Mapping, Optional

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    Severity,
    StackValidationArgs,
)

from .. import metadata as md
from .. import samples
from ..alarm_eval import MetricSpec, evaluate_alarm, single_metric_view
from ..regions import SAME, UNKNOWN_REGION, UNVERIFIABLE, arn_fits, arn_in_region, arn_region, compare_regions, provider_regions, region_of, region_problem
from ..base import Context, Issue, stack_context, stack_policy
from ..cloudtrail import log_group_name_from_arn, trail_findings
from ..config import EXTERNAL_LOG_GROUPS, EXTERNAL_TOPICS, MAX_ALARM_PERIOD, PARTITION
from ..filter_pattern import ClassVerdict, PatternError, judge_class, matches, parse
from ..iam_eval import arn_match, as_list, parse_document
from ..types import (
    BUCKET_POLICY,
    IAM_ROLE,
    IAM_ROLE_POLICY,
    LAMBDA_FUNCTION,
    LOG_GROUP,
    METRIC_ALARM,
    METRIC_FILTER,
    ORGANIZATION,
    SSM_INCIDENTS_RESPONSE_PLAN,
    TOPIC,
    TRAIL,
)
from .delivery import Publisher, _actions_cover, resource_policy_problem
from ..values import MISSING, UNKNOWN, Res, by_arn, by_props, contains_unknown

ROOT_KEY_EXAMPLE = '{ ($.userIdentity.type = "Root") && ($.eventName = "CreateAccessKey") }'
CIS_EXAMPLE = '{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType != "AwsServiceEvent" }'
DETECTION_TYPES = (METRIC_FILTER, METRIC_ALARM, LOG_GROUP, TRAIL, IAM_ROLE, IAM_ROLE_POLICY, ORGANIZATION, BUCKET_POLICY, TOPIC)
DETECTION_KEYS = (EXTERNAL_LOG_GROUPS, EXTERNAL_TOPICS, MAX_ALARM_PERIOD, PARTITION)
HOW_LITERAL = "set it from a literal value"
# The resources whose region the detection chain compares: filter, log group, alarm and the topic it notifies.
REGIONAL_TYPES = (METRIC_FILTER, METRIC_ALARM, LOG_GROUP, TOPIC)
# Alarm actions that reach a person or a responder: SNS topics, Lambda functions, Systems Manager OpsItems/incidents.
_NOTIFYING_ACTION_RE = re.compile(r"^arn:aws[a-z-]*:(sns|lambda|ssm|ssm-incidents):")
_NOTIFYING_TYPES = (TOPIC, LAMBDA_FUNCTION, SSM_INCIDENTS_RESPONSE_PLAN)
_SNS_ARN_RE = re.compile(r"^arn:aws[a-z-]*:sns:")

CREATION_ALARMED = md.PolicyMeta(
    name="root-access-key-creation-alarmed",
    description="Ensure a metric filter on a CloudTrail-fed log group matches a root CreateAccessKey event and an enabled alarm on its metric fires on a single event.",
    severity=Severity.HIGH,
    enforcement=EnforcementLevel.MANDATORY,
    remediation=(
        "Send a multi-region CloudTrail trail to a CloudWatch Logs log group, add an aws.cloudwatch.LogMetricFilter "
        f"with pattern {ROOT_KEY_EXAMPLE} and metricTransformation value \"1\", and an aws.cloudwatch.MetricAlarm on "
        "the same metric name and namespace with statistic Sum, threshold 1, GreaterThanOrEqualToThreshold, "
        "evaluationPeriods 1 and the alert SNS topic in alarmActions."
    ),
    url=md.URL_CLOUDTRAIL_ALARMS,
    frameworks=md.DETECTION,
    kind="stack",
)

CIS_ROOT_USAGE = md.PolicyMeta(
    name="cis-root-usage-alarmed",
    description="Ensure the CIS root-usage metric filter and an alarm that fires on a single root action exist on a CloudTrail-fed log group.",
    severity=Severity.MEDIUM,
    enforcement=EnforcementLevel.ADVISORY,
    remediation=(
        f"Add an aws.cloudwatch.LogMetricFilter with the CIS pattern {CIS_EXAMPLE} on the trail's log group and an "
        "aws.cloudwatch.MetricAlarm on its metric (Sum >= 1 over one period) with the alert topic in alarmActions."
    ),
    url=md.URL_SECURITY_HUB_CW1,
    frameworks=md.MONITORING,
    kind="stack",
)


@dataclass(frozen=True)
class FilterCheck:
    res: Res
    pattern: object
    error: Optional[str] = None
    missed: tuple[tuple[str, ClassVerdict], ...] = ()  # (event class name, verdict not TRUE)
    extra: tuple[str, ...] = ()  # sample names it matches but must not
    unknown: bool = False

    @property
    def correct(self) -> bool:
        return self.error is None and not self.missed and not self.extra


def check_filter(res: Res, expectation: samples.Expectation, partition: str) -> FilterCheck:
    pattern = res.get("pattern")
    if pattern is UNKNOWN:
        return FilterCheck(res, pattern, unknown=True)
    try:
        parsed = parse(pattern)
        verdicts = ((name, judge_class(parsed, samples.event_class(name, partition))) for name in expectation.must_match)
        missed = tuple((name, v) for name, v in verdicts if v.value is not True)
        # Noise is judged on the samples and their variants: one entry per sample the pattern wrongly matches.
        extra = tuple(
            hit for name in expectation.must_not_match
            if (hit := next((v for v, event in samples.load_with_variants(name) if matches(parsed, event)), None))
        )
    except PatternError as exc:
        return FilterCheck(res, pattern, error=str(exc))
    return FilterCheck(res, pattern, missed=missed, extra=extra)


def _closest(checks: list[FilterCheck], expectation: samples.Expectation) -> list[FilterCheck]:
    """The filters worth explaining: unparseable ones, and those nearest to the expectation.

    Nearest means matching the most required classes in full, then the fewest forbidden samples; a filter that
    matches no event of any required class (such as the denied-attempt filter for the created one) is another
    control and is not explained.
    """
    broken = [c for c in checks if not c.unknown and c.error is not None]
    never = lambda c: sum(1 for _, v in c.missed if v.value is False)  # noqa: E731
    partial = [c for c in checks if not c.unknown and c.error is None and never(c) < len(expectation.must_match)]
    if partial:
        # Fewest classes missed, then fewest missed entirely: a filter that depends on a free field is nearer.
        best_missed = min((len(c.missed), never(c)) for c in partial)
        partial = [c for c in partial if (len(c.missed), never(c)) == best_missed]
        best_extra = min(len(c.extra) for c in partial)
        partial = [c for c in partial if len(c.extra) == best_extra]
    return broken + partial


def _missed_text(name: str, verdict: ClassVerdict) -> str:
    what = f"every {samples.CLASS_DESCRIPTIONS[name]}"
    if verdict.value is False:
        return f"{what} (it matches none of them)"
    fields = ", ".join(verdict.depends_on)
    return f"{what} (whether it matches depends on {fields}, which is not the same in every such event)"


def _filter_issue(check: FilterCheck, expectation: samples.Expectation, example: str) -> Issue:
    subject = f"{check.res.urn} has filter pattern {check.pattern!r}"
    expected = f"expected a pattern matching {expectation.summary}, such as {example}"
    if check.error is not None:
        return Issue(f"{subject} that the pack cannot evaluate ({check.error}); {expected}.", check.res.urn)
    if check.missed:
        missed = "; nor ".join(_missed_text(n, v) for n, v in check.missed)
        return Issue(f"{subject} that does not match {missed}; {expected}.", check.res.urn)
    extra = ", ".join(samples.describe(n) for n in check.extra)
    return Issue(f"{subject} that also matches {extra}, so its alarm would be noise; {expected} and nothing else.", check.res.urn)


_LOG_GROUP_NAME = by_props("name")
_LOG_GROUP_ARN = by_arn("arn")
_TOPIC_ARN = by_arn("arn", "id")


def _feeds(ctx: Context, trail: Res, groups: list[Res], names: set[str], region: Any, regions: Mapping[str, Any]) -> Optional[bool]:
    """Whether the trail delivers to the log group the filter reads: one of `groups` (the stack's log groups of that
    name in the filter's region), or, when the stack has none, a group of that name in `region`. By the trail's known
    ARN, or by the single link of an unknown one."""
    assert ctx.stack is not None
    ref = ctx.stack.reference(trail, "cloudWatchLogsGroupArn")
    for value in ref.known:
        if log_group_name_from_arn(value) not in names:
            continue
        # A log group is a name in one region: a trail delivering to the same name elsewhere feeds another group.
        if any(_names_group(value, g) and arn_in_region(value, region_of(g, regions)) for g in groups):
            return True
        if not groups and arn_in_region(value, region):
            return True
    if not ref.has_unknown:
        return False
    urns = {g.urn for g in groups}
    if ref.stand_in is not None:
        return ref.stand_in in urns
    return None if not ref.links or urns & set(ref.links) else False


def _names_group(value: str, group: Res) -> bool:
    """Whether a trail's cloudWatchLogsGroupArn names this log group: its ARN with or without the ':*' CloudTrail
    wants, or the ARN built from its name while its own is unknown."""
    own = group.get("arn")
    if isinstance(own, str) and own.removesuffix(":*") == value.removesuffix(":*"):
        return True
    return _LOG_GROUP_ARN(value, group)


def _groups_read(ctx: Context, filt: Res, linked: tuple[Res, ...], region: Any, regions: Mapping[str, Any]) -> tuple[list[Res], list[Optional[Issue]]]:
    """Of the stack's log groups the filter names (`linked`), those in its region; plus, when none is, why a group of
    that name is not proven to be in the filter's region or in another."""
    found: list[Res] = []
    issues: list[Optional[Issue]] = []
    for group in linked:
        group_region = region_of(group, regions)
        relation = compare_regions(region, group_region)
        if relation == SAME:
            found.append(group)
        elif relation == UNKNOWN_REGION:
            issues.append(ctx.unknown_issue(filt if region is UNKNOWN else group, "region", f"whether {filt.urn} reads {group.urn}", "set the provider's region literally"))
        elif relation == UNVERIFIABLE:
            problem = region_problem(filt.urn, region, f"{group.urn}, the log group of that name, is", group_region, "")
            issues.append(Issue(f"{problem}; expected the filter in the region of the log group a multi-region CloudTrail trail delivers to.", filt.urn))
    # Two log groups of one name cannot share a region, so one proven in the filter's region is the one it reads.
    return found, ([] if found else issues)


CLOUDTRAIL = "cloudtrail.amazonaws.com"
DELIVERY_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents")
_ROLE_ID = by_arn("arn", "name", "id")
_GROUP_ARN_RE = re.compile(r"^(arn:(aws[a-z-]*):logs:([a-z0-9-]+):([0-9]{12}):log-group:[^:]+)(:\*)?\Z")


def _trail_identity(trail: Res) -> tuple[Optional[str], Optional[str], Optional[str]]:
    """(log group ARN without ':*', account, trail ARN) from the trail's known values."""
    match = _GROUP_ARN_RE.match(trail.get("cloudWatchLogsGroupArn")) if isinstance(trail.get("cloudWatchLogsGroupArn"), str) else None
    if not match:
        return None, None, trail.get("arn") if isinstance(trail.get("arn"), str) else None
    group, partition, region, account = match.group(1), match.group(2), match.group(3), match.group(4)
    arn = trail.get("arn")
    name = trail.get("name")
    if not isinstance(arn, str):
        arn = f"arn:{partition}:cloudtrail:{region}:{account}:trail/{name}" if isinstance(name, str) and name else None
    return group, account, arn


def _role_documents(ctx: Context, role: Res) -> list[tuple[Res, Any]]:
    assert ctx.stack is not None
    docs: list[tuple[Res, Any]] = []
    inline = role.get("inlinePolicies")
    for item in inline if isinstance(inline, list) else []:
        if isinstance(item, dict) and item.get("policy") not in (MISSING, None, ""):
            docs.append((role, item.get("policy")))
    for rp in ctx.stack.of_type(IAM_ROLE_POLICY):
        if ctx.stack.refers_to(rp, "role", role, _ROLE_ID):
            docs.append((rp, rp.get("policy")))
    return docs


def _group_arn_for(resource: str, group_arn: Optional[str], group_name: Optional[str]) -> Optional[str]:
    """The log group ARN to test `resource` against: the known one, or one built from the known group name in the
    partition, region and account the resource itself names (only name and stream are judged then)."""
    if group_arn is not None:
        return group_arn
    parts = resource.split(":", 5)
    if group_name is None or len(parts) != 6 or parts[2] != "logs":
        return None
    return f"{parts[0]}:{parts[1]}:logs:{parts[3]}:{parts[4]}:log-group:{group_name}"


def _streams(group: str, organization: bool) -> dict[str, str]:
    """The streams CloudTrail writes in the group: <account>_CloudTrail_<region> for the trail's own account, and
    <organization id>_<member account>_CloudTrail_<region> for the members of an organization trail."""
    parts = group.split(":")
    region, account = (parts[3], parts[4]) if len(parts) > 4 else ("us-east-1", "111122223333")
    streams = {"own": f"{group}:log-stream:{account}_CloudTrail_{region}"}
    if organization:
        streams["member"] = f"{group}:log-stream:o-a1b2c3d4e5_444455556666_CloudTrail_{region}"
    return streams


def _grants_streams(documents: list[Any], group_arn: Optional[str], group_name: Optional[str], organization: bool) -> list[str]:
    """The delivery actions no Allow grants on every stream the trail writes, or that a Deny takes away."""
    missing = []
    kinds = ("own", "member") if organization else ("own",)
    for action in DELIVERY_ACTIONS:
        covered = {kind: False for kind in kinds}
        denied = False
        for document in documents:
            parsed = parse_document(document)
            for st in parsed.statements:
                raw = st.raw
                if not _actions_cover(raw, action) or "NotResource" in raw:
                    continue
                resources = [r for r in (as_list(raw.get("Resource")) or []) if isinstance(r, str)]
                hits = [kind for kind in kinds if any(
                    r == "*" or ((group := _group_arn_for(r, group_arn, group_name)) is not None and arn_match(r, _streams(group, organization)[kind]))
                    for r in resources)]
                if raw.get("Effect") == "Deny" and hits:
                    denied = True
                elif raw.get("Effect") == "Allow" and raw.get("Condition") in (MISSING, None, {}):
                    covered.update({kind: True for kind in hits})
        if denied or not all(covered.values()):
            missing.append(action)
    return missing


def _organization_wide(ctx: Context, trail: Res) -> bool:
    """Whether the trail's bucket takes logs under an organization id: the detection covers the organization."""
    assert ctx.stack is not None
    for bp in ctx.stack.of_type(BUCKET_POLICY):
        policy = bp.get("policy")
        if isinstance(policy, str) and re.search(r"/AWSLogs/o-[a-z0-9]{10,32}/", policy):
            linked = set(bp.property_dependencies.get("bucket", ())) & set(trail.property_dependencies.get("s3BucketName", ()))
            if linked or (isinstance(bp.get("bucket"), str) and bp.get("bucket") == trail.get("s3BucketName")):
                return True
    return False


def trail_delivery_issues(ctx: Context, trail: Res) -> list[Optional[Issue]]:
    """Why the trail cannot deliver to its log group: its role's trust and grants, its organization scope."""
    assert ctx.stack is not None
    issues: list[Optional[Issue]] = []
    expected = "expected a role trusting cloudtrail.amazonaws.com with logs:CreateLogStream and logs:PutLogEvents on the log group's streams"
    roles = ctx.stack.resolve(trail, "cloudWatchLogsRoleArn", ctx.stack.of_type(IAM_ROLE), _ROLE_ID)
    role_value = trail.get("cloudWatchLogsRoleArn")
    group_arn, account, trail_arn = _trail_identity(trail)
    linked_groups = ctx.stack.resolve(trail, "cloudWatchLogsGroupArn", ctx.stack.of_type(LOG_GROUP), _LOG_GROUP_ARN).targets
    group_name = next((g.get("name") for g in linked_groups if isinstance(g.get("name"), str)), None) if group_arn is None else None
    if role_value in (MISSING, None, ""):
        issues.append(Issue(f"{trail.urn} has no cloudWatchLogsRoleArn, so CloudTrail cannot write to its log group; {expected}.", trail.urn))
    elif not roles.targets:
        if roles.open or roles.reference.has_unknown:
            issues.append(ctx.unknown_issue(trail, "cloudWatchLogsRoleArn", "which role delivers its events", "pass the role's arn output alone"))
        else:
            issues.append(Issue(f"{trail.urn} delivers through role {role_value!r}, which is not in this stack, so the pack cannot verify it; {expected}.", trail.urn))
    for role in roles.targets:
        documents = _role_documents(ctx, role)
        if trail_arn is None and group_name is not None and isinstance(trail.get("name"), str):
            # The log group's ARN is unknown: the role's own grant on it names the account and region.
            for _, document in documents:
                for value in re.findall(r"arn:(aws[a-z-]*):logs:([a-z0-9-]+):([0-9]{12}):log-group:" + re.escape(group_name) + r"[:\"]", document if isinstance(document, str) else ""):
                    trail_arn = f"arn:{value[0]}:cloudtrail:{value[1]}:{value[2]}:trail/{trail.get('name')}"
                    break
        trust = role.get("assumeRolePolicy")
        if trust is UNKNOWN or contains_unknown(trust):
            issues.append(ctx.unknown_issue(role, "assumeRolePolicy", f"that CloudTrail may assume it for {trail.urn}", "build it with json.dumps from known values"))
        else:
            # CloudTrail assumes the delivery role without aws:SourceArn / aws:SourceAccount (AWS: confused-deputy
            # keys are not supported for this role), so a trust conditioned on them never lets it in.
            why = resource_policy_problem(trust, "trust policy", ("sts:AssumeRole",), Publisher(trail, CLOUDTRAIL, {}), need_allow=True)
            if why:
                issues.append(Issue(f"{role.urn}, the delivery role of {trail.urn}, cannot be assumed by {CLOUDTRAIL} because {why}; {expected}.", role.urn))
        if any(d is UNKNOWN or contains_unknown(d) for _, d in documents):
            issues.append(ctx.unknown_issue(role, "policy", f"that it lets {trail.urn} write to its log group", "build the policy with json.dumps from known values"))
        elif group_arn is None and group_name is None:
            issues.append(ctx.unknown_issue(trail, "cloudWatchLogsGroupArn", f"which log group streams {role.urn} must grant", "pass the log group ARN built from its known name"))
        else:
            missing = _grants_streams([d for _, d in documents], group_arn, group_name, trail.get("isOrganizationTrail") is True)
            if missing:
                issues.append(Issue(
                    f"{role.urn}, the delivery role of {trail.urn}, does not grant {' and '.join(missing)} on every stream of "
                    f"{group_arn or group_name} without conditions (or a Deny takes it away); {expected}.", role.urn))
    organization_trail = trail.get("isOrganizationTrail")
    if organization_trail is not True and organization_trail is not UNKNOWN and _organization_wide(ctx, trail):
        issues.append(Issue(
            f"{trail.urn} is not an organization trail (isOrganizationTrail is not true) but its bucket takes the "
            f"organization's logs, so the detection no longer covers member accounts; expected isOrganizationTrail true.", trail.urn))
    if organization_trail is True:
        for org in ctx.stack.of_type(ORGANIZATION):
            principals = org.get("awsServiceAccessPrincipals")
            if principals is UNKNOWN or contains_unknown(principals):
                issues.append(ctx.unknown_issue(org, "awsServiceAccessPrincipals", f"that {trail.urn} keeps its organization access", "list the principals literally"))
            elif CLOUDTRAIL not in (principals if isinstance(principals, list) else []):
                issues.append(Issue(
                    f"{org.urn} does not list {CLOUDTRAIL} in awsServiceAccessPrincipals, which the organization trail "
                    f"{trail.urn} depends on; expected {CLOUDTRAIL} kept there while the trail is an organization trail.", org.urn))
    return issues


def log_group_issues(ctx: Context, filt: Res, regions: Mapping[str, Any]) -> list[Optional[Issue]]:
    """Why the filter's log group is not proven to receive CloudTrail events ([] when it is)."""
    assert ctx.stack is not None
    external = set(ctx.settings[EXTERNAL_LOG_GROUPS])
    name = filt.get("logGroupName")
    region = region_of(filt, regions)
    # A known name is the log group, whatever the filter links to; an unknown one is its single linked log group.
    linked = ctx.stack.resolve(filt, "logGroupName", ctx.stack.of_type(LOG_GROUP), _LOG_GROUP_NAME).targets
    names = {n for n in ([name] if isinstance(name, str) else [g.get("name") for g in linked]) if isinstance(n, str) and n}
    if names & external:
        return []
    if name is UNKNOWN and not linked:
        return [ctx.unknown_issue(filt, "logGroupName", "which log group the filter reads", "give the log group an explicit name or pass the LogGroup resource's name output")]
    if name in (MISSING, None, ""):
        return [Issue(f"{filt.urn} has no logGroupName; expected the log group a multi-region CloudTrail trail delivers to.", filt.urn)]
    groups, issues = _groups_read(ctx, filt, linked, region, regions)
    if any(issues):
        return issues
    if region is UNKNOWN:
        return [ctx.unknown_issue(filt, "region", "which log group the filter reads", "set the provider's region literally")]
    feeding: list[Res] = []
    for trail in ctx.stack.of_type(TRAIL):
        feeds = _feeds(ctx, trail, groups, names, region, regions)
        if feeds is None:
            issues.append(ctx.unknown_issue(trail, "cloudWatchLogsGroupArn", f"whether it feeds the log group of {filt.urn}", "pass the LogGroup's arn output so the engine records the dependency"))
        elif feeds:
            feeding.append(trail)
    if not feeding:
        if issues:
            return issues
        shown = sorted(names)[0] if names else repr(name)
        where = f" in region {region!r}" if isinstance(region, str) else ""
        return [Issue(
            f"{filt.urn} reads log group {shown!r}{where}, which no CloudTrail trail in this stack feeds and which is not listed "
            f"in externalTrailLogGroups; expected a multi-region trail whose cloudWatchLogsGroupArn is that log group, "
            f"or the log group name in the '{ctx.meta.name}' policy config.",
            filt.urn,
        )]
    trail_issues: list[Optional[Issue]] = []
    for trail in feeding:
        findings = trail_findings(trail.props)
        problems = [f for f in findings if f.problem]
        unknowns = [ctx.unknown_issue(trail, f.unknown_property or "", "that the trail delivers root CreateAccessKey events from every region", HOW_LITERAL) for f in findings if f.unknown_property]
        unknowns.extend(trail_delivery_issues(ctx, trail))
        if not problems and all(u is None for u in unknowns):
            return []
        trail_issues.extend(unknowns)
        trail_issues.extend(
            Issue(f"{trail.urn} feeds the detection's log group but {p.problem}; expected a logging, multi-region trail recording IAM write management events.", trail.urn)
            for p in problems
        )
    return trail_issues


def alarm_issues(ctx: Context, filt: Res, spec: MetricSpec, alarm: Res, regions: Mapping[str, Any]) -> list[Optional[Issue]]:
    issues: list[Optional[Issue]] = []
    # A metric lives in the region of the filter that publishes it; an alarm anywhere else never sees a datapoint.
    filter_region, alarm_region = region_of(filt, regions), region_of(alarm, regions)
    if filter_region is UNKNOWN or alarm_region is UNKNOWN:
        issues.append(ctx.unknown_issue(filt if filter_region is UNKNOWN else alarm, "region", f"that {alarm.urn} is in the region {filt.urn} publishes to", "set the provider's region literally"))
    elif problem := region_problem(alarm.urn, alarm_region, f"{filt.urn} publishes its metric", filter_region, "so the alarm never sees a datapoint"):
        issues.append(Issue(f"{problem}; expected an alarm that a single event of {filt.urn} moves to ALARM.", alarm.urn))
    for finding in evaluate_alarm(alarm.props, spec, ctx.settings[MAX_ALARM_PERIOD]):
        if finding.unknown_property:
            owner = filt if finding.unknown_property.startswith("metricTransformation") else alarm
            issues.append(ctx.unknown_issue(owner, finding.unknown_property, f"that {alarm.urn} fires on one event of {filt.urn}", HOW_LITERAL))
        else:
            issues.append(Issue(f"{alarm.urn} {finding.problem}; expected an alarm that a single event of {filt.urn} moves to ALARM.", alarm.urn))
    issues.extend(action_issues(ctx, alarm, alarm_region, regions))
    return issues


def action_issues(ctx: Context, alarm: Res, alarm_region: Any, regions: Mapping[str, Any]) -> list[Optional[Issue]]:
    """Why the alarm's alarmActions reach no live target in its region ([] when one is reached)."""
    assert ctx.stack is not None
    actions = alarm.get("alarmActions")
    ref = ctx.stack.reference(alarm, "alarmActions")
    topics = ctx.stack.of_type(TOPIC)
    external = set(ctx.settings[EXTERNAL_TOPICS])
    known_sns = [a for a in ref.known if isinstance(a, str) and _SNS_ARN_RE.match(a)]
    named = {a: [t for t in topics if _TOPIC_ARN(a, t)] for a in known_sns}
    # An SNS ARN notifies someone only if it is a topic the stack manages (whose subscribers and key the delivery
    # policies judge) or one listed as consumed elsewhere: a retired or mistyped topic's ARN drops the alert. A
    # stack topic counts only in the region it is in, its provider's included.
    live_sns = [a for a in known_sns if a in external or any(arn_fits(a, t, regions) for t in named[a])]
    misplaced = [(a, t) for a in known_sns if a not in live_sns for t in named[a]]
    # CloudWatch publishes an alarm's SNS actions only to topics in the alarm's own region.
    in_region = [a for a in live_sns if alarm_region is UNKNOWN or arn_in_region(a, alarm_region)]
    if actions in (MISSING, None) or actions == []:
        return [Issue(f"{alarm.urn} has no alarmActions, so it notifies nobody; expected the alert SNS topic's ARN.", alarm.urn)]
    if in_region:
        return []  # a known action is proven: what an unknown one names cannot take that away
    stand_in = ctx.stack.by_urn(ref.stand_in) if ref.stand_in is not None else None
    stand_in_problem = None
    if stand_in is not None and stand_in.type == TOPIC:
        topic_region = region_of(stand_in, regions)
        if topic_region is UNKNOWN and alarm_region is not UNKNOWN:
            return [ctx.unknown_issue(stand_in, "region", f"that {alarm.urn} can notify it", "set the provider's region literally")]
        stand_in_problem = None if alarm_region is UNKNOWN else region_problem(
            alarm.urn, alarm_region, f"the topic it notifies, {stand_in.urn}, is", topic_region, "so CloudWatch cannot deliver the alert")
    notifies = any(
        isinstance(a, str) and _NOTIFYING_ACTION_RE.match(a) and not _SNS_ARN_RE.match(a) for a in ref.known
    ) or (ref.stand_in is not None and ctx.stack.type_of(ref.stand_in) in _NOTIFYING_TYPES and stand_in_problem is None)
    if notifies:
        return []
    if stand_in_problem is not None:
        return [Issue(f"{stand_in_problem}; expected the alert SNS topic in the alarm's region.", alarm.urn)]
    if ref.has_unknown and ref.stand_in is None:
        return [ctx.unknown_issue(alarm, "alarmActions", "that the alarm notifies someone", "pass the topic's arn output so the engine records the dependency")]
    if misplaced and not live_sns:
        arn, topic = misplaced[0]
        return [Issue(
            f"{alarm.urn} notifies {arn!r}, but the stack's topic of that name, {topic.urn}, is in region "
            f"{region_of(topic, regions) or 'of the default provider'!r}, not the ARN's; expected the alert SNS "
            f"topic's ARN in the region the topic is in.", alarm.urn)]
    if live_sns:
        return [Issue(
            f"{alarm.urn} is in region {alarm_region!r} but notifies SNS topic {live_sns[0]!r} in region "
            f"{arn_region(live_sns[0])!r}, and CloudWatch delivers alarm actions only to topics in the alarm's region; "
            f"expected the alert SNS topic in the alarm's region.", alarm.urn)]
    if known_sns:
        return [Issue(
            f"{alarm.urn} notifies SNS topic {known_sns[0]!r}, which is neither a topic in this stack nor listed in "
            f"externalTopicArns, so nothing shows the alert is delivered; expected the alert SNS topic's ARN.", alarm.urn)]
    # Known actions that notify nobody ("", an EC2 reboot, an Auto Scaling policy) must not count as alerting.
    return [Issue(
        f"{alarm.urn} has alarmActions {actions!r}, none of which notifies anyone; expected the alert SNS topic's ARN "
        f"(or a Lambda function or Systems Manager incident response plan).", alarm.urn)]


def as_single_metric(alarm: Res) -> Res:
    """A metricQueries alarm seen with its one query's metric name and namespace (links included), to find it."""
    if alarm.get("metricQueries") in (MISSING, None, []):
        return alarm
    view, _ = single_metric_view(alarm.props)
    if view is None:
        view = dict(alarm.props)
        queries = alarm.get("metricQueries")
        if isinstance(queries, list) and queries and isinstance(queries[0], dict) and isinstance(queries[0].get("metric"), dict):
            view.update({k: queries[0]["metric"].get(k, MISSING) for k in ("metricName", "namespace")})
    linked = alarm.property_dependencies.get("metricQueries", ())
    deps = {**alarm.property_dependencies, "metricName": linked, "namespace": linked} if linked else alarm.property_dependencies
    return replace(alarm, props=view, property_dependencies=deps)


def watching_alarms(ctx: Context, filt: Res, spec: MetricSpec) -> tuple[list[Res], list[Optional[Issue]]]:
    """Alarms on the filter's metric: by known name and namespace, or by the single link of an unknown one."""
    assert ctx.stack is not None
    found: list[Res] = []
    unknowns: list[Optional[Issue]] = []
    for alarm in ctx.stack.of_type(METRIC_ALARM):
        alarm = as_single_metric(alarm)
        # Known name and namespace are judged as values; an unknown one counts when its single link is this filter.
        name_ok = ctx.stack.refers_to(alarm, "metricName", filt, lambda v, _: v == spec.name)
        namespace_ok = ctx.stack.refers_to(alarm, "namespace", filt, lambda v, _: v == spec.namespace)
        if name_ok and namespace_ok:
            found.append(alarm)
        elif name_ok is not False and namespace_ok is not False:
            unknowns.append(ctx.unknown_issue(alarm, "metricName" if name_ok is None else "namespace", f"whether it watches the metric of {filt.urn}", "pass the metric name and namespace as literal strings"))
    return found, unknowns


def evaluate_detection(ctx: Context, expectation: samples.Expectation, example: str, control: str, regions: Mapping[str, Any]) -> None:
    assert ctx.stack is not None
    checks = [check_filter(f, expectation, ctx.settings[PARTITION]) for f in ctx.stack.of_type(METRIC_FILTER)]
    candidates: list[FilterCheck] = []
    for check in checks:
        if check.unknown:
            issue = ctx.unknown_issue(check.res, "pattern", f"that the filter matches {expectation.summary}", HOW_LITERAL)
            if issue is None:
                candidates.append(check)
        elif check.correct:
            candidates.append(check)
    if not candidates:
        unknown_issues = [ctx.unknown_issue(c.res, "pattern", f"that the filter matches {expectation.summary}", HOW_LITERAL) for c in checks if c.unknown]
        explained: list[Optional[Issue]] = [_filter_issue(c, expectation, example) for c in _closest(checks, expectation)]
        if unknown_issues or explained:
            ctx.report_issues(unknown_issues + explained)
        else:
            stack = ctx.stack.stack_name or "this stack"
            ctx.report(f"Stack '{stack}' has no CloudWatch Logs metric filter matching {expectation.summary}; expected {control} with a pattern such as {example} on a CloudTrail-fed log group, and an alarm on its metric.")
        return

    pending: list[Optional[Issue]] = []
    for check in candidates:
        filt = check.res
        group_issues = log_group_issues(ctx, filt, regions)
        spec = MetricSpec.from_filter_props(filt.props)
        if spec is None:
            pending.append(Issue(f"{filt.urn} has no metricTransformation; expected one publishing value \"1\" to the metric its alarm watches.", filt.urn))
            continue
        if spec.name is UNKNOWN or spec.namespace is UNKNOWN:
            pending.append(ctx.unknown_issue(filt, "metricTransformation", "which metric the filter publishes", "pass the metric name and namespace as literal strings"))
            if not ctx.allow_unknown:
                continue
        alarms, alarm_unknowns = watching_alarms(ctx, filt, spec)
        best: Optional[list[Optional[Issue]]] = None
        for alarm in alarms:
            found = alarm_issues(ctx, filt, spec, alarm, regions)
            if all(i is None for i in found):
                best = []
                break
            if best is None or len([i for i in found if i]) < len([i for i in best if i]):
                best = found
        if best == [] and all(i is None for i in group_issues):
            return  # one filter, fed by CloudTrail, watched by an alarm that fires: the control is present
        pending.extend(group_issues)
        if best is None:
            if any(alarm_unknowns):
                pending.extend(alarm_unknowns)
            else:
                pending.append(Issue(
                    f"{filt.urn} publishes metric {spec.namespace}/{spec.name} but no alarm in this stack watches it; "
                    f"expected an aws:cloudwatch/metricAlarm:MetricAlarm on that metric that fires on a single event.",
                    filt.urn,
                ))
        else:
            pending.extend(best)
    ctx.report_issues(pending)


def validate_root_access_key_creation_alarmed(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    ctx = stack_context(CREATION_ALARMED, args, report_violation, DETECTION_KEYS, DETECTION_TYPES)
    if ctx is not None:
        regions = provider_regions(args.resources, REGIONAL_TYPES)
        evaluate_detection(ctx, samples.ROOT_ACCESS_KEY_FILTER, ROOT_KEY_EXAMPLE, "a root CreateAccessKey metric filter", regions)


def validate_cis_root_usage_alarmed(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    ctx = stack_context(CIS_ROOT_USAGE, args, report_violation, DETECTION_KEYS, DETECTION_TYPES)
    if ctx is not None:
        regions = provider_regions(args.resources, REGIONAL_TYPES)
        evaluate_detection(ctx, samples.CIS_ROOT_USAGE_FILTER, CIS_EXAMPLE, "the CIS root-usage metric filter", regions)


ROOT_ACCESS_KEY_CREATION_ALARMED = stack_policy(
    CREATION_ALARMED, validate_root_access_key_creation_alarmed, DETECTION_KEYS
)
CIS_ROOT_USAGE_ALARMED = stack_policy(CIS_ROOT_USAGE, validate_cis_root_usage_alarmed, DETECTION_KEYS)
