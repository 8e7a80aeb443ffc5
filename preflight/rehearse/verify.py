"""Read back what the rehearsal deployed, with boto3, and compare it with what the program asked for.

Serves each control against the emulated account: prevention (the SCP's content and its attachment on the root),
CIS 1.4 / Security Hub IAM.4 / CloudWatch.1 detection (the trail, the metric filters, the alarms, the topic, the
EventBridge route) and the audit (the function, its schedule and the invoke permission). Every value is compared
with the deployed resource's recorded inputs, so a provider or mapping that dropped or changed a setting fails here.
moto stores these settings; it evaluates none of them (no SCP, trust condition, filter or alarm is ever applied).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

from preflight.model import RecordedResource
from preflight.provider_engine import provider_state
from preflight.rehearse.world import World


@dataclass(frozen=True)
class Check:
    urn: str
    what: str
    ok: bool
    detail: str = ""


class _Checks:
    def __init__(self) -> None:
        self.items: list[Check] = []

    def expect(self, record: RecordedResource, what: str, actual: Any, expected: Any) -> None:
        ok = actual == expected
        detail = "" if ok else f"deployed {actual!r}, expected {expected!r}"
        self.items.append(Check(record.urn, what, ok, detail))

    def run(self, record: RecordedResource, what: str, fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - a read-back that fails is a failed check, never a skipped one
            self.items.append(Check(record.urn, what, False, f"{type(exc).__name__}: {exc}"))


def _of(resources: Iterable[RecordedResource], type_: str) -> list[RecordedResource]:
    return [r for r in resources if r.type == type_ and r.id]


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _by_urn(resources: Iterable[RecordedResource]) -> Mapping[str, RecordedResource]:
    return {r.urn: r for r in resources}


def verify(world: World, resources: list[RecordedResource]) -> list[Check]:
    """One Check per property read back; a resource type the program deploys but nothing here reads back gets a
    failing check, so a new resource cannot go unverified unnoticed."""
    c = _Checks()
    org, trail_api, logs = world.client("organizations"), world.client("cloudtrail"), world.client("logs")
    cw, sns, lam, events = world.client("cloudwatch"), world.client("sns"), world.client("lambda"), world.client("events")
    urns = _by_urn(resources)

    for r in _of(resources, "aws:organizations/policy:Policy"):
        def scp(r: RecordedResource = r) -> None:
            policy = org.describe_policy(PolicyId=r.id)["Policy"]
            c.expect(r, "SCP content", _json(policy["Content"]), _json(r.inputs["content"]))
            c.expect(r, "SCP type", policy["PolicySummary"]["Type"], r.inputs.get("type", "SERVICE_CONTROL_POLICY"))
        c.run(r, "SCP content", scp)
    for r in _of(resources, "aws:organizations/policyAttachment:PolicyAttachment"):
        def attachment(r: RecordedResource = r) -> None:
            targets = org.list_targets_for_policy(PolicyId=r.inputs["policyId"])["Targets"]
            c.expect(r, "SCP attached to its target", r.inputs["targetId"] in {t["TargetId"] for t in targets}, True)
            if r.inputs["targetId"].startswith("r-"):
                c.expect(r, "SCP target is the organization root", r.inputs["targetId"], world.root_id)
        c.run(r, "SCP attachment", attachment)
    for r in _of(resources, "aws:iam/organizationsFeatures:OrganizationsFeatures"):
        def features(r: RecordedResource = r) -> None:
            enabled = world.client("iam").list_organizations_features()["EnabledFeatures"]
            c.expect(r, "organization features", sorted(enabled), sorted(r.inputs.get("enabledFeatures", [])))
        c.run(r, "organization features", features)

    for r in _of(resources, "aws:cloudtrail/trail:Trail"):
        def trail(r: RecordedResource = r) -> None:
            got = trail_api.get_trail(Name=r.outputs.get("arn") or r.id)["Trail"]
            c.expect(r, "trail multi-region", got.get("IsMultiRegionTrail"), r.inputs.get("isMultiRegionTrail", False))
            c.expect(r, "trail organization-wide", got.get("IsOrganizationTrail"),
                     r.inputs.get("isOrganizationTrail", False))
            c.expect(r, "trail log group ARN", got.get("CloudWatchLogsLogGroupArn"), r.inputs.get("cloudWatchLogsGroupArn"))
            c.expect(r, "trail delivery role", got.get("CloudWatchLogsRoleArn"), r.inputs.get("cloudWatchLogsRoleArn"))
            status = trail_api.get_trail_status(Name=got["TrailARN"])
            c.expect(r, "trail logging", status.get("IsLogging"), r.inputs.get("enableLogging", True))
        c.run(r, "trail", trail)
    for r in _of(resources, "aws:cloudwatch/logMetricFilter:LogMetricFilter"):
        def metric_filter(r: RecordedResource = r) -> None:
            found = logs.describe_metric_filters(logGroupName=r.inputs["logGroupName"],
                                                 filterNamePrefix=r.inputs["name"])["metricFilters"]
            got = next((f for f in found if f["filterName"] == r.inputs["name"]), None)
            if got is None:
                raise LookupError(f"no metric filter {r.inputs['name']} on {r.inputs['logGroupName']}")
            c.expect(r, "filter pattern", got["filterPattern"], r.inputs["pattern"])
            want = r.inputs["metricTransformation"]
            have = got["metricTransformations"][0]
            c.expect(r, "filter metric", (have["metricName"], have["metricNamespace"], have["metricValue"]),
                     (want["name"], want["namespace"], want["value"]))
        c.run(r, "metric filter", metric_filter)
    for r in _of(resources, "aws:cloudwatch/metricAlarm:MetricAlarm"):
        def alarm(r: RecordedResource = r) -> None:
            found = cw.describe_alarms(AlarmNames=[r.inputs["name"]])["MetricAlarms"]
            if not found:
                raise LookupError(f"no alarm {r.inputs['name']}")
            got = found[0]
            c.expect(r, "alarm actions", sorted(got.get("AlarmActions", [])), sorted(r.inputs.get("alarmActions", [])))
            c.expect(r, "alarm metric", (got.get("MetricName"), got.get("Namespace")),
                     (r.inputs.get("metricName"), r.inputs.get("namespace")))
            c.expect(r, "alarm threshold", (got.get("ComparisonOperator"), float(got.get("Threshold", 0))),
                     (r.inputs.get("comparisonOperator"), float(r.inputs.get("threshold", 0))))
        c.run(r, "alarm", alarm)
    for r in _of(resources, "aws:sns/topic:Topic"):
        def topic(r: RecordedResource = r) -> None:
            attrs = sns.get_topic_attributes(TopicArn=r.id)["Attributes"]
            c.expect(r, "topic key", attrs.get("KmsMasterKeyId"), r.inputs.get("kmsMasterKeyId"))
        c.run(r, "topic", topic)
    for r in _of(resources, "aws:sns/topicSubscription:TopicSubscription"):
        def subscription(r: RecordedResource = r) -> None:
            subs = sns.list_subscriptions_by_topic(TopicArn=r.inputs["topic"])["Subscriptions"]
            c.expect(r, "topic subscription", any(s["Protocol"] == r.inputs["protocol"]
                                                  and s["Endpoint"] == r.inputs["endpoint"] for s in subs), True)
        c.run(r, "subscription", subscription)
    for r in _of(resources, "aws:cloudwatch/eventRule:EventRule"):
        def rule(r: RecordedResource = r) -> None:
            got = events.describe_rule(Name=r.inputs["name"], EventBusName=r.inputs.get("eventBusName", "default"))
            if "scheduleExpression" in r.inputs:
                c.expect(r, "schedule", got.get("ScheduleExpression"), r.inputs["scheduleExpression"])
            if "eventPattern" in r.inputs:
                c.expect(r, "event pattern", _json(got.get("EventPattern")), _json(r.inputs["eventPattern"]))
        c.run(r, "rule", rule)
    for r in _of(resources, "aws:cloudwatch/eventTarget:EventTarget"):
        def target(r: RecordedResource = r) -> None:
            got = events.list_targets_by_rule(Rule=r.inputs["rule"],
                                              EventBusName=r.inputs.get("eventBusName", "default"))["Targets"]
            c.expect(r, "rule target", r.inputs["arn"] in {t["Arn"] for t in got}, True)
        c.run(r, "rule target", target)
    for r in _of(resources, "aws:lambda/function:Function"):
        def function(r: RecordedResource = r) -> None:
            got = lam.get_function_configuration(FunctionName=r.inputs["name"])
            c.expect(r, "function runtime", got.get("Runtime"), r.inputs.get("runtime"))
            c.expect(r, "function handler", got.get("Handler"), r.inputs.get("handler"))
            c.expect(r, "function role", got.get("Role"), r.inputs.get("role"))
            c.expect(r, "function environment", got.get("Environment", {}).get("Variables", {}),
                     (r.inputs.get("environment") or {}).get("variables", {}))
        c.run(r, "function", function)
    for r in _of(resources, "aws:lambda/permission:Permission"):
        def permission(r: RecordedResource = r) -> None:
            policy = _json(lam.get_policy(FunctionName=r.inputs["function"])["Policy"])
            statements = policy.get("Statement", [])
            match = [s for s in statements if s.get("Sid") == r.inputs.get("statementId", s.get("Sid"))
                     and s.get("Principal", {}).get("Service") == r.inputs["principal"]
                     and s.get("Condition", {}).get("ArnLike", {}).get("AWS:SourceArn") == r.inputs.get("sourceArn")]
            c.expect(r, "invoke permission for the schedule", bool(match), True)
        c.run(r, "invoke permission", permission)

    cfn = world.client("cloudformation")
    for r in _of(resources, "aws:cloudformation/stackSet:StackSet"):
        def stack_set(r: RecordedResource = r) -> None:
            got = cfn.describe_stack_set(StackSetName=r.inputs["name"])["StackSet"]
            c.expect(r, "StackSet template", got.get("TemplateBody"), r.inputs.get("templateBody"))
            c.expect(r, "StackSet permission model", got.get("PermissionModel"), r.inputs.get("permissionModel"))
            auto = r.inputs.get("autoDeployment") or {}
            c.expect(r, "StackSet auto-deployment", (got.get("AutoDeployment") or {}).get("Enabled", False),
                     auto.get("enabled", False))
        c.run(r, "StackSet", stack_set)
    for r in _of(resources, "aws:cloudformation/stackSetInstance:StackSetInstance"):
        def instances(r: RecordedResource = r) -> None:
            found = cfn.list_stack_instances(StackSetName=r.inputs["stackSetName"])["Summaries"]
            targets = (r.inputs.get("deploymentTargets") or {}).get("organizationalUnitIds") or []
            if world.root_id in targets:
                # The root targets every member account: the audit reader role must reach each one.
                c.expect(r, "StackSet instance in every member account",
                         sorted({i["Account"] for i in found} & set(world.member_account_ids)),
                         sorted(world.member_account_ids))
            else:
                c.expect(r, "StackSet instances exist", bool(found), True)
        c.run(r, "StackSet instances", instances)
    for r in _of(resources, "aws:cloudwatch/eventBus:EventBus"):
        def bus(r: RecordedResource = r) -> None:
            c.expect(r, "event bus", events.describe_event_bus(Name=r.inputs["name"])["Name"], r.inputs["name"])
        c.run(r, "event bus", bus)
    for r in _of(resources, "aws:cloudwatch/eventBusPolicy:EventBusPolicy"):
        def bus_policy(r: RecordedResource = r) -> None:
            got = events.describe_event_bus(Name=r.inputs.get("eventBusName", "default")).get("Policy")
            c.expect(r, "event bus policy", _json(got), _json(r.inputs["policy"]))
        c.run(r, "event bus policy", bus_policy)
    for r in _of(resources, "aws:cloudwatch/dashboard:Dashboard"):
        def dashboard(r: RecordedResource = r) -> None:
            got = cw.get_dashboard(DashboardName=r.inputs["dashboardName"])["DashboardBody"]
            c.expect(r, "dashboard body", _json(got), _json(r.inputs["dashboardBody"]))
        c.run(r, "dashboard", dashboard)

    checked_types = {urns[item.urn].type for item in c.items if item.urn in urns}
    for type_ in sorted({r.type for r in resources if r.custom and r.id and not r.type.startswith("pulumi:")}
                        - checked_types - _CREATED_ONLY):
        first = next(r for r in resources if r.type == type_)
        c.items.append(Check(first.urn, f"{type_} read back", False, "no read-back is defined for this type"))
    return c.items


# Types whose deployment the provider's own read after create stands for (no control property to compare): the
# rehearsal still checks each one exists, then is gone after the destroy.
_CREATED_ONLY = frozenset({
    "aws:kms/key:Key", "aws:kms/alias:Alias", "aws:s3/bucket:Bucket", "aws:s3/bucketPolicy:BucketPolicy",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls", "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketVersioning:BucketVersioning", "aws:cloudwatch/logGroup:LogGroup", "aws:iam/role:Role",
    "aws:iam/rolePolicy:RolePolicy", "aws:sns/topicPolicy:TopicPolicy",
    "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig",
})


def remaining(provider: Any, created: list[RecordedResource]) -> list[str]:
    """The created resources the provider still finds after the destroy (ReadResource returns a state)."""
    left = []
    for r in created:
        try:
            state = provider.read(r.type, r.id, provider_state(r))
        except Exception as exc:  # noqa: BLE001 - a read that fails cannot prove the resource is gone
            left.append(f"{r.type} {r.name!r} ({r.id}): read failed: {getattr(exc, 'message', exc)}")
            continue
        if state is not None:
            left.append(f"{r.type} {r.name!r} ({r.id}) still exists")
    return left


__all__ = ["Check", "remaining", "verify"]
