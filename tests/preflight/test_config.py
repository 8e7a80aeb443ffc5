"""Tests of preflight.config: the stack config the program and the pack see, assembled as the CLI does.

Serves every control: the switches (enableScp, enableDetection, enableAudit, cisRootUsageAlarm...) must reach the
program exactly, and a typo or a mistyped value must stop the run rather than leave a guardrail at its default.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from preflight.config import load_project, resolve_config
from preflight.errors import PreflightError

PULUMI_YAML = """\
name: demo
runtime:
  name: python
  options:
    virtualenv: venv
description: A demo.
config:
  enableScp:
    type: boolean
    default: true
  scpTargets:
    type: array
    items:
      type: string
    default: []
  logRetentionDays:
    type: integer
    default: 365
  trailMode:
    type: string
    default: organization
  apiToken:
    type: string
    secret: true
  aws:region: us-east-1
"""


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    (tmp_path / "Pulumi.yaml").write_text(PULUMI_YAML, encoding="utf-8")
    return tmp_path


def test_config_defaults_only_values_in_cli_encoding(project_dir: Path) -> None:
    config = resolve_config(load_project(project_dir), "dev", [])

    assert config.values == {
        "aws:region": "us-east-1", "demo:enableScp": "true", "demo:logRetentionDays": "365",
        "demo:scpTargets": "[]", "demo:trailMode": "organization"}
    assert config.secret_keys == ()


def test_config_stack_file_then_flags_overlay(project_dir: Path) -> None:
    (project_dir / "Pulumi.prod.yaml").write_text(
        "config:\n  demo:enableScp: false\n  demo:scpTargets: [ou-ab12-cdef5678]\n  demo:apiToken: t0k\n",
        encoding="utf-8")

    config = resolve_config(load_project(project_dir), "prod", ["trailMode=account", "demo:logRetentionDays=30"])

    assert config.values == {
        "aws:region": "us-east-1", "demo:apiToken": "t0k", "demo:enableScp": "false",
        "demo:logRetentionDays": "30", "demo:scpTargets": '["ou-ab12-cdef5678"]', "demo:trailMode": "account"}
    assert config.secret_keys == ("demo:apiToken",)


def test_config_project_tags_from_pulumi_yaml(project_dir: Path) -> None:
    assert load_project(project_dir).tags() == {
        "pulumi:project": "demo", "pulumi:runtime": "python", "pulumi:description": "A demo."}


@pytest.mark.parametrize(
    ("flags", "stack_file", "message"),
    [
        pytest.param(["enableScp=no"], None, "config demo:enableScp = 'no' is not a boolean; allowed: true, false",
                     id="boolean"),
        pytest.param(["logRetentionDays=a year"], None, "config demo:logRetentionDays = 'a year' is not an integer",
                     id="integer"),
        pytest.param(["scpTargets=ou-ab12-cdef5678"], None,
                     "config demo:scpTargets = 'ou-ab12-cdef5678' is not a JSON array, e.g. [\"a\",\"b\"]",
                     id="array"),
        pytest.param(["scpTargets=[1]"], None,
                     "config demo:scpTargets = '[1]' is not an array of strings (bad items: [1])", id="array-items"),
        pytest.param(["enableSCP=false"], None,
                     "config demo:enableSCP is not declared in Pulumi.yaml; declared keys: apiToken, enableScp, "
                     "logRetentionDays, scpTargets, trailMode", id="typo"),
        pytest.param(["enableScp"], None,
                     "--config 'enableScp' must be KEY=VALUE (KEY bare or <namespace>:<name>)", id="no-equals"),
        pytest.param([], "config:\n  enableScp: false\n",
                     "{file}: could not parse 'enableScp' as a configuration key (configuration keys should be of "
                     "the form `<namespace>:<name>`, e.g. demo:enableScp)", id="stack-file-bare-key"),
        pytest.param([], "environment:\n  - security/prod\n",
                     "{file} imports ESC environment(s) ['security/prod'], which preflight cannot resolve offline; "
                     "pass the values with --config KEY=VALUE and remove the import", id="stack-file-esc"),
        pytest.param([], "config:\n  demo:apiToken:\n    secure: AAABAJ==\n",
                     "{file}: demo:apiToken is an encrypted secret, which preflight cannot decrypt offline; pass the "
                     "value with --config demo:apiToken=VALUE", id="stack-file-secure"),
    ],
)
def test_config_bad_value_error(project_dir: Path, flags: list[str], stack_file: str | None, message: str) -> None:
    file = project_dir / "Pulumi.dev.yaml"
    if stack_file is not None:
        file.write_text(stack_file, encoding="utf-8")

    with pytest.raises(PreflightError) as excinfo:
        resolve_config(load_project(project_dir), "dev", flags)

    assert str(excinfo.value) == message.format(file=file)


def test_config_no_project_file_error(tmp_path: Path) -> None:
    with pytest.raises(PreflightError) as excinfo:
        load_project(tmp_path)

    assert str(excinfo.value) == (
        f"no Pulumi.yaml in {tmp_path}; run preflight from the project directory or pass -C DIR")
