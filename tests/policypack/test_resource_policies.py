"""Resource (guard) policies and scp-document-valid: one change per case from a compliant resource, exact messages."""

from __future__ import annotations

import json
from typing import Any, Callable, Optional

import pytest
from rootkey_pack.policies import guards, prevention

from tests.policypack import stackkit as k

ORG = "aws:organizations/organization:Organization"
TRAIL = "aws:cloudtrail/trail:Trail"
SCP = "aws:organizations/policy:Policy"
ATTACH = "aws:organizations/policyAttachment:PolicyAttachment"
UNKNOWN_TAIL = "or allowUnknownValues: true in the '{policy}' policy config to defer the check to `pulumi up`."

ORG_OK = {"featureSet": "ALL", "enabledPolicyTypes": ["SERVICE_CONTROL_POLICY", "TAG_POLICY"], "awsServiceAccessPrincipals": ["cloudtrail.amazonaws.com"]}
TRAIL_OK = {
    "name": k.TRAIL_NAME, "isMultiRegionTrail": True, "isOrganizationTrail": True, "enableLogging": True,
    "includeGlobalServiceEvents": True, "eventSelectors": [{"readWriteType": "All", "includeManagementEvents": True}],
    "cloudWatchLogsGroupArn": k.UNKNOWN, "cloudWatchLogsRoleArn": k.UNKNOWN, "s3BucketName": k.UNKNOWN,
}
SCP_OK = {"type": "SERVICE_CONTROL_POLICY", "content": json.dumps(k.SCP_DOCUMENT), "name": "deny-root-access-keys-scp-3c1d2e9"}


def result(validate: Callable[..., Any], type_: str, base: dict[str, Any], changes: dict[str, Any], config: Optional[dict[str, Any]] = None) -> list[str]:
    """The messages reported; each names the guarded resource's URN, except a config error, which is the policy's."""
    props = {**base, **changes}
    props = {key: value for key, value in props.items() if value is not _DROP}
    reported = k.run(validate, k.resource_args(type_, "guarded", props, config)).messages
    urn = f"urn:pulumi:{k.STACK}::{k.PROJECT}::{type_}::guarded"
    assert [u for m, u in reported] == [None if m.startswith("The '") else urn for m, _ in reported]
    return [m for m, _ in reported]


_DROP = object()


def label(type_: str) -> str:
    return f"{type_} 'guarded'"


ORG_CASES = [
    pytest.param({}, None, [], id="baseline"),
    pytest.param({"featureSet": _DROP}, None, [], id="feature-set-defaults-to-all"),
    pytest.param({"featureSet": "CONSOLIDATED_BILLING"}, None, [
        f"{label(ORG)} has featureSet 'CONSOLIDATED_BILLING', which disables every SCP; expected \"ALL\"."], id="consolidated-billing"),
    pytest.param({"enabledPolicyTypes": ["TAG_POLICY"]}, None, [
        f"{label(ORG)} has enabledPolicyTypes ['TAG_POLICY'], without SERVICE_CONTROL_POLICY; expected it listed so the deny-root-keys SCP applies."],
        id="scp-type-removed"),
    pytest.param({"enabledPolicyTypes": _DROP}, None, [
        f"{label(ORG)} has no enabledPolicyTypes, without SERVICE_CONTROL_POLICY; expected it listed so the deny-root-keys SCP applies."],
        id="policy-types-missing"),
    pytest.param({"enabledPolicyTypes": k.UNKNOWN}, None, [
        f"{label(ORG)} has enabledPolicyTypes unknown during preview, so the pack cannot verify that SCPs stay enabled; expected a "
        f"value known at preview (list the policy types literally), " + UNKNOWN_TAIL.format(policy="organization-keeps-scps-enabled")],
        id="policy-types-unknown"),
    pytest.param({"enabledPolicyTypes": k.UNKNOWN}, {"allowUnknownValues": True}, [], id="policy-types-unknown-relaxed"),
    pytest.param({"awsServiceAccessPrincipals": []}, None, [], id="service-access-not-required-by-default"),
    pytest.param({"awsServiceAccessPrincipals": ["config.amazonaws.com"]}, {"requiredServiceAccessPrincipals": ["cloudtrail.amazonaws.com"]}, [
        f"{label(ORG)} no longer trusts cloudtrail.amazonaws.com in awsServiceAccessPrincipals, which stops the organization trail; "
        f"expected cloudtrail.amazonaws.com to stay."], id="cloudtrail-service-access-removed"),
    pytest.param({}, {"requiredServiceAccessPrincipals": ["cloudtrail.amazonaws.com"]}, [], id="cloudtrail-service-access-kept"),
]


@pytest.mark.parametrize(("changes", "config", "expected"), ORG_CASES)
def test_organization_keeps_scps_enabled_changed_resource_reports(changes: dict[str, Any], config: Any, expected: list[str]) -> None:
    assert result(guards.validate_organization_keeps_scps_enabled, ORG, ORG_OK, changes, config) == expected


TRAIL_EXPECTED = "expected a logging, multi-region trail that records global service events."
LOGGING_CASES = [
    pytest.param({}, None, [], id="baseline"),
    pytest.param({"enableLogging": False}, None, [f"{label(TRAIL)} has enableLogging false; {TRAIL_EXPECTED}"], id="logging-stopped"),
    pytest.param({"enableLogging": _DROP}, None, [], id="logging-defaults-on"),
    pytest.param({"isMultiRegionTrail": False}, None, [f"{label(TRAIL)} is not multi-region (isMultiRegionTrail is not true); {TRAIL_EXPECTED}"], id="single-region"),
    pytest.param({"isMultiRegionTrail": _DROP}, None, [f"{label(TRAIL)} is not multi-region (isMultiRegionTrail is not true); {TRAIL_EXPECTED}"], id="region-default-single"),
    pytest.param({"includeGlobalServiceEvents": False}, None, [
        f"{label(TRAIL)} has includeGlobalServiceEvents false, so IAM events are not recorded; {TRAIL_EXPECTED}"], id="no-global-events"),
    pytest.param({"enableLogging": False}, {"protectedTrailNames": ["org-*"]}, [], id="unprotected-name"),
    pytest.param({"enableLogging": False, "name": _DROP}, {"protectedTrailNames": ["org-*"]}, [
        f"{label(TRAIL)} has enableLogging false; {TRAIL_EXPECTED}"], id="unnamed-trail-protected"),
    pytest.param({"enableLogging": k.UNKNOWN}, None, [
        f"{label(TRAIL)} has enableLogging unknown during preview, so the pack cannot verify that the trail keeps logging from every "
        f"region; expected a value known at preview (set it literally), " + UNKNOWN_TAIL.format(policy="trail-keeps-logging-multi-region")],
        id="logging-unknown"),
]


@pytest.mark.parametrize(("changes", "config", "expected"), LOGGING_CASES)
def test_trail_keeps_logging_multi_region_changed_resource_reports(changes: dict[str, Any], config: Any, expected: list[str]) -> None:
    assert result(guards.validate_trail_keeps_logging_multi_region, TRAIL, TRAIL_OK, changes, config) == expected


FEED_EXPECTED = "expected the CloudWatch Logs group (and delivery role) of the detection."
FEEDING_CASES = [
    pytest.param({}, [], id="baseline"),
    pytest.param({"cloudWatchLogsGroupArn": _DROP}, [
        f"{label(TRAIL)} has no cloudWatchLogsGroupArn, so it stops feeding the root access-key alarms; {FEED_EXPECTED}"], id="log-group-removed"),
    pytest.param({"cloudWatchLogsRoleArn": ""}, [
        f"{label(TRAIL)} has no cloudWatchLogsRoleArn, so it stops feeding the root access-key alarms; {FEED_EXPECTED}"], id="role-emptied"),
    pytest.param({"eventSelectors": [{"readWriteType": "ReadOnly", "includeManagementEvents": True}]}, [
        f"{label(TRAIL)} stops feeding the root access-key alarms because its event selectors exclude write management events "
        f"from iam.amazonaws.com; expected a selector recording write management events from iam.amazonaws.com."], id="read-only"),
    pytest.param({"eventSelectors": [{"readWriteType": "All", "includeManagementEvents": True, "excludeManagementEventSources": ["iam.amazonaws.com"]}]}, [
        f"{label(TRAIL)} stops feeding the root access-key alarms because its event selectors exclude write management events "
        f"from iam.amazonaws.com; expected a selector recording write management events from iam.amazonaws.com."], id="iam-excluded"),
    pytest.param({"eventSelectors": _DROP, "advancedEventSelectors": [{"name": "data-only", "fieldSelectors": [{"field": "eventCategory", "equals": ["Data"]}]}]}, [
        f"{label(TRAIL)} stops feeding the root access-key alarms because its advanced event selectors do not select the "
        f"iam.amazonaws.com CreateAccessKey write management event; expected a selector recording write management events "
        f"from iam.amazonaws.com."], id="advanced-data-only"),
    pytest.param({"eventSelectors": _DROP, "advancedEventSelectors": [{"name": "m", "fieldSelectors": [
        {"field": "eventCategory", "equals": ["Management"]}, {"field": "eventSource", "notEquals": ["kms.amazonaws.com"]}]}]}, [],
        id="advanced-management-excluding-kms"),
    pytest.param({"eventSelectors": _DROP}, [], id="no-selectors-all-management"),
]


@pytest.mark.parametrize(("changes", "expected"), FEEDING_CASES)
def test_trail_keeps_feeding_detection_changed_resource_reports(changes: dict[str, Any], expected: list[str]) -> None:
    assert result(guards.validate_trail_keeps_feeding_detection, TRAIL, TRAIL_OK, changes) == expected


def scp_json(**changes: Any) -> str:
    doc = json.loads(json.dumps(k.SCP_DOCUMENT))
    doc["Statement"][0].update(changes)
    return json.dumps(doc)


PROTECTED_CASES = [
    pytest.param(SCP, {}, None, [], id="baseline"),
    pytest.param(SCP, {"content": scp_json(Condition={"StringEquals": {"aws:PrincipalArn": "arn:aws:iam::*:root"}})}, None, [
        f"{label(SCP)} is a deny-root-keys SCP that no longer denies iam:CreateAccessKey to every root user because statement "
        f"'DenyRootAccessKeyCreation' has a condition StringEquals on aws:PrincipalArn 'arn:aws:iam::*:root' that is false for the "
        f"root principal arn:aws:iam::000000000000:root; expected the full denial to stay."], id="string-equals-wildcard"),
    # Other teams' SCPs (another name) that do not aim at the action are theirs to change.
    pytest.param(SCP, {"content": scp_json(Action="iam:CreateUser"), "name": "team-iam-hardening"}, None, [], id="unrelated-scp-ignored"),
    pytest.param(SCP, {"content": scp_json(Action="iam:Create*Key", Condition={"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:root"}, "Bool": {"aws:MultiFactorAuthPresent": "false"}})}, None, [
        f"{label(SCP)} is a deny-root-keys SCP that no longer denies iam:CreateAccessKey to every root user because statement "
        f"'DenyRootAccessKeyCreation' has a condition 'Bool' on key 'aws:MultiFactorAuthPresent' that could be false for the "
        f"root user; expected the full denial to stay."], id="renamed-action-glob-with-mfa-loophole"),
    pytest.param(SCP, {"content": scp_json(Action="iam:Create*", Condition={"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/dev-*"}}), "name": "team-iam-hardening"}, None, [],
        id="unrelated-iam-hardening-scp-ignored"),
    pytest.param(SCP, {"content": scp_json(Action="iam:CreateUser")}, {"protectedPolicyNames": ["deny-root-access-keys-*"]}, [
        f"{label(SCP)} is a deny-root-keys SCP that no longer denies iam:CreateAccessKey to every root user because statement "
        f"'DenyRootAccessKeyCreation' has an Action that does not cover iam:CreateAccessKey; expected the full denial to stay."],
        id="protected-name-action-changed"),
    # The program's own SCP is protected by its name too: a weakening that also stops it "naming" the action.
    pytest.param(SCP, {"content": scp_json(Effect="Allow")}, None, [
        f"{label(SCP)} is a deny-root-keys SCP that no longer denies iam:CreateAccessKey to every root user because statement "
        f"'DenyRootAccessKeyCreation' is an Allow statement, which cannot deny anything in an SCP; expected the full denial to "
        f"stay."], id="own-scp-turned-allow"),
    pytest.param(SCP, {"content": scp_json(Action="iam:Create*", Condition={"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::1*:root"}})}, None, [
        f"{label(SCP)} is a deny-root-keys SCP that no longer denies iam:CreateAccessKey to every root user because "
        f"statement 'DenyRootAccessKeyCreation' has a condition ArnNotLike on aws:PrincipalArn 'arn:aws:iam::1*:root' that is "
        f"false for the root principal arn:aws:iam::100000000000:root; expected the full denial to stay."],
        id="own-scp-broadened-with-exemption"),
    pytest.param(SCP, {"content": scp_json(Effect="Allow")}, {"protectedPolicyNames": []}, [], id="name-protection-switched-off"),
    # Its Deny edited into an Allow, a protected SCP is known by its name alone: an unknown name cannot clear it.
    pytest.param(SCP, {"content": scp_json(Effect="Allow"), "name": k.UNKNOWN}, None, [
        f"{label(SCP)} has name unknown during preview, so the pack cannot verify whether this SCP still denies root "
        f"access-key creation; expected a value known at preview (set the policy's name literally), or allowUnknownValues: "
        f"true in the 'deny-root-keys-scp-not-weakened' policy config to defer the check to `pulumi up`."], id="unknown-name-allow"),
    # A tag (or backup, or AI opt-out) policy is no SCP, whatever its name: its unknown name protects nothing.
    pytest.param(SCP, {"content": json.dumps({"tags": {}}), "name": k.UNKNOWN, "type": "TAG_POLICY"}, None, [], id="unknown-name-tag-policy"),
    pytest.param(SCP, {"content": scp_json(Effect="Allow"), "name": "team-allow-list"}, None, [], id="other-allow-scp-ignored"),
    pytest.param(SCP, {"type": "TAG_POLICY"}, None, [
        f"{label(SCP)} names iam:CreateAccessKey but has type 'TAG_POLICY'; expected SERVICE_CONTROL_POLICY so it keeps denying "
        f"root access-key creation."], id="type-changed"),
    pytest.param(ATTACH, {"policyId": "p-abcdefgh12", "targetId": "ou-ab12-cdefgh34"}, {"protectedPolicyIds": ["p-abcdefgh12"], "requiredTargetIds": ["r-a1b2"]}, [
        f"{label(ATTACH)} attaches protected SCP p-abcdefgh12 to 'ou-ab12-cdefgh34'; expected one of the required targets r-a1b2, "
        f"since moving the attachment detaches the SCP from them."], id="attachment-moved"),
    pytest.param(ATTACH, {"policyId": "p-abcdefgh12", "targetId": "r-a1b2"}, {"protectedPolicyIds": ["p-abcdefgh12"], "requiredTargetIds": ["r-a1b2"]}, [], id="attachment-kept"),
    pytest.param(ATTACH, {"policyId": "p-other00000", "targetId": "ou-ab12-cdefgh34"}, {"protectedPolicyIds": ["p-abcdefgh12"], "requiredTargetIds": ["r-a1b2"]}, [], id="other-policy-attachment"),
    pytest.param(ATTACH, {"policyId": "p-abcdefgh12", "targetId": "r-a1b2"}, {"protectedPolicyIds": ["abc"]}, [
        "The 'deny-root-keys-scp-not-weakened' policy config is invalid: policy config key 'protectedPolicyIds' contains 'abc'; "
        "expected SCP ids like p-examplepolicyid111."], id="bad-policy-id-config"),
]


@pytest.mark.parametrize(("type_", "changes", "config", "expected"), PROTECTED_CASES)
def test_deny_root_keys_scp_not_weakened_changed_resource_reports(type_: str, changes: dict[str, Any], config: Any, expected: list[str]) -> None:
    base = SCP_OK if type_ == SCP else {}
    assert result(guards.validate_deny_root_keys_scp_not_weakened, type_, base, changes, config) == expected


VALID_EXPECTED = "expected valid JSON under 5,120 characters without Principal/NotPrincipal and with Allow or Deny effects only."
LONG = json.dumps({"Version": "2012-10-17", "Statement": [{"Sid": f"S{i}", "Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*"} for i in range(100)]})
VALID_CASES = [
    pytest.param({}, [], id="baseline"),
    pytest.param({"content": "{"}, [
        f"{label(SCP)} has an SCP document that is not valid JSON (JSONDecodeError: Expecting property name enclosed in double "
        f"quotes: line 1 column 2 (char 1)); {VALID_EXPECTED}"], id="invalid-json"),
    pytest.param({"content": LONG}, [
        f"{label(SCP)} has an SCP document that is {len(LONG)} characters long, over the 5120-character SCP limit; {VALID_EXPECTED}"], id="too-long"),
    pytest.param({"content": json.dumps({"Version": "2012-10-17", "Statement": {"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*"}})}, [
        f"{label(SCP)} has an SCP document that has statement #1 with a Principal element, which SCPs do not support; {VALID_EXPECTED}"], id="principal"),
    pytest.param({"content": json.dumps({"Statement": [{"Effect": "Deny", "NotPrincipal": {"AWS": "x"}, "Action": "*", "Resource": "*"}, {"Effect": "Audit", "Action": "*", "Resource": "*"}]})}, [
        f"{label(SCP)} has an SCP document that has statement #1 with a NotPrincipal element, which SCPs do not support (and 1 more "
        f"problem); {VALID_EXPECTED}"], id="not-principal-and-effect"),
    pytest.param({"content": json.dumps({"Statement": [{"Effect": "deny", "Action": "*", "Resource": "*"}]})}, [
        f"{label(SCP)} has an SCP document that has statement #1 with Effect 'deny' (only \"Allow\" or \"Deny\" is valid); {VALID_EXPECTED}"], id="lowercase-effect"),
    pytest.param({"content": '{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Effect": "Allow", "Action": "*", "Resource": "*"}]}'}, [
        f"{label(SCP)} has an SCP document that repeats the key 'Effect' in one JSON object, which AWS may read differently "
        f"from this pack; {VALID_EXPECTED}"], id="duplicate-key"),
    pytest.param({"content": json.dumps([1, 2])}, [f"{label(SCP)} has an SCP document that is a JSON list, not an object; {VALID_EXPECTED}"], id="array-document"),
    pytest.param({"content": json.dumps({"Version": "2012-10-17"})}, [
        f"{label(SCP)} has an SCP document that has no Statement (an object or a non-empty list is required); {VALID_EXPECTED}"], id="no-statement"),
    pytest.param({"type": "TAG_POLICY", "content": "{"}, [], id="other-policy-type-ignored"),
    pytest.param({"content": k.UNKNOWN}, [
        f"{label(SCP)} has content unknown during preview, so the pack cannot verify that the SCP document is valid; expected a "
        f"value known at preview (build the document with json.dumps from literal values instead of from resource outputs), "
        + UNKNOWN_TAIL.format(policy="scp-document-valid")], id="unknown-content"),
]


@pytest.mark.parametrize(("changes", "expected"), VALID_CASES)
def test_scp_document_valid_changed_resource_reports(changes: dict[str, Any], expected: list[str]) -> None:
    assert result(prevention.validate_scp_document_valid, SCP, SCP_OK, changes) == expected


@pytest.mark.parametrize("validate", [
    guards.validate_organization_keeps_scps_enabled, guards.validate_trail_keeps_logging_multi_region,
    guards.validate_trail_keeps_feeding_detection, guards.validate_deny_root_keys_scp_not_weakened,
    prevention.validate_scp_document_valid,
], ids=lambda v: v.__name__)
def test_resource_policy_other_type_ignored(validate: Callable[..., Any]) -> None:
    assert result(validate, "aws:s3/bucket:Bucket", {"bucket": "b"}, {}) == []
