"""Alarm analysis: does one matching event move the alarm to ALARM?"""

from __future__ import annotations

import math
from typing import Any

import pytest
from rootkey_pack.alarm_eval import (
    AlarmFinding,
    MetricSpec,
    evaluate_alarm,
    statistic_range,
)
from rootkey_pack.values import UNKNOWN

SPEC = MetricSpec("RootAccessKeyCreated", "RootKeyGuardrails", "1")
ALARM = {
    "metricName": "RootAccessKeyCreated", "namespace": "RootKeyGuardrails", "statistic": "Sum", "period": 300,
    "evaluationPeriods": 1, "threshold": 1, "comparisonOperator": "GreaterThanOrEqualToThreshold",
}


QUERY = {"id": "m1", "returnData": True, "metric": {"metricName": "RootAccessKeyCreated", "namespace": "RootKeyGuardrails", "period": 300, "stat": "Sum"}}
AS_QUERY = {"metricName": None, "namespace": None, "statistic": None, "period": None}
MATH = "uses metric math ({what}), which the pack cannot evaluate; expected a single metric alarm or one metric query with returnData true"


def query(**changes: Any) -> list[dict[str, Any]]:
    metric = {**QUERY["metric"], **{k: v for k, v in changes.items() if k in ("metricName", "namespace", "period", "stat", "unit", "dimensions")}}
    out = {**QUERY, "metric": metric, **{k: v for k, v in changes.items() if k in ("returnData", "expression", "accountId")}}
    return [{k: v for k, v in out.items() if v is not None}]


def findings(spec: MetricSpec = SPEC, **changes: Any) -> list[AlarmFinding]:
    alarm = {**ALARM, **changes}
    return evaluate_alarm({k: v for k, v in alarm.items() if v is not None}, spec, 300)


@pytest.mark.parametrize(("statistic", "value", "default", "expected"), [
    ("Sum", 1.0, None, (1.0, 1.0)),
    ("Sum", 1.0, 0.0, (1.0, 1.0)),
    ("Sum", 1.0, 2.0, (1.0, math.inf)),
    ("Sum", 1.0, -1.0, (-math.inf, 1.0)),
    ("SampleCount", 1.0, None, (1.0, 1.0)),
    ("SampleCount", 1.0, 0.0, (1.0, math.inf)),
    ("Maximum", 1.0, 0.0, (1.0, 1.0)),
    ("Minimum", 1.0, 0.0, (0.0, 1.0)),
    ("Average", 1.0, 0.0, (0.0, 1.0)),
    ("Average", 1.0, None, (1.0, 1.0)),
])
def test_statistic_range_one_event(statistic: str, value: float, default: Any, expected: tuple[float, float]) -> None:
    assert statistic_range(statistic, value, default) == expected


@pytest.mark.parametrize("changes", [
    {},
    {"statistic": "Maximum"},
    {"statistic": "SampleCount"},
    {"statistic": "Average"},
    {"statistic": None, "extendedStatistic": "p100"},
    {"threshold": 0, "comparisonOperator": "GreaterThanThreshold"},
    {"threshold": 0.5},
    {"evaluationPeriods": 3, "datapointsToAlarm": 1},
    {"period": 60},
    {"threshold": "1"},
    {"treatMissingData": "notBreaching"},
    {"actionsEnabled": True},
    {"unit": "None"},
    {"period": 10},
    {"period": 30},
    {"statistic": None, "extendedStatistic": "p99", "evaluateLowSampleCountPercentile": "evaluate"},
    {"treatMissingData": "missing"},
    {"statistic": None, "extendedStatistic": "p50"},
    {"statistic": None, "extendedStatistic": "p99.9"},
    {**AS_QUERY, "metricQueries": query()},
    {**AS_QUERY, "metricQueries": query(returnData=None)},
    {**AS_QUERY, "metricQueries": query(period=60)},
    {**AS_QUERY, "metricQueries": query(stat="Maximum")},
])
def test_evaluate_alarm_equivalent_alarm_fires(changes: dict[str, Any]) -> None:
    assert findings(**changes) == []


IGNORED = ("ignores missing data while the filter publishes nothing between events, so after one event it stays in ALARM "
           "and never notifies the next")
PER_VALUE = ("watches a metric that the filter publishes per value of dimensions {'Account': '$.userIdentity.accountId'}, so "
             "the alarm sees only the values it names; expected a metric without dimensions")


@pytest.mark.parametrize(("spec", "changes", "problem"), [
    (SPEC, {"treatMissingData": "ignore"}, IGNORED),
    (SPEC, {"treatMissingData": "Breaching"}, "has treatMissingData 'Breaching', expected missing, notBreaching or ignore"),
    (SPEC, {"treatMissingData": 0}, "has treatMissingData 0, expected missing, notBreaching or ignore"),
    # The alarm copying the filter's selector watches a metric nobody publishes; a real value sees one account only.
    (MetricSpec("RootAccessKeyCreated", "RootKeyGuardrails", "1", dimensions={"Account": "$.userIdentity.accountId"}),
     {"dimensions": {"Account": "$.userIdentity.accountId"}}, PER_VALUE),
    (MetricSpec("RootAccessKeyCreated", "RootKeyGuardrails", "1", dimensions={"Account": "$.userIdentity.accountId"}),
     {"dimensions": {"Account": "111122223333"}}, PER_VALUE),
])
def test_evaluate_alarm_missing_data_and_dimensions_problem(spec: MetricSpec, changes: dict[str, Any], problem: str) -> None:
    assert findings(spec, **changes) == [AlarmFinding(problem=problem)]


def test_evaluate_alarm_ignore_with_default_value_fires() -> None:
    # With a default value the filter publishes between events, so the alarm leaves ALARM before the next one.
    assert findings(MetricSpec("RootAccessKeyCreated", "RootKeyGuardrails", "1", default_value="0"), treatMissingData="ignore") == []


@pytest.mark.parametrize(("spec", "changes", "prop"), [
    (MetricSpec("RootAccessKeyCreated", "RootKeyGuardrails", "1", default_value=UNKNOWN), {"treatMissingData": "ignore"},
     "metricTransformation.defaultValue"),
    (MetricSpec("RootAccessKeyCreated", "RootKeyGuardrails", "1", dimensions=UNKNOWN), {}, "metricTransformation.dimensions"),
])
def test_evaluate_alarm_unknown_filter_value_named(spec: MetricSpec, changes: dict[str, Any], prop: str) -> None:
    assert findings(spec, **changes) == [AlarmFinding(unknown_property=prop)]


@pytest.mark.parametrize(("changes", "problem"), [
    ({"threshold": 1, "comparisonOperator": "GreaterThanThreshold"}, "needs Sum > 1 but one matching event can give 1, so a single event does not fire it"),
    ({"threshold": None}, "has no threshold, expected a number"),
    ({"statistic": None}, "has no statistic, expected Sum, Maximum or SampleCount"),
    ({"comparisonOperator": "LessThanLowerOrGreaterThanUpperThreshold"}, "uses comparison operator 'LessThanLowerOrGreaterThanUpperThreshold', expected GreaterThanOrEqualToThreshold or GreaterThanThreshold"),
    ({"evaluationPeriods": 0}, "has evaluationPeriods 0, expected a positive integer"),
    ({"period": 600}, "has period 600 s, longer than the 300 s allowed"),
    ({"metricName": "RootAccountUsage"}, "watches metricName 'RootAccountUsage' but the filter publishes 'RootAccessKeyCreated'"),
    ({"period": 0}, "has no period, expected a number of seconds"),  # the provider's zero value: unset
    ({"period": -60}, "has period -60 s, expected 10, 30 or a multiple of 60 seconds"),
    ({"period": 90}, "has period 90 s, expected 10, 30 or a multiple of 60 seconds"),
    ({"statistic": None, "extendedStatistic": "p99", "evaluateLowSampleCountPercentile": "ignore"},
     "has evaluateLowSampleCountPercentile 'ignore', so a period with a single event keeps the alarm's state"),
    ({"extendedStatistic": "p99"}, "sets both statistic and extendedStatistic, which CloudWatch rejects; expected statistic Sum"),
    ({"evaluationPeriods": 2, "datapointsToAlarm": 2}, "needs 2 breaching datapoints to alarm but a single event produces one"),
    ({"comparisonOperator": "LessThanThreshold"}, "uses comparison operator 'LessThanThreshold', expected GreaterThanOrEqualToThreshold or GreaterThanThreshold"),
    ({"comparisonOperator": "LessThanOrEqualToThreshold"}, "uses comparison operator 'LessThanOrEqualToThreshold', expected GreaterThanOrEqualToThreshold or GreaterThanThreshold"),
    ({"actionsEnabled": False}, "has actionsEnabled false, so it notifies nobody"),
    ({"namespace": "AWS/Logs"}, "watches namespace 'AWS/Logs' but the filter publishes 'RootKeyGuardrails'"),
    ({"metricName": "rootaccesskeycreated"}, "watches metricName 'rootaccesskeycreated' but the filter publishes 'RootAccessKeyCreated'"),
    ({**AS_QUERY, "metricQueries": [{"id": "m1"}]}, "has a metric query with no metric, which the pack cannot evaluate; expected a single metric alarm or one metric query with returnData true"),
    ({**AS_QUERY, "metricQueries": query(expression="m1 * 0")}, MATH.format(what="expression 'm1 * 0'")),
    ({**AS_QUERY, "metricQueries": query() + [{"id": "e1", "expression": "m1", "returnData": True}]}, MATH.format(what="2 metricQueries")),
    ({**AS_QUERY, "metricQueries": query(returnData=False)}, "has its only metric query with returnData false, so the alarm has no data to evaluate"),
    ({**AS_QUERY, "metricQueries": query(stat="Minimum", namespace="AWS/Logs")}, "watches namespace 'AWS/Logs' but the filter publishes 'RootKeyGuardrails'"),
    ({**AS_QUERY, "metricQueries": query(period=600)}, "has period 600 s, longer than the 300 s allowed"),
    ({**AS_QUERY, "metricQueries": query(accountId="444455556666")}, "watches a metric of account '444455556666' through metricQueries, which the pack cannot tie to this stack's filter; expected the stack's own metric"),
    ({"metricQueries": query()}, "sets metricName, namespace, statistic, period beside metricQueries, which CloudWatch rejects; expected one form or the other"),
    ({**AS_QUERY, "metricQueries": query(stat="PR(:0.5)")}, "has extendedStatistic 'PR(:0.5)', which the pack cannot show one event moves past the threshold (only percentiles pNN are evaluated); expected statistic Sum"),
    *[({"statistic": None, "extendedStatistic": stat}, f"has extendedStatistic {stat!r}, which the pack cannot show one event moves past the threshold (only percentiles pNN are evaluated); expected statistic Sum")
      for stat in ("PR(:0.5)", "TM(10%:90%)", "TC(0.5:)", "TS(:1)", "WM(10%:90%)", "IQM", "p101", "P99")],
])
def test_evaluate_alarm_weakened_alarm_problem(changes: dict[str, Any], problem: str) -> None:
    assert AlarmFinding(problem=problem) in findings(**changes)


def test_evaluate_alarm_default_value_that_breaches_idle_reported() -> None:
    spec = MetricSpec("RootAccessKeyCreated", "RootKeyGuardrails", "1", default_value=1)
    assert findings(spec) == [AlarmFinding(problem="breaches on the filter's defaultValue alone, so it stays in ALARM and never notifies a new event")]


def test_evaluate_alarm_samplecount_with_default_always_breaches() -> None:
    spec = MetricSpec("RootAccessKeyCreated", "RootKeyGuardrails", "1", default_value=0)
    assert findings(spec, statistic="SampleCount") == [AlarmFinding(problem="breaches on the filter's defaultValue alone, so it stays in ALARM and never notifies a new event")]


@pytest.mark.parametrize(("changes", "prop"), [
    ({"threshold": UNKNOWN}, "threshold"),
    ({"statistic": UNKNOWN}, "statistic"),
    ({"period": UNKNOWN}, "period"),
    ({"metricName": UNKNOWN}, "metricName"),
    ({"actionsEnabled": UNKNOWN}, "actionsEnabled"),
])
def test_evaluate_alarm_unknown_value_named(changes: dict[str, Any], prop: str) -> None:
    assert AlarmFinding(unknown_property=prop) in findings(**changes)


def test_evaluate_alarm_unknown_metric_value_named() -> None:
    spec = MetricSpec("RootAccessKeyCreated", "RootKeyGuardrails", UNKNOWN)
    assert findings(spec) == [AlarmFinding(unknown_property="metricTransformation.value")]


def test_metric_spec_from_filter_props_single_item_list() -> None:
    props = {"metricTransformation": [{"name": "n", "namespace": "ns", "value": "1"}]}
    assert MetricSpec.from_filter_props(props) == MetricSpec("n", "ns", "1")
    assert MetricSpec.from_filter_props({}) is None


# What terraform-provider-aws (and so a deployed stack export) records for the attributes the program left unset.
PROVIDER_ZEROS = {
    "extendedStatistic": "", "unit": "", "datapointsToAlarm": 0, "evaluateLowSampleCountPercentile": "",
    "thresholdMetricId": "", "treatMissingData": "",
}


@pytest.mark.parametrize("prop", sorted(PROVIDER_ZEROS))
def test_evaluate_alarm_provider_zero_value_reads_as_unset(prop: str) -> None:
    assert findings(**{prop: PROVIDER_ZEROS[prop]}) == []


def test_evaluate_alarm_provider_state_with_every_zero_value_passes() -> None:
    spec = MetricSpec.from_filter_props({"metricTransformation": [
        {"name": "RootAccessKeyCreated", "namespace": "RootKeyGuardrails", "value": "1", "defaultValue": "", "unit": "", "dimensions": {}}]})
    assert spec is not None and evaluate_alarm({**ALARM, **PROVIDER_ZEROS, "dimensions": {}}, spec, 300) == []


def test_evaluate_alarm_metric_query_in_provider_state_passes() -> None:
    provider_shape = {**ALARM, "metricName": "", "namespace": "", "statistic": "", "period": 0, **PROVIDER_ZEROS,
                      "metricQueries": [{**query()[0], "expression": "", "accountId": "", "label": ""}]}
    assert evaluate_alarm(provider_shape, SPEC, 300) == []


@pytest.mark.parametrize(("changes", "expected"), [
    # A zero value CloudWatch accepts is a real value, judged as one.
    ({"threshold": 0, "comparisonOperator": "GreaterThanThreshold", "datapointsToAlarm": 0}, []),
    ({"threshold": 2, "datapointsToAlarm": 0}, ["needs Sum >= 2 but one matching event can give 1, so a single event does not fire it"]),
    # A bool is never an unset number.
    ({"datapointsToAlarm": False}, ["has datapointsToAlarm False, expected a positive integer"]),
    ({"datapointsToAlarm": "one"}, ["has datapointsToAlarm 'one', expected a positive integer"]),
])
def test_evaluate_alarm_zero_value_only_unset_where_aws_rejects_it(changes: dict[str, Any], expected: list[str]) -> None:
    assert [f.problem for f in findings(**changes)] == expected

