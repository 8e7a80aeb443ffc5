"""Contract: every name the bridge derives from provider 5.100.0's schema is a name pulumi-aws 7 uses.

For each resource type the default program registers, the Pulumi property names derived from the Terraform schema
(top level and nested blocks) must all exist on the pulumi_aws 7 classes. Names only pulumi-aws has are the version
drift (provider 6.x added them, e.g. the per-resource `region`); a program that sets one gets an unknown-property
error from the client, never a silent drop.
"""

from __future__ import annotations

import pytest

from preflight.tfprovider import PluginError, bridge, find_binary

try:
    find_binary()
except PluginError as exc:  # pragma: no cover - depends on the machine
    pytest.skip(f"terraform-provider-aws binary not available: {exc}", allow_module_level=True)

import pulumi_aws  # noqa: E402 - only needed when the binary is there

PROJECT_CONFIG = {"root-key-guardrails:alarmEmails": '["secops@example.com"]',
                  "root-key-guardrails:enableCentralizedRootAccess": "true"}


def _program_tokens() -> list[str]:
    from pathlib import Path

    from preflight.engine import run_program

    records = run_program(Path(__file__).resolve().parents[3], "dev", PROJECT_CONFIG)
    return sorted({r.type for r in records if r.custom and r.type.startswith("aws:")})


TOKENS = _program_tokens()


def _pulumi_class(token: str, suffix: str = ""):
    _, module_member, name = token.split(":")
    module = module_member.split("/")[0]
    return getattr(getattr(pulumi_aws, "lambda_" if module == "lambda" else module), name + suffix, None)


def _names(cls) -> set[str]:
    return {getattr(v.fget, "_pulumi_name", None) for v in vars(cls).values() if isinstance(v, property)} - {None}


def _nested_mismatches(token, prefix, block, owner, top):
    for field in bridge.fields(block, owner, top).values():
        if field.kind != "block":
            continue
        stem = prefix + bridge.pascal(field.tf)
        cls = _pulumi_class(token.rsplit(":", 1)[0] + ":" + stem, "Args") or _pulumi_class(
            token.rsplit(":", 1)[0] + ":" + stem.rstrip("s"), "Args")
        nested = block.blocks[field.tf].block
        if cls is not None:
            extra = set(bridge.fields(nested, owner, False)) - _names(cls)
            if extra:
                yield f"{stem}: {sorted(extra)}"
        yield from _nested_mismatches(token, stem, nested, owner, False)


def test_program_tokens_cover_every_control():
    assert {"aws:organizations/policy:Policy", "aws:cloudtrail/trail:Trail", "aws:lambda/function:Function",
            "aws:cloudwatch/metricAlarm:MetricAlarm"} <= set(TOKENS)


@pytest.mark.parametrize("token", TOKENS)
def test_derived_names_exist_in_pulumi_aws(provider, token):
    tf_type, schema = provider.resource_schema(token)
    derived = set(bridge.fields(schema.block, tf_type, top=True))
    assert derived - _names(_pulumi_class(token)) == set()
    assert list(_nested_mismatches(token, token.rsplit(":", 1)[1], schema.block, tf_type, True)) == []


def test_nested_classes_are_found_so_the_check_is_not_vacuous():
    assert _pulumi_class("aws:cloudtrail/trail:TrailEventSelector", "Args") is not None
    assert _pulumi_class("aws:lambda/function:FunctionEnvironment", "Args") is not None
