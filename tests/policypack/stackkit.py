"""Builds the pack's inputs by hand: PolicyResource graphs and ResourceValidationArgs as pulumi_policy makes them.

Properties go through pulumi_policy's own `unknown_checking_proxy`, with unknown values in the engine's wire
encoding, so the validators meet exactly what the analyzer server hands them. The baseline stack mirrors what the
program's components register in a preview (components/prevention.py, detection.py, alerting.py, audit): ids and
ARNs of new resources unknown, links carried by propertyDependencies.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional

from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
)
from pulumi_policy.policy import _NotApplicableError
from pulumi_policy.proxy import (
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_STRING_VALUE,
    unknown_checking_proxy,
)

UNKNOWN = UNKNOWN_STRING_VALUE
UNKNOWN_ARRAY = UNKNOWN_ARRAY_VALUE
STACK = "dev"
PROJECT = "root-key-guardrails"
ACCOUNT = "111122223333"
REGION = "us-east-1"
NAMESPACE = "RootKeyGuardrails"

PREVENTION = "root-key-guardrails:prevention:DenyRootAccessKeys"
DETECTION = "root-key-guardrails:detection:RootAccessKeyDetection"
AUDIT = "root-key-guardrails:audit:RootAccessKeyAudit"

TRAIL_NAME = "root-key-guardrails-dev-trail"
LOG_GROUP_NAME = f"/aws/cloudtrail/{TRAIL_NAME}"
TOPIC_NAME = "root-access-key-detection-alerts-5f0e7a1"
TOPIC_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT}:{TOPIC_NAME}"

PATTERN_CREATED = (
    '{ ($.userIdentity.type = "Root") && ($.eventSource = "iam.amazonaws.com") '
    '&& ($.eventName = "CreateAccessKey") && ($.errorCode NOT EXISTS) }'
)
PATTERN_DENIED = (
    '{ ($.userIdentity.type = "Root") && ($.eventSource = "iam.amazonaws.com") '
    '&& ($.eventName = "CreateAccessKey") && ($.errorCode = "AccessDenied") }'
)
PATTERN_CIS = '{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType != "AwsServiceEvent" }'

SCP_DOCUMENT = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "DenyRootAccessKeyCreation",
            "Effect": "Deny",
            "Action": "iam:CreateAccessKey",
            "Resource": "*",
            "Condition": {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:root"}},
        }
    ],
}

TRAIL_ARN = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/{TRAIL_NAME}"
TRAIL_TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
TRAIL_DELIVERY_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "WriteOwnLogGroup", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                   "Resource": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{LOG_GROUP_NAME}:log-stream:*"}],
}

ALERT_KEY_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "EnableIamPolicies", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*", "Resource": "*"},
        {
            "Sid": "AllowCloudWatchAlarms",
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
            "Resource": "*",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": ACCOUNT},
                "ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:*"},
            },
        },
        {"Sid": "AllowEventBridge", "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*"},
    ],
}

AUDIT_LOG_GROUP_ARN = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/root-key-guardrails-dev-audit"
AUDIT_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "WriteOwnLogGroup", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": f"{AUDIT_LOG_GROUP_ARN}:log-stream:*"},
        {"Sid": "ReadCredentialReport", "Effect": "Allow", "Action": ["iam:GenerateCredentialReport", "iam:GetCredentialReport"], "Resource": "*"},
        {"Sid": "PublishAuditMetrics", "Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*", "Condition": {"StringEquals": {"cloudwatch:namespace": NAMESPACE}}},
        {"Sid": "PublishAlerts", "Effect": "Allow", "Action": "sns:Publish", "Resource": TOPIC_ARN},
        {"Sid": "ImportFindings", "Effect": "Allow", "Action": "securityhub:BatchImportFindings", "Resource": f"arn:aws:securityhub:{REGION}:{ACCOUNT}:product/{ACCOUNT}/default"},
        {"Sid": "ReadAndResolveFindings", "Effect": "Allow", "Action": ["securityhub:GetFindings", "securityhub:BatchUpdateFindings"], "Resource": f"arn:aws:securityhub:{REGION}:{ACCOUNT}:hub/default"},
        {
            "Sid": "EncryptAlerts",
            "Effect": "Allow",
            "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
            "Resource": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/*",
            "Condition": {"StringEquals": {"kms:ViaService": f"sns.{REGION}.amazonaws.com"}},
        },
    ],
}


@dataclass
class Spec:
    """One resource of a hand-built stack; links name other specs by logical name."""

    type: str
    name: str
    props: dict[str, Any]
    parent: Optional[str] = None  # logical name of a component spec
    links: dict[str, list[str]] = field(default_factory=dict)  # property -> logical names (propertyDependencies)


def _type_chain(specs: Mapping[str, Spec], spec: Spec) -> str:
    chain = []
    parent = spec.parent
    while parent:
        if specs[parent].type != "pulumi:pulumi:Stack":
            chain.append(specs[parent].type)
        parent = specs[parent].parent
    return "".join(f"{t}$" for t in reversed(chain))


def urn_of(specs: Mapping[str, Spec], name: str, stack: str = STACK) -> str:
    spec = specs[name]
    return f"urn:pulumi:{stack}::{PROJECT}::{_type_chain(specs, spec)}{spec.type}::{spec.name}"


def _opts(parent: Optional[str] = None) -> PolicyResourceOptions:
    return PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], parent)


def stack_args(specs: Mapping[str, Spec], config: Optional[Mapping[str, Any]] = None, stack: str = STACK) -> StackValidationArgs:
    resources: dict[str, PolicyResource] = {}
    for name, spec in specs.items():
        urn = urn_of(specs, name, stack)
        parent_urn = urn_of(specs, spec.parent, stack) if spec.parent else None
        resources[name] = PolicyResource(
            spec.type, unknown_checking_proxy(copy.deepcopy(spec.props)), urn, spec.name, _opts(parent_urn), None, None, [], {}
        )
    for name, spec in specs.items():
        res = resources[name]
        if spec.parent:
            res.parent = resources[spec.parent]
        for prop, targets in spec.links.items():
            # Like the engine, a link to a resource that is not in the stack is dropped.
            present = [t for t in targets if t in resources]
            res.property_dependencies[prop] = [resources[t] for t in present]
            for t in present:
                if resources[t] not in res.dependencies:
                    res.dependencies.append(resources[t])
    return StackValidationArgs(list(resources.values()), dict(config or {}))


def resource_args(type_: str, name: str, props: Mapping[str, Any], config: Optional[Mapping[str, Any]] = None) -> ResourceValidationArgs:
    urn = f"urn:pulumi:{STACK}::{PROJECT}::{type_}::{name}"
    return ResourceValidationArgs(type_, unknown_checking_proxy(copy.deepcopy(dict(props))), urn, name, _opts(), None, dict(config or {}))


@dataclass(frozen=True)
class Outcome:
    messages: tuple[tuple[str, Optional[str]], ...]
    not_applicable: Optional[str] = None


def run(validate: Callable[..., Any], args: Any) -> Outcome:
    collected: list[tuple[str, Optional[str]]] = []

    def report(message: str, urn: Optional[str] = None) -> None:
        collected.append((message, urn))

    try:
        validate(args, report)
    except _NotApplicableError as exc:
        return Outcome(tuple(collected), exc.reason or "")
    return Outcome(tuple(collected))


def baseline() -> dict[str, Spec]:
    """A compliant stack shaped like the program's default preview (plus one alert subscription)."""
    S = Spec
    specs = [
        S("pulumi:pulumi:Stack", f"{PROJECT}-{STACK}", {}),
        S(PREVENTION, "deny-root-access-keys", {}),
        S("aws:organizations/policy:Policy", "deny-root-access-keys-scp", {
            "type": "SERVICE_CONTROL_POLICY", "name": "deny-root-access-keys-scp-3c1d2e9",
            "description": "Denies iam:CreateAccessKey to the root user of member accounts.",
            "content": json.dumps(SCP_DOCUMENT), "arn": UNKNOWN, "id": UNKNOWN,
        }, parent="deny-root-access-keys"),
        S("aws:organizations/policyAttachment:PolicyAttachment", "deny-root-access-keys-attach-r-a1b2",
          {"policyId": UNKNOWN, "targetId": "r-a1b2", "id": UNKNOWN}, parent="deny-root-access-keys",
          links={"policyId": ["deny-root-access-keys-scp"]}),
        S(DETECTION, "root-access-key-detection", {}),
        S("aws:cloudwatch/logGroup:LogGroup", "root-access-key-detection-trail-logs",
          {"name": LOG_GROUP_NAME, "retentionInDays": 365, "arn": UNKNOWN}, parent="root-access-key-detection"),
        S("aws:iam/role:Role", "root-access-key-detection-trail-logs-role",
          {"name": "root-access-key-detection-trail-logs-role-0a1b2c3", "arn": UNKNOWN, "assumeRolePolicy": json.dumps(TRAIL_TRUST_POLICY)},
          parent="root-access-key-detection"),
        S("aws:iam/rolePolicy:RolePolicy", "root-access-key-detection-trail-logs-policy",
          {"role": UNKNOWN, "policy": json.dumps(TRAIL_DELIVERY_POLICY)}, parent="root-access-key-detection",
          links={"role": ["root-access-key-detection-trail-logs-role"]}),
        S("aws:cloudtrail/trail:Trail", "root-access-key-detection-trail", {
            "name": TRAIL_NAME, "s3BucketName": UNKNOWN, "kmsKeyId": UNKNOWN, "isMultiRegionTrail": True,
            "isOrganizationTrail": True, "includeGlobalServiceEvents": True, "enableLogFileValidation": True,
            "enableLogging": True, "eventSelectors": [{"readWriteType": "All", "includeManagementEvents": True}],
            "cloudWatchLogsGroupArn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{LOG_GROUP_NAME}:*",
            "cloudWatchLogsRoleArn": UNKNOWN, "arn": UNKNOWN,
        }, parent="root-access-key-detection", links={
            "cloudWatchLogsGroupArn": ["root-access-key-detection-trail-logs"],
            "cloudWatchLogsRoleArn": ["root-access-key-detection-trail-logs-role"],
        }),
        S("aws:kms/key:Key", "root-access-key-detection-alerts-key",
          {"policy": json.dumps(ALERT_KEY_POLICY), "enableKeyRotation": True, "arn": UNKNOWN, "keyId": UNKNOWN},
          parent="root-access-key-detection"),
        S("aws:sns/topic:Topic", "root-access-key-detection-alerts",
          {"name": TOPIC_NAME, "kmsMasterKeyId": UNKNOWN, "arn": UNKNOWN}, parent="root-access-key-detection",
          links={"kmsMasterKeyId": ["root-access-key-detection-alerts-key"]}),
        S("aws:sns/topicSubscription:TopicSubscription", "root-access-key-detection-alerts-email-1f2e3d4c",
          {"topic": TOPIC_ARN, "protocol": "email", "endpoint": "security@example.com", "arn": UNKNOWN},
          parent="root-access-key-detection", links={"topic": ["root-access-key-detection-alerts"]}),
    ]
    for role, metric, pattern in (
        ("created", "RootAccessKeyCreated", PATTERN_CREATED),
        ("denied", "RootAccessKeyCreationDenied", PATTERN_DENIED),
        ("cis-root-usage", "RootAccountUsage", PATTERN_CIS),
    ):
        specs.append(S("aws:cloudwatch/logMetricFilter:LogMetricFilter", f"root-access-key-detection-filter-{role}", {
            "name": f"root-access-key-detection-filter-{role}-1234567", "logGroupName": LOG_GROUP_NAME, "pattern": pattern,
            "metricTransformation": {"name": metric, "namespace": NAMESPACE, "value": "1"},
        }, parent="root-access-key-detection", links={"logGroupName": ["root-access-key-detection-trail-logs"]}))
    for role, metric in (("created", "RootAccessKeyCreated"), ("cis-root-usage", "RootAccountUsage")):
        specs.append(S("aws:cloudwatch/metricAlarm:MetricAlarm", f"root-access-key-detection-alarm-{role}", {
            "name": f"root-access-key-detection-alarm-{role}-7654321", "metricName": metric, "namespace": NAMESPACE,
            "statistic": "Sum", "period": 300, "evaluationPeriods": 1, "datapointsToAlarm": 1, "threshold": 1,
            "comparisonOperator": "GreaterThanOrEqualToThreshold", "treatMissingData": "notBreaching",
            "actionsEnabled": True, "alarmActions": [UNKNOWN], "arn": UNKNOWN,
        }, parent="root-access-key-detection", links={
            "metricName": [f"root-access-key-detection-filter-{role}"],
            "namespace": [f"root-access-key-detection-filter-{role}"],
            "alarmActions": ["root-access-key-detection-alerts"],
        }))
    specs += [
        S("aws:cloudwatch/eventRule:EventRule", "root-access-key-detection-root-create-access-key",
          {"name": "root-create-access-key-9a8b7c6", "eventPattern": "{}", "state": "ENABLED", "arn": UNKNOWN},
          parent="root-access-key-detection"),
        S("aws:cloudwatch/eventTarget:EventTarget", "root-access-key-detection-root-create-access-key-alert",
          {"rule": "root-create-access-key-9a8b7c6", "targetId": "alerts-topic", "arn": UNKNOWN},
          parent="root-access-key-detection", links={
              "rule": ["root-access-key-detection-root-create-access-key"], "arn": ["root-access-key-detection-alerts"]}),
        S(AUDIT, "root-access-key-audit", {}),
        S("aws:iam/role:Role", "root-access-key-audit-role",
          {"name": "root-access-key-audit-role-1122334", "assumeRolePolicy": "{}", "arn": UNKNOWN}, parent="root-access-key-audit"),
        S("aws:iam/rolePolicy:RolePolicy", "root-access-key-audit-policy",
          {"role": UNKNOWN, "policy": json.dumps(AUDIT_POLICY)}, parent="root-access-key-audit",
          links={"role": ["root-access-key-audit-role"]}),
        S("aws:lambda/function:Function", "root-access-key-audit-function", {
            "handler": "audit.handler.handler", "runtime": "python3.12", "architectures": ["arm64"],
            "role": UNKNOWN, "arn": UNKNOWN, "name": "root-access-key-audit-function-5566778",
        }, parent="root-access-key-audit", links={"role": ["root-access-key-audit-role"]}),
        S("aws:cloudwatch/eventRule:EventRule", "root-access-key-audit-schedule",
          {"name": "root-access-key-audit-schedule-9988776", "scheduleExpression": "rate(1 hour)", "state": "ENABLED", "arn": UNKNOWN},
          parent="root-access-key-audit"),
        S("aws:cloudwatch/eventTarget:EventTarget", "root-access-key-audit-schedule-target",
          {"rule": "root-access-key-audit-schedule-9988776", "arn": UNKNOWN}, parent="root-access-key-audit",
          links={"rule": ["root-access-key-audit-schedule"], "arn": ["root-access-key-audit-function"]}),
        S("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig", "root-access-key-audit-on-failure", {
            "functionName": UNKNOWN, "maximumRetryAttempts": 2, "destinationConfig": {"onFailure": {"destination": UNKNOWN}},
        }, parent="root-access-key-audit", links={
            "functionName": ["root-access-key-audit-function"], "destinationConfig": ["root-access-key-detection-alerts"]}),
        S("aws:lambda/permission:Permission", "root-access-key-audit-invoke-permission", {
            "action": "lambda:InvokeFunction", "function": "root-access-key-audit-function-5566778",
            "principal": "events.amazonaws.com", "sourceArn": UNKNOWN,
        }, parent="root-access-key-audit", links={
            "function": ["root-access-key-audit-function"], "sourceArn": ["root-access-key-audit-schedule"]}),
    ]
    for spec in specs:
        if spec.parent is None and spec.type != "pulumi:pulumi:Stack":
            spec.parent = f"{PROJECT}-{STACK}"
    # The stack resource is the root of the URN tree but is left out of type chains, as the engine does.
    out = {s.name: s for s in specs}
    return out


def urn(name: str, specs: Optional[Mapping[str, Spec]] = None) -> str:
    specs = specs if specs is not None else baseline()
    return urn_of(specs, name)
