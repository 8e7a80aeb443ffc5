"""The alert topic every guardrail alarm publishes to: SNS encrypted with a customer-managed KMS key.

Serves detection (CIS 4.3 / Security Hub CloudWatch.1 want the alarm to reach a subscribed topic) and the audit.
A customer-managed key is required: CloudWatch and EventBridge cannot use the AWS-managed SNS key, and SNS then
drops their messages without an error anywhere. Not a component of its own: it is built under whichever
component owns it (detection, or the audit when detection is off), so the pack sees it where it is used.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import documents
from components.config import Subscription
from components.context import AwsContext


@dataclass(frozen=True)
class AlertTopic:
    topic: aws.sns.Topic
    key: aws.kms.Key
    # Known at preview, unlike the key's ARN: the audit role is scoped to the key through it.
    key_alias: str
    policy: aws.sns.TopicPolicy
    subscriptions: tuple[aws.sns.TopicSubscription, ...]
    # Built from the topic's name, so it is known at preview (and still depends on the topic).
    arn: pulumi.Output[str]


def _endpoint_suffix(endpoint: str) -> str:
    # Stable per endpoint, so reordering the config list does not replace subscriptions.
    return hashlib.sha256(endpoint.encode()).hexdigest()[:8]


def build_alert_topic(
    parent: pulumi.Resource,
    name: str,
    ctx: AwsContext,
    *,
    subscriptions: tuple[Subscription, ...],
) -> AlertTopic:
    child = pulumi.ResourceOptions(parent=parent)
    key = aws.kms.Key(
        f"{name}-alerts-key",
        description="Encrypts the root-access-key guardrail alerts; usable by CloudWatch alarms and EventBridge.",
        enable_key_rotation=True,
        deletion_window_in_days=30,
        policy=json.dumps(documents.alert_key_policy(ctx)),
        opts=child,
    )
    key_alias = f"alias/{ctx.physical_name('alerts', limit=250)}"
    aws.kms.Alias(f"{name}-alerts-key-alias", name=key_alias, target_key_id=key.key_id, opts=child)
    topic = aws.sns.Topic(f"{name}-alerts", kms_master_key_id=key.arn, opts=child)
    arn = topic.name.apply(lambda topic_name: ctx.arn("sns", topic_name))
    policy = aws.sns.TopicPolicy(
        f"{name}-alerts-policy",
        arn=arn,
        policy=arn.apply(lambda topic_arn: json.dumps(documents.alert_topic_policy(ctx, topic_arn=topic_arn))),
        opts=child,
    )
    registered = tuple(
        aws.sns.TopicSubscription(
            f"{name}-alerts-{s.protocol}-{_endpoint_suffix(s.endpoint)}",
            topic=arn,
            protocol=s.protocol,
            endpoint=pulumi.Output.secret(s.endpoint) if s.secret else s.endpoint,
            opts=child,
        )
        for s in subscriptions
    )
    return AlertTopic(topic=topic, key=key, key_alias=key_alias, policy=policy, subscriptions=registered, arn=arn)


def build_alarm(
    parent: pulumi.Resource,
    name: str,
    *,
    description: str,
    namespace: pulumi.Input[str],
    metric_name: pulumi.Input[str],
    period: int,
    topic_arn: pulumi.Input[str],
    dimensions: dict[str, pulumi.Input[str]] | None = None,
    statistic: str = "Sum",
    treat_missing_data: str = "notBreaching",
    notify_ok: bool = False,
    notify_insufficient_data: bool = False,
) -> aws.cloudwatch.MetricAlarm:
    """An alarm that fires on one datapoint >= 1 in one period (1 of 1) and notifies the alert topic.

    Every guardrail alarm has these semantics: a single root key event, Lambda error or active key is an
    incident, so there is no smoothing over several periods. Only what differs per alarm is a parameter.
    notify_ok also sends the all-clear, for a state (not an event) whose end people wait for.
    notify_insufficient_data notifies when the metric stops arriving (the transition into INSUFFICIENT_DATA from
    another state; a new alarm starts there, so creating one notifies nobody).
    """
    return aws.cloudwatch.MetricAlarm(
        name,
        alarm_description=description,
        namespace=namespace,
        metric_name=metric_name,
        dimensions=dimensions,
        statistic=statistic,
        period=period,
        evaluation_periods=1,
        datapoints_to_alarm=1,
        threshold=1,
        comparison_operator="GreaterThanOrEqualToThreshold",
        treat_missing_data=treat_missing_data,
        actions_enabled=True,
        alarm_actions=[topic_arn],
        ok_actions=[topic_arn] if notify_ok else None,
        insufficient_data_actions=[topic_arn] if notify_insufficient_data else None,
        opts=pulumi.ResourceOptions(parent=parent),
    )
