"""Hand-built RecordedResources shaped like a preview of the guardrails, for protocol tests that must not depend
on the program (the contract tests in test_contract.py run the real program)."""

from __future__ import annotations

import json

from preflight.model import UNKNOWN, RecordedResource

STACK = "dev"
PROJECT = "root-key-guardrails"
PROVIDER_URN = f"urn:pulumi:{STACK}::{PROJECT}::pulumi:providers:aws::default_7_51_1"
PROVIDER_REF = f"{PROVIDER_URN}::04da6b54-80e4-46f7-96ec-b56ff0331ba9"
STACK_URN = f"urn:pulumi:{STACK}::{PROJECT}::pulumi:pulumi:Stack::{PROJECT}-{STACK}"
PREVENTION = "root-key-guardrails:prevention:DenyRootAccessKeys"
COMPONENT_URN = f"urn:pulumi:{STACK}::{PROJECT}::{PREVENTION}::guardrails"


def child_urn(type_: str, name: str) -> str:
    return f"urn:pulumi:{STACK}::{PROJECT}::{PREVENTION}${type_}::{name}"


SCP_URN = child_urn("aws:organizations/policy:Policy", "guardrails-scp")
ATTACHMENT_URN = child_urn("aws:organizations/policyAttachment:PolicyAttachment", "guardrails-attachment")
TRAIL_URN = f"urn:pulumi:{STACK}::{PROJECT}::aws:cloudtrail/trail:Trail::trail"
ALARM_URN = f"urn:pulumi:{STACK}::{PROJECT}::aws:cloudwatch/metricAlarm:MetricAlarm::alarm"

SCP_CONTENT = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Deny", "Action": "iam:CreateAccessKey", "Resource": "*",
    "Condition": {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:root"}}}]})


def baseline(*, scp_content: str = SCP_CONTENT, alarm_period: float = 300, multi_region: bool = True,
             attached: bool = True, with_provider: bool = True, logging: bool = True) -> list[RecordedResource]:
    """A compliant stack for the fixture pack; each keyword changes one thing."""
    provider = PROVIDER_REF
    resources = [
        RecordedResource(urn=STACK_URN, type="pulumi:pulumi:Stack", name=f"{PROJECT}-{STACK}", custom=False,
                         id=None, parent=None, inputs={}, outputs={}),
    ]
    if with_provider:
        resources.append(RecordedResource(
            urn=PROVIDER_URN, type="pulumi:providers:aws", name="default_7_51_1", custom=True, id=None,
            parent=None, inputs={"region": "us-east-1", "version": "7.51.1"},
            outputs={"region": "us-east-1", "version": "7.51.1"}))
    resources += [
        RecordedResource(urn=COMPONENT_URN, type=PREVENTION, name="guardrails", custom=False, id=None,
                         parent=STACK_URN, inputs={}, outputs={}),
        RecordedResource(
            urn=SCP_URN, type="aws:organizations/policy:Policy", name="guardrails-scp", custom=True, id=None,
            parent=COMPONENT_URN, provider=provider,
            inputs={"content": scp_content, "type": "SERVICE_CONTROL_POLICY", "name": "deny-root-access-keys"},
            outputs={"content": scp_content, "type": "SERVICE_CONTROL_POLICY", "name": "deny-root-access-keys",
                     "arn": UNKNOWN, "id": UNKNOWN}),
    ]
    if attached:
        resources.append(RecordedResource(
            urn=ATTACHMENT_URN, type="aws:organizations/policyAttachment:PolicyAttachment",
            name="guardrails-attachment", custom=True, id=None, parent=COMPONENT_URN, provider=provider,
            inputs={"policyId": UNKNOWN, "targetId": "r-abcd"},
            outputs={"policyId": UNKNOWN, "targetId": "r-abcd", "id": UNKNOWN},
            dependencies=(SCP_URN,), property_dependencies={"policyId": (SCP_URN,), "targetId": ()}))
    resources += [
        RecordedResource(
            urn=TRAIL_URN, type="aws:cloudtrail/trail:Trail", name="trail", custom=True, id=None, parent=STACK_URN,
            provider=provider, inputs={"isMultiRegionTrail": multi_region, "enableLogging": logging},
            outputs={"isMultiRegionTrail": multi_region, "enableLogging": logging, "arn": UNKNOWN}),
        RecordedResource(
            urn=ALARM_URN, type="aws:cloudwatch/metricAlarm:MetricAlarm", name="alarm", custom=True, id=None,
            parent=STACK_URN, provider=provider,
            inputs={"period": alarm_period, "threshold": 1, "secretNote": {
                "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "value": "s3cr3t"}},
            outputs={"period": alarm_period, "threshold": 1, "arn": UNKNOWN}),
    ]
    return resources
