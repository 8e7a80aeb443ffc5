"""The stack's aws:* keys -> provider configuration, and the loopback guard (a hand-written provider schema)."""

from __future__ import annotations

import pytest

from preflight.tfprovider.awsconfig import ConfigError, from_stack_config, is_loopback_url, services_for
from preflight.tfprovider.schema import Attribute, Block, NestedBlock

ENDPOINT_KEYS = ("sts", "iam", "s3", "logs", "cloudwatch", "events", "organizations", "cloudtrail", "lambda")


def _attr(name, t="string"):
    return Attribute(name, t, optional=True)


PROVIDER = Block(
    attributes={a.name: a for a in [
        _attr("region"), _attr("access_key"), _attr("secret_key"), _attr("profile"), _attr("max_retries", "number"),
        _attr("skip_credentials_validation", "bool"), _attr("skip_requesting_account_id", "bool"),
        _attr("skip_metadata_api_check"), _attr("s3_use_path_style", "bool"), _attr("http_proxy"),
        _attr("shared_config_files", ["list", "string"]), _attr("ec2_metadata_service_endpoint")]},
    blocks={
        "endpoints": NestedBlock("endpoints", "set", Block(attributes={k: _attr(k) for k in ENDPOINT_KEYS})),
        "default_tags": NestedBlock("default_tags", "list",
                                    Block(attributes={"tags": _attr("tags", ["map", "string"])})),
    },
)
URL = "http://127.0.0.1:5000"
BASELINE = {"region": "eu-west-1", "endpoints": [{"sts": URL, "iam": URL}], "skipCredentialsValidation": True}


def test_from_stack_config_baseline_maps_names_and_forces_the_guard():
    settings = from_stack_config(BASELINE, PROVIDER)
    assert settings.config == {
        "region": "eu-west-1", "skip_credentials_validation": True, "access_key": "test", "secret_key": "test",
        "max_retries": 1, "skip_metadata_api_check": "true", "endpoints": [{"sts": URL, "iam": URL}]}
    assert settings.endpoints == {"sts": URL, "iam": URL}


@pytest.mark.parametrize("change, key, expected", [
    ({"endpoints": '[{"s3": "http://localhost:4566"}]'}, "endpoints", [{"s3": "http://localhost:4566"}]),
    ({"endpoints": [{"sts": URL}, {"s3": "http://[::1]:9"}]}, "endpoints", [{"sts": URL, "s3": "http://[::1]:9"}]),
    ({"maxRetries": "3"}, "max_retries", 3),
    ({"s3UsePathStyle": "true"}, "s3_use_path_style", True),
    ({"skipMetadataApiCheck": "true"}, "skip_metadata_api_check", "true"),
    ({"defaultTags": {"tags": {"ManagedBy": "pulumi"}}}, "default_tags", [{"tags": {"ManagedBy": "pulumi"}}]),
    ({"aws:region": "us-west-2"}, "region", "us-west-2"),
    ({"accessKey": "AKIA", "secretKey": "s"}, "access_key", "AKIA"),
])
def test_from_stack_config_pulumi_shapes_map_to_terraform(change, key, expected):
    config = {**BASELINE, **change}
    if "aws:region" in change:
        del config["region"]
    assert from_stack_config(config, PROVIDER).config[key] == expected


@pytest.mark.parametrize("change, message", [
    ({"endpoints": [{"sts": "https://sts.amazonaws.com"}]},
     "aws:endpoints sts is 'https://sts.amazonaws.com'; only http(s) URLs on loopback (127.0.0.0/8, ::1, localhost) "
     "are allowed"),
    ({"endpoints": [{"sts": "http://10.0.0.5:5000"}]},
     "aws:endpoints sts is 'http://10.0.0.5:5000'; only http(s) URLs on loopback (127.0.0.0/8, ::1, localhost) "
     "are allowed"),
    ({"endpoints": [{"stss": URL}]},
     "aws:endpoints names 'stss', which is not a service the provider knows (e.g. cloudtrail, cloudwatch, events, "
     "iam, lambda ...)"),
    ({"endpoints": "http://127.0.0.1:5000"},
     "aws:endpoints must be a list of maps of service name to URL, got 'http://127.0.0.1:5000'"),
    ({"skipMetadataApiCheck": False},
     "aws:skipMetadataApiCheck is False; it must be true (or unset): the instance metadata service is not on loopback"),
    ({"skipCredentialsValidation": "maybe"}, "aws:skipCredentialsValidation must be true or false, got 'maybe'"),
    ({"maxRetries": "many"}, "aws:maxRetries must be a whole number, got 'many'"),
    ({"maxRetries": -1}, "aws:maxRetries must be 0 or more, got -1"),
    ({"httpProxy": "http://proxy.example.com:3128"},
     "aws:httpProxy is 'http://proxy.example.com:3128'; only a loopback proxy is allowed"),
    ({"profile": "prod"}, "aws:profile is set; it cannot be used here, since it could send requests or credentials "
                          "somewhere other than the configured loopback endpoints"),
    ({"sharedConfigFiles": ["~/.aws/config"]}, "aws:sharedConfigFiles is set; it cannot be used here, since it could "
                                               "send requests or credentials somewhere other than the configured "
                                               "loopback endpoints"),
    ({"assumeRoles": []}, "aws:assumeRoles: unknown property (not in the provider's schema)"),
])
def test_from_stack_config_bad_key_is_an_error_naming_key_and_value(change, message):
    with pytest.raises(ConfigError) as info:
        from_stack_config({**BASELINE, **change}, PROVIDER)
    assert str(info.value) == message


@pytest.mark.parametrize("change, services", [
    ({}, ("sts", "iam")),
    ({"skipRequestingAccountId": True}, ()),
    ({"skipCredentialsValidation": False, "skipRequestingAccountId": True}, ("sts",)),
])
def test_startup_services_follow_the_skip_flags(change, services):
    assert from_stack_config({**BASELINE, **change}, PROVIDER).startup_services() == services


def test_check_services_missing_endpoint_is_refused():
    settings = from_stack_config(BASELINE, PROVIDER)
    with pytest.raises(ConfigError) as info:
        settings.check_services(["sts", "s3", "logs"], "aws_s3_bucket")
    assert str(info.value) == (
        "aws_s3_bucket calls AWS service(s) logs, s3 but aws:endpoints sets no URL for them; the request would leave "
        "loopback. Add {logs: http://127.0.0.1:PORT}, {s3: http://127.0.0.1:PORT} to aws:endpoints")


@pytest.mark.parametrize("tf_type, data, services", [
    ("aws_cloudwatch_log_group", False, ("logs",)),
    ("aws_cloudwatch_log_metric_filter", False, ("logs",)),
    ("aws_cloudwatch_metric_alarm", False, ("cloudwatch",)),
    ("aws_cloudwatch_event_rule", False, ("events",)),
    ("aws_cloudtrail", False, ("cloudtrail",)),
    ("aws_s3_bucket_versioning", False, ("s3",)),
    ("aws_iam_organizations_features", False, ("iam",)),
    ("aws_organizations_policy_attachment", False, ("organizations",)),
    ("aws_lambda_function_event_invoke_config", False, ("lambda",)),
    ("aws_caller_identity", True, ("sts",)),
    ("aws_region", True, ()),
    ("aws_partition", True, ()),
    ("aws_organizations_organization", True, ("organizations",)),
])
def test_services_for_terraform_types(tf_type, data, services):
    assert services_for(tf_type, ENDPOINT_KEYS, data_source=data) == services


def test_services_for_unrecognised_type_is_refused():
    with pytest.raises(ConfigError) as info:
        services_for("aws_quantum_computer", ENDPOINT_KEYS)
    assert str(info.value) == ("cannot tell which AWS service aws_quantum_computer calls, so its endpoint cannot be "
                               "checked; refusing to send it anywhere")


@pytest.mark.parametrize("url, loopback", [
    ("http://127.0.0.1:5000", True), ("http://127.8.9.1", True), ("https://localhost:4566", True),
    ("http://[::1]:80", True), ("http://10.0.0.1", False), ("http://localhost.example.com", False),
    ("ftp://127.0.0.1", False), ("127.0.0.1:5000", False), ("http://0.0.0.0:5000", False),
])
def test_is_loopback_url(url, loopback):
    assert is_loopback_url(url) is loopback
