"""Alert delivery: the topic the guardrail alarms notify has a consumer, and its KMS key lets the publishing
services use it — otherwise CloudWatch (CIS AWS 3.3 / 4.3 / 5.3, Security Hub CloudWatch.1) and EventBridge
publish into nothing, silently."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping, Optional

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    Severity,
    StackValidationArgs,
)

from .. import metadata as md
from ..base import Context, Issue, stack_context, stack_policy
from ..config import EXTERNAL_KEYS, EXTERNAL_TOPICS
from ..iam_eval import arn_match, as_list, glob_match, parse_document
from ..regions import DIFFERENT, SAME, UNKNOWN_REGION, arn_region, compare_regions, provider_regions, region_of
from ..types import (
    CHATBOT_SLACK,
    CHATBOT_TEAMS,
    EVENT_TARGET,
    KMS_ALIAS,
    KMS_KEY,
    METRIC_ALARM,
    TOPIC,
    TOPIC_POLICY,
    TOPIC_SUBSCRIPTION,
)
from ..values import MISSING, UNKNOWN, Res, by_arn, by_props, contains_unknown, not_boolean

CLOUDWATCH = "cloudwatch.amazonaws.com"
EVENTBRIDGE = "events.amazonaws.com"
KEY_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey")
DELIVERY_TYPES = (METRIC_ALARM, EVENT_TARGET, TOPIC, TOPIC_POLICY, TOPIC_SUBSCRIPTION, CHATBOT_SLACK, CHATBOT_TEAMS, KMS_KEY, KMS_ALIAS)

HAS_SUBSCRIBER = md.PolicyMeta(
    name="alarm-topic-has-subscriber",
    description="Ensure every SNS topic that guardrail alarms or rules notify has a subscription or another consumer.",
    severity=Severity.HIGH,
    # Advisory by default: subscribers are often people's addresses confirmed by e-mail or managed by another team,
    # which a default deployment cannot know. The warning still shows on every preview, so alarms that notify
    # nobody never go unnoticed; raise it to mandatory in the pack config once the stack names its subscribers.
    enforcement=EnforcementLevel.ADVISORY,
    remediation=(
        "Add an aws.sns.TopicSubscription to the alert topic (the program's alarmEmails / alarmHttpsEndpoints "
        "config), a chatbot channel configuration, or list the topic in externalTopicArns when it is consumed "
        "elsewhere."
    ),
    url=md.URL_CLOUDTRAIL_ALARMS,
    frameworks=md.MONITORING,
    kind="stack",
)

KEY_USABLE = md.PolicyMeta(
    name="alarm-topic-key-usable",
    description="Ensure the KMS key and the topic policy of every SNS topic that guardrail alarms or rules notify let CloudWatch and EventBridge deliver for each of them.",
    severity=Severity.HIGH,
    enforcement=EnforcementLevel.MANDATORY,
    remediation=(
        "Encrypt the alert topic with a customer-managed symmetric key (not alias/aws/sns) whose key policy allows "
        "cloudwatch.amazonaws.com (and events.amazonaws.com for EventBridge targets) kms:Decrypt and "
        "kms:GenerateDataKey*, optionally conditioned on aws:SourceAccount / aws:SourceArn matching the alarms (EventBridge "
        "sends neither to KMS), with no Deny that applies to them, and no topic policy Deny of sns:Publish for them."
    ),
    url=md.URL_SNS_ENCRYPTION,
    frameworks=md.MONITORING,
    kind="stack",
)


_TOPIC_ID = by_arn("arn", "id")
_KEY_ID = by_props("arn", "id", "keyId")
_ALIAS_ID = by_props("arn", "id", "name")


def notified_topics(ctx: Context) -> tuple[dict[str, tuple[Res, set[str], str, list[tuple[Res, str]]]], list[tuple[Res, str]], list[Optional[Issue]]]:
    """Topics in the stack that alarms / rules publish to: urn -> (topic, publishing services, first publisher urn,
    every (publisher, service)); plus external topic ARNs and unknown links."""
    assert ctx.stack is not None
    stack = ctx.stack
    topics = stack.of_type(TOPIC)
    found: dict[str, tuple[Res, set[str], str, list[tuple[Res, str]]]] = {}
    external: list[tuple[Res, str]] = []
    issues: list[Optional[Issue]] = []

    def add(topic: Res, service: str, publisher: Res) -> None:
        entry = found.setdefault(topic.urn, (topic, set(), publisher.urn, []))
        entry[1].add(service)
        entry[3].append((publisher, service))

    publishers = [(a, "alarmActions", CLOUDWATCH) for a in stack.of_type(METRIC_ALARM)] + [
        (t, "arn", EVENTBRIDGE) for t in stack.of_type(EVENT_TARGET)
    ]
    for publisher, prop, service in publishers:
        # Known ARNs are judged as values (a link kept beside a retired topic's ARN proves nothing); an unknown
        # action is the topic it was computed from when that is a single resource.
        resolution = stack.resolve(publisher, prop, topics, _TOPIC_ID)
        for topic in resolution.targets:
            add(topic, service, publisher)
        for item in resolution.foreign:
            if isinstance(item, str) and ":sns:" in item:
                external.append((publisher, item))
        if resolution.open and service == CLOUDWATCH:
            issues.append(ctx.unknown_issue(publisher, prop, "which topic it notifies", "pass the topic's arn output alone, not a value computed from several resources"))
    return found, external, issues


def topic_subscribed(ctx: Context, topic: Res) -> tuple[bool, list[Optional[Issue]]]:
    assert ctx.stack is not None
    issues: list[Optional[Issue]] = []
    for sub in ctx.stack.of_type(TOPIC_SUBSCRIPTION):
        state = ctx.stack.refers_to(sub, "topic", topic, _TOPIC_ID)
        if state:
            return True, []
        if state is None:
            issues.append(ctx.unknown_issue(sub, "topic", f"whether it subscribes to {topic.urn}", "pass the topic's arn output"))
    for chat in ctx.stack.of_type(CHATBOT_SLACK, CHATBOT_TEAMS):
        if ctx.stack.refers_to(chat, "snsTopicArns", topic, _TOPIC_ID):
            return True, []
    return False, issues


def validate_alarm_topic_has_subscriber(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    ctx = stack_context(HAS_SUBSCRIBER, args, report_violation, (EXTERNAL_TOPICS,), DELIVERY_TYPES)
    if ctx is None:
        return
    topics, external, issues = notified_topics(ctx)
    ctx.report_issues(issues)
    allowed = set(ctx.settings[EXTERNAL_TOPICS])
    for publisher, arn in external:
        if arn not in allowed:
            ctx.report(
                f"{publisher.urn} notifies SNS topic {arn!r}, which is not in this stack nor in externalTopicArns; "
                f"expected a topic whose subscribers the pack can see, or its ARN in the '{HAS_SUBSCRIBER.name}' policy config.",
                publisher.urn,
            )
    for topic, _, publisher_urn, _ in topics.values():
        ok, sub_issues = topic_subscribed(ctx, topic)
        if ok:
            continue
        if any(sub_issues):
            ctx.report_issues(sub_issues)
            continue
        ctx.report(
            f"{topic.urn} receives notifications from {publisher_urn} but has no subscription or other consumer; "
            f"expected an aws:sns/topicSubscription:TopicSubscription (e.g. set alarmEmails) so alerts reach someone.",
            topic.urn,
        )


def _principal_covers(principal: Any, service: str) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, Mapping):
        services = as_list(principal.get("Service")) or []
        aws = as_list(principal.get("AWS")) or []
        return service in services or "*" in aws
    return False


def _actions_cover(statement: Mapping[str, Any], action: str) -> bool:
    if "NotAction" in statement:
        return not any(glob_match(a, action, ignore_case=True) for a in as_list(statement["NotAction"]) or [] if isinstance(a, str))
    return any(glob_match(a, action, ignore_case=True) for a in as_list(statement.get("Action")) or [] if isinstance(a, str))


# Condition keys whose value the pack knows for a publisher's request; any other key is not modelled.
_MODELLED_KEYS = ("aws:sourceaccount", "aws:sourcearn")
_STRING_KINDS = {
    "stringequals": ("eq", False), "stringnotequals": ("eq", True), "stringequalsignorecase": ("ieq", False),
    "stringnotequalsignorecase": ("ieq", True), "stringlike": ("like", False), "stringnotlike": ("like", True),
    "arnequals": ("arn", False), "arnlike": ("arn", False), "arnnotequals": ("arn", True), "arnnotlike": ("arn", True),
}


@dataclass(frozen=True)
class Publisher:
    """One service request on behalf of one alarm or rule: the condition keys it carries.

    `context` maps lower-cased keys to their value, or to None when the key is sent but its value is not known at
    preview (for instance the account of an alarm whose ARN is unknown); a modelled key missing from it is absent.
    """

    res: Res
    service: str
    context: Mapping[str, Optional[str]]


def _one_condition(op: str, key: str, values: Any, context: Mapping[str, Optional[str]]) -> tuple[Optional[bool], str]:
    """(result, why undecided) of one operator on one key; result None when the pack cannot decide."""
    base = op.partition(":")[2] if ":" in op else op
    prefix = op.partition(":")[0] if ":" in op else ""
    if prefix not in ("", "ForAnyValue", "ForAllValues"):
        return None, f"the condition operator {op!r}"
    lowered = base.lower()
    if_exists = lowered.endswith("ifexists")
    if if_exists:
        lowered = lowered[: -len("ifexists")]
    key_l = key.lower()
    if key_l not in _MODELLED_KEYS:
        return None, f"the condition key {key!r}"
    items = as_list(values) or []
    if not items or not all(isinstance(v, str) for v in items):
        return None, f"the condition value {values!r}"
    present = key_l in context
    value = context.get(key_l)
    if lowered == "null":
        return any((v.lower() == "true") != present for v in items), ""
    kind = _STRING_KINDS.get(lowered)
    if kind is None:
        return None, f"the condition operator {op!r}"
    if not present:
        # An absent key: IfExists and ForAllValues hold, a negated operator holds, any other fails.
        return if_exists or prefix == "ForAllValues" or kind[1], ""
    if value is None:
        return None, f"the value of {key} for this publisher, unknown at preview"
    how, negated = kind
    if how == "eq":
        matched = any(v == value for v in items)
    elif how == "ieq":
        matched = any(v.lower() == value.lower() for v in items)
    elif how == "like":
        matched = any(glob_match(v, value, ignore_case=False) for v in items)
    else:
        matched = any(arn_match(v, value) for v in items)
    return (not matched) if negated else matched, ""


def conditions_hold(condition: Any, context: Mapping[str, Optional[str]]) -> tuple[Optional[bool], str]:
    """Whether every condition of a statement holds for the publisher; None (and what decides it) when undecided."""
    if condition in (MISSING, None):
        return True, ""
    if not isinstance(condition, Mapping):
        return None, "a malformed Condition block"
    undecided = ""
    for op, block in condition.items():
        if not isinstance(block, Mapping):
            return None, f"a malformed condition block under {op!r}"
        for key, values in block.items():
            result, why = _one_condition(str(op), str(key), values, context)
            if result is False:
                return False, ""
            if result is None and not undecided:
                undecided = why
    return (None, undecided) if undecided else (True, "")


def _principal_excluded(raw: Mapping[str, Any], service: str) -> bool:
    """A Deny with NotPrincipal applies to every principal it does not list."""
    excluded = raw.get("NotPrincipal")
    if excluded is None:
        return False
    return not _principal_covers(excluded, service)


def resource_policy_problem(policy: Any, what: str, actions: tuple[str, ...], publisher: Publisher, *, need_allow: bool) -> Optional[str]:
    """Why `policy` keeps the publisher's service from `actions` for this publisher; None when it does not.

    An explicit Deny that applies (or may apply, on a condition the pack cannot decide) wins over any Allow; with
    `need_allow`, some Allow must also hold for this publisher.
    """
    if policy in (MISSING, None, ""):
        if need_allow:
            return f"it has no {what}, and the default one only trusts the account's IAM policies, which cannot grant a service principal"
        return None
    parsed = parse_document(policy)
    if parsed.document is None:
        return f"its {what} {parsed.errors[0] if parsed.errors else 'cannot be read'}"
    service = publisher.service
    for action in actions:
        allowed = False
        undecided_allow = ""
        for st in parsed.statements:
            raw = st.raw
            covers = _principal_covers(raw.get("Principal"), service) or _principal_excluded(raw, service)
            if not covers or not _actions_cover(raw, action):
                continue
            holds, why = conditions_hold(raw.get("Condition"), publisher.context)
            if raw.get("Effect") == "Deny":
                if holds:
                    return f"{st.label} of its {what} denies {service} {action}"
                if holds is None:
                    return f"{st.label} of its {what} may deny {service} {action}, depending on {why}"
            elif raw.get("Effect") == "Allow" and "NotPrincipal" not in raw:
                if holds:
                    allowed = True
                elif holds is None and not undecided_allow:
                    undecided_allow = f"{st.label} allows it only depending on {why}"
        if need_allow and not allowed:
            if undecided_allow:
                return f"{undecided_allow}, which the pack cannot decide"
            return f"no statement of its {what} allows {service} {action} for this publisher"
    return None


def _alias_target(ctx: Context, alias: Res) -> Optional[Res]:
    assert ctx.stack is not None
    keys = ctx.stack.resolve(alias, "targetKeyId", ctx.stack.of_type(KMS_KEY), _KEY_ID).targets
    return keys[0] if len(keys) == 1 else None


def _topic_key(ctx: Context, topic: Res, regions: Mapping[str, Any]) -> tuple[Optional[Res], Optional[str], Optional[Issue]]:
    """(key resource, problem, unknown issue) for the topic's kmsMasterKeyId: a key of the topic's own region,
    since SNS encrypts with keys of its region only (a same-named alias elsewhere is another alias)."""
    key, problem, issue = _named_key(ctx, topic, regions)
    if key is None or problem or issue:
        return key, problem, issue
    relation = compare_regions(region_of(key, regions), region_of(topic, regions))
    if relation == UNKNOWN_REGION:
        return None, None, ctx.unknown_issue(topic, "region", f"that {topic.urn} and its key {key.urn} are in one region", "set the provider's region literally")
    if relation != SAME:
        return None, (
            f"is in region {region_of(topic, regions) or 'of the default provider'!r} but its key {key.urn} is in "
            f"{region_of(key, regions) or 'the default provider region'!r}"
            + (", and SNS uses keys of its own region only" if relation == DIFFERENT else
               ", and the pack cannot tell that they are the same (set the region on both or on neither)")), None
    return key, None, None


def _named_key(ctx: Context, topic: Res, regions: Mapping[str, Any]) -> tuple[Optional[Res], Optional[str], Optional[Issue]]:
    assert ctx.stack is not None
    stack = ctx.stack
    value = topic.get("kmsMasterKeyId")
    if value in (MISSING, None, ""):
        return None, None, None
    ref = stack.reference(topic, "kmsMasterKeyId")
    if ref.has_unknown:
        # An unknown key id is the key (or alias of a key) it was computed from, when that is a single resource.
        linked = stack.by_urn(ref.stand_in) if ref.stand_in is not None else None
        if linked is not None and linked.type == KMS_KEY:
            return linked, None, None
        if linked is not None and linked.type == KMS_ALIAS:
            key = _alias_target(ctx, linked)
            if key is not None:
                return key, None, None
        return None, None, ctx.unknown_issue(topic, "kmsMasterKeyId", "which key encrypts the topic", "pass the key's arn output alone so the engine records the dependency")
    if value == "alias/aws/sns" or str(value).endswith(":alias/aws/sns"):
        return None, "is encrypted with the AWS-managed key alias/aws/sns, whose policy CloudWatch and EventBridge cannot use", None
    for key in stack.of_type(KMS_KEY):
        if _KEY_ID(value, key):
            return key, None, None
    topic_region = region_of(topic, regions)
    for alias in stack.of_type(KMS_ALIAS):
        # An alias is a name in one region: the topic's alias/x is the alias/x of the topic's region.
        # One known elsewhere is skipped; one whose region the pack cannot place is matched, and the key's own
        # region check below says so.
        if compare_regions(region_of(alias, regions), arn_region(value) or topic_region) == DIFFERENT:
            continue
        if _ALIAS_ID(value, alias) and (key := _alias_target(ctx, alias)) is not None:
            return key, None, None
    if value in ctx.settings[EXTERNAL_KEYS]:
        return None, None, None
    return None, f"is encrypted with key {value!r}, which is neither in this stack nor in externalKmsKeyArns, so the pack cannot verify its policy", None


_ARN_RE = re.compile(r"^arn:(aws[a-z-]*):[a-z0-9-]+:([a-z0-9-]*):([0-9]{12}):")
_ROOT_PRINCIPAL_RE = re.compile(r"^arn:(aws[a-z-]*):iam::([0-9]{12}):root\Z")


def _account_and_partition(*values: Any) -> tuple[Optional[str], str]:
    for value in values:
        match = _ARN_RE.match(value) if isinstance(value, str) else None
        if match:
            return match.group(3), match.group(1)
    return None, "aws"


def _key_owner(key: Optional[Res]) -> tuple[Optional[str], str]:
    """The key's account, from its policy's account principal (the statement every key policy keeps)."""
    if key is None or not isinstance(key.get("policy"), str):
        return None, "aws"
    parsed = parse_document(key.get("policy"))
    for st in parsed.statements:
        principal = st.raw.get("Principal")
        for value in (as_list(principal.get("AWS")) or []) if isinstance(principal, Mapping) else []:
            match = _ROOT_PRINCIPAL_RE.match(value) if isinstance(value, str) else None
            if match:
                return match.group(2), match.group(1)
    return None, "aws"


def publishers(ctx: Context, topic: Res, key: Optional[Res], senders: list[tuple[Res, str]], regions: Mapping[str, Any], *, kms: bool) -> list[Publisher]:
    """The requests CloudWatch and EventBridge make for each alarm or rule that notifies the topic.

    CloudWatch sends aws:SourceAccount and aws:SourceArn (the alarm) to SNS and to KMS. EventBridge sends them to
    SNS (the rule) but not to KMS. The alarm's ARN is its known arn, or the ARN its known name and region give it in
    the account of the topic (or of the key).
    """
    out: list[Publisher] = []
    known_topic_arns = _known_arns(ctx, topic, senders)
    for sender, service in senders:
        own = sender.get("arn")
        account, partition = _account_and_partition(own, *known_topic_arns, key.get("arn") if key else None)
        if account is None:
            account, partition = _key_owner(key)
        region = region_of(sender, regions)
        if not isinstance(region, str):
            # SNS alarm actions and EventBridge SNS targets must be in the topic's region.
            region = next((m.group(2) for a in known_topic_arns if (m := _ARN_RE.match(a)) and m.group(2)), region)
        if service == CLOUDWATCH:
            name = sender.get("name")
            if isinstance(own, str) and _ARN_RE.match(own):
                arn: Optional[str] = own
            elif account and isinstance(region, str) and isinstance(name, str) and name:
                arn = f"arn:{partition}:cloudwatch:{region}:{account}:alarm:{name}"
            else:
                arn = None
            out.append(Publisher(sender, service, {"aws:sourceaccount": account, "aws:sourcearn": arn}))
        elif kms:
            out.append(Publisher(sender, service, {}))
        else:
            rule = sender.get("rule")
            arn = f"arn:{partition}:events:{region}:{account}:rule/{rule}" if account and isinstance(region, str) and isinstance(rule, str) and rule else None
            out.append(Publisher(sender, service, {"aws:sourceaccount": account, "aws:sourcearn": arn}))
    return out


def _known_arns(ctx: Context, topic: Res, senders: list[tuple[Res, str]]) -> list[str]:
    """The topic's ARN wherever it is known: its own arn, or a subscription's or publisher's value naming it."""
    assert ctx.stack is not None
    found = [topic.get("arn")]
    for sub in ctx.stack.of_type(TOPIC_SUBSCRIPTION):
        found.append(sub.get("topic"))
    for sender, _ in senders:
        for prop in ("alarmActions", "arn"):
            value = sender.get(prop)
            found.extend(value if isinstance(value, list) else [value])
    return [v for v in dict.fromkeys(f for f in found if isinstance(f, str)) if _TOPIC_ID(v, topic)]


def _grouped(senders: list[Publisher], problem: Any) -> list[tuple[str, str, list[str]]]:
    """(why, service, publisher urns) for each distinct problem, in the order first met."""
    groups: dict[tuple[str, str], list[str]] = {}
    for sender in senders:
        why = problem(sender)
        if why:
            groups.setdefault((why, sender.service), [])
            if sender.res.urn not in groups[(why, sender.service)]:
                groups[(why, sender.service)].append(sender.res.urn)
    return [(why, service, urns) for (why, service), urns in groups.items()]


def _topic_policies(ctx: Context, topic: Res) -> list[tuple[Res, Any, bool]]:
    """(owner, document, certain) of the topic's own policy and every TopicPolicy that names it or may: one whose
    arn is computed from several resources could be this topic's, so its Deny is not dropped (certain is False)."""
    assert ctx.stack is not None
    attached = []
    for tp in ctx.stack.of_type(TOPIC_POLICY):
        names = ctx.stack.refers_to(tp, "arn", topic, _TOPIC_ID)
        if names is not False:
            attached.append((tp, tp.get("policy"), names is True))
    own = topic.get("policy")
    # The topic's `policy` output and a TopicPolicy are one attribute in AWS, and the TopicPolicy (which depends on
    # the topic) writes it last. At preview the provider plans a topic's unset `policy` as unknown (it is computed),
    # so an unknown own policy is the one the TopicPolicy replaces. A known one is still judged, so that a Deny in
    # either fails (a later update of the topic would write it back).
    if own in (MISSING, None, "") or (own is UNKNOWN and any(certain for _, _, certain in attached)):
        return attached
    return [(topic, own, True), *attached]


def validate_alarm_topic_key_usable(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    ctx = stack_context(KEY_USABLE, args, report_violation, (EXTERNAL_KEYS,), DELIVERY_TYPES)
    if ctx is None:
        return
    regions = provider_regions(args.resources, (METRIC_ALARM, EVENT_TARGET, TOPIC, KMS_KEY, KMS_ALIAS))
    topics, _, issues = notified_topics(ctx)
    ctx.report_issues(issues)
    for topic, _, _, senders in topics.values():
        for owner, document, certain in _topic_policies(ctx, topic):
            if document is UNKNOWN or contains_unknown(document):
                ctx.report_issues([ctx.unknown_issue(owner, "policy", f"that {topic.urn} accepts the alarms' notifications", "build the topic policy with json.dumps from known values")])
                continue
            for why, service, urns in _grouped(publishers(ctx, topic, None, senders, regions, kms=False), lambda p: resource_policy_problem(document, "topic policy", ("sns:Publish",), p, need_allow=False)):
                if not certain:
                    ctx.report_issues([ctx.unknown_issue(owner, "arn", f"whether it is the policy of {topic.urn}, which would keep {service} from publishing for {', '.join(urns)} because {why}", "pass the topic's arn output alone")])
                    continue
                ctx.report(
                    f"{owner.urn} keeps {service} from publishing to {topic.urn} for {', '.join(urns)} because {why}; "
                    f"expected no Deny of sns:Publish that applies to the alarms and rules that notify the topic.",
                    owner.urn,
                )
    for topic, services, _, senders in topics.values():
        key, problem, issue = _topic_key(ctx, topic, regions)
        if issue is not None:
            ctx.report_issues([issue])
            continue
        if problem:
            ctx.report(f"{topic.urn} {problem}; expected a customer-managed key whose policy lets {' and '.join(sorted(services))} use it.", topic.urn)
            continue
        if key is None:
            continue
        unknown = [prop for prop in ("isEnabled", "keyUsage", "customerMasterKeySpec", "keySpec") if key.get(prop) is UNKNOWN]
        if unknown:
            ctx.report_issues([ctx.unknown_issue(key, unknown[0], f"that the key of {topic.urn} can encrypt its messages", "set it literally or leave it out")])
            continue
        if not_boolean(key.get("isEnabled")):
            ctx.report(f"{key.urn}, the key of {topic.urn}, has isEnabled {key.get('isEnabled')!r}, not true or false; expected an enabled key.", key.urn)
        elif key.get("isEnabled") is False:
            ctx.report(f"{key.urn}, the key of {topic.urn}, is disabled; expected an enabled key.", key.urn)
        for prop in ("keyUsage",):
            if key.get(prop) not in (MISSING, None, "ENCRYPT_DECRYPT", UNKNOWN):
                ctx.report(f"{key.urn}, the key of {topic.urn}, has {prop} {key.get(prop)!r}; expected ENCRYPT_DECRYPT.", key.urn)
        spec = key.get("customerMasterKeySpec", key.get("keySpec"))
        if spec not in (MISSING, None, "SYMMETRIC_DEFAULT", UNKNOWN):
            ctx.report(f"{key.urn}, the key of {topic.urn}, has key spec {spec!r}; expected SYMMETRIC_DEFAULT, the only spec SNS supports.", key.urn)
        policy = key.get("policy")
        if policy is UNKNOWN or contains_unknown(policy):
            ctx.report_issues([ctx.unknown_issue(key, "policy", f"that {', '.join(sorted(services))} may use the key of {topic.urn}", "build the key policy with json.dumps from known values")])
            continue
        for why, service, urns in _grouped(publishers(ctx, topic, key, senders, regions, kms=True), lambda p: resource_policy_problem(policy, "key policy", KEY_ACTIONS, p, need_allow=True)):
            ctx.report(
                f"{key.urn}, the key of {topic.urn}, does not let {service} use it for {', '.join(urns)} because {why}; "
                f"expected an Allow statement for {service} with kms:Decrypt and kms:GenerateDataKey* whose conditions "
                f"this publisher meets, and no Deny, or notifications are dropped.",
                key.urn,
            )


ALARM_TOPIC_HAS_SUBSCRIBER = stack_policy(HAS_SUBSCRIBER, validate_alarm_topic_has_subscriber, (EXTERNAL_TOPICS,))
ALARM_TOPIC_KEY_USABLE = stack_policy(KEY_USABLE, validate_alarm_topic_key_usable, (EXTERNAL_KEYS,))
