"""The pack as a whole: importable without a server, complete metadata, config schemas, unknown-value plumbing."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest
import yaml
from pulumi_policy import (
    EnforcementLevel,
    ResourceValidationPolicy,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy
from rootkey_pack import config as cfg
from rootkey_pack.pack import PACK_NAME, POLICIES
from rootkey_pack.values import (
    UNKNOWN,
    Res,
    current_stack_name,
    plain,
    stack_name_from_urn,
)

PACK_DIR = Path(__file__).resolve().parents[2] / "policypack"
CONTRACT_NAMES = {
    "root-access-key-creation-denied", "root-access-key-creation-alarmed", "root-access-key-audit-scheduled",
    "scp-document-valid", "cis-root-usage-alarmed",
}


def test_pack_policies_public_names_present() -> None:
    names = [p.name for p in POLICIES]
    assert len(names) == len(set(names))
    assert set(names) >= CONTRACT_NAMES


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: p.name)
def test_pack_policy_metadata_complete(policy: object) -> None:
    assert policy.description.startswith("Ensure ") and policy.description.endswith(".")
    assert policy.severity is not None and policy.remediation_steps and policy.url.startswith("https://docs.aws.amazon.com/")
    assert policy.framework is not None and policy.framework.reference
    assert any(t.startswith("CIS AWS Foundations Benchmark") for t in policy.tags)
    assert "allowUnknownValues" in policy.config_schema.properties


CIS_VERSIONS = ("1.2.0", "1.3.0", "1.4.0", "1.5.0", "2.0.0", "3.0.0", "4.0.1", "5.0.0", "6.0.0", "7.0.0")


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: p.name)
def test_pack_policy_frameworks_every_cis_version_and_security_hub(policy: object) -> None:
    cis_versions = {t.split(":")[0].rsplit(" ", 1)[-1] for t in policy.tags if t.startswith("CIS AWS Foundations Benchmark")}
    assert cis_versions >= set(CIS_VERSIONS)
    assert any(t.startswith("AWS Security Hub") and (t.endswith("IAM.4") or t.endswith("CloudWatch.1")) for t in policy.tags)


def test_pack_prevention_policies_carry_control_tower_control() -> None:
    tagged = {p.name for p in POLICIES if any("GRRESTRICTROOTUSERACCESSKEYS" in t for t in p.tags)}
    assert tagged >= {"root-access-key-creation-denied", "scp-document-valid", "deny-root-keys-scp-not-weakened"}


def test_pack_enforcement_defaults() -> None:
    levels = {p.name: p.enforcement_level for p in POLICIES}
    advisory = {"cis-root-usage-alarmed", "alarm-topic-has-subscriber"}
    assert {n for n, lvl in levels.items() if lvl is EnforcementLevel.ADVISORY} == advisory
    assert {n for n, lvl in levels.items() if lvl is EnforcementLevel.MANDATORY} == set(levels) - advisory


def test_pack_every_stack_policy_applies_to_every_stack_by_default() -> None:
    for policy in POLICIES:
        if isinstance(policy, StackValidationPolicy):
            assert policy.config_schema.properties["stacks"]["default"] == ["*"], policy.name


def test_pack_stack_policies_select_stacks_resource_policies_guard_all() -> None:
    for policy in POLICIES:
        has_stacks = "stacks" in policy.config_schema.properties
        assert has_stacks == isinstance(policy, StackValidationPolicy)
        assert isinstance(policy, (StackValidationPolicy, ResourceValidationPolicy))


def test_pack_main_only_assembles_pack() -> None:
    tree = ast.parse((PACK_DIR / "__main__.py").read_text())
    calls = [n for n in tree.body if isinstance(n, ast.Expr) and isinstance(n.value, ast.Call)]
    # Besides the PolicyPack, only the analyzer process's tuning runs at the top level: the SDK's per-request
    # conversion cache and the collector.
    assert [ast.unparse(c.value.func) for c in calls] == ["sdk_cache.install", "gc.freeze", "gc.set_threshold", "PolicyPack"]
    assert not [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]


def test_pack_manifest_and_requirements() -> None:
    manifest = yaml.safe_load((PACK_DIR / "PulumiPolicy.yaml").read_text())
    assert manifest["runtime"] == {"name": "python", "options": {"virtualenv": "venv"}}
    assert re.fullmatch(r"\d+\.\d+\.\d+", manifest["version"]) and manifest["description"]
    requirements = (PACK_DIR / "requirements.txt").read_text()
    assert "pulumi-policy==1.21.0" in requirements
    assert PACK_NAME == "root-key-guardrails"


def test_pack_is_self_contained() -> None:
    for path in (PACK_DIR / "rootkey_pack").rglob("*.py"):
        text = path.read_text()
        assert not re.search(r"^\s*(from|import) (components|preflight|audit|simulate)\b", text, re.M), path


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: p.name)
def test_pack_config_schema_is_json_schema_with_defaults(policy: object) -> None:
    for name, prop in policy.config_schema.properties.items():
        assert prop["type"] in ("array", "boolean", "integer", "string") and "default" in prop and prop["description"], name
        json.dumps(prop)


@pytest.mark.parametrize(("raw", "message"), [
    # An empty list would exempt every stack from the control: the way to turn a policy off is its enforcementLevel.
    ({"stacks": []}, "policy config key 'stacks' is []; expected at least one pattern (an empty list would exempt every "
                     "stack; to turn the policy off, set its enforcementLevel to disabled)"),
    ({"stacks": ["", "x"]}, "policy config key 'stacks' contains an empty string; expected non-empty glob patterns of stack names"),
    ({"allowUnknownValues": "yes"}, "policy config key 'allowUnknownValues' is 'yes'; expected true or false"),
    ({"maxAlarmPeriodSeconds": 120.0}, None),
    ({"maxAlarmPeriodSeconds": True}, "policy config key 'maxAlarmPeriodSeconds' is True; expected an integer number of seconds"),
    ({"maxAlarmPeriodSeconds": 90000}, "policy config key 'maxAlarmPeriodSeconds' is 90000; expected 10, 30 or a multiple of 60 up to 86400 seconds"),
    ({"externalTrailLogGroups": ["bad name!"]}, "policy config key 'externalTrailLogGroups' contains 'bad name!'; expected CloudWatch Logs log group names"),
    ({"enforcementLevel": "advisory", "stacks": ["*"]}, None),
])
def test_parse_settings_validates_values(raw: dict, message: str | None) -> None:
    keys = (cfg.STACKS, cfg.ALLOW_UNKNOWN, cfg.MAX_ALARM_PERIOD, cfg.EXTERNAL_LOG_GROUPS)
    if message is None:
        cfg.parse_settings(raw, *keys)
    else:
        with pytest.raises(cfg.ConfigError) as info:
            cfg.parse_settings(raw, *keys)
        assert str(info.value) == message


@pytest.mark.parametrize(("stack", "project", "patterns", "expected"), [
    ("prod-eu", "p", ("prod-*",), True),
    ("dev", "p", ("prod-*",), False),
    ("dev", "p", ("p/dev",), True),
    ("", "p", ("prod-*",), True),
    ("Prod", "p", ("prod",), False),
])
def test_stack_selected_globs(stack: str, project: str, patterns: tuple[str, ...], expected: bool) -> None:
    assert cfg.stack_selected(stack, project, patterns) is expected


def test_plain_proxy_unknowns_become_marker() -> None:
    props = unknown_checking_proxy({"a": UNKNOWN_STRING_VALUE, "b": [1, UNKNOWN_STRING_VALUE, {"c": UNKNOWN_STRING_VALUE}], "d": "x"})
    assert plain(props) == {"a": UNKNOWN, "b": [1, UNKNOWN, {"c": UNKNOWN}], "d": "x"}


def test_unknown_marker_refuses_truthiness() -> None:
    with pytest.raises(TypeError):
        bool(UNKNOWN)


def test_stack_name_from_env_then_urn(monkeypatch: pytest.MonkeyPatch) -> None:
    res = Res("urn:pulumi:prod::proj::aws:sns/topic:Topic::t", "aws:sns/topic:Topic", "t", {})
    monkeypatch.delenv("PULUMI_STACK", raising=False)
    assert current_stack_name([res]) == "prod"
    monkeypatch.setenv("PULUMI_STACK", "staging")
    assert current_stack_name([res]) == "staging"
    assert stack_name_from_urn("not-a-urn") is None
