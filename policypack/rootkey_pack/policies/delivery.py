"""Alert delivery: the topic the guardrail alarms notify has a consumer, and its KMS key lets the publishing
services use it — otherwise CloudWatch (CIS AWS 3.3 / 4.3 / 5.3, Security Hub CloudWatch.1) and EventBridge
publish into nothing, silently."""

from __future__ import annotations

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
from ..iam_eval import as_list, glob_match, parse_document
from ..types import (
    CHATBOT_SLACK,
    CHATBOT_TEAMS,
    EVENT_TARGET,
    KMS_ALIAS,
    KMS_KEY,
    METRIC_ALARM,
    TOPIC,
    TOPIC_SUBSCRIPTION,
)
from ..values import MISSING, UNKNOWN, Res, by_arn, by_props, contains_unknown

CLOUDWATCH = "cloudwatch.amazonaws.com"
EVENTBRIDGE = "events.amazonaws.com"
KEY_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey")
# Conditions these services satisfy when publishing for an alarm or rule of the same account.
DELIVERY_TYPES = (METRIC_ALARM, EVENT_TARGET, TOPIC, TOPIC_SUBSCRIPTION, CHATBOT_SLACK, CHATBOT_TEAMS, KMS_KEY, KMS_ALIAS)
PUBLISHER_CONDITION_KEYS = ("aws:sourceaccount", "aws:sourcearn")

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
    description="Ensure the KMS key of every SNS topic that guardrail alarms or rules notify lets CloudWatch and EventBridge use it.",
    severity=Severity.HIGH,
    enforcement=EnforcementLevel.MANDATORY,
    remediation=(
        "Encrypt the alert topic with a customer-managed symmetric key (not alias/aws/sns) whose key policy allows "
        "cloudwatch.amazonaws.com (and events.amazonaws.com for EventBridge targets) kms:Decrypt and "
        "kms:GenerateDataKey*, optionally conditioned on aws:SourceAccount / aws:SourceArn."
    ),
    url=md.URL_SNS_ENCRYPTION,
    frameworks=md.MONITORING,
    kind="stack",
)


_TOPIC_ID = by_arn("arn", "id")
_KEY_ID = by_props("arn", "id", "keyId")
_ALIAS_ID = by_props("arn", "id", "name")


def notified_topics(ctx: Context) -> tuple[dict[str, tuple[Res, set[str], str]], list[tuple[Res, str]], list[Optional[Issue]]]:
    """Topics in the stack that alarms / rules publish to: urn -> (topic, publishing services, first publisher urn);
    plus external topic ARNs and unknown links."""
    assert ctx.stack is not None
    stack = ctx.stack
    topics = stack.of_type(TOPIC)
    found: dict[str, tuple[Res, set[str], str]] = {}
    external: list[tuple[Res, str]] = []
    issues: list[Optional[Issue]] = []

    def add(topic: Res, service: str, publisher: Res) -> None:
        entry = found.setdefault(topic.urn, (topic, set(), publisher.urn))
        entry[1].add(service)

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


def _subscribed(ctx: Context, topic: Res) -> tuple[bool, list[Optional[Issue]]]:
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
    for topic, _, publisher_urn in topics.values():
        ok, sub_issues = _subscribed(ctx, topic)
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


def key_policy_problem(policy: Any, service: str) -> Optional[str]:
    """Why the key policy does not let `service` encrypt for the topic; None when it does."""
    if policy in (MISSING, None, ""):
        return "it has no key policy, and the default one only trusts the account's IAM policies, which cannot grant a service principal"
    parsed = parse_document(policy)
    if parsed.document is None:
        return f"its key policy {parsed.errors[0] if parsed.errors else 'cannot be read'}"
    for action in KEY_ACTIONS:
        allowed = False
        for st in parsed.statements:
            raw = st.raw
            if not _principal_covers(raw.get("Principal"), service) or not _actions_cover(raw, action):
                continue
            condition = raw.get("Condition")
            keys = {str(k).lower() for block in (condition or {}).values() if isinstance(block, Mapping) for k in block} if isinstance(condition, Mapping) else set()
            if raw.get("Effect") == "Deny" and not condition:
                return f"{st.label} denies {service} {action}"
            if raw.get("Effect") == "Allow" and keys <= set(PUBLISHER_CONDITION_KEYS):
                allowed = True
        if not allowed:
            return f"no key policy statement allows {service} {action} without conditions the publisher may not meet"
    return None


def _alias_target(ctx: Context, alias: Res) -> Optional[Res]:
    assert ctx.stack is not None
    keys = ctx.stack.resolve(alias, "targetKeyId", ctx.stack.of_type(KMS_KEY), _KEY_ID).targets
    return keys[0] if len(keys) == 1 else None


def _topic_key(ctx: Context, topic: Res) -> tuple[Optional[Res], Optional[str], Optional[Issue]]:
    """(key resource, problem, unknown issue) for the topic's kmsMasterKeyId."""
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
    for alias in stack.of_type(KMS_ALIAS):
        if _ALIAS_ID(value, alias) and (key := _alias_target(ctx, alias)) is not None:
            return key, None, None
    if value in ctx.settings[EXTERNAL_KEYS]:
        return None, None, None
    return None, f"is encrypted with key {value!r}, which is neither in this stack nor in externalKmsKeyArns, so the pack cannot verify its policy", None


def validate_alarm_topic_key_usable(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    ctx = stack_context(KEY_USABLE, args, report_violation, (EXTERNAL_KEYS,), DELIVERY_TYPES)
    if ctx is None:
        return
    topics, _, issues = notified_topics(ctx)
    ctx.report_issues(issues)
    for topic, services, _ in topics.values():
        key, problem, issue = _topic_key(ctx, topic)
        if issue is not None:
            ctx.report_issues([issue])
            continue
        if problem:
            ctx.report(f"{topic.urn} {problem}; expected a customer-managed key whose policy lets {' and '.join(sorted(services))} use it.", topic.urn)
            continue
        if key is None:
            continue
        if key.get("isEnabled") is False:
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
        for service in sorted(services):
            why = key_policy_problem(policy, service)
            if why:
                ctx.report(
                    f"{key.urn}, the key of {topic.urn}, does not let {service} use it because {why}; expected an Allow "
                    f"statement for {service} with kms:Decrypt and kms:GenerateDataKey*, or notifications are dropped.",
                    key.urn,
                )


ALARM_TOPIC_HAS_SUBSCRIBER = stack_policy(HAS_SUBSCRIBER, validate_alarm_topic_has_subscriber, (EXTERNAL_TOPICS,))
ALARM_TOPIC_KEY_USABLE = stack_policy(KEY_USABLE, validate_alarm_topic_key_usable, (EXTERNAL_KEYS,))
