"""Alert delivery across regions (CIS 4.x / CloudWatch.1 alarms, and the root access key audit's findings): an ARN
names a stack topic only in the region that topic is in, its provider's included; a channel that is SNS alone counts
only topics CloudWatch can deliver to; a known action or destination is judged as a value, whatever an unknown one
beside it is linked to. Each case changes one thing of the compliant baseline."""

from __future__ import annotations

from typing import Any

from pulumi_policy import PolicyProviderResource
from pulumi_policy.proxy import unknown_checking_proxy
from rootkey_pack.policies import audit, detection

from tests.policypack import stackkit as k
from tests.policypack.test_stack_policies import (
    A_CREATED,
    F_CREATED,
    FN,
    HUB_OFF,
    KEYS_ALARM,
    LOGS,
    NO_CIS,
    SUB,
    TOPIC,
    audit_alarm,
    audit_env,
    both,
    outcome,
    setp,
    unlink,
)

EU_TOPIC_ARN = f"arn:aws:sns:eu-west-1:{k.ACCOUNT}:{k.TOPIC_NAME}"
PAGER = "arn:aws:lambda:us-east-1:111122223333:function:not-in-this-stack"
ON_FAILURE = "root-access-key-audit-on-failure"
QUEUE = "arn:aws:sqs:us-east-1:111122223333:dlq"


def _provider(region: str) -> PolicyProviderResource:
    return PolicyProviderResource(
        "pulumi:providers:aws", unknown_checking_proxy({"region": region}),
        f"urn:pulumi:{k.STACK}::{k.PROJECT}::pulumi:providers:aws::{region}", region,
    )


def _run_placed(validator: Any, specs: dict[str, k.Spec], placement: dict[str, str]) -> tuple[str, ...]:
    """The validator's messages with the named resources on explicit providers of the given regions."""
    args = k.stack_args(specs)
    providers = {region: _provider(region) for region in set(placement.values())}
    for res in args.resources:
        if res.name in placement:
            res.provider = providers[placement[res.name]]
    return k.run(validator, args).messages


def _literal_alarm_action(specs: dict[str, k.Spec]) -> None:
    NO_CIS(specs)
    unlink(A_CREATED, "alarmActions")(specs)
    setp(A_CREATED, alarmActions=[k.TOPIC_ARN])(specs)  # the us-east-1 ARN of the stack topic's name


def test_alarm_literal_arn_in_the_topics_provider_region_passes() -> None:
    specs = k.baseline()
    _literal_alarm_action(specs)
    placement = {F_CREATED: "us-east-1", A_CREATED: "us-east-1", LOGS: "us-east-1", TOPIC: "us-east-1"}
    assert _run_placed(detection.validate_root_access_key_creation_alarmed, specs, placement) == ()


def test_alarm_literal_arn_of_a_topic_on_another_regions_provider_is_refused() -> None:
    # The topic's own props name no region; its provider puts it in eu-west-1, so no topic has that us-east-1 ARN.
    specs = k.baseline()
    _literal_alarm_action(specs)
    placement = {F_CREATED: "us-east-1", A_CREATED: "us-east-1", LOGS: "us-east-1", TOPIC: "eu-west-1"}
    messages = _run_placed(detection.validate_root_access_key_creation_alarmed, specs, placement)
    assert any("is in region 'eu-west-1', not the ARN's" in m for m, _ in messages), messages


def test_audit_topic_env_literal_arn_of_a_topic_on_another_regions_provider_is_refused() -> None:
    specs = k.baseline()
    audit_env(AUDIT_SECURITY_HUB="false", AUDIT_SNS_TOPIC_ARN=k.TOPIC_ARN)(specs)
    messages = _run_placed(audit.validate_audit_findings_delivered, specs, {FN: "us-east-1", TOPIC: "eu-west-1"})
    assert any("AUDIT_SNS_TOPIC_ARN" in m and "is in region 'eu-west-1', not the ARN's" in m for m, _ in messages), messages


def test_audit_topic_env_literal_arn_in_the_topics_provider_region_passes() -> None:
    specs = k.baseline()
    audit_env(AUDIT_SECURITY_HUB="false", AUDIT_SNS_TOPIC_ARN=k.TOPIC_ARN)(specs)
    assert _run_placed(audit.validate_audit_findings_delivered, specs, {FN: "us-east-1", TOPIC: "us-east-1"}) == ()


def _subscribed_topic_in_eu(specs: dict[str, k.Spec]) -> None:
    specs[FN].props["region"] = "us-east-1"
    specs[KEYS_ALARM].props["region"] = "us-east-1"
    specs[TOPIC].props["region"] = "eu-west-1"
    specs[SUB].props["topic"] = EU_TOPIC_ARN
    specs[SUB].props["region"] = "eu-west-1"


def _keys_alarm_to(*actions: str) -> Any:
    alarm = audit_alarm(KEYS_ALARM, "RootAccessKeysActive", k.NAMESPACE, alarmActions=list(actions))
    return both(alarm, lambda specs: specs[KEYS_ALARM].links.pop("alarmActions"))


def test_keys_alarm_with_a_pager_beside_the_subscribed_topic_in_another_region_is_refused() -> None:
    # The Lambda action satisfies "notifies something"; the channel is SNS alone, and that topic is out of reach.
    result = outcome(audit.validate_audit_findings_delivered, both(HUB_OFF, _keys_alarm_to(PAGER, EU_TOPIC_ARN), _subscribed_topic_in_eu))
    assert any("not shown to report its findings to anyone" in m for m, _ in result.messages), result.messages


def test_keys_alarm_with_an_unsubscribed_local_topic_beside_the_subscribed_remote_one_is_refused() -> None:
    local_name = "audit-local-alerts"
    local_arn = f"arn:aws:sns:us-east-1:{k.ACCOUNT}:{local_name}"

    def add_local(specs: dict[str, k.Spec]) -> None:
        specs["local-topic"] = k.Spec(
            "aws:sns/topic:Topic", "local-topic", {"name": local_name, "region": "us-east-1", "arn": k.UNKNOWN},
            parent="root-access-key-audit",
        )

    mutate = both(HUB_OFF, add_local, _keys_alarm_to(local_arn, EU_TOPIC_ARN), _subscribed_topic_in_eu)
    result = outcome(audit.validate_audit_findings_delivered, mutate)
    assert any("notifies no topic with a subscription" in m for m, _ in result.messages), result.messages


def test_on_failure_queue_beside_an_unknown_on_success_topic_is_refused() -> None:
    # The destinationConfig's one link is the topic onSuccess names; onFailure is a known queue and judged as one.
    mutate = setp(ON_FAILURE, destinationConfig={"onFailure": {"destination": QUEUE}, "onSuccess": {"destination": k.UNKNOWN}})
    result = outcome(audit.validate_audit_findings_delivered, mutate)
    assert any("sends failed runs of" in m and QUEUE in m for m, _ in result.messages), result.messages


def test_known_in_region_action_is_not_undone_by_an_unknown_second_topic() -> None:
    def second(specs: dict[str, k.Spec]) -> None:
        specs["other-topic"] = k.Spec(
            "aws:sns/topic:Topic", "other-topic", {"name": "other", "region": k.UNKNOWN, "arn": k.UNKNOWN},
            parent="root-access-key-detection",
        )
        specs[A_CREATED].props["alarmActions"] = [k.TOPIC_ARN, k.UNKNOWN]
        specs[A_CREATED].links["alarmActions"] = ["other-topic"]

    assert outcome(detection.validate_root_access_key_creation_alarmed, both(NO_CIS, second)).messages == ()
