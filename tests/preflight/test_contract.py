"""The contract tests: the real program under the mock engine, judged by the real pack over the analyzer protocol.

Serves every control at once. The baseline is the default config plus the one value no default can supply, an
alert subscriber; it must pass the pack with zero violations (the tie between the program's and the pack's copies
of the shared truths: the canonical SCP statement, the filter patterns, the sample CloudTrail events). The bare
defaults pass too, with one advisory saying the alerts reach nobody. Switching a control off must make the policy
that guards it fire, at its level; and a stack export of the preview must get the same verdicts as the preview.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from preflight.cli import main

ROOT = Path(__file__).resolve().parents[2]


# The only value a default deployment cannot know: who receives the alerts.
SUBSCRIBER = ("--config", 'alarmEmails=["secops@example.com"]')
DETECTION = "root-key-guardrails:detection:RootAccessKeyDetection"
TOPIC = f"urn:pulumi:dev::root-key-guardrails::{DETECTION}$aws:sns/topic:Topic::root-access-key-detection-alerts"
ALARM = f"urn:pulumi:dev::root-key-guardrails::{DETECTION}$aws:cloudwatch/metricAlarm:MetricAlarm"


def _run(capsys: pytest.CaptureFixture[str], *args: str, baseline: tuple[str, ...] = SUBSCRIBER
         ) -> tuple[int, dict[str, object]]:
    code = main(["-C", str(ROOT), "--format", "json", *baseline, *args])
    captured = capsys.readouterr()
    assert code in (0, 1), captured.err
    return code, json.loads(captured.out)


def _fired(result: dict[str, object]) -> list[tuple[str, str]]:
    return [(v["policy"], v["enforcement"]) for v in result["violations"]]  # type: ignore[index, union-attr]


def test_contract_default_program_with_subscriber_passes_pack(capsys: pytest.CaptureFixture[str]) -> None:
    code, result = _run(capsys)

    assert result["violations"] == []
    assert code == 0
    assert isinstance(result["resources"], int) and result["resources"] > 10


def test_contract_bare_defaults_pass_with_one_advisory_no_subscriber(capsys: pytest.CaptureFixture[str]) -> None:
    code, result = _run(capsys, baseline=())

    assert result["violations"] == [{
        "policy": "alarm-topic-has-subscriber",
        "enforcement": "advisory",
        "urn": TOPIC,
        "message": f"{TOPIC} receives notifications from {ALARM}::root-access-key-detection-alarm-created but has no "
                   "subscription or other consumer; expected an aws:sns/topicSubscription:TopicSubscription (e.g. set "
                   "alarmEmails) so alerts reach someone.",
    }]
    assert code == 0


FILTER = f"urn:pulumi:dev::root-key-guardrails::{DETECTION}$aws:cloudwatch/logMetricFilter:LogMetricFilter"


@pytest.mark.parametrize(
    ("config", "code", "expected"),
    [
        pytest.param("enableScp=false", 1, [
            ("root-access-key-creation-denied", "mandatory", "",
             "Stack 'dev' has no service control policy denying iam:CreateAccessKey to the root user")],
            id="no-scp"),
        pytest.param("enableDetection=false", 1, [
            ("root-access-key-creation-alarmed", "mandatory", "",
             "Stack 'dev' has no CloudWatch Logs metric filter matching the root user creating its own access key"),
            ("cis-root-usage-alarmed", "advisory", "",
             "Stack 'dev' has no CloudWatch Logs metric filter matching every root user action and sign-in but not "
             "AWS services acting for root")], id="no-detection"),
        pytest.param("enableAudit=false", 1, [
            ("root-access-key-audit-scheduled", "mandatory", "", "Stack 'dev' has no audit function")],
            id="no-audit"),
        # The CIS root-usage alarm is advisory by default: it is reported but does not fail the check. The pack
        # points at each remaining filter, none of which is the CIS root-usage one.
        pytest.param("cisRootUsageAlarm=false", 0, [
            # The nearest filter is explained: the created one catches one of the CIS classes in full.
            ("cis-root-usage-alarmed", "advisory", f"{FILTER}::root-access-key-detection-filter-created", None)],
            id="no-cis-alarm"),
    ],
)
def test_contract_control_disabled_policy_fires(capsys: pytest.CaptureFixture[str], config: str, code: int,
                                                expected: list[tuple[str, str, str, str | None]]) -> None:
    actual_code, result = _run(capsys, "--config", config)

    violations = result["violations"]
    # What is wrong, up to the pack's "; expected ..." clause (the full wording is the pack's own tests' business).
    assert [(v["policy"], v["enforcement"], v["urn"], v["message"].split("; expected")[0] if want else None)
            for v, (*_, want) in zip(violations, expected)] == expected  # type: ignore[index, union-attr]
    assert len(violations) == len(expected)  # type: ignore[arg-type]
    assert actual_code == code


@pytest.mark.parametrize(
    ("config", "policy_config", "code", "fired"),
    [
        pytest.param("cisRootUsageAlarm=false", {"cis-root-usage-alarmed": "mandatory"}, 1,
                     [("cis-root-usage-alarmed", "mandatory")], id="advisory-raised-to-mandatory"),
        pytest.param("enableAudit=false", {"root-access-key-audit-scheduled": {"enforcementLevel": "advisory"}}, 0,
                     [("root-access-key-audit-scheduled", "advisory")], id="mandatory-lowered-to-advisory"),
        pytest.param("enableScp=false", {"root-access-key-creation-denied": "disabled"}, 0, [],
                     id="disabled-policy-silent"),
    ],
)
def test_contract_enforcement_override_applied(capsys: pytest.CaptureFixture[str], tmp_path: Path, config: str,
                                               policy_config: dict[str, object], code: int,
                                               fired: list[tuple[str, str]]) -> None:
    path = tmp_path / "policy-config.json"
    path.write_text(json.dumps(policy_config), encoding="utf-8")

    actual_code, result = _run(capsys, "--config", config, "--policy-config", str(path))

    assert _fired(result) == fired
    assert actual_code == code


def test_contract_stack_export_round_trip_same_verdicts(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    export = tmp_path / "stack.json"

    preview_code, preview = _run(capsys, "--config", "enableScp=false", "--export-state", str(export))
    export_code, from_export = _run(capsys, "--config", "enableScp=false", "--stack-export", str(export))

    assert from_export["violations"] == preview["violations"]
    assert (preview_code, export_code) == (1, 1)
    document = json.loads(export.read_text(encoding="utf-8"))
    assert document["version"] == 3
    assert {r["type"] for r in document["deployment"]["resources"]} >= {
        "pulumi:pulumi:Stack", "pulumi:providers:aws", "aws:cloudtrail/trail:Trail"}


def test_contract_invalid_config_program_error_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["-C", str(ROOT), "--format", "json", "--config", "trailMode=bogus"])

    captured = capsys.readouterr()
    assert (code, captured.out) == (2, "")
    first, *rest = captured.err.splitlines()
    assert first == "error: the program failed under the mock engine: Invalid configuration:"
    assert 'root-key-guardrails:trailMode = "bogus"' in rest[0]


SCP_URN_SUFFIX = "aws:organizations/policy:Policy::"
EXEMPT_ONE_ACCOUNT = {"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::111122223333:root"}}


def _tamper(document: dict[str, object], type_token: str, name_suffixes: tuple[str, ...], change: object) -> None:
    """Apply `change(props)` to the inputs and outputs of each resource of that type whose name ends so."""
    found = [r for r in document["deployment"]["resources"]  # type: ignore[index]
             if r["type"] == type_token and r["urn"].endswith(name_suffixes)]
    assert len(found) == len(name_suffixes), [r["urn"] for r in found]
    for resource in found:
        for props in (resource["inputs"], resource["outputs"]):
            change(props)  # type: ignore[operator]


def _exempt_account(props: dict[str, object]) -> None:
    doc = json.loads(props["content"])  # type: ignore[arg-type]
    doc["Statement"][0]["Condition"].update(EXEMPT_ONE_ACCOUNT)
    props["content"] = json.dumps(doc)


def _pin_pattern(props: dict[str, object]) -> None:
    # Both root-key filters are pinned: the CIS root-usage filter alone also catches a root CreateAccessKey.
    props["pattern"] = str(props["pattern"]).rstrip("} ") + ' && ($.userIdentity.accountId = "111122223333") }'



@pytest.mark.parametrize(
    ("type_token", "name_suffixes", "change", "fired"),
    [
        pytest.param("aws:organizations/policy:Policy", ("",), _exempt_account,
                     [("root-access-key-creation-denied", "mandatory"), ("deny-root-keys-scp-not-weakened", "mandatory")],
                     id="scp-exempts-one-account"),
        pytest.param("aws:cloudwatch/logMetricFilter:LogMetricFilter", ("-filter-created", "-filter-cis-root-usage"),
                     _pin_pattern, [("root-access-key-creation-alarmed", "mandatory")] * 2 + [("cis-root-usage-alarmed", "advisory")],
                     id="filters-pinned-to-one-account"),
    ],
)
def test_contract_weakened_export_blocked_over_protocol(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                        type_token: str, name_suffixes: tuple[str, ...], change: object,
                                                        fired: list[tuple[str, str]]) -> None:
    export = tmp_path / "stack.json"
    _run(capsys, "--export-state", str(export))
    document = json.loads(export.read_text(encoding="utf-8"))
    _tamper(document, type_token, name_suffixes, change)
    export.write_text(json.dumps(document), encoding="utf-8")

    code, result = _run(capsys, "--stack-export", str(export))

    assert sorted(_fired(result)) == sorted(fired)
    assert code == 1


@pytest.mark.parametrize(("baseline", "code", "fired"), [
    pytest.param(SUBSCRIBER, 0, [], id="subscribed-topic"),
    pytest.param((), 1, [("alarm-topic-has-subscriber", "advisory")] + [("audit-findings-delivered", "mandatory")] * 3,
                 id="no-subscriber"),
])
def test_contract_audit_without_security_hub_needs_subscribed_topic(capsys: pytest.CaptureFixture[str], baseline: tuple[str, ...],
                                                                    code: int, fired: list[tuple[str, str]]) -> None:
    actual_code, result = _run(capsys, "--config", "auditSecurityHub=false", baseline=baseline)

    assert _fired(result) == fired
    assert actual_code == code
