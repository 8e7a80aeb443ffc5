"""Known values beat links: every call site that resolves one resource's property to another, from the compliant
baseline, one change per case. A link kept beside a known value that names something else proves nothing; a link
stands in for an unknown value only when it names exactly one resource."""

from __future__ import annotations

from typing import Any

import pytest
from rootkey_pack.policies import audit, delivery, detection, prevention
from rootkey_pack.values import UNKNOWN, Res, StackView, by_arn

from tests.policypack import stackkit as k
from tests.policypack.test_stack_policies import (
    A_CIS,
    A_CREATED,
    ATTACH,
    F_CIS,
    F_CREATED,
    FN,
    PERMISSION,
    SCHEDULE,
    SCP,
    SUB,
    TARGET,
    TOPIC,
    TRAIL,
    U,
    UNKNOWN_TAIL,
    Mutation,
    both,
    outcome,
    setp,
)

OTHER_SCP = "allow-all-scp"


def add_other_scp(specs: dict[str, k.Spec]) -> None:
    specs[OTHER_SCP] = k.Spec("aws:organizations/policy:Policy", OTHER_SCP, {
        "type": "SERVICE_CONTROL_POLICY", "content": '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
        '"Action": "*", "Resource": "*"}]}', "id": k.UNKNOWN, "arn": k.UNKNOWN}, parent="deny-root-access-keys")


def relink(name: str, prop: str, *targets: str) -> Mutation:
    return lambda specs: specs[name].links.__setitem__(prop, list(targets))


NOT_ATTACHED = (
    f"{U(SCP)} denies root access-key creation but is not attached to any target; expected an "
    f"aws:organizations/policyAttachment:PolicyAttachment of it to the organization root, an OU or an account.", U(SCP))
AMBIGUOUS_POLICY_ID = (
    f"{U(ATTACH)} has policyId unknown during preview, so the pack cannot verify which policy it attaches; expected a "
    f"value known at preview (pass the policy's id output alone, not a value computed from several resources), "
    + UNKNOWN_TAIL.format(policy="root-access-key-creation-denied"), U(ATTACH))

DENIED_CASES = [
    pytest.param(setp(ATTACH, policyId="p-FullAWSAccess"), [NOT_ATTACHED], id="known-other-policy-id-link-kept"),
    pytest.param(both(setp(SCP, id="p-deny1234"), setp(ATTACH, policyId="p-other567")), [NOT_ATTACHED],
                 id="known-ids-differ-link-kept"),
    pytest.param(both(add_other_scp, relink(ATTACH, "policyId", SCP, OTHER_SCP)), [AMBIGUOUS_POLICY_ID],
                 id="unknown-from-two-policies"),
    pytest.param(both(add_other_scp, relink(ATTACH, "policyId", OTHER_SCP)), [NOT_ATTACHED], id="unknown-from-other-policy"),
    pytest.param(both(setp(SCP, id="p-deny1234"), setp(ATTACH, policyId="p-deny1234"), relink(ATTACH, "policyId")), [],
                 id="known-id-without-link"),
    # A deployed export may carry the policy's ARN but not its id among the outputs; the id ends the ARN.
    pytest.param(both(setp(SCP, id=None, arn="arn:aws:organizations::111122223333:policy/o-a1b2c3d4e5/service_control_policy/p-deny1234"),
                      setp(ATTACH, policyId="p-deny1234")), [], id="known-id-from-arn"),
    pytest.param(both(setp(SCP, id=None, arn="arn:aws:organizations::111122223333:policy/o-a1b2c3d4e5/service_control_policy/p-deny1234"),
                      setp(ATTACH, policyId="p-other567")), [NOT_ATTACHED], id="known-id-differs-from-arn"),
]


@pytest.mark.parametrize(("mutate", "expected"), DENIED_CASES)
def test_links_attachment_policy_id_judged_by_value(mutate: Mutation, expected: list[Any]) -> None:
    assert list(outcome(prevention.validate_root_access_key_creation_denied, mutate).messages) == expected


def _unfed(filt: str, group: str) -> tuple[str, str]:
    return (f"{U(filt)} reads log group {group!r}, which no CloudTrail trail in this stack feeds and which is not listed "
            f"in externalTrailLogGroups; expected a multi-region trail whose cloudWatchLogsGroupArn is that log group, "
            f"or the log group name in the 'root-access-key-creation-alarmed' policy config.", U(filt))


def _both_filters(**props: Any) -> Mutation:
    return both(setp(F_CREATED, **props), setp(F_CIS, **props))


ALARMED_CASES = [
    pytest.param(_both_filters(logGroupName="/other/group"), [_unfed(F_CREATED, "/other/group"), _unfed(F_CIS, "/other/group")],
                 id="filter-known-other-group-link-kept"),
    pytest.param(setp(TRAIL, cloudWatchLogsGroupArn="arn:aws:logs:us-east-1:111122223333:log-group:/other:*"),
                 [_unfed(F_CREATED, k.LOG_GROUP_NAME), _unfed(F_CIS, k.LOG_GROUP_NAME)], id="trail-known-other-group-link-kept"),
    pytest.param(setp(TRAIL, cloudWatchLogsGroupArn=k.UNKNOWN), [], id="trail-unknown-arn-single-link"),
    pytest.param(both(setp(TRAIL, cloudWatchLogsGroupArn=k.UNKNOWN), relink(TRAIL, "cloudWatchLogsGroupArn", "root-access-key-detection-trail-logs-role")),
                 [_unfed(F_CREATED, k.LOG_GROUP_NAME), _unfed(F_CIS, k.LOG_GROUP_NAME)], id="trail-unknown-arn-from-other-resource"),
    pytest.param(both(setp(A_CREATED, alarmActions=["arn:aws:automate:us-east-1:ec2:reboot"]), setp(A_CIS, alarmActions=["arn:aws:automate:us-east-1:ec2:reboot"])), [
        (f"{U(name)} has alarmActions ['arn:aws:automate:us-east-1:ec2:reboot'], none of which notifies anyone; expected "
         f"the alert SNS topic's ARN (or a Lambda function or Systems Manager incident response plan).", U(name))
        for name in (A_CREATED, A_CIS)], id="alarm-known-reboot-action-link-kept"),
]


@pytest.mark.parametrize(("mutate", "expected"), ALARMED_CASES)
def test_links_detection_judged_by_value(mutate: Mutation, expected: list[Any]) -> None:
    assert list(outcome(detection.validate_root_access_key_creation_alarmed, mutate).messages) == expected


RETIRED = "arn:aws:sns:us-east-1:111122223333:retired-alerts"
def _retired_external(name: str) -> tuple[str, str]:
    return (f"{U(name)} notifies SNS topic {RETIRED!r}, which is not in this stack nor in externalTopicArns; expected a "
            f"topic whose subscribers the pack can see, or its ARN in the 'alarm-topic-has-subscriber' policy config.", U(name))


SUBSCRIBER_CASES = [
    pytest.param(both(setp(A_CREATED, alarmActions=[RETIRED]), setp(A_CIS, alarmActions=[RETIRED])),
                 [_retired_external(A_CREATED), _retired_external(A_CIS)], id="alarm-retired-topic-link-kept"),
    pytest.param(setp(SUB, topic=RETIRED), [(
        f"{U(TOPIC)} receives notifications from {U(A_CREATED)} but has no subscription or other consumer; expected an "
        f"aws:sns/topicSubscription:TopicSubscription (e.g. set alarmEmails) so alerts reach someone.", U(TOPIC))],
        id="subscription-retired-topic-link-kept"),
    # The topic's region is not in its properties here, so only service and name are checked (see by_arn).
    pytest.param(setp(SUB, topic=f"arn:aws:sns:eu-west-1:111122223333:{k.TOPIC_NAME}"), [], id="subscription-name-built-arn"),
]


@pytest.mark.parametrize(("mutate", "expected"), SUBSCRIBER_CASES)
def test_links_delivery_judged_by_value(mutate: Mutation, expected: list[Any]) -> None:
    assert list(outcome(delivery.validate_alarm_topic_has_subscriber, mutate, {"stacks": ["*"]}).messages) == expected


NOT_TARGETED = (
    f"{U(FN)} is not the target of any scheduled EventBridge rule in this stack; expected an "
    f"aws:cloudwatch/eventRule:EventRule with a scheduleExpression and an EventTarget invoking the function.", U(FN))
NO_PERMISSION = (
    f"{U(FN)} is scheduled by {U(SCHEDULE)} but no aws:lambda/permission:Permission lets events.amazonaws.com invoke it "
    f"from that rule; expected action lambda:InvokeFunction, principal events.amazonaws.com and the rule's ARN as "
    f"sourceArn.", U(FN))

SCHEDULED_CASES = [
    pytest.param(setp(TARGET, arn="arn:aws:lambda:us-east-1:111122223333:function:other"), [NOT_TARGETED], id="target-other-function-link-kept"),
    pytest.param(setp(TARGET, arn="arn:aws:lambda:us-east-1:111122223333:function:root-access-key-audit-function-5566778"), [],
                 id="target-name-built-arn"),
    pytest.param(setp(TARGET, rule="some-other-rule"), [NOT_TARGETED], id="target-other-rule-link-kept"),
    pytest.param(setp(PERMISSION, function="other-function"), [NO_PERMISSION], id="permission-other-function-link-kept"),
    pytest.param(setp(PERMISSION, sourceArn="arn:aws:events:us-east-1:111122223333:rule/other"), [NO_PERMISSION],
                 id="permission-other-rule-link-kept"),
    pytest.param(setp(PERMISSION, sourceArn="arn:aws:events:us-east-1:111122223333:rule/root-access-key-audit-schedule-9988776"), [],
                 id="permission-name-built-rule-arn"),
]


@pytest.mark.parametrize(("mutate", "expected"), SCHEDULED_CASES)
def test_links_schedule_judged_by_value(mutate: Mutation, expected: list[Any]) -> None:
    assert list(outcome(audit.validate_root_access_key_audit_scheduled, mutate).messages) == expected


def _res(logical: str, type_: str = "aws:sns/topic:Topic", **props: Any) -> Res:
    return Res(f"urn:pulumi:dev::p::{type_}::{logical}", type_, logical, props)


def _view(*resources: Res) -> StackView:
    return StackView.build(resources, stack_name="dev")


REFERS_CASES: list[Any] = [
    pytest.param("arn:aws:sns:us-east-1:1:t", {}, True, id="known-equal"),
    pytest.param("arn:aws:sns:us-east-1:1:other", {"p": ("t",)}, False, id="known-other-link-ignored"),
    pytest.param(UNKNOWN, {"p": ("t",)}, True, id="unknown-single-link"),
    pytest.param(UNKNOWN, {"p": ("t", "u")}, None, id="unknown-two-links"),
    pytest.param(UNKNOWN, {"p": ("u",)}, False, id="unknown-other-link"),
    pytest.param(UNKNOWN, {}, None, id="unknown-unlinked"),
    pytest.param([UNKNOWN, "arn:aws:sns:us-east-1:1:t"], {"p": ("t", "u")}, True, id="list-known-element"),
    pytest.param(["arn:aws:sns:us-east-1:1:other"], {"p": ("t",)}, False, id="list-known-other"),
]


@pytest.mark.parametrize(("value", "links", "expected"), REFERS_CASES)
def test_links_refers_to_rule(value: Any, links: dict[str, tuple[str, ...]], expected: Any) -> None:
    target = _res("t", arn="arn:aws:sns:us-east-1:1:t")
    other = _res("u", arn="arn:aws:sns:us-east-1:1:u")
    urns = {"t": target.urn, "u": other.urn}
    holder = Res("urn:pulumi:dev::p::aws:cloudwatch/metricAlarm:MetricAlarm::a", "aws:cloudwatch/metricAlarm:MetricAlarm", "a",
                 {"p": value}, property_dependencies={p: tuple(urns[n] for n in names) for p, names in links.items()})
    assert _view(target, other, holder).refers_to(holder, "p", target, by_arn("arn")) is expected


@pytest.mark.parametrize(("type_", "props", "value", "expected"), [
    pytest.param("aws:sns/topic:Topic", {"name": "t", "arn": UNKNOWN}, "arn:aws:sns:us-east-1:1:t", True, id="topic"),
    pytest.param("aws:sns/topic:Topic", {"name": "t", "arn": UNKNOWN, "region": "eu-west-1"}, "arn:aws:sns:us-east-1:1:t", False, id="topic-other-region"),
    pytest.param("aws:sns/topic:Topic", {"name": "t", "arn": "arn:aws:sns:us-east-1:2:t"}, "arn:aws:sns:us-east-1:1:t", False, id="topic-known-arn-wins"),
    pytest.param("aws:sns/topic:Topic", {"name": "t", "arn": UNKNOWN}, "arn:aws:sqs:us-east-1:1:t", False, id="topic-other-service"),
    pytest.param("aws:lambda/function:Function", {"name": "f", "arn": UNKNOWN}, "arn:aws:lambda:us-east-1:1:function:f", True, id="function"),
    pytest.param("aws:lambda/function:Function", {"name": "f", "arn": UNKNOWN}, "arn:aws:lambda:us-east-1:1:function:f2", False, id="function-other"),
    pytest.param("aws:cloudwatch/eventRule:EventRule", {"name": "r", "arn": UNKNOWN}, "arn:aws:events:us-east-1:1:rule/r", True, id="rule"),
    pytest.param("aws:iam/role:Role", {"name": "r", "arn": UNKNOWN, "path": "/svc/"}, "arn:aws:iam::1:role/svc/r", True, id="role-path"),
    pytest.param("aws:iam/role:Role", {"name": "r", "arn": UNKNOWN}, "arn:aws:iam::1:role/svc/r", False, id="role-other-path"),
])
def test_links_name_built_arn_identifies_new_resource(type_: str, props: dict[str, Any], value: str, expected: bool) -> None:
    assert by_arn("arn", "id")(value, _res("x", type_, **props)) is expected
