"""Values only Python reads as AWS's: lookalike letters, other scripts' digits, strings for booleans, targets
with blanks. From the compliant baseline, one change per case: each is a violation naming the value, never a
pass and never a crash."""

from __future__ import annotations

import json
from typing import Any, Callable

import pytest
from rootkey_pack.iam_eval import root_access_key_denial
from rootkey_pack.policies import audit, delivery, detection, guards, prevention
from rootkey_pack.text import ascii_float, ascii_int, ascii_lower

from tests.policypack import stackkit as k
from tests.policypack.test_resource_policies import SCP, SCP_OK, TRAIL, TRAIL_OK, result
from tests.policypack.test_stack_policies import (
    A_CREATED,
    ATTACH,
    F_CREATED,
    FN,
    KEY,
    NO_CIS,
    SCHEDULE,
    TRAIL as TRAIL_NAME,
    Mutation,
    both,
    outcome,
    scp_with,
    setp,
)

KELVIN, LONG_S, DOTLESS_I = "\u212a", "\u017f", "\u0131"


def _messages(validate: Callable[..., Any], mutate: Mutation, config: dict[str, Any] | None = None) -> list[str]:
    return [message for message, _ in outcome(validate, mutate, config).messages]


@pytest.mark.parametrize(
    "statement",
    [
        {"Action": f"iam:CreateAccess{KELVIN}ey"},
        {"Action": f"iam:CreateAcce{LONG_S}{LONG_S}Key"},
        {"Action": f"{DOTLESS_I}am:CreateAccessKey"},
        # The other direction: a NotAction that AWS might or might not read as the action itself.
        {"Action": None, "NotAction": f"iam:CreateAccess{KELVIN}ey"},
        {"Condition": {"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::*:{LONG_S}oot"}}},
    ],
    ids=["kelvin-k", "long-s", "dotless-i", "not-action-kelvin", "condition-long-s"],
)
def test_scp_with_a_lookalike_letter_does_not_count_as_denial(statement: dict[str, Any]) -> None:
    content = scp_with(**statement)
    verdict = root_access_key_denial(content)
    assert not verdict.denies
    assert "non-ASCII character" in verdict.explanation or "does not cover" in verdict.explanation
    [message] = _messages(prevention.validate_root_access_key_creation_denied, setp("deny-root-access-keys-scp", content=content))
    assert "does not deny iam:CreateAccessKey to the root user" in message


def test_scp_guard_reports_a_lookalike_action() -> None:
    content = scp_with(Action=f"iam:CreateAccess{KELVIN}ey")
    [message] = result(guards.validate_deny_root_keys_scp_not_weakened, SCP, SCP_OK, {"content": content})
    assert "no longer denies iam:CreateAccessKey" in message and "U+212A" in message


@pytest.mark.parametrize("target", ["111122223333\n", " 111122223333", "r-a1b2 ", "not-a-target", "OU-ab12-abcdefgh"])
def test_attachment_target_in_no_aws_form_is_reported(target: str) -> None:
    [message] = _messages(
        prevention.validate_root_access_key_creation_denied,
        setp(ATTACH, targetId=target),
        {"managementAccountId": "111122223333"},
    )
    assert message.startswith(f"{k.urn(ATTACH)} has targetId {target!r}; expected the organization root")


@pytest.mark.parametrize(
    "expression",
    [
        "rate(\u0661 hour)",  # Arabic-Indic one
        "rate(\uff11 hour)",  # fullwidth one
        "cron(\u0660 * * * ? *)",
        "cron(\u00b2 * * * ? *)",  # a superscript: isdigit() says yes, int() says no
        "cron(0/\u00b2 * * * ? *)",
        "cron(0 * ? * \u00b9 *)",
        "rate(1 hour)\n",
    ],
)
def test_schedule_with_digits_aws_does_not_write_is_reported(expression: str) -> None:
    messages = _messages(audit.validate_root_access_key_audit_scheduled, setp(SCHEDULE, scheduleExpression=expression))
    assert messages and all(repr(expression) in m or "schedule" in m for m in messages)


@pytest.mark.parametrize("value", ["\u0661", "\uff11", "1_0", " 1", "1 ", "inf", "nan"])
def test_metric_value_aws_does_not_read_as_a_number_is_reported(value: str) -> None:
    def mutate(specs: dict[str, k.Spec]) -> None:
        NO_CIS(specs)
        specs[F_CREATED].props["metricTransformation"]["value"] = value

    assert _messages(detection.validate_root_access_key_creation_alarmed, mutate)


def test_filter_selector_with_a_superscript_index_is_reported_not_raised() -> None:
    pattern = '{ ($.userIdentity.type = "Root") && ($.eventName = "CreateAccessKey") && ($.resources[\u00b2] NOT EXISTS) }'
    messages = _messages(detection.validate_root_access_key_creation_alarmed, both(NO_CIS, setp(F_CREATED, pattern=pattern)))
    assert any("expected an array index like [0]" in m for m in messages)


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan"), 10**400])
def test_non_finite_max_alarm_period_is_a_config_error(value: Any) -> None:
    [message] = _messages(detection.validate_root_access_key_creation_alarmed, None, {"maxAlarmPeriodSeconds": value})  # type: ignore[arg-type]
    assert message.startswith("The 'root-access-key-creation-alarmed' policy config is invalid: policy config key 'maxAlarmPeriodSeconds'")


@pytest.mark.parametrize("value", ["false", "False", 0, 1, "true", [], {}])
def test_alarm_actions_enabled_not_a_boolean_is_reported(value: Any) -> None:
    messages = _messages(detection.validate_root_access_key_creation_alarmed, both(NO_CIS, setp(A_CREATED, actionsEnabled=value)))
    assert any(f"actionsEnabled {value!r}, not true or false" in m for m in messages)


@pytest.mark.parametrize(
    ("changes", "shown"),
    [
        ({"enableLogging": "false"}, "enableLogging 'false', not true or false"),
        ({"includeGlobalServiceEvents": "false"}, "includeGlobalServiceEvents 'false', not true or false"),
        ({"eventSelectors": [{"readWriteType": "All", "includeManagementEvents": "false"}]}, "event selectors exclude"),
    ],
    ids=["logging", "global-events", "management-events"],
)
def test_trail_switch_given_as_a_string_is_reported(changes: dict[str, Any], shown: str) -> None:
    # The stack policy and the guards read the same trail: both must see through it.
    stack = _messages(detection.validate_root_access_key_creation_alarmed, setp(TRAIL_NAME, **changes))
    guarded = result(guards.validate_trail_keeps_logging_multi_region, TRAIL, TRAIL_OK, changes) + result(
        guards.validate_trail_keeps_feeding_detection, TRAIL, TRAIL_OK, changes
    )
    assert any(shown in m for m in stack)
    assert any(shown in m for m in guarded)


@pytest.mark.parametrize("value", ["false", 0, "true"])
def test_schedule_rule_enabled_not_a_boolean_is_reported(value: Any) -> None:
    assert _messages(audit.validate_root_access_key_audit_scheduled, setp(SCHEDULE, isEnabled=value))


@pytest.mark.parametrize("value", ["false", 0])
def test_alerts_key_enabled_not_a_boolean_is_reported(value: Any) -> None:
    [message] = _messages(delivery.validate_alarm_topic_key_usable, setp(KEY, isEnabled=value))
    assert f"has isEnabled {value!r}, not true or false" in message


@pytest.mark.parametrize("unchanged", [None])
def test_baseline_still_passes_every_changed_policy(unchanged: None) -> None:
    for validate in (
        prevention.validate_root_access_key_creation_denied,
        detection.validate_root_access_key_creation_alarmed,
        audit.validate_root_access_key_audit_scheduled,
        delivery.validate_alarm_topic_key_usable,
    ):
        assert _messages(validate, lambda specs: None) == [], validate.__name__


@pytest.mark.parametrize(
    ("text", "integer", "number"),
    [("7", 7, 7.0), ("0", 0, 0.0), ("1.5", None, 1.5), ("-2e3", None, -2000.0), ("\u0661", None, None),
     ("1_0", None, None), (" 1", None, None), ("1\n", None, None), ("inf", None, None), ("1e400", None, None)],
)
def test_ascii_readers(text: str, integer: int | None, number: float | None) -> None:
    assert (ascii_int(text), ascii_float(text)) == (integer, number)


def test_ascii_lower_folds_only_a_to_z() -> None:
    assert ascii_lower(f"IAM:CreateAccess{KELVIN}ey \u00c9") == f"iam:createaccess{KELVIN}ey \u00c9"
    assert json.dumps(ascii_lower("ABC")) == '"abc"'


def _fn(**props: Any) -> Mutation:
    return setp(FN, **props)


def _env(**variables: str) -> Mutation:
    return setp(FN, environment={"variables": {"AUDIT_METRIC_NAMESPACE": "RootKeyGuardrails", **variables}})


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        pytest.param(_fn(runtime="nodejs20.x"), "has runtime 'nodejs20.x', which cannot run the Python audit", id="node-runtime"),
        pytest.param(_fn(runtime="python3.12\n"), "has runtime 'python3.12\\n'", id="runtime-newline"),
        pytest.param(_fn(packageType="Image"), "has packageType 'Image', which ignores the handler", id="image-package"),
        pytest.param(_env(AUDIT_MAX_WORKERS="0"), "sets AUDIT_MAX_WORKERS to '0', which the audit refuses", id="workers-zero"),
        pytest.param(_env(AUDIT_MAX_WORKERS="\u0668"), "sets AUDIT_MAX_WORKERS to '\u0668'", id="workers-arabic-digit"),
        pytest.param(_env(AUDIT_MAX_REPORT_AGE_HOURS="48"), "sets AUDIT_MAX_REPORT_AGE_HOURS to '48'", id="age-too-long"),
        pytest.param(_env(AUDIT_SECURITY_HUB="TRUE"), "sets AUDIT_SECURITY_HUB to 'TRUE'", id="security-hub-case"),
    ],
)
def test_audit_function_that_cannot_run_the_audit_is_reported(mutate: Mutation, fragment: str) -> None:
    [message] = _messages(audit.validate_root_access_key_audit_scheduled, mutate)
    assert fragment in message


@pytest.mark.parametrize(
    "mutate",
    [_fn(runtime="python3.13"), _fn(packageType="Zip"), _env(AUDIT_MAX_WORKERS="64", AUDIT_SECURITY_HUB="false")],
    ids=["python3.13", "zip", "valid-settings"],
)
def test_audit_function_that_runs_the_audit_passes(mutate: Mutation) -> None:
    assert _messages(audit.validate_root_access_key_audit_scheduled, mutate) == []
