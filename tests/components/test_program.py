"""The program under the mock engine: what each control registers, from a default baseline and one knob at a time."""

from __future__ import annotations

import json
import re
from typing import Any, Callable

import pytest

from components import documents
from preflight.engine import ACCOUNT_ID, ORGANIZATION_ID, ROOT_ID, ProgramError
from preflight.model import UNKNOWN
from tests.components.support import Registered, program, program_with_secrets

POLICY = "aws:organizations/policy:Policy"
ATTACHMENT = "aws:organizations/policyAttachment:PolicyAttachment"
FEATURES = "aws:iam/organizationsFeatures:OrganizationsFeatures"
TRAIL = "aws:cloudtrail/trail:Trail"
BUCKET = "aws:s3/bucket:Bucket"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
FILTER = "aws:cloudwatch/logMetricFilter:LogMetricFilter"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
TOPIC = "aws:sns/topic:Topic"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
RULE = "aws:cloudwatch/eventRule:EventRule"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"
FUNCTION = "aws:lambda/function:Function"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"

DETECTION = "root-access-key-detection"
AUDIT = "root-access-key-audit"
TRAIL_NAME = "root-key-guardrails-dev-trail"
TRAIL_ARN = f"arn:aws:cloudtrail:us-east-1:{ACCOUNT_ID}:trail/{TRAIL_NAME}"
TRAIL_LOG_GROUP = f"/aws/cloudtrail/{TRAIL_NAME}"
AUDIT_FUNCTION = "root-key-guardrails-dev-audit"
AUDIT_LOG_GROUP = f"/aws/lambda/{AUDIT_FUNCTION}"
ALERTS_ALIAS = "alias/root-key-guardrails-dev-alerts"
ROOT = "arn:aws:iam::*:root"

CREATE_KEY_STATEMENT = {
    "Sid": "DenyRootAccessKeyCreation",
    "Effect": "Deny",
    "Action": "iam:CreateAccessKey",
    "Resource": "*",
    "Condition": {"ArnLike": {"aws:PrincipalArn": ROOT}},
}



def _secret_value(value: object) -> object:
    """The plain value of a secret as the mock engine records it; a plain value (not secret) is returned as is
    wrapped in a marker, so a comparison with the bare string fails."""
    from pulumi.runtime import rpc

    if isinstance(value, dict) and value.get(rpc._special_sig_key) == rpc._special_secret_sig:
        return value["value"]
    return ("not secret", value)

def _topic_arn(reg: Registered) -> str:
    return f"arn:aws:sns:us-east-1:{ACCOUNT_ID}:{reg.one(TOPIC).inputs['name']}"


# --- Prevention -------------------------------------------------------------------------------------------------


def test_prevention_baseline_scp_denies_root_create_access_key_on_org_root(baseline: Registered) -> None:
    scp = baseline.one(POLICY)
    assert scp.inputs["type"] == "SERVICE_CONTROL_POLICY"
    assert json.loads(scp.inputs["content"]) == {"Version": "2012-10-17", "Statement": [CREATE_KEY_STATEMENT]}
    attachment = baseline.one(ATTACHMENT)
    assert attachment.inputs == {"policyId": UNKNOWN, "targetId": ROOT_ID}
    assert attachment.property_dependencies["policyId"] == (scp.urn,)
    assert scp.parent == baseline.one("root-key-guardrails:prevention:DenyRootAccessKeys").urn
    assert baseline.of_type(FEATURES) == []


def test_prevention_scp_targets_attach_to_each_target_and_not_the_root() -> None:
    reg = program({"scpTargets": ["ou-a1b2-workload1", "444455556666"]})
    assert sorted(a.inputs["targetId"] for a in reg.of_type(ATTACHMENT)) == ["444455556666", "ou-a1b2-workload1"]
    assert reg.named("deny-root-access-keys-attach-ou-a1b2-workload1").inputs["targetId"] == "ou-a1b2-workload1"


def test_prevention_deny_all_root_actions_adds_statement_exempting_assumed_root() -> None:
    content = json.loads(program({"scpDenyAllRootActions": True}).one(POLICY).inputs["content"])
    assert content["Statement"] == [
        CREATE_KEY_STATEMENT,
        {
            "Sid": "DenyAllRootActions",
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {"ArnLike": {"aws:PrincipalArn": ROOT}, "Null": {"aws:AssumedRoot": "true"}},
        },
    ]


def test_prevention_centralized_root_access_enables_both_features() -> None:
    reg = program({"enableCentralizedRootAccess": True})
    assert reg.one(FEATURES).inputs == {"enabledFeatures": ["RootCredentialsManagement", "RootSessions"]}


def test_prevention_disabled_registers_no_scp() -> None:
    reg = program({"enableScp": False})
    assert reg.of_type(POLICY) == [] and reg.of_type(ATTACHMENT) == []
    assert reg.of_type("root-key-guardrails:prevention:DenyRootAccessKeys") == []
    assert reg.stack_outputs["scpTargets"] == []


# --- Detection: trail ---------------------------------------------------------------------------------------------


def test_detection_baseline_org_trail_multi_region_validated_to_log_group(baseline: Registered) -> None:
    trail = baseline.one(TRAIL)
    assert {k: trail.inputs[k] for k in (
        "name", "isMultiRegionTrail", "isOrganizationTrail", "includeGlobalServiceEvents",
        "enableLogFileValidation", "enableLogging", "eventSelectors", "cloudWatchLogsGroupArn",
    )} == {
        "name": TRAIL_NAME,
        "isMultiRegionTrail": True,
        "isOrganizationTrail": True,
        "includeGlobalServiceEvents": True,
        "enableLogFileValidation": True,
        "enableLogging": True,
        "eventSelectors": [{"readWriteType": "All", "includeManagementEvents": True}],
        "cloudWatchLogsGroupArn": f"arn:aws:logs:us-east-1:{ACCOUNT_ID}:log-group:{TRAIL_LOG_GROUP}:*",
    }
    deps = trail.property_dependencies
    assert deps["kmsKeyId"] == (baseline.named(f"{DETECTION}-trail-key").urn,)
    assert deps["cloudWatchLogsGroupArn"] == (baseline.named(f"{DETECTION}-trail-logs").urn,)
    assert deps["cloudWatchLogsRoleArn"] == (baseline.named(f"{DETECTION}-trail-logs-role").urn,)
    assert deps["s3BucketName"] == (baseline.one(BUCKET).urn,)
    # Delivery prerequisites exist before the trail is created.
    assert baseline.named(f"{DETECTION}-trail-bucket-policy").urn in trail.dependencies


def test_detection_baseline_trail_bucket_private_encrypted_scoped_to_trail(baseline: Registered) -> None:
    bucket = baseline.one(BUCKET).inputs["bucket"]
    arn = f"arn:aws:s3:::{bucket}"
    assert baseline.named(f"{DETECTION}-trail-bucket-public-access").inputs == {
        "bucket": bucket, "blockPublicAcls": True, "blockPublicPolicy": True,
        "ignorePublicAcls": True, "restrictPublicBuckets": True,
    }
    encryption = baseline.named(f"{DETECTION}-trail-bucket-encryption").inputs["rules"]
    assert encryption == [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]
    assert baseline.document(f"{DETECTION}-trail-bucket-policy") == {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "AWSCloudTrailAclCheck", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
             "Action": "s3:GetBucketAcl", "Resource": arn,
             "Condition": {"StringEquals": {"aws:SourceArn": TRAIL_ARN}}},
            {"Sid": "AWSCloudTrailWrite", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
             "Action": "s3:PutObject",
             "Resource": [f"{arn}/AWSLogs/{ACCOUNT_ID}/*", f"{arn}/AWSLogs/{ORGANIZATION_ID}/*"],
             "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceArn": TRAIL_ARN}}},
            {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
             "Resource": [arn, f"{arn}/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        ],
    }


def test_detection_baseline_trail_role_scoped_to_its_log_group(baseline: Registered) -> None:
    assert baseline.named(f"{DETECTION}-trail-logs").inputs["retentionInDays"] == 365
    assert baseline.document(f"{DETECTION}-trail-logs-role", "assumeRolePolicy") == {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
                       "Action": "sts:AssumeRole"}],
    }
    assert baseline.document(f"{DETECTION}-trail-logs-policy") == {
        "Version": "2012-10-17",
        "Statement": [{"Sid": "WriteOwnLogGroup", "Effect": "Allow",
                       "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                       "Resource": f"arn:aws:logs:us-east-1:{ACCOUNT_ID}:log-group:{TRAIL_LOG_GROUP}:log-stream:*"}],
    }


def test_detection_baseline_trail_key_only_for_this_trail(baseline: Registered) -> None:
    key = baseline.named(f"{DETECTION}-trail-key")
    assert key.inputs["enableKeyRotation"] is True
    statements = json.loads(key.inputs["policy"])["Statement"]
    assert [s["Sid"] for s in statements] == ["EnableIamPolicies", "AllowCloudTrailEncrypt", "AllowCloudTrailDescribeKey"]
    assert statements[1]["Condition"]["StringEquals"] == {"aws:SourceArn": TRAIL_ARN}
    assert statements[1]["Action"] == "kms:GenerateDataKey*"


# --- Detection: filters, alarms, topic, EventBridge ----------------------------------------------------------------


# Prowler cloudwatch_log_metric_filter_root_usage and Steampipe log_metric_filter_root_login (CIS 4.3), verbatim.
PROWLER_ROOT_USAGE = r"\$\.userIdentity\.type\s*=\s*.?Root.+\$\.userIdentity\.invokedBy NOT EXISTS.+\$\.eventType\s*!=\s*.?AwsServiceEvent.?"
STEAMPIPE_ROOT_LOGIN = r'\s*\$\.userIdentity\.type\s*=\s*"Root".+\$\.userIdentity\.invokedBy NOT EXISTS.+\$\.eventType\s*!=\s*"AwsServiceEvent"'


def test_detection_baseline_filters_on_trail_log_group(baseline: Registered) -> None:
    filters = {f.name: f for f in baseline.of_type(FILTER)}
    assert {name: (f.inputs["pattern"], f.inputs["metricTransformation"]) for name, f in filters.items()} == {
        f"{DETECTION}-filter-created": (
            '{ ($.userIdentity.type = "Root") && ($.eventSource = "iam.amazonaws.com") '
            '&& ($.eventName = "CreateAccessKey") && ($.errorCode NOT EXISTS) }',
            {"name": "RootAccessKeyCreated", "namespace": "RootKeyGuardrails", "value": "1"},
        ),
        f"{DETECTION}-filter-denied": (
            '{ ($.userIdentity.type = "Root") && ($.eventSource = "iam.amazonaws.com") '
            '&& ($.eventName = "CreateAccessKey") && ($.errorCode = "AccessDenied") }',
            {"name": "RootAccessKeyCreationDenied", "namespace": "RootKeyGuardrails", "value": "1"},
        ),
        f"{DETECTION}-filter-cis-root-usage": (
            '{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType != "AwsServiceEvent" }',
            {"name": "RootAccountUsage", "namespace": "RootKeyGuardrails", "value": "1"},
        ),
    }
    log_group = baseline.named(f"{DETECTION}-trail-logs")
    for f in filters.values():
        assert f.inputs["logGroupName"] == TRAIL_LOG_GROUP
        assert f.property_dependencies["logGroupName"] == (log_group.urn,)


def test_detection_cis_pattern_satisfies_prowler_and_steampipe() -> None:
    assert re.search(PROWLER_ROOT_USAGE, documents.PATTERN_CIS_ROOT_USAGE, flags=re.DOTALL)
    assert re.search(STEAMPIPE_ROOT_LOGIN, documents.PATTERN_CIS_ROOT_USAGE)
    # Neither the success nor the denied filter is mistaken for the CIS one.
    assert not re.search(PROWLER_ROOT_USAGE, documents.PATTERN_ROOT_ACCESS_KEY_CREATED, flags=re.DOTALL)


def _alarm_semantics(alarm_inputs: dict[str, Any]) -> dict[str, Any]:
    return {k: alarm_inputs[k] for k in (
        "statistic", "period", "evaluationPeriods", "datapointsToAlarm", "threshold", "comparisonOperator",
        "treatMissingData", "actionsEnabled", "alarmActions",
    )}


def test_detection_baseline_alarms_fire_on_one_event_to_topic(baseline: Registered) -> None:
    topic_arn = _topic_arn(baseline)
    topic_urn = baseline.one(TOPIC).urn
    for role, metric in (("created", "RootAccessKeyCreated"), ("cis-root-usage", "RootAccountUsage")):
        alarm = baseline.named(f"{DETECTION}-alarm-{role}")
        assert _alarm_semantics(alarm.inputs) == {
            "statistic": "Sum", "period": 300, "evaluationPeriods": 1, "datapointsToAlarm": 1, "threshold": 1,
            "comparisonOperator": "GreaterThanOrEqualToThreshold", "treatMissingData": "notBreaching",
            "actionsEnabled": True, "alarmActions": [topic_arn],
        }
        assert (alarm.inputs["metricName"], alarm.inputs["namespace"]) == (metric, "RootKeyGuardrails")
        assert alarm.property_dependencies["metricName"] == (baseline.named(f"{DETECTION}-filter-{role}").urn,)
        assert alarm.property_dependencies["alarmActions"] == (topic_urn,)
        assert alarm.inputs["alarmDescription"].startswith("Why: ") and "What to do: " in alarm.inputs["alarmDescription"]
    # The denied metric is evidence, not an alarm.
    assert not any(a.inputs["metricName"] == "RootAccessKeyCreationDenied" for a in baseline.of_type(ALARM))


def test_program_baseline_every_alarm_says_why_and_what_to_do_within_aws_limit(baseline: Registered) -> None:
    # PutMetricAlarm refuses descriptions over 1024 characters: a longer one would only fail at `pulumi up`.
    descriptions = {a.name: a.inputs["alarmDescription"] for a in baseline.of_type(ALARM)}
    assert len(descriptions) == 4
    for name, text in descriptions.items():
        assert text.startswith("Why: ") and "What to do: " in text, name
        assert len(text) <= 1024, name


def test_detection_baseline_topic_encrypted_with_key_cloudwatch_and_eventbridge_can_use(baseline: Registered) -> None:
    topic, key = baseline.one(TOPIC), baseline.named(f"{DETECTION}-alerts-key")
    assert topic.inputs["kmsMasterKeyId"] == UNKNOWN
    assert topic.property_dependencies["kmsMasterKeyId"] == (key.urn,)
    assert key.inputs["enableKeyRotation"] is True
    assert json.loads(key.inputs["policy"])["Statement"][1:] == [
        {"Sid": "AllowCloudWatchAlarms", "Effect": "Allow", "Principal": {"Service": "cloudwatch.amazonaws.com"},
         "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*",
         "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT_ID},
                       "ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:us-east-1:{ACCOUNT_ID}:alarm:*"}}},
        {"Sid": "AllowEventBridge", "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
         "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*"},
    ]


def test_detection_baseline_topic_policy_only_this_accounts_cloudwatch_and_eventbridge(baseline: Registered) -> None:
    topic_arn = _topic_arn(baseline)
    policy = baseline.one("aws:sns/topicPolicy:TopicPolicy")
    assert policy.inputs["arn"] == topic_arn
    assert json.loads(policy.inputs["policy"]) == {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": f"Allow{label}Publish", "Effect": "Allow", "Principal": {"Service": service},
             "Action": "sns:Publish", "Resource": topic_arn,
             "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT_ID}}}
            for label, service in (("CloudWatch", "cloudwatch.amazonaws.com"), ("EventBridge", "events.amazonaws.com"))
        ],
    }
    assert baseline.of_type(SUBSCRIPTION) == []


def test_detection_baseline_eventbridge_rule_root_create_access_key_to_topic(baseline: Registered) -> None:
    rule = baseline.named(f"{DETECTION}-root-create-access-key")
    assert json.loads(rule.inputs["eventPattern"]) == {
        "source": ["aws.iam"],
        "detail-type": ["AWS API Call via CloudTrail"],
        "detail": {"eventSource": ["iam.amazonaws.com"], "eventName": ["CreateAccessKey"],
                   "userIdentity": {"type": ["Root"]}},
    }
    assert rule.inputs["state"] == "ENABLED"
    target = baseline.named(f"{DETECTION}-root-create-access-key-alert")
    assert target.inputs["arn"] == _topic_arn(baseline)
    assert target.inputs["rule"] == rule.inputs["name"]
    template = target.inputs["inputTransformer"]["inputTemplate"]
    assert json.loads(template).startswith("Root user of AWS account <account> called iam:CreateAccessKey")


# --- Audit ---------------------------------------------------------------------------------------------------------


def test_audit_baseline_function_runtime_handler_environment(baseline: Registered) -> None:
    fn = baseline.one(FUNCTION)
    assert {k: fn.inputs[k] for k in ("name", "runtime", "architectures", "handler", "timeout", "memorySize")} == {
        "name": AUDIT_FUNCTION, "runtime": "python3.13", "architectures": ["arm64"],
        "handler": "audit.handler.handler", "timeout": 300, "memorySize": 256,
    }
    assert fn.inputs["environment"]["variables"] == {
        "AUDIT_METRIC_NAMESPACE": "RootKeyGuardrails",
        "AUDIT_SNS_TOPIC_ARN": _topic_arn(baseline),
        "AUDIT_SECURITY_HUB": "true",
        "AUDIT_ORG_ROLE_NAME": "",
        "AUDIT_MAX_REPORT_AGE_HOURS": "5",
        "AUDIT_REMEDIATE": "false",
        "AUDIT_MAX_WORKERS": "8",
    }
    assert fn.inputs["loggingConfig"] == {"logFormat": "JSON", "logGroup": AUDIT_LOG_GROUP}
    assert baseline.named(f"{AUDIT}-logs").inputs["retentionInDays"] == 365


def test_audit_baseline_role_least_privilege(baseline: Registered) -> None:
    assert baseline.document(f"{AUDIT}-role", "assumeRolePolicy") == {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
    assert baseline.document(f"{AUDIT}-policy") == {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "WriteOwnLogGroup", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
             "Resource": f"arn:aws:logs:us-east-1:{ACCOUNT_ID}:log-group:{AUDIT_LOG_GROUP}:log-stream:*"},
            {"Sid": "ReadCredentialReport", "Effect": "Allow",
             "Action": ["iam:GenerateCredentialReport", "iam:GetCredentialReport"], "Resource": "*"},
            {"Sid": "PublishAuditMetrics", "Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*",
             "Condition": {"StringEquals": {"cloudwatch:namespace": "RootKeyGuardrails"}}},
            {"Sid": "PublishAlerts", "Effect": "Allow", "Action": "sns:Publish", "Resource": _topic_arn(baseline)},
            {"Sid": "EncryptAlerts", "Effect": "Allow", "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
             "Resource": f"arn:aws:kms:us-east-1:{ACCOUNT_ID}:key/*",
             "Condition": {"StringEquals": {"kms:ViaService": "sns.us-east-1.amazonaws.com"},
                           "ForAnyValue:StringEquals": {"kms:ResourceAliases": ALERTS_ALIAS}}},
            {"Sid": "ImportFindings", "Effect": "Allow", "Action": "securityhub:BatchImportFindings",
             "Resource": f"arn:aws:securityhub:us-east-1:{ACCOUNT_ID}:product/{ACCOUNT_ID}/default"},
            {"Sid": "ReadAndResolveFindings", "Effect": "Allow",
             "Action": ["securityhub:GetFindings", "securityhub:BatchUpdateFindings"],
             "Resource": f"arn:aws:securityhub:us-east-1:{ACCOUNT_ID}:hub/default"},
        ],
    }
    assert [r.name for r in baseline.of_type(ROLE_POLICY)] == [f"{DETECTION}-trail-logs-policy", f"{AUDIT}-policy"]


def test_audit_baseline_key_alias_names_the_topic_key(baseline: Registered) -> None:
    alias = baseline.one("aws:kms/alias:Alias")
    assert alias.inputs == {"name": ALERTS_ALIAS, "targetKeyId": UNKNOWN}
    assert alias.property_dependencies["targetKeyId"] == (baseline.named(f"{DETECTION}-alerts-key").urn,)


def test_audit_update_ids_and_arns_known_and_linked() -> None:
    reg = program(preview=False)
    key = reg.named(f"{DETECTION}-alerts-key")
    assert key.outputs["arn"] == f"arn:aws:kms:us-east-1:{ACCOUNT_ID}:key/{key.outputs['keyId']}"
    assert reg.one("aws:kms/alias:Alias").inputs["targetKeyId"] == key.outputs["keyId"]
    assert reg.one(TOPIC).inputs["kmsMasterKeyId"] == key.outputs["arn"]
    assert reg.stack_outputs["scpArn"].startswith(f"arn:aws:organizations::{ACCOUNT_ID}:policy/{ORGANIZATION_ID}/")
    assert reg.stack_outputs["trailArn"] == TRAIL_ARN


def test_audit_baseline_schedule_permission_target_failure_destination(baseline: Registered) -> None:
    schedule = baseline.named(f"{AUDIT}-schedule")
    assert schedule.inputs["scheduleExpression"] == "rate(1 hour)"
    rule_arn = f"arn:aws:events:us-east-1:{ACCOUNT_ID}:rule/{schedule.inputs['name']}"
    function_arn = f"arn:aws:lambda:us-east-1:{ACCOUNT_ID}:function:{AUDIT_FUNCTION}"
    permission = baseline.named(f"{AUDIT}-invoke-permission")
    assert permission.inputs == {"action": "lambda:InvokeFunction", "function": AUDIT_FUNCTION,
                                 "principal": "events.amazonaws.com", "sourceArn": rule_arn}
    target = baseline.named(f"{AUDIT}-schedule-target")
    assert (target.inputs["arn"], target.inputs["rule"]) == (function_arn, schedule.inputs["name"])
    on_failure = baseline.named(f"{AUDIT}-on-failure").inputs
    assert on_failure["destinationConfig"] == {"onFailure": {"destination": _topic_arn(baseline)}}


def test_audit_baseline_alarms_errors_and_active_keys_fail_closed(baseline: Registered) -> None:
    topic_arn = _topic_arn(baseline)
    errors = baseline.named(f"{AUDIT}-alarm-errors").inputs
    assert (errors["namespace"], errors["metricName"], errors["dimensions"]) == (
        "AWS/Lambda", "Errors", {"FunctionName": AUDIT_FUNCTION})
    assert _alarm_semantics(errors) == {
        "statistic": "Sum", "period": 300, "evaluationPeriods": 1, "datapointsToAlarm": 1, "threshold": 1,
        "comparisonOperator": "GreaterThanOrEqualToThreshold", "treatMissingData": "notBreaching",
        "actionsEnabled": True, "alarmActions": [topic_arn],
    }
    active = baseline.named(f"{AUDIT}-alarm-root-keys-active").inputs
    assert (active["namespace"], active["metricName"], "dimensions" in active) == (
        "RootKeyGuardrails", "RootAccessKeysActive", False)
    # Only the active-keys alarm, a state people wait to see end, also sends the all-clear.
    assert (active["okActions"], "okActions" in errors) == ([topic_arn], False)
    # A stopped audit (no datapoint in two schedule intervals) leaves OK/ALARM for INSUFFICIENT_DATA, which notifies;
    # a fresh alarm starts in INSUFFICIENT_DATA, so a deployment pages nobody before the first run.
    assert _alarm_semantics(active) == {
        "statistic": "Maximum", "period": 7200, "evaluationPeriods": 1, "datapointsToAlarm": 1, "threshold": 1,
        "comparisonOperator": "GreaterThanOrEqualToThreshold", "treatMissingData": "missing",
        "actionsEnabled": True, "alarmActions": [topic_arn],
    }
    assert (active["insufficientDataActions"], "insufficientDataActions" in errors) == ([topic_arn], False)


def test_program_baseline_exports(baseline: Registered) -> None:
    outputs = baseline.stack_outputs
    assert outputs["alarmTopicArn"] == _topic_arn(baseline)
    assert sorted(outputs["alarmNames"]) == sorted(a.inputs["name"] for a in baseline.of_type(ALARM))
    assert (outputs["auditFunctionName"], outputs["auditLogGroupName"], outputs["trailLogGroupName"]) == (
        AUDIT_FUNCTION, AUDIT_LOG_GROUP, TRAIL_LOG_GROUP)
    assert (outputs["scpId"], outputs["scpArn"], outputs["scpTargets"]) == (UNKNOWN, UNKNOWN, [ROOT_ID])
    assert outputs["eventRuleName"] == baseline.named(f"{DETECTION}-root-create-access-key").inputs["name"]


def test_program_every_child_is_parented_to_its_component(baseline: Registered) -> None:
    components = {r.name: r.urn for r in baseline.resources if r.type.startswith("root-key-guardrails:")}
    for r in baseline.resources:
        if r.custom and not r.type.startswith("pulumi:providers:"):
            owner = next(name for name in components if r.name.startswith(name + "-"))
            assert r.parent == components[owner], r.name


# --- One knob at a time ---------------------------------------------------------------------------------------------


def _audit_statement_sids(reg: Registered) -> list[str]:
    return [s["Sid"] for s in reg.document(f"{AUDIT}-policy")["Statement"]]


KNOBS: list[tuple[str, dict[str, Any], Callable[[Registered], Any], Any]] = [
    ("enableDetection", {"enableDetection": False},
     lambda r: (len(r.of_type(TRAIL)), len(r.of_type(FILTER)), len(r.of_type(RULE)),
                r.one(TOPIC).parent == r.one("root-key-guardrails:audit:RootAccessKeyAudit").urn),
     (0, 0, 1, True)),
    ("trailMode", {"trailMode": "account"},
     lambda r: (r.one(TRAIL).inputs["isOrganizationTrail"],
                r.document(f"{DETECTION}-trail-bucket-policy")["Statement"][1]["Resource"]),
     (False, f"arn:aws:s3:::{'{bucket}'}/AWSLogs/{ACCOUNT_ID}/*")),
    ("existingLogGroupName", {"trailMode": "existing", "existingLogGroupName": "aws-controltower/CloudTrailLogs"},
     lambda r: (len(r.of_type(TRAIL)), len(r.of_type(BUCKET)),
                sorted({f.inputs["logGroupName"] for f in r.of_type(FILTER)}), r.stack_outputs["trailLogGroupName"]),
     (0, 0, ["aws-controltower/CloudTrailLogs"], "aws-controltower/CloudTrailLogs")),
    ("logRetentionDays", {"logRetentionDays": 400},
     lambda r: sorted(g.inputs["retentionInDays"] for g in r.of_type(LOG_GROUP)), [400, 400]),
    ("metricNamespace", {"metricNamespace": "Security/RootKeys"},
     lambda r: (sorted({f.inputs["metricTransformation"]["namespace"] for f in r.of_type(FILTER)}),
                sorted({a.inputs["namespace"] for a in r.of_type(ALARM)}),
                r.one(FUNCTION).inputs["environment"]["variables"]["AUDIT_METRIC_NAMESPACE"],
                r.document(f"{AUDIT}-policy")["Statement"][2]["Condition"]),
     (["Security/RootKeys"], ["AWS/Lambda", "Security/RootKeys"], "Security/RootKeys",
      {"StringEquals": {"cloudwatch:namespace": "Security/RootKeys"}})),
    ("alarmPeriodSeconds", {"alarmPeriodSeconds": 60},
     lambda r: sorted(a.inputs["period"] for a in r.of_type(ALARM)), [60, 60, 60, 7200]),
    ("cisRootUsageAlarm", {"cisRootUsageAlarm": False},
     lambda r: (sorted(f.inputs["metricTransformation"]["name"] for f in r.of_type(FILTER)),
                sorted(a.inputs["metricName"] for a in r.of_type(ALARM))),
     (["RootAccessKeyCreated", "RootAccessKeyCreationDenied"],
      ["Errors", "RootAccessKeyCreated", "RootAccessKeysActive"])),
    ("eventBridgeDetection", {"eventBridgeDetection": False},
     lambda r: sorted(rule.name for rule in r.of_type(RULE)), [f"{AUDIT}-schedule"]),
    ("alarmEmails", {"alarmEmails": ["secops@example.com"]},
     lambda r: [(s.inputs["protocol"], s.inputs["endpoint"], s.inputs["topic"] == _topic_arn(r))
                for s in r.of_type(SUBSCRIPTION)],
     [("email", "secops@example.com", True)]),
    # A webhook URL is registered as a secret (the mock engine records the SDK's secret wrapper).
    ("alarmHttpsEndpoints", {"alarmHttpsEndpoints": ["https://alerts.example.com/hook"]},
     lambda r: [(s.inputs["protocol"], _secret_value(s.inputs["endpoint"])) for s in r.of_type(SUBSCRIPTION)],
     [("https", "https://alerts.example.com/hook")]),
    ("enableAudit", {"enableAudit": False},
     lambda r: (len(r.of_type(FUNCTION)), sorted(rule.name for rule in r.of_type(RULE)),
                r.stack_outputs.get("auditFunctionName")),
     (0, [f"{DETECTION}-root-create-access-key"], None)),
    ("auditSchedule", {"auditSchedule": "rate(30 minutes)"},
     lambda r: (r.named(f"{AUDIT}-schedule").inputs["scheduleExpression"],
                r.named(f"{AUDIT}-alarm-root-keys-active").inputs["period"]),
     ("rate(30 minutes)", 3600)),
    # The real longest gap of the cron, not one day: every 2 hours at :15 gives a 4-hour period.
    ("auditSchedule", {"auditSchedule": "cron(15 */2 * * ? *)"},
     lambda r: r.named(f"{AUDIT}-alarm-root-keys-active").inputs["period"], 14400),
    ("auditSchedule", {"auditSchedule": "cron(0 0,12 * * ? *)"},
     lambda r: r.named(f"{AUDIT}-alarm-root-keys-active").inputs["period"], 86400),
    ("auditOrgRoleName", {"auditOrgRoleName": "RootKeyAuditReader"},
     lambda r: (r.document(f"{AUDIT}-policy")["Statement"][7:], r.one(FUNCTION).inputs["timeout"],
                r.one(FUNCTION).inputs["memorySize"],
                r.one(FUNCTION).inputs["environment"]["variables"]["AUDIT_ORG_ROLE_NAME"]),
     ([{"Sid": "ListOrganizationAccounts", "Effect": "Allow", "Action": "organizations:ListAccounts", "Resource": "*"},
       {"Sid": "AssumeAuditRole", "Effect": "Allow", "Action": "sts:AssumeRole",
        "Resource": "arn:aws:iam::*:role/RootKeyAuditReader",
        "Condition": {"StringEquals": {"aws:ResourceOrgID": ORGANIZATION_ID}}}], 900, 512, "RootKeyAuditReader")),
    ("auditRemediate", {"auditRemediate": True, "auditOrgRoleName": "RootKeyAuditReader",
                        "enableCentralizedRootAccess": True},
     lambda r: (r.document(f"{AUDIT}-policy")["Statement"][-1],
                r.one(FUNCTION).inputs["environment"]["variables"]["AUDIT_REMEDIATE"]),
     ({"Sid": "AssumeRootToDeleteKeys", "Effect": "Allow", "Action": "sts:AssumeRoot",
       "Resource": "arn:aws:iam::*:root",
       "Condition": {"StringEquals": {
           "sts:TaskPolicyArn": "arn:aws:iam::aws:policy/root-task/IAMDeleteRootUserCredentials"}}}, "true")),
    ("auditSecurityHub", {"auditSecurityHub": False},
     lambda r: (_audit_statement_sids(r), r.one(FUNCTION).inputs["environment"]["variables"]["AUDIT_SECURITY_HUB"]),
     (["WriteOwnLogGroup", "ReadCredentialReport", "PublishAuditMetrics", "PublishAlerts", "EncryptAlerts"], "false")),
    ("auditMaxReportAgeHours", {"auditMaxReportAgeHours": 12},
     lambda r: r.one(FUNCTION).inputs["environment"]["variables"]["AUDIT_MAX_REPORT_AGE_HOURS"], "12"),
]


@pytest.mark.parametrize(("overrides", "observe", "expected"), [pytest.param(*k[1:], id=k[0]) for k in KNOBS])
def test_program_knob_changes_its_control(
    overrides: dict[str, Any], observe: Callable[[Registered], Any], expected: Any
) -> None:
    reg = program(overrides)
    if overrides.get("trailMode") == "account":
        expected = (expected[0], expected[1].replace("{bucket}", reg.one(BUCKET).inputs["bucket"]))
    assert observe(reg) == expected
    # The baseline does not show the changed value: each knob really moves its control.
    baseline = program()
    if overrides.get("trailMode") == "account":
        return
    assert observe(baseline) != expected


def test_program_audit_without_detection_builds_its_own_topic_with_subscriptions() -> None:
    reg = program({"enableDetection": False, "alarmEmails": ["secops@example.com"]})
    audit = reg.one("root-key-guardrails:audit:RootAccessKeyAudit")
    assert reg.one(TOPIC).parent == audit.urn
    assert [s.parent for s in reg.of_type(SUBSCRIPTION)] == [audit.urn]
    assert reg.one(FUNCTION).inputs["environment"]["variables"]["AUDIT_SNS_TOPIC_ARN"] == _topic_arn(reg)
    assert reg.stack_outputs["alarmTopicArn"] == _topic_arn(reg)


@pytest.mark.parametrize("overrides", [{}, {"enableDetection": False}], ids=["detection-topic", "audit-topic"])
def test_program_email_set_with_secret_is_registered_as_a_secret(overrides: dict[str, Any]) -> None:
    reg = program_with_secrets({**overrides, "alarmEmails": ["secops@example.com"]}, ["alarmEmails"])
    assert [(s.inputs["protocol"], _secret_value(s.inputs["endpoint"])) for s in reg.of_type(SUBSCRIPTION)] == [
        ("email", "secops@example.com")
    ]


def test_program_key_that_cannot_stay_secret_set_with_secret_fails_and_registers_nothing() -> None:
    with pytest.raises(ProgramError) as err:
        program_with_secrets({"scpTargets": ["444455556666"]}, ["scpTargets"])
    assert err.value.message == (
        "Invalid configuration:\n  root-key-guardrails:scpTargets = [secret]: must be set without --secret: only "
        "alarmEmails and alarmHttpsEndpoints are kept secret, and this value would be written in clear into "
        "resources, the preview and the state"
    )
    assert [r.type for r in err.value.resources] == ["pulumi:pulumi:Stack"]


def test_program_everything_off_registers_only_the_stack() -> None:
    reg = program({"enableScp": False, "enableDetection": False, "enableAudit": False})
    assert reg.types() == ["pulumi:pulumi:Stack"]


@pytest.mark.parametrize("overrides", [{}, {"auditOrgRoleName": "RootKeyAuditReader"}], ids=["account", "organization"])
def test_audit_function_timeout_outlasts_one_account_audit(overrides: dict[str, Any]) -> None:
    # The function must outlive one account's bounded fetch plus publishing, or every slow run would be cut off
    # by Lambda before it could report ERROR itself.
    from audit.aws import RetryPolicy
    from audit.runner import RUN_RESERVE_SECONDS

    timeout = program(overrides).one(FUNCTION).inputs["timeout"]
    assert timeout > RetryPolicy().deadline_seconds + RUN_RESERVE_SECONDS


# --- Names known before deployment -----------------------------------------------------------------------------------


def test_audit_role_fixed_stack_qualified_name(baseline: Registered) -> None:
    # Member-account roles trust this ARN; a generated name would change on every replacement.
    role = baseline.named(f"{AUDIT}-role")
    assert role.inputs["name"] == "root-key-guardrails-dev-audit"
    assert baseline.one("root-key-guardrails:audit:RootAccessKeyAudit").outputs["roleArn"] == (
        f"arn:aws:iam::{ACCOUNT_ID}:role/root-key-guardrails-dev-audit")


@pytest.mark.parametrize(
    ("stack", "trail"),
    [
        ("dev", "root-key-guardrails-dev-trail"),
        ("prod--eu", "root-key-guardrails-prod-eu-trail"),
        ("a._b", "root-key-guardrails-a-b-trail"),
        ("_x_", "root-key-guardrails-x-trail"),
        ("team.sec", "root-key-guardrails-team-sec-trail"),
    ],
)
def test_physical_name_adjacent_separators_collapsed(stack: str, trail: str) -> None:
    from components.context import AwsContext

    ctx = AwsContext(account_id=ACCOUNT_ID, region="us-east-1", partition="aws", stack=stack)
    name = ctx.physical_name("trail", limit=128)
    assert name == trail
    # CloudTrail's rule: no adjacent -, _ or . and alphanumeric at both ends.
    assert not re.search(r"[-_.]{2}", name) and name[0].isalnum() and name[-1].isalnum()
    assert ctx.physical_name("x" * 200, limit=64)[-1].isalnum()
