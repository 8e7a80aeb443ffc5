"""Pulumi <-> Terraform names and shapes, derived from small hand-written schemas, and the exceptions table."""

from __future__ import annotations

import pytest

from preflight.model import UNKNOWN
from preflight.tfprovider import bridge
from preflight.tfprovider.codec import UNKNOWN_VALUE
from preflight.tfprovider.schema import Attribute, Block, NestedBlock

SELECTOR = Block(attributes={"read_write_type": Attribute("read_write_type", "string", optional=True),
                             "include_management_events": Attribute("include_management_events", "bool",
                                                                    optional=True)})
TRANSFORM = Block(attributes={"name": Attribute("name", "string", required=True),
                              "value": Attribute("value", "string", required=True)})
TRAIL = Block(
    attributes={
        "id": Attribute("id", "string", optional=True, computed=True),
        "name": Attribute("name", "string", required=True),
        "s3_bucket_name": Attribute("s3_bucket_name", "string", required=True),
        "cloud_watch_logs_role_arn": Attribute("cloud_watch_logs_role_arn", "string", optional=True),
        "alarm_actions": Attribute("alarm_actions", ["set", "string"], optional=True),
        "architecture": Attribute("architecture", ["list", "string"], optional=True),
        "tags": Attribute("tags", ["map", "string"], optional=True),
        "tags_all": Attribute("tags_all", ["map", "string"], optional=True, computed=True),
        "arn": Attribute("arn", "string", computed=True),
    },
    blocks={
        "event_selector": NestedBlock("event_selector", "list", SELECTOR, max_items=5),
        "metric_transformation": NestedBlock("metric_transformation", "list", TRANSFORM, max_items=1),
        "policy": NestedBlock("policy", "set", TRANSFORM),
        "timeouts": NestedBlock("timeouts", "single", Block(attributes={"create": Attribute("create", "string")})),
    },
)
PULUMI = {
    "name": "t",
    "s3BucketName": "b",
    "cloudWatchLogsRoleArn": UNKNOWN,
    "alarmActions": ["arn:1"],
    "architectures": ["arm64"],
    "tags": {"Owner_Team": "sec", "costCenter": "1"},
    "eventSelectors": [{"readWriteType": "All", "includeManagementEvents": True}],
    "metricTransformation": {"name": "m", "value": "1"},
    "policies": [{"name": "p", "value": "v"}],
}
TF = {
    "name": "t",
    "s3_bucket_name": "b",
    "cloud_watch_logs_role_arn": UNKNOWN_VALUE,
    "alarm_actions": ["arn:1"],
    "architecture": ["arm64"],
    "tags": {"Owner_Team": "sec", "costCenter": "1"},
    "event_selector": [{"read_write_type": "All", "include_management_events": True}],
    "metric_transformation": [{"name": "m", "value": "1"}],
    "policy": [{"name": "p", "value": "v"}],
}


def test_to_tf_baseline_renames_flattens_and_keeps_map_keys():
    assert bridge.to_tf(TRAIL, PULUMI, "aws_test") == TF


def test_to_pulumi_baseline_is_the_inverse_with_computed_outputs():
    state = {**TF, "id": "t", "arn": "arn:t", "tags_all": UNKNOWN_VALUE, "cloud_watch_logs_role_arn": "r"}
    assert bridge.to_pulumi(TRAIL, state, "aws_test") == {
        **PULUMI, "id": "t", "arn": "arn:t", "tagsAll": UNKNOWN, "cloudWatchLogsRoleArn": "r"}


@pytest.mark.parametrize("change, message", [
    ({"s3Bucket": "b"}, "s3Bucket: unknown property (not in the provider's schema)"),
    ({"eventSelector": []}, "eventSelector: unknown property (not in the provider's schema)"),
    ({"eventSelectors": [{"readWrite": "All"}]},
     "eventSelectors[0].readWrite: unknown property (not in the provider's schema)"),
    ({"metricTransformation": {"name": "m", "value": "1", "unit": "Count"}},
     "metricTransformation.unit: unknown property (not in the provider's schema)"),
    ({"metricTransformation": [{"name": "m", "value": "1"}]},
     "metricTransformation: expected an object (this block takes at most one), got a list"),
    ({"id": "x"}, "id: unknown property (not in the provider's schema)"),
    ({"timeouts": {"create": "1m"}}, "timeouts: unknown property (not in the provider's schema)"),
    ({"s3_bucket_name": "b"}, "s3_bucket_name: unknown property (not in the provider's schema)"),
])
def test_to_tf_property_outside_the_schema_is_an_error_naming_it(change, message):
    with pytest.raises(bridge.BridgeError) as info:
        bridge.to_tf(TRAIL, {**PULUMI, **change}, "aws_test")
    assert str(info.value) == message


def test_to_tf_secret_is_unwrapped():
    secret = {bridge.SIG_KEY: bridge.SECRET_SIG, "value": "b"}
    assert bridge.to_tf(TRAIL, {**PULUMI, "s3BucketName": secret}, "aws_test")["s3_bucket_name"] == "b"


def test_to_pulumi_empty_flattened_block_is_null():
    out = bridge.to_pulumi(TRAIL, {**TF, "metric_transformation": []}, "aws_test")
    assert out["metricTransformation"] is None


@pytest.mark.parametrize("tf_type, tf_name, pulumi_name", sorted(
    (t, tf, p) for (t, tf), p in bridge.PROPERTY_EXCEPTIONS.items()))
def test_property_exceptions_rename_top_level_fields(tf_type, tf_name, pulumi_name):
    block = Block(attributes={tf_name: Attribute(tf_name, "string", optional=True)})
    assert bridge.fields(block, tf_type, top=True)[pulumi_name].tf == tf_name
    assert bridge.fields(block, "aws_other", top=True)[bridge.camel(tf_name)].tf == tf_name


@pytest.mark.parametrize("token, tf_type", [
    ("aws:cloudtrail/trail:Trail", "aws_cloudtrail"),
    ("aws:cloudwatch/logGroup:LogGroup", "aws_cloudwatch_log_group"),
    ("aws:cloudwatch/logMetricFilter:LogMetricFilter", "aws_cloudwatch_log_metric_filter"),
    ("aws:cloudwatch/metricAlarm:MetricAlarm", "aws_cloudwatch_metric_alarm"),
    ("aws:cloudwatch/eventRule:EventRule", "aws_cloudwatch_event_rule"),
    ("aws:cloudwatch/eventTarget:EventTarget", "aws_cloudwatch_event_target"),
    ("aws:iam/role:Role", "aws_iam_role"),
    ("aws:iam/rolePolicy:RolePolicy", "aws_iam_role_policy"),
    ("aws:iam/organizationsFeatures:OrganizationsFeatures", "aws_iam_organizations_features"),
    ("aws:kms/key:Key", "aws_kms_key"),
    ("aws:kms/alias:Alias", "aws_kms_alias"),
    ("aws:lambda/function:Function", "aws_lambda_function"),
    ("aws:lambda/permission:Permission", "aws_lambda_permission"),
    ("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig", "aws_lambda_function_event_invoke_config"),
    ("aws:organizations/policy:Policy", "aws_organizations_policy"),
    ("aws:organizations/policyAttachment:PolicyAttachment", "aws_organizations_policy_attachment"),
    ("aws:s3/bucket:Bucket", "aws_s3_bucket"),
    ("aws:s3/bucketV2:BucketV2", "aws_s3_bucket"),
    ("aws:s3/bucketPolicy:BucketPolicy", "aws_s3_bucket_policy"),
    ("aws:s3/bucketOwnershipControls:BucketOwnershipControls", "aws_s3_bucket_ownership_controls"),
    ("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "aws_s3_bucket_public_access_block"),
    ("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
     "aws_s3_bucket_server_side_encryption_configuration"),
    ("aws:s3/bucketVersioning:BucketVersioning", "aws_s3_bucket_versioning"),
    ("aws:s3/bucketVersioningV2:BucketVersioningV2", "aws_s3_bucket_versioning"),
    ("aws:sns/topic:Topic", "aws_sns_topic"),
    ("aws:sns/topicPolicy:TopicPolicy", "aws_sns_topic_policy"),
    ("aws:sns/topicSubscription:TopicSubscription", "aws_sns_topic_subscription"),
    ("aws:cloudformation/stackSet:StackSet", "aws_cloudformation_stack_set"),
    ("aws:cloudformation/stackSetInstance:StackSetInstance", "aws_cloudformation_stack_set_instance"),
])
def test_resource_type_program_tokens_map_to_terraform_types(token, tf_type):
    assert bridge.resource_type(token) == tf_type
    if not token.split(":")[-1].endswith("V2"):
        assert bridge.resource_token(tf_type) == token


@pytest.mark.parametrize("token, tf_type", [
    ("aws:index/getCallerIdentity:getCallerIdentity", "aws_caller_identity"),
    ("aws:index/getRegion:getRegion", "aws_region"),
    ("aws:index/getPartition:getPartition", "aws_partition"),
    ("aws:organizations/getOrganization:getOrganization", "aws_organizations_organization"),
])
def test_data_source_type_invoke_tokens_map_to_data_sources(token, tf_type):
    assert bridge.data_source_type(token) == tf_type


@pytest.mark.parametrize("token", ["aws:s3/bucket:Object", "aws_s3_bucket", "aws:index/getRegion:getRegion"])
def test_resource_type_malformed_token_is_an_error(token):
    with pytest.raises(bridge.BridgeError):
        bridge.resource_type(token)


@pytest.mark.parametrize("name, expected", [
    ("event_selector", "event_selectors"), ("rule", "rules"), ("policy", "policies"),
    ("alarm_actions", "alarm_actions"),
    ("address", "addresses"), ("status", "statuses"), ("match", "matches"), ("key", "keys"), ("index", "indices"),
])
def test_plural_of_list_names(name, expected):
    assert bridge.plural(name) == expected


@pytest.mark.parametrize("pulumi_name, tf_name", [
    ("cloudWatchLogsRoleArn", "cloud_watch_logs_role_arn"), ("s3BucketName", "s3_bucket_name"),
    ("kmsMasterKeyId", "kms_master_key_id"), ("name", "name"),
])
def test_snake_and_camel_are_inverse(pulumi_name, tf_name):
    assert bridge.snake(pulumi_name) == tf_name
    assert bridge.camel(tf_name) == pulumi_name


def test_pulumi_path_names_diagnostic_paths_in_pulumi_spelling():
    assert bridge.pulumi_path(TRAIL, "aws_test", ("event_selector", 0, "read_write_type")) == \
        "eventSelectors[0].readWriteType"
    assert bridge.pulumi_path(TRAIL, "aws_test", ("metric_transformation", 0, "name")) == "metricTransformation.name"
    assert bridge.pulumi_path(TRAIL, "aws_test", ("tags", "Owner")) == "tags[Owner]"
