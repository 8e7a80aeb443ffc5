"""The provider client against the real terraform-provider-aws 5.100.0 and a moto server on 127.0.0.1.

The provider and the server are conftest.py's, shared by the directory. Skipped, with the reason in the pytest
summary, when the binary is absent.
"""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pulumi
import pytest
import requests

from preflight.model import UNKNOWN
from preflight.tfprovider import PluginError, Provider, ProviderError, find_binary
from preflight.tfprovider.awsconfig import ConfigError

try:
    BINARY = find_binary()
except PluginError as exc:  # pragma: no cover - depends on the machine
    pytest.skip(f"terraform-provider-aws binary not available: {exc}", allow_module_level=True)

LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"


def test_provider_log_group_lifecycle_creates_reads_and_deletes(provider):
    inputs = provider.check(LOG_GROUP, "trail-logs", {"retentionInDays": 365, "name": "/aws/cloudtrail/t1"})
    planned = provider.plan(LOG_GROUP, "trail-logs", inputs)
    assert (planned["name"], planned["retentionInDays"], planned["arn"]) == ("/aws/cloudtrail/t1", 365, UNKNOWN)

    rid, outputs = provider.create(LOG_GROUP, "trail-logs", inputs)
    assert rid == "/aws/cloudtrail/t1"
    assert outputs["arn"] == "arn:aws:logs:us-east-1:123456789012:log-group:/aws/cloudtrail/t1"
    assert outputs["retentionInDays"] == 365

    assert provider.read(LOG_GROUP, rid, outputs)["retentionInDays"] == 365
    provider.delete(LOG_GROUP, rid, outputs)
    assert provider.read(LOG_GROUP, rid, outputs) is None


def test_provider_check_autonames_a_missing_name(provider):
    inputs = provider.check(LOG_GROUP, "audit-logs", {"retentionInDays": 30})
    prefix, _, suffix = inputs["name"].rpartition("-")
    assert prefix == "audit-logs" and len(suffix) == 7 and int(suffix, 16) >= 0


def test_provider_validation_error_names_the_resource_and_property(provider):
    with pytest.raises(ProviderError) as info:
        provider.check(LOG_GROUP, "trail-logs", {"retentionInDays": 366, "name": "x"})
    assert info.value.resource == "trail-logs"
    assert str(info.value) == (
        "trail-logs: ValidateResourceTypeConfig: retentionInDays: expected retention_in_days to be one of "
        "[0 1 3 5 7 14 30 60 90 120 150 180 365 400 545 731 1096 1827 2192 2557 2922 3288 3653], got 366")


def test_provider_unknown_property_is_an_error_not_dropped(provider):
    with pytest.raises(ProviderError) as info:
        provider.check(LOG_GROUP, "trail-logs", {"retentionDays": 365})
    assert str(info.value) == "trail-logs: retentionDays: unknown property (not in the provider's schema)"


def test_provider_invoke_get_caller_identity_reads_the_data_source(provider):
    assert provider.invoke("aws:index/getCallerIdentity:getCallerIdentity", {}) == {
        "id": "123456789012", "accountId": "123456789012", "arn": "arn:aws:sts::123456789012:user/moto",
        "userId": "AKIAIOSFODNN7EXAMPLE"}


def test_provider_service_without_endpoint_is_refused_before_any_request(provider):
    with pytest.raises(ProviderError) as info:
        provider.check("aws:cloudformation/stackSet:StackSet", "org-reader", {"templateBody": "{}"})
    assert str(info.value) == (
        "org-reader: aws_cloudformation_stack_set calls AWS service(s) cloudformation but aws:endpoints "
        "sets no URL for it; the request would leave loopback. Add {cloudformation: http://127.0.0.1:PORT} to "
        "aws:endpoints")


def test_provider_default_tags_reach_tags_all(provider):
    inputs = provider.check(LOG_GROUP, "tagged", {"tags": {"Control": "CIS-1.4"}})
    _, outputs = provider.create(LOG_GROUP, "tagged", inputs)
    assert (outputs["tags"], outputs["tagsAll"]) == (
        {"Control": "CIS-1.4"}, {"Control": "CIS-1.4", "ManagedBy": "preflight"})


def test_provider_plan_with_unknown_inputs_keeps_them_unknown(provider):
    planned = provider.plan("aws:cloudwatch/logMetricFilter:LogMetricFilter", "filter", {
        "name": "f", "pattern": "{ $.userIdentity.type = \"Root\" }", "logGroupName": UNKNOWN,
        "metricTransformation": {"name": "RootUsage", "namespace": "Guardrails", "value": "1"}})
    assert planned["logGroupName"] == UNKNOWN
    assert planned["metricTransformation"]["namespace"] == "Guardrails"


def test_provider_nested_validation_error_names_the_pulumi_property_path(provider):
    with pytest.raises(ProviderError) as info:
        provider.check("aws:s3/bucketVersioning:BucketVersioning", "trail-bucket-versioning",
                       {"bucket": "b", "versioningConfiguration": {"status": "On"}})
    assert str(info.value) == (
        "trail-bucket-versioning: ValidateResourceTypeConfig: versioningConfiguration.status: expected "
        "versioning_configuration.0.status to be one of [\"Enabled\" \"Suspended\" \"Disabled\"], got On")


def test_provider_lambda_code_archive_is_uploaded_as_a_zip(provider, tmp_path: Path):
    role = provider.create("aws:iam/role:Role", "fn-role", provider.check("aws:iam/role:Role", "fn-role", {
        "assumeRolePolicy": json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})}))[1]
    (tmp_path / "handler.py").write_text("def handler(event, context):\n    return 1\n")
    code = pulumi.AssetArchive({"audit/handler.py": pulumi.FileAsset(str(tmp_path / "handler.py"))})
    inputs = provider.check("aws:lambda/function:Function", "audit", {
        "role": role["arn"], "runtime": "python3.13", "handler": "audit.handler.handler", "code": code,
        "environment": {"variables": {"AUDIT_REMEDIATE": "false"}}})
    fid, outputs = provider.create("aws:lambda/function:Function", "audit", inputs)
    assert outputs["code"] is code
    assert outputs["sourceCodeHash"] == outputs["codeSha256"]
    assert outputs["environment"] == {"variables": {"AUDIT_REMEDIATE": "false"}}
    assert provider.read("aws:lambda/function:Function", fid, outputs)["codeSha256"] == outputs["codeSha256"]
    provider.delete("aws:lambda/function:Function", fid, outputs)
    assert provider.read("aws:lambda/function:Function", fid, outputs) is None


def test_provider_invoke_get_organization_reads_the_moto_organization(provider, endpoint):
    # moto's state is the whole process's, shared with other in-process servers of this test worker: start from
    # none, so an organization another module's test left does not make CreateOrganization fail.
    requests.post(f"{endpoint}/moto-api/reset", timeout=10).raise_for_status()
    client = boto3.client("organizations", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="test", aws_secret_access_key="test")
    org = client.create_organization(FeatureSet="ALL")["Organization"]
    result = provider.invoke("aws:organizations/getOrganization:getOrganization", {})
    assert (result["id"], result["featureSet"]) == (org["Id"], "ALL")
    assert result["roots"][0]["id"].startswith("r-")


def test_provider_check_autonames_a_kms_alias_under_alias_prefix(provider):
    inputs = provider.check("aws:kms/alias:Alias", "alerts-key-alias", {"targetKeyId": UNKNOWN})
    prefix, _, suffix = inputs["name"].rpartition("-")
    assert (prefix, len(suffix)) == ("alias/alerts-key-alias", 7)


def test_provider_require_endpoints_refuses_a_token_without_endpoint(provider):
    with pytest.raises(ConfigError) as info:
        provider.require_endpoints("aws:cloudformation/stackSetInstance:StackSetInstance")
    assert str(info.value).startswith(
        "aws:cloudformation/stackSetInstance:StackSetInstance (aws_cloudformation_stack_set_instance) calls AWS "
        "service(s) cloudformation but aws:endpoints sets no URL for it")


@pytest.mark.parametrize("config, message", [
    ({"endpoints": [{"sts": "https://sts.us-east-1.amazonaws.com"}]},
     "provider: aws:endpoints sts is 'https://sts.us-east-1.amazonaws.com'; only http(s) URLs on loopback "
     "(127.0.0.0/8, ::1, localhost) are allowed"),
    ({"endpoints": [{"iam": "http://127.0.0.1:1"}]},
     "provider: the provider's own setup calls AWS service(s) sts but aws:endpoints sets no URL for it; the request "
     "would leave loopback. Add {sts: http://127.0.0.1:PORT} to aws:endpoints"),
])
def test_provider_refuses_to_configure_without_loopback_endpoints(config, message):
    with pytest.raises(ProviderError) as info:
        Provider(config, BINARY)
    assert str(info.value) == message


def test_provider_read_accepts_state_with_the_bridge_bookkeeping_keys(provider):
    inputs = provider.check(LOG_GROUP, "exported", {"retentionInDays": 7, "__defaults": []})
    rid, outputs = provider.create(LOG_GROUP, "exported", inputs)
    state = {**outputs, "__meta": '{"schema_version":"0"}'}
    assert provider.read(LOG_GROUP, rid, state)["retentionInDays"] == 7


def test_provider_plan_over_prior_state_keeps_known_computed_values(provider):
    inputs = provider.check(LOG_GROUP, "updated", {"retentionInDays": 30})
    rid, outputs = provider.create(LOG_GROUP, "updated", inputs)
    planned = provider.plan(LOG_GROUP, "updated", {**inputs, "retentionInDays": 60}, prior=outputs)
    assert (planned["id"], planned["arn"], planned["retentionInDays"]) == (rid, outputs["arn"], 60)


@pytest.mark.parametrize("code, message", [
    ("lambda.zip", "audit: code: expected an archive (pulumi.AssetArchive or pulumi.FileArchive), got str"),
    (pulumi.AssetArchive({"h.py": pulumi.FileAsset("/nonexistent/h.py")}),
     "audit: code: asset file /nonexistent/h.py does not exist"),
])
def test_provider_lambda_code_that_is_not_a_local_archive_is_an_error(provider, code, message):
    with pytest.raises(ProviderError) as info:
        provider.check("aws:lambda/function:Function", "audit", {"role": "arn:aws:iam::123456789012:role/r",
                                                                  "handler": "h.handler", "code": code})
    assert str(info.value) == message


def test_provider_warning_diagnostics_are_kept_with_the_resource(provider):
    # aws_s3_bucket's inline `versioning` block is deprecated in 5.x: the provider warns, and the check passes.
    provider.check("aws:s3/bucket:Bucket", "legacy-bucket", {"versioning": {"enabled": True}})
    assert ("legacy-bucket", "Argument is deprecated: versioning is deprecated. Use the aws_s3_bucket_versioning "
                             "resource instead.") in provider.warnings
