"""Tests of preflight.engine, the mock engine every program test and the offline preview rely on."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from preflight.engine import ACCOUNT_ID, ROOT_ID, ProgramError, run_program
from preflight.model import UNKNOWN

PULUMI_YAML = """\
name: demo
runtime: python
config:
  flag:
    type: boolean
    default: true
  targets:
    type: array
    items: {type: string}
    default: ["a"]
"""

PROGRAM = """\
import json
import pulumi
import pulumi_aws as aws

cfg = pulumi.Config()
if cfg.get("fail"):
    raise pulumi.RunError(cfg.get("fail"))


class Outer(pulumi.ComponentResource):
    def __init__(self, name):
        super().__init__("demo:mod:Outer", name, None, None)
        self.inner = Inner(f"{name}-inner", pulumi.ResourceOptions(parent=self))
        self.register_outputs({"topicArn": self.inner.topic.arn})


class Inner(pulumi.ComponentResource):
    def __init__(self, name, opts):
        super().__init__("demo:mod:Inner", name, None, opts)
        org = aws.organizations.get_organization()
        self.topic = aws.sns.Topic(f"{name}-topic", opts=pulumi.ResourceOptions(parent=self))
        self.policy = aws.sns.TopicPolicy(
            f"{name}-policy",
            arn=self.topic.arn,
            policy=json.dumps({"root": org.roots[0].id}),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({})


outer = Outer("o")
pulumi.export("flag", cfg.get_bool("flag"))
pulumi.export("targets", cfg.get_object("targets"))
pulumi.export("topicName", outer.inner.topic.name)
"""


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    (tmp_path / "Pulumi.yaml").write_text(PULUMI_YAML)
    (tmp_path / "__main__.py").write_text(textwrap.dedent(PROGRAM))
    return tmp_path


def _by_name(records):
    return {r.name: r for r in records}


def test_engine_nested_components_urn_carries_full_parent_type_chain(project: Path) -> None:
    records = _by_name(run_program(project, "dev", {}))
    assert records["o"].urn == "urn:pulumi:dev::demo::demo:mod:Outer::o"
    assert records["o"].parent == "urn:pulumi:dev::demo::pulumi:pulumi:Stack::demo-dev"
    assert records["o-inner"].urn == "urn:pulumi:dev::demo::demo:mod:Outer$demo:mod:Inner::o-inner"
    assert records["o-inner-topic"].urn == (
        "urn:pulumi:dev::demo::demo:mod:Outer$demo:mod:Inner$aws:sns/topic:Topic::o-inner-topic"
    )
    assert records["o-inner-topic"].parent == records["o-inner"].urn


def test_engine_preview_new_resource_ids_and_arns_unknown_inputs_known(project: Path) -> None:
    records = _by_name(run_program(project, "dev", {}))
    topic, policy = records["o-inner-topic"], records["o-inner-policy"]
    assert topic.id is None
    assert topic.outputs["arn"] == UNKNOWN
    # Auto-naming happens in the provider's Check, so the name is known at preview.
    assert topic.inputs["name"].startswith("o-inner-topic-")
    assert policy.inputs == {"arn": UNKNOWN, "policy": f'{{"root": "{ROOT_ID}"}}'}
    assert policy.property_dependencies["arn"] == (topic.urn,)
    assert topic.urn in policy.dependencies
    assert topic.provider == (
        f"urn:pulumi:dev::demo::pulumi:providers:aws::default_7_51_1::{UNKNOWN}"
    )
    assert records["default_7_51_1"].type == "pulumi:providers:aws"


def test_engine_update_arns_known_and_shaped_like_aws(project: Path) -> None:
    records = _by_name(run_program(project, "dev", {}, preview=False))
    topic = records["o-inner-topic"]
    name = topic.inputs["name"]
    assert topic.outputs["arn"] == f"arn:aws:sns:us-east-1:{ACCOUNT_ID}:{name}"
    assert topic.id == topic.outputs["arn"]
    assert records["o-inner-policy"].inputs["arn"] == topic.outputs["arn"]
    assert records["o"].outputs == {"topicArn": topic.outputs["arn"]}


def test_engine_config_defaults_from_project_file_and_overrides(project: Path) -> None:
    stack = _by_name(run_program(project, "dev", {}))["demo-dev"]
    assert stack.outputs["flag"] is True
    assert stack.outputs["targets"] == ["a"]
    stack = _by_name(run_program(project, "dev", {"demo:flag": "false", "demo:targets": '["b", "c"]'}))["demo-dev"]
    assert stack.outputs["flag"] is False
    assert stack.outputs["targets"] == ["b", "c"]


def test_engine_program_error_reports_message_and_only_the_stack(project: Path) -> None:
    with pytest.raises(ProgramError) as err:
        run_program(project, "dev", {"demo:fail": "boom"})
    assert err.value.message == "boom"
    assert [r.type for r in err.value.resources] == ["pulumi:pulumi:Stack"]


def test_engine_repeated_runs_are_independent(project: Path) -> None:
    first = run_program(project, "dev", {})
    with pytest.raises(ProgramError):
        run_program(project, "other", {"demo:fail": "boom"})
    again = run_program(project, "dev", {})
    assert [(r.urn, r.inputs) for r in first] == [(r.urn, r.inputs) for r in again]


def test_engine_unmodelled_invoke_fails_closed(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: demo\nruntime: python\n")
    (tmp_path / "__main__.py").write_text("import pulumi_aws as aws\naws.ec2.get_vpc(default=True)\n")
    with pytest.raises(ProgramError) as err:
        run_program(tmp_path, "dev", {})
    assert "aws:ec2/getVpc:getVpc" in err.value.message


def test_engine_region_config_reaches_invokes_and_arns(project: Path) -> None:
    records = _by_name(run_program(project, "dev", {"aws:region": "eu-west-1"}, preview=False))
    assert records["o-inner-topic"].outputs["arn"].startswith(f"arn:aws:sns:eu-west-1:{ACCOUNT_ID}:")


def test_engine_log_receives_program_warnings(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: demo\nruntime: python\n")
    (tmp_path / "__main__.py").write_text("import pulumi\npulumi.log.warn('careful')\n")
    log: list[tuple[str, str]] = []
    run_program(tmp_path, "dev", {}, log=log)
    assert ("warning", "careful") in log
