"""Tests of preflight.export: the `pulumi stack export` (version 3) format written by --export-state and read by
--stack-export. Serves every control by making the post-deployment re-check read exactly what the engine wrote, and
refuse anything it cannot read faithfully (encrypted secrets, malformed resources) instead of skipping it."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from preflight.analyzer import ResourceOptions
from preflight.errors import PreflightError
from preflight.export import parse_deployment, read_export, to_deployment
from tests.preflight import fixture_stack as fx

SECRET = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270"}


def test_export_round_trip_same_resources() -> None:
    resources = fx.baseline()

    loaded = parse_deployment(json.loads(json.dumps(to_deployment(resources, engine_version="3.272.0"))), "x")

    assert loaded.resources == tuple(resources)
    assert (loaded.project, loaded.stack, loaded.skipped_pending_deletes) == (fx.PROJECT, fx.STACK, 0)


def test_export_document_shape_matches_stack_export() -> None:
    document = to_deployment(fx.baseline(), engine_version="3.272.0")

    assert document["version"] == 3
    manifest = document["deployment"]["manifest"]
    assert manifest["version"] == "v3.272.0"
    assert manifest["magic"] == hashlib.sha256(b"v3.272.0").hexdigest()
    attachment = next(r for r in document["deployment"]["resources"] if r["urn"] == fx.ATTACHMENT_URN)
    assert attachment == {
        "urn": fx.ATTACHMENT_URN, "custom": True, "type": "aws:organizations/policyAttachment:PolicyAttachment",
        "inputs": {"policyId": fx.UNKNOWN, "targetId": "r-abcd"},
        "outputs": {"policyId": fx.UNKNOWN, "targetId": "r-abcd", "id": fx.UNKNOWN},
        "parent": fx.COMPONENT_URN, "dependencies": [fx.SCP_URN], "provider": fx.PROVIDER_REF,
        "propertyDependencies": {"policyId": [fx.SCP_URN], "targetId": []},
    }
    alarm = next(r for r in document["deployment"]["resources"] if r["urn"] == fx.ALARM_URN)
    # Secrets are written as `pulumi stack export --show-secrets` writes them.
    assert alarm["inputs"]["secretNote"] == {**SECRET, "plaintext": '"s3cr3t"'}


def _document(**changes: Any) -> dict[str, Any]:
    document = to_deployment(fx.baseline(), engine_version="3.272.0")
    return json.loads(json.dumps(document)) | changes


def _with_resource(index: int, **fields: Any) -> dict[str, Any]:
    document = _document()
    resource = document["deployment"]["resources"][index]
    for key, value in fields.items():
        if value is None:
            resource.pop(key, None)
        else:
            resource[key] = value
    return document


def test_export_pending_delete_skipped_and_options_read() -> None:
    document = _with_resource(6, delete=True)
    document["deployment"]["resources"][5].update(
        protect=True, ignoreChanges=["tags"], customTimeouts={"create": 60, "delete": 30})

    loaded = parse_deployment(document, "x")

    assert [r.urn for r in loaded.resources][-1] == fx.TRAIL_URN
    assert loaded.skipped_pending_deletes == 1
    assert loaded.options[fx.TRAIL_URN] == ResourceOptions(
        protect=True, ignore_changes=("tags",), custom_timeouts=(60.0, 0.0, 30.0))


def test_export_encrypted_secret_error() -> None:
    document = _with_resource(6, inputs={"note": {**SECRET, "ciphertext": "AAAA"}})

    with pytest.raises(PreflightError) as excinfo:
        parse_deployment(document, "stack.json")

    assert str(excinfo.value) == (
        f"{fx.ALARM_URN} inputs.note: holds an encrypted secret, which preflight cannot decrypt; export the stack "
        f"with `pulumi stack export --show-secrets`")


@pytest.mark.parametrize(
    ("document", "message"),
    [
        pytest.param([], "stack.json: expected a `pulumi stack export` JSON object, got list", id="not-object"),
        pytest.param(_document(version=2), "stack.json: deployment version 2 is not supported; expected 3 (the "
                                           "format of `pulumi stack export`)", id="old-version"),
        pytest.param(_document(deployment=[]), "stack.json: 'deployment' must be an object", id="deployment-list"),
        pytest.param(_with_resource(2, urn="guardrails"),
                     "'guardrails' is not a Pulumi URN (urn:pulumi:<stack>::<project>::<type>::<name>)",
                     id="bad-urn"),
        pytest.param(_with_resource(2, type=None),
                     f"stack.json: deployment.resources[2] ({fx.COMPONENT_URN}).type is missing or not a string",
                     id="no-type"),
        pytest.param(_with_resource(3, type="aws:organizations/policy:Policy2"),
                     f"stack.json: deployment.resources[3]: type 'aws:organizations/policy:Policy2' does not match "
                     f"the type in its URN {fx.SCP_URN}", id="type-mismatch"),
        pytest.param(_with_resource(3, inputs=["content"]),
                     f"stack.json: deployment.resources[3] ({fx.SCP_URN}).inputs must be an object", id="inputs-list"),
        pytest.param(_with_resource(3, provider="aws"),
                     f"stack.json: deployment.resources[3] ({fx.SCP_URN}).provider 'aws' is not "
                     f"'<provider urn>::<provider id>'", id="bad-provider"),
        pytest.param(_with_resource(4, dependencies="x"),
                     "stack.json: deployment.resources[4].dependencies must be a list of URNs, got 'x'",
                     id="bad-dependencies"),
    ],
)
def test_export_malformed_error(document: Any, message: str) -> None:
    with pytest.raises(PreflightError) as excinfo:
        parse_deployment(document, "stack.json")

    assert str(excinfo.value) == message


def test_export_duplicate_urn_error() -> None:
    document = _document()
    document["deployment"]["resources"].append(copy.deepcopy(document["deployment"]["resources"][5]))

    with pytest.raises(PreflightError) as excinfo:
        parse_deployment(document, "stack.json")

    assert str(excinfo.value) == f"stack.json: deployment.resources[7]: URN {fx.TRAIL_URN} appears twice"


def test_export_two_stacks_error() -> None:
    document = _document()
    other = copy.deepcopy(document["deployment"]["resources"][5])
    other["urn"] = other["urn"].replace("urn:pulumi:dev::", "urn:pulumi:prod::")
    document["deployment"]["resources"].append(other)

    with pytest.raises(PreflightError) as excinfo:
        parse_deployment(document, "stack.json")

    assert str(excinfo.value) == (
        "stack.json: resources belong to more than one stack: root-key-guardrails/dev, root-key-guardrails/prod")


def test_export_not_json_error(tmp_path: Path) -> None:
    path = tmp_path / "stack.json"
    path.write_text("{", encoding="utf-8")

    with pytest.raises(PreflightError) as excinfo:
        read_export(path)

    assert str(excinfo.value) == f"{path} is not valid JSON: Expecting property name enclosed in double quotes: " \
                                 f"line 1 column 2 (char 1)"
