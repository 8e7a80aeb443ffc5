"""Tests of `python -m preflight` (preflight.cli) on stack exports, with the fixture pack.

Serves every control: the exit status is what a PR check reads -- 1 for any mandatory violation, 0 otherwise, and 2
whenever no verdict was reached (bad input, a pack that fails to start or crashes), never 0.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from preflight.cli import main
from preflight.export import write_export
from tests.preflight import fixture_stack as fx

PACKS = Path(__file__).parent / "fixtures" / "packs"
FIXTURE_PACK = str(PACKS / "fixture_pack")
ROOT = Path(__file__).resolve().parents[2]


def _export(tmp_path: Path, **change: object) -> str:
    path = tmp_path / "stack.json"
    write_export(path, fx.baseline(**change), engine_version="3.272.0")  # type: ignore[arg-type]
    return str(path)


def test_cli_compliant_export_json_exit_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--stack-export", _export(tmp_path), "--policy-pack", FIXTURE_PACK, "--format", "json"])

    assert code == 0
    # The default provider is neither shown nor counted, as in the CLI's summary.
    assert json.loads(capsys.readouterr().out) == {"resources": 6, "violations": []}


@pytest.mark.parametrize(
    ("change", "code", "violations"),
    [
        pytest.param({"alarm_period": 600}, 1, [{
            "policy": "fixture-alarm-period", "enforcement": "mandatory", "urn": fx.ALARM_URN,
            "message": "alarm has period 600 s; expected at most 300 s."}], id="mandatory-exit-1"),
        pytest.param({"multi_region": False}, 0, [{
            "policy": "fixture-trail-multi-region", "enforcement": "advisory", "urn": fx.TRAIL_URN,
            "message": "trail is not multi-region; expected isMultiRegionTrail true."}], id="advisory-exit-0"),
    ],
)
def test_cli_violation_json_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str], change: dict[str, object],
                                      code: int, violations: list[dict[str, str]]) -> None:
    assert main(["--stack-export", _export(tmp_path, **change), "--policy-pack", FIXTURE_PACK,
                 "--format", "json"]) == code

    assert json.loads(capsys.readouterr().out) == {"resources": 6, "violations": violations}


def test_cli_text_output_tree_and_policies(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    export = _export(tmp_path, alarm_period=600)

    assert main(["--stack-export", export, "--policy-pack", FIXTURE_PACK]) == 1

    pack_dir = (PACKS / "fixture_pack").resolve()
    assert capsys.readouterr().out == f"""\
Checking stack root-key-guardrails/dev from {export}:

     Type                                                       Name                     Plan    Info
     pulumi:pulumi:Stack                                        root-key-guardrails-dev  same
     ├─ root-key-guardrails:prevention:DenyRootAccessKeys       guardrails               same
     │  ├─ aws:organizations/policy:Policy                      guardrails-scp           same
     │  └─ aws:organizations/policyAttachment:PolicyAttachment  guardrails-attachment    same
     ├─ aws:cloudtrail/trail:Trail                              trail                    same
     └─ aws:cloudwatch/metricAlarm:MetricAlarm                  alarm                    same    1 mandatory

Policies:
    ❌ fixture-pack@v1.2.3 (local: {pack_dir})
        - [mandatory]  fixture-alarm-period  (aws:cloudwatch/metricAlarm:MetricAlarm: alarm)
          Ensure alarms evaluate often enough.
          alarm has period 600 s; expected at most 300 s.

Resources:
    6 checked

FAIL: 1 mandatory and 0 advisory policy violation(s); `pulumi preview --policy-pack` would fail.
"""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--policy-pack", str(PACKS / "missing")],
                     f"error: policy pack directory {PACKS / 'missing'} does not exist", id="missing-pack"),
        pytest.param(["--policy-pack", FIXTURE_PACK, "--policy-config", "a.json", "--policy-config", "b.json"],
                     "error: 2 --policy-config file(s) for 1 --policy-pack(s); give one per pack in the same order, "
                     "or none", id="config-count"),
        pytest.param(["--policy-pack", FIXTURE_PACK, "--stack", "prod"],
                     "error: --stack prod does not match the stack 'dev' in {export}", id="stack-mismatch"),
        pytest.param(["--policy-pack", FIXTURE_PACK, "--stack", "bad name!"],
                     "error: --stack 'bad name!' is not a valid stack name; expected 1 to 100 letters, digits, '-', '_' "
                     "or '.' (the stack's own name, without an organization or project prefix)", id="invalid-stack-name"),
        pytest.param(["--policy-pack", FIXTURE_PACK, "--stack", "acme/dev"],
                     "error: --stack 'acme/dev' is not a valid stack name; expected 1 to 100 letters, digits, '-', '_' "
                     "or '.' (the stack's own name, without an organization or project prefix)", id="qualified-stack-name"),
        pytest.param(["--policy-pack", str(PACKS / "crash_pack")],
                     f"error: policy pack {(PACKS / 'crash_pack').resolve()} crashed during Analyze of {fx.TRAIL_URN} "
                     f"(exit status 3)\n  pack stderr:\n    crash-pack: giving up on {fx.TRAIL_URN}",
                     id="crashing-pack"),
    ],
)
def test_cli_bad_input_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str],
                              message: str) -> None:
    export = _export(tmp_path)

    assert main(["--stack-export", export, *args]) == 2

    captured = capsys.readouterr()
    assert (captured.out, captured.err.rstrip("\n")) == ("", message.format(export=export))


def test_cli_malformed_export_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "stack.json"
    path.write_text(json.dumps({"version": 3, "deployment": {"resources": {}}}), encoding="utf-8")

    assert main(["--stack-export", str(path), "--policy-pack", FIXTURE_PACK]) == 2

    assert capsys.readouterr().err == f"error: {path}: deployment.resources must be a list\n"


def test_cli_export_round_trip_same_verdicts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = _export(tmp_path, alarm_period=600, multi_region=False)
    again = tmp_path / "again.json"

    codes = [main(["--stack-export", first, "--policy-pack", FIXTURE_PACK, "--format", "json",
                   "--export-state", str(again)]),
             main(["--stack-export", str(again), "--policy-pack", FIXTURE_PACK, "--format", "json"])]

    out = capsys.readouterr().out
    first_json, second_json = (json.loads(chunk) for chunk in out.replace("}\n{", "}\n\x00{").split("\x00"))
    assert codes == [1, 1]
    assert first_json == second_json
    assert len(first_json["violations"]) == 2


def test_cli_module_entry_point_usage_error_exit_2() -> None:
    proc = subprocess.run([sys.executable, "-m", "preflight", "--format", "yaml"], cwd=ROOT,
                          capture_output=True, text=True, check=False)

    assert proc.returncode == 2
    assert proc.stderr.splitlines()[-1] == (
        "python -m preflight: error: argument --format: invalid choice: 'yaml' (choose from 'text', 'json', 'sarif')")
