"""Property-based tests: arbitrary text and JSON never crash the analysers; they always return a verdict."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pulumi_policy import StackValidationPolicy
from rootkey_pack import samples
from rootkey_pack.alarm_eval import MetricSpec, evaluate_alarm
from rootkey_pack.cloudtrail import trail_findings
from rootkey_pack.filter_pattern import (
    Absent,
    BoolOp,
    Comparison,
    Const,
    FieldSpec,
    Free,
    Group,
    JsonPattern,
    Obj,
    PatternError,
    Shape,
    judge_class,
    matches,
    parse,
)
from rootkey_pack.iam_eval import root_access_key_denial, validate_scp
from rootkey_pack.policies.delivery import Publisher, resource_policy_problem
from rootkey_pack.values import Res

settings.register_profile("pack", max_examples=150, deadline=None)
settings.load_profile("pack")

json_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=12))
json_value = st.recursive(json_leaf, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)), max_leaves=20)

# Statement-shaped JSON: the keys the analyser branches on, with arbitrary values.
statement = st.dictionaries(
    st.sampled_from(["Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition", "Principal"]),
    st.one_of(
        json_value,
        st.sampled_from(["Deny", "Allow", "iam:*", "*", "iam:CreateAccessKey", "arn:aws:iam::*:root"]),
        st.dictionaries(
            st.sampled_from(["ArnLike", "StringEquals", "ForAnyValue:StringLike", "Null", "Bool", "StringNotLikeIfExists", "ForAllValues:ArnNotLike", "Weird:Op"]),
            st.dictionaries(st.sampled_from(["aws:PrincipalArn", "aws:principalarn", "aws:MultiFactorAuthPresent"]), json_value, max_size=2),
            max_size=3,
        ),
    ),
    max_size=8,
)
document = st.one_of(
    st.builds(lambda s: json.dumps({"Version": "2012-10-17", "Statement": s}), st.one_of(statement, st.lists(statement, max_size=3))),
    st.builds(json.dumps, json_value),
    st.text(max_size=200),
)

pattern_alphabet = st.sampled_from(list('{}()$.[]0123456789 "=!<>&|*%-?abcRootISNULLTRUEFALSENOTEXISTS\\'))
patterns = st.one_of(
    st.text(max_size=80),
    st.lists(pattern_alphabet, max_size=60).map("".join),
    st.lists(st.sampled_from(["{", "}", "(", ")", "$.eventName", "$.userIdentity.type", "=", "!=", ">", "&&", "||",
                              '"Root"', "CreateAccessKey", "IS NULL", "NOT EXISTS", "EXISTS", "IS TRUE", "*", "5", "$.a[0]"]),
             max_size=14).map(" ".join),
)


@given(document)
def test_root_access_key_denial_any_document_returns_verdict(text: Any) -> None:
    verdict = root_access_key_denial(text)
    assert isinstance(verdict.denies, bool)
    assert verdict.denies or verdict.explanation


@given(document)
def test_validate_scp_any_document_returns_list(text: Any) -> None:
    assert all(isinstance(p, str) and p for p in validate_scp(text))


@given(json_value)
def test_root_access_key_denial_non_text_returns_verdict(value: Any) -> None:
    assert root_access_key_denial(value).denies is False


@given(patterns)
def test_filter_pattern_any_text_parses_or_raises_pattern_error(text: str) -> None:
    try:
        parsed = parse(text)
    except PatternError as exc:
        assert str(exc)
        return
    for name in samples.ALL_SAMPLES:
        try:
            assert isinstance(matches(parsed, samples.load(name)), bool)
        except PatternError as exc:
            assert "precedence" in str(exc)


@given(patterns, st.sampled_from(sorted(samples.CLASS_DESCRIPTIONS)), st.sampled_from(["aws", "aws-cn"]))
def test_judge_class_any_text_returns_verdict_or_pattern_error(text: str, name: str, partition: str) -> None:
    try:
        verdict = judge_class(parse(text), samples.event_class(name, partition))
    except PatternError as exc:
        assert str(exc)
        return
    assert verdict.value in (True, False, None)
    assert (verdict.value is None) == bool(verdict.depends_on) or verdict.value is None


# --- the three-valued verdict agrees with concrete evaluation on random completions of the free fields -------

_SELECTORS = ["$.eventName", "$.eventSource", "$.eventType", "$.userIdentity.type", "$.userIdentity.arn",
              "$.userIdentity.accountId", "$.userIdentity.invokedBy", "$.userIdentity.accessKeyId",
              "$.userIdentity.sessionContext.attributes.mfaAuthenticated", "$.errorCode", "$.errorMessage",
              "$.readOnly", "$.requestParameters", "$.requestParameters.userName", "$.resources[0].ARN",
              "$.sourceIPAddress", "$.eventName.x", "$.userIdentity", "$.a[1]", "$.n"]
_VALUES = ['"Root"', "Root", '"CreateAccessKey"', "CreateAccess*", "*", '"*:root"', '"arn:aws:iam::*:root"',
           '"arn:aws:iam::1*"', '"1*"', '"ASIA*"', "AccessDenied", '"iam.amazonaws.com"', "AwsApiCall",
           "AwsServiceEvent", "5", "0", "-1.5", "false", "true", '""', "111122223333"]
_comparison = st.one_of(
    st.builds(lambda s, op, v: f"{s} {op} {v}", st.sampled_from(_SELECTORS), st.sampled_from(["=", "!="]), st.sampled_from(_VALUES)),
    st.builds(lambda s, op, v: f"{s} {op} {v}", st.sampled_from(_SELECTORS), st.sampled_from(["<", ">", "<=", ">="]), st.sampled_from(["5", "0", "-1.5", "111122223333"])),
    st.builds(lambda s, k: f"{s} {k}", st.sampled_from(_SELECTORS), st.sampled_from(["EXISTS", "NOT EXISTS", "IS NULL", "IS TRUE", "IS FALSE"])),
)
_expression = st.recursive(_comparison, lambda inner: st.one_of(
    st.builds(lambda a, b: f"({a} && {b})", inner, inner),
    st.builds(lambda a, b: f"({a} || {b})", inner, inner),
), max_leaves=6)
_json_patterns = _expression.map(lambda e: "{ " + e + " }")
_WORDS = ["Root", "CreateAccessKey", '"iam.amazonaws.com"', "AccessDenied", "userIdentity", '":root"', '"arn:aws"',
          "ConsoleLogin", "AwsApiCall", "ASIA", '"111122223333"', "false", "errorCode", "invokedBy"]
_term_patterns = st.one_of(
    st.lists(st.builds(lambda prefix, word: prefix + word, st.sampled_from(["", "-"]), st.sampled_from(_WORDS)), max_size=4).map(" ".join),
    st.lists(st.sampled_from(_WORDS).map(lambda w: "?" + w), min_size=1, max_size=3).map(" ".join),
)
_LEAVES = ["Root", "CreateAccessKey", "ASIAXYZ", "AKIAXYZ", "arn:aws:iam::111122223333:root", "1", "203.0.113.9",
           "AccessDenied", "AwsServiceEvent", "iam.amazonaws.com", "x:root", "", "userIdentity", "invokedBy"]
_leaf = st.one_of(st.none(), st.booleans(), st.integers(-3, 10), st.sampled_from(_LEAVES), st.text(max_size=4))


def _complete(data: st.DataObject, spec: FieldSpec, paths: list[tuple[Any, ...]]) -> Any:
    """One concrete value for a spec, steering free fields towards the selectors the pattern reads."""
    if isinstance(spec, Absent):
        return _NONE
    if isinstance(spec, Const):
        return spec.value
    if isinstance(spec, Shape):
        return "".join(data.draw(st.sampled_from(segment)) for segment in spec.segments)
    if isinstance(spec, Obj):
        keys = list(spec.fields) + sorted({p[0] for p in paths if p and isinstance(p[0], str) and p[0] not in spec.fields})
        out = {}
        for key in keys:
            value = _complete(data, spec.fields.get(key, Free()), [p[1:] for p in paths if p and p[0] == key])
            if value is not _NONE:
                out[key] = value
        return out
    if not spec.present and data.draw(st.booleans()):
        return _NONE
    deeper = [p for p in paths if p]
    kind = data.draw(st.sampled_from(["leaf", "object", "list"] if deeper else ["leaf", "object"]))
    if kind == "leaf":
        return data.draw(_leaf)
    if kind == "object":
        return _complete(data, Obj({}), deeper)
    length = max([p[0] + 1 for p in deeper if isinstance(p[0], int)] + [1])
    return [_complete(data, Free(), [p[1:] for p in deeper if p[0] == i]) for i in range(length)]


_NONE = object()


def _selectors(parsed: Any) -> list[tuple[Any, ...]]:
    found: list[tuple[Any, ...]] = []

    def walk(node: Any) -> None:
        if isinstance(node, Comparison):
            found.append(node.selector)
        elif isinstance(node, BoolOp):
            walk(node.left)
            walk(node.right)
        elif isinstance(node, Group):
            for operand in node.operands:
                walk(operand)

    if isinstance(parsed, JsonPattern):
        walk(parsed.root)
    return found


@given(st.one_of(_json_patterns, _term_patterns), st.sampled_from(sorted(samples.CLASS_DESCRIPTIONS)), st.data())
@settings(max_examples=250)
def test_judge_class_agrees_with_concrete_evaluation_on_random_completions(text: str, name: str, data: st.DataObject) -> None:
    parsed = parse(text)
    event_class = samples.event_class(name)
    verdict = judge_class(parsed, event_class)
    for _ in range(5):
        event = _complete(data, event_class.root, _selectors(parsed))
        if verdict.value is not None:
            assert matches(parsed, event) is verdict.value, event


@given(st.dictionaries(st.sampled_from(["metricName", "namespace", "statistic", "extendedStatistic", "period", "evaluationPeriods",
                                        "datapointsToAlarm", "threshold", "comparisonOperator", "treatMissingData", "actionsEnabled",
                                        "dimensions", "unit", "metricQueries", "evaluateLowSampleCountPercentile"]), json_value, max_size=10),
       json_value, json_value)
def test_evaluate_alarm_any_props_returns_findings(alarm: dict[str, Any], value: Any, default: Any) -> None:
    spec = MetricSpec("RootAccessKeyCreated", "RootKeyGuardrails", value, default)
    assert isinstance(evaluate_alarm(alarm, spec, 300), list)


@given(st.dictionaries(st.sampled_from(["enableLogging", "isMultiRegionTrail", "includeGlobalServiceEvents", "eventSelectors", "advancedEventSelectors"]), json_value, max_size=5))
def test_trail_findings_any_props_returns_findings(props: dict[str, Any]) -> None:
    assert isinstance(trail_findings(props), list)


_context_value = st.one_of(st.none(), st.sampled_from(["111122223333", "arn:aws:cloudwatch:us-east-1:111122223333:alarm:a"]), st.text(max_size=6))
_contexts = st.dictionaries(st.sampled_from(["aws:sourceaccount", "aws:sourcearn"]), _context_value, max_size=2)


@given(document, st.sampled_from(["cloudwatch.amazonaws.com", "events.amazonaws.com"]), _contexts, st.booleans())
def test_resource_policy_problem_any_document_returns_verdict(text: Any, service: str, context: dict[str, Any], need_allow: bool) -> None:
    publisher = Publisher(Res("urn:x", "t", "x", {}), service, context)
    result = resource_policy_problem(text, "key policy", ("kms:Decrypt", "kms:GenerateDataKey"), publisher, need_allow=need_allow)
    assert result is None or (isinstance(result, str) and result)


# --- whole validators: any property value on any baseline resource yields a verdict, never an exception ---

from rootkey_pack.pack import POLICIES  # noqa: E402

from tests.policypack import stackkit as k  # noqa: E402

_BASELINE_NAMES = sorted(k.baseline())
_prop_value = st.one_of(json_value, st.just(k.UNKNOWN), st.lists(st.just(k.UNKNOWN), max_size=2), st.builds(json.dumps, json_value))


@given(st.lists(st.tuples(st.sampled_from(_BASELINE_NAMES), st.text(min_size=1, max_size=3) | st.sampled_from(
    ["content", "type", "pattern", "metricTransformation", "logGroupName", "alarmActions", "threshold", "statistic",
     "policy", "kmsMasterKeyId", "isMultiRegionTrail", "eventSelectors", "scheduleExpression", "state", "handler",
     "cloudWatchLogsGroupArn", "topic", "function", "principal", "targetId", "policyId", "region", "metricQueries",
     "extendedStatistic", "qualifier", "sourceAccount", "reservedConcurrentExecutions", "assumeRolePolicy",
     "environment", "cloudWatchLogsRoleArn", "isOrganizationTrail", "action"]), _prop_value), max_size=6),
       st.dictionaries(st.sampled_from(["stacks", "allowUnknownValues", "maxAlarmPeriodSeconds", "externalTrailLogGroups"]), json_value, max_size=2))
@settings(max_examples=60)
def test_stack_validators_any_mutation_return_verdict(changes: list[tuple[str, str, Any]], config: dict[str, Any]) -> None:
    specs = k.baseline()
    for name, prop, value in changes:
        specs[name].props[prop] = value
    for policy in POLICIES:
        if isinstance(policy, StackValidationPolicy):
            outcome = k.run(policy.validate, k.stack_args(specs, config))
        else:
            outcome = None
            for spec in specs.values():
                outcome = k.run(policy.validate, k.resource_args(spec.type, spec.name, spec.props, config))
        assert outcome is None or all(isinstance(m, str) and m for m, _ in outcome.messages)
