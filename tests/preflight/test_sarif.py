"""SARIF output of `python -m preflight` (preflight.sarif): valid SARIF 2.1.0 that points at the program's lines.

Serves every control: code scanning shows each violation on the line of the program that registered the resource at
fault, so a reviewer sees a weakened control where it was weakened.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from preflight.cli import main
from preflight.export import write_export
from tests.preflight import fixture_stack as fx

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((Path(__file__).parent / "schemas" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
FIXTURE_PACK = str(Path(__file__).parent / "fixtures" / "packs" / "fixture_pack")


def _validate(log: dict[str, Any]) -> None:
    jsonschema.Draft4Validator(SCHEMA, format_checker=jsonschema.FormatChecker()).validate(log)


@pytest.fixture(scope="module")
def weakened(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, dict[str, Any]]:
    out = tmp_path_factory.mktemp("sarif") / "preflight.sarif"
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = main(["-C", str(ROOT), "-c", "enableScp=false", "--format", "sarif", "--output", str(out)])
    return code, stdout.getvalue(), json.loads(out.read_text(encoding="utf-8"))


def test_weakened_program_sarif_validates_and_prints_text(weakened: tuple[int, str, dict[str, Any]]) -> None:
    code, stdout, log = weakened

    _validate(log)
    assert code == 1
    # --output takes the SARIF; stdout keeps the text report with its verdict line.
    assert stdout.rstrip().splitlines()[-1].startswith("FAIL: 1 mandatory")
    assert [run["tool"]["driver"]["name"] for run in log["runs"]] == ["root-key-guardrails"]


def test_weakened_program_results_point_at_source_lines(weakened: tuple[int, str, dict[str, Any]]) -> None:
    run = weakened[2]["runs"][0]
    results = {r["ruleId"]: r for r in run["results"]}

    assert {r: res["level"] for r, res in results.items()} == {
        "root-access-key-creation-denied": "error", "alarm-topic-has-subscriber": "warning"}
    for result in run["results"]:
        physical = result["locations"][0]["physicalLocation"]
        source = (ROOT / physical["artifactLocation"]["uri"]).read_text(encoding="utf-8").splitlines()
        line = source[physical["region"]["startLine"] - 1]
        urn = result["locations"][0]["logicalLocations"][0]["fullyQualifiedName"]
        if result["ruleId"] == "alarm-topic-has-subscriber":
            # The line that constructs the topic at fault.
            assert physical["artifactLocation"] == {"uri": "components/alerting.py", "uriBaseId": "%SRCROOT%"}
            assert "aws.sns.Topic(" in line
            assert urn.endswith("aws:sns/topic:Topic::root-access-key-detection-alerts")
        else:
            # A stack policy (no SCP at all) points at the program's entry point and the stack's URN.
            assert physical["artifactLocation"]["uri"] == "__main__.py"
            assert urn == "urn:pulumi:dev::root-key-guardrails::pulumi:pulumi:Stack::root-key-guardrails-dev"
        assert result["message"]["text"].endswith(".")


def test_rules_carry_policy_metadata(weakened: tuple[int, str, dict[str, Any]]) -> None:
    rules = {r["id"]: r for r in weakened[2]["runs"][0]["tool"]["driver"]["rules"]}
    rule = rules["root-access-key-creation-denied"]

    assert rule["name"] == "root-access-key-creation-denied"
    assert rule["fullDescription"]["text"].startswith("Ensure ")
    assert rule["properties"]["security-severity"] == "9.5"
    assert "AWS Security Hub FSBP/CIS: IAM.4" in rule["properties"]["tags"]
    assert rule["helpUri"].startswith("https://docs.aws.amazon.com/")
    assert rule["help"]["text"].endswith(rule["helpUri"])
    assert rule["defaultConfiguration"] == {"level": "error"}
    assert all(r["fullDescription"]["text"].startswith("Ensure ") for r in rules.values())


@pytest.mark.parametrize(
    ("change", "code", "level"),
    [
        pytest.param({"alarm_period": 600}, 1, "error", id="mandatory-error"),
        pytest.param({"multi_region": False}, 0, "warning", id="advisory-warning"),
    ],
)
def test_stack_export_sarif_has_logical_locations_only(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                       change: dict[str, object], code: int, level: str) -> None:
    export = tmp_path / "stack.json"
    write_export(export, fx.baseline(**change), engine_version="3.272.0")  # type: ignore[arg-type]

    assert main(["--stack-export", str(export), "--policy-pack", FIXTURE_PACK, "--format", "sarif"]) == code

    log = json.loads(capsys.readouterr().out)
    _validate(log)
    [result] = log["runs"][0]["results"]
    assert result["level"] == level
    assert list(result["locations"][0]) == ["logicalLocations"]


def test_compliant_export_sarif_has_no_results(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    export = tmp_path / "stack.json"
    write_export(export, fx.baseline(), engine_version="3.272.0")

    assert main(["--stack-export", str(export), "--policy-pack", FIXTURE_PACK, "--format", "sarif"]) == 0

    log = json.loads(capsys.readouterr().out)
    _validate(log)
    assert log["runs"][0]["results"] == []


@pytest.mark.parametrize(
    "break_it",
    [
        pytest.param(lambda r: r.update(level="fatal"), id="level-not-in-enum"),
        pytest.param(lambda r: r["locations"][0]["physicalLocation"]["region"].update(startLine=0), id="line-0"),
        pytest.param(lambda r: r.pop("message"), id="no-message"),
    ],
)
def test_schema_refuses_a_broken_result(weakened: tuple[int, str, dict[str, Any]], break_it: Any) -> None:
    log = json.loads(json.dumps(weakened[2]))
    break_it(log["runs"][0]["results"][0])

    with pytest.raises(jsonschema.ValidationError):
        _validate(log)
