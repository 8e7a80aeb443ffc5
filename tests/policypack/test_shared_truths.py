"""The program's copies of the shared truths (components/documents.py) judged by the pack's analysers directly.

The pack never imports the program; this test does, so a change on either side that breaks the other fails here
in milliseconds, before the end-to-end contract test in tests/preflight runs the whole program.
"""

from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rootkey_pack import samples
from rootkey_pack.filter_pattern import matches, parse
from rootkey_pack.iam_eval import (
    allow_statements,
    grant_problems,
    parse_document,
    root_access_key_denial,
    validate_scp,
)
from rootkey_pack.policies import audit as pack_audit
from rootkey_pack.policies.audit import ALLOWED_GRANTS
from rootkey_pack.policies.delivery import CLOUDWATCH, EVENTBRIDGE, KEY_ACTIONS, Publisher, resource_policy_problem
from rootkey_pack.values import Res

from audit import handler, metrics
from components import documents
from components.context import AwsContext, Organization

CTX = AwsContext(account_id="111122223333", region="us-east-1", partition="aws", stack="dev",
                 organization=Organization(id="o-a1b2c3d4e5", root_id="r-a1b2", management_account_id="111122223333"))


@pytest.mark.parametrize(("partition", "deny_all"), list(itertools.product(["aws", "aws-us-gov", "aws-cn"], [False, True])))
def test_shared_scp_document_denies_and_is_valid(partition: str, deny_all: bool) -> None:
    text = json.dumps(documents.scp_document(partition, deny_all_root_actions=deny_all))
    assert validate_scp(text) == []
    assert root_access_key_denial(text, partition).denies is True


@pytest.mark.parametrize(("pattern", "expected"), [
    (documents.PATTERN_ROOT_ACCESS_KEY_CREATED, {samples.ROOT_CREATE_ACCESS_KEY}),
    (documents.PATTERN_ROOT_ACCESS_KEY_CREATION_DENIED, {samples.ROOT_CREATE_ACCESS_KEY_DENIED}),
    (documents.PATTERN_CIS_ROOT_USAGE, {samples.ROOT_CREATE_ACCESS_KEY, samples.ROOT_CREATE_ACCESS_KEY_DENIED, samples.ROOT_CONSOLE_LOGIN}),
], ids=["created", "denied", "cis"])
def test_shared_filter_patterns_match_expected_samples(pattern: str, expected: set[str]) -> None:
    parsed = parse(pattern)
    assert {n for n in samples.ALL_SAMPLES if matches(parsed, samples.load(n))} == expected


ALARM = Res("urn:alarm", "aws:cloudwatch/metricAlarm:MetricAlarm", "alarm", {})
PUBLISHERS = [
    # CloudWatch sends the alarm's account and ARN to KMS; EventBridge sends neither.
    Publisher(ALARM, CLOUDWATCH, {"aws:sourceaccount": CTX.account_id, "aws:sourcearn": f"arn:aws:cloudwatch:us-east-1:{CTX.account_id}:alarm:alarm"}),
    Publisher(ALARM, EVENTBRIDGE, {}),
]


@pytest.mark.parametrize("publisher", PUBLISHERS, ids=[CLOUDWATCH, EVENTBRIDGE])
def test_shared_alert_key_policy_usable_by_publishers(publisher: Publisher) -> None:
    assert resource_policy_problem(json.dumps(documents.alert_key_policy(CTX)), "key policy", KEY_ACTIONS, publisher, need_allow=True) is None


@pytest.mark.parametrize("publisher", PUBLISHERS, ids=[CLOUDWATCH, EVENTBRIDGE])
def test_shared_alert_topic_policy_denies_no_publisher(publisher: Publisher) -> None:
    document = json.dumps(documents.alert_topic_policy(CTX, topic_arn="arn:aws:sns:us-east-1:111122223333:alerts"))
    assert resource_policy_problem(document, "topic policy", ("sns:Publish",), publisher, need_allow=False) is None


@pytest.mark.parametrize(("security_hub", "org_role", "remediate"), list(itertools.product([False, True], ["", "AuditRole"], [False, True])))
def test_shared_audit_role_policy_least_privilege(security_hub: bool, org_role: str, remediate: bool) -> None:
    document = documents.audit_role_policy(
        CTX, log_group_arn="arn:aws:logs:us-east-1:111122223333:log-group:/aws/lambda/audit",
        namespace="RootKeyGuardrails", topic_arn="arn:aws:sns:us-east-1:111122223333:alerts",
        key_alias="alias/root-key-guardrails-dev-alerts", security_hub=security_hub, org_role_name=org_role, remediate=remediate,
    )
    statements, problems = allow_statements(document)
    assert problems == [] and parse_document(document).errors == ()
    assert [p for s in statements for p in grant_problems(s, ALLOWED_GRANTS)] == []


def test_shared_audit_metric_names_and_defaults_match_handler() -> None:
    # The pack reads the audit's settings and metric names as the handler and the program's alarms use them.
    assert (pack_audit.NAMESPACE_ENV, pack_audit.SECURITY_HUB_ENV, pack_audit.TOPIC_ENV) == (
        handler.ENV_NAMESPACE, handler.ENV_SECURITY_HUB, handler.ENV_TOPIC)
    assert pack_audit.DEFAULT_NAMESPACE == handler.DEFAULT_NAMESPACE
    assert handler.config_from_env({}).security_hub is True  # unset means on, as the pack reads it
    assert pack_audit.KEYS_ACTIVE_METRIC == metrics.METRIC_ROOT_ACCESS_KEYS_ACTIVE == documents.METRIC_ROOT_ACCESS_KEYS_ACTIVE


# Values on both sides of every rule the handler applies to its settings.
_SETTING_SAMPLES = (
    "", " ", "\t", "true", "false", " true ", "True", "yes", "1", "0", "8", "64", "65", "-1", " 24 ", "25", "1_0",
    "\uff18", "\u0668", "nan", "8\n", "9" * 5000, "0" * 30 + "8", "RootKeyAudit", "Root Key Audit", "a" * 64, "a" * 65, "AWS/Custom",
    " AWS/Lambda", "Security/RootKeys", "arn:aws:sns:us-east-1:111122223333:alerts",
    "arn:aws:sns:us-east-1:111122223333:alerts.fifo", "arn:aws:sns:us-east-1:11112222333:alerts",
    " arn:aws-us-gov:sns:us-gov-west-1:111122223333:a ", "arn:aws:sns:us-east-1:111122223333:a\nb",
)


def _handler_accepts(variables: dict[str, str]) -> bool:
    try:
        handler.config_from_env(variables)
    except handler.ConfigError:
        return False
    return True


# A setting the handler refuses fails every run, so the pack must refuse it; one it accepts must not be refused.
# One setting at a time, so that another refused value cannot hide a disagreement.
@pytest.mark.parametrize(("key", "value"), list(itertools.product(pack_audit.AUDIT_SETTINGS, _SETTING_SAMPLES)))
def test_shared_audit_setting_refused_exactly_as_handler_refuses(key: str, value: str) -> None:
    assert (pack_audit.audit_settings_problem({key: value}) is None) == _handler_accepts({key: value})


@given(st.sampled_from(pack_audit.AUDIT_SETTINGS), st.text(max_size=12))
@settings(max_examples=300, deadline=None)
def test_shared_audit_setting_any_text_refused_exactly_as_handler_refuses(key: str, value: str) -> None:
    assert (pack_audit.audit_settings_problem({key: value}) is None) == _handler_accepts({key: value})


@given(st.dictionaries(st.sampled_from(pack_audit.AUDIT_SETTINGS), st.sampled_from(_SETTING_SAMPLES), max_size=7))
@settings(max_examples=200, deadline=None)
def test_shared_audit_settings_together_refused_exactly_as_handler_refuses(variables: dict[str, str]) -> None:
    assert (pack_audit.audit_settings_problem(variables) is None) == _handler_accepts(variables)


def test_shared_audit_settings_are_the_handlers() -> None:
    assert set(pack_audit.AUDIT_SETTINGS) == {
        handler.ENV_NAMESPACE, handler.ENV_TOPIC, handler.ENV_SECURITY_HUB, handler.ENV_ROLE, handler.ENV_MAX_AGE,
        handler.ENV_REMEDIATE, handler.ENV_WORKERS}


def test_shared_admin_role_names_are_the_programs() -> None:
    # The program refuses these as auditOrgRoleName; the pack refuses an sts:AssumeRole grant on them.
    from components import config as program_config

    assert pack_audit.ADMIN_ROLE_NAMES == program_config.ADMIN_ROLE_NAMES
    assert pack_audit.RESERVED_ROLE_PREFIXES == program_config.RESERVED_ROLE_PREFIXES
