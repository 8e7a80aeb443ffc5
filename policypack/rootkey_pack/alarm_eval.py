"""Does one matching log event move a CloudWatch alarm to ALARM and notify someone? (CIS AWS 4.3 / 5.3 monitoring,
Security Hub CloudWatch.1, and the root CreateAccessKey detection.)

A metric filter publishes `metricValue` for each matching event and, when `defaultValue` is set, that default for
every other event in the log group. The analysis computes the range the alarm's statistic can take in a period that
holds exactly one matching event plus any number of default datapoints, and requires the comparison to hold over the
whole range; then one breaching datapoint must suffice (datapoints-to-alarm 1), the alarm must not sit in ALARM
without events (which would swallow the notification), and its actions must be enabled and non-empty.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Mapping, Optional

from .text import ascii_float
from .values import MISSING, UNKNOWN, contains_unknown, not_boolean

GREATER_OPERATORS = ("GreaterThanOrEqualToThreshold", "GreaterThanThreshold")

# terraform-provider-aws, and so pulumi-aws's state and a deployed stack export, records an optional attribute the
# program left unset as its zero value ("" or 0), and sends CloudWatch no parameter for it (GetOk is false for a
# zero value). Only attributes whose zero value CloudWatch itself rejects (a minimum length or value of 1, or an
# enum) are listed: for those the zero value cannot mean anything but "unset", so reading it as absent can never
# pass an alarm that AWS would evaluate differently. `threshold` 0 is a real threshold and is not listed.
_ALARM_ZERO_MEANS_UNSET = {
    "metricName": "", "namespace": "", "statistic": "", "extendedStatistic": "", "unit": "", "period": 0,
    "datapointsToAlarm": 0, "evaluateLowSampleCountPercentile": "", "thresholdMetricId": "", "treatMissingData": "",
}
_TRANSFORMATION_ZERO_MEANS_UNSET = {"defaultValue": "", "unit": ""}


def _without_unset_zeros(props: Mapping[str, Any], zeros: Mapping[str, Any]) -> dict[str, Any]:
    """`props` without the provider's zero values that stand for an unset attribute (see above)."""
    # `type(v) is type(z)` keeps False (a bool, which equals 0) from reading as an unset number.
    return {k: v for k, v in props.items() if not (k in zeros and type(v) is type(zeros[k]) and v == zeros[k])}
STATISTICS = ("Sum", "Maximum", "Minimum", "Average", "SampleCount")


@dataclass(frozen=True)
class MetricSpec:
    """What a metric filter publishes."""

    name: Any
    namespace: Any
    value: Any
    default_value: Any = MISSING
    dimensions: Any = MISSING
    unit: Any = MISSING
    # A metric filter publishes only when an event matches; the audit's metrics (and Lambda's Errors) get a value
    # on every run, which brings an alarm that ignores missing data back to OK before the next failure.
    silent_between_events: bool = True

    @staticmethod
    def from_filter_props(props: Mapping[str, Any]) -> Optional[MetricSpec]:
        mt = props.get("metricTransformation", MISSING)
        if isinstance(mt, list):  # the provider models it as a single-item block
            mt = mt[0] if len(mt) == 1 else MISSING
        if not isinstance(mt, Mapping):
            return None
        mt = _without_unset_zeros(mt, _TRANSFORMATION_ZERO_MEANS_UNSET)
        return MetricSpec(
            mt.get("name", MISSING),
            mt.get("namespace", MISSING),
            mt.get("value", MISSING),
            mt.get("defaultValue", MISSING),
            mt.get("dimensions", MISSING),
            mt.get("unit", MISSING),
        )


@dataclass(frozen=True)
class AlarmFinding:
    """Either a problem (the alarm would not fire / notify) or a value that is unknown and needed."""

    problem: Optional[str] = None
    unknown_property: Optional[str] = None


def _number(value: Any) -> Optional[float]:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(float(value)) else None
    if isinstance(value, str):
        # Not float(): it also takes blanks, "1_0" and other scripts' digits, which AWS does not.
        return ascii_float(value)
    return None


def _shown(prop: str, value: Any) -> str:
    return f"no {prop}" if value in (MISSING, None) else f"{prop} {value!r}"


def metric_value(spec: MetricSpec) -> tuple[Optional[float], Optional[AlarmFinding]]:
    if spec.value is UNKNOWN:
        return None, AlarmFinding(unknown_property="metricTransformation.value")
    value = _number(spec.value)
    if value is None or value <= 0:
        return None, AlarmFinding(
            problem=f"publishes {_shown('metric value', spec.value)}, expected a positive constant such as \"1\" so each event counts"
        )
    return value, None


def statistic_range(statistic: str, value: float, default: Optional[float]) -> tuple[float, float]:
    """Lowest and highest value of the statistic in a period holding one matching event."""
    if statistic == "SampleCount":
        return (1.0, math.inf) if default is not None else (1.0, 1.0)
    if default is None:
        return value, value
    low, high = min(value, default), max(value, default)
    if statistic == "Sum":
        if default > 0:
            return value, math.inf
        if default < 0:
            return -math.inf, value
        return value, value
    if statistic == "Maximum":
        return value, max(value, default)
    if statistic == "Minimum":
        return min(value, default), value
    return low, high  # Average and percentiles lie between the two values


# A percentile of a period's datapoints lies between its smallest and largest one; trimmed means, counts, sums,
# interquartile means and percentile ranks (TM, TC, TS, WM, IQM, PR) depend on how many datapoints the bounds cut.
_PERCENTILE_RE = re.compile(r"^p(100(\.0+)?|[0-9]{1,2}(\.[0-9]+)?)\Z")
_PLAIN_METRIC_PROPS = ("metricName", "namespace", "statistic", "extendedStatistic", "period", "dimensions", "unit")


def single_metric_view(alarm: Mapping[str, Any]) -> tuple[Optional[dict[str, Any]], Optional[AlarmFinding]]:
    """The alarm as a plain single-metric alarm: itself, or the one metric stat of its `metricQueries`.

    A `metricQueries` alarm with a single query that returns one metric's statistic is the plain form written
    another way; metric math (an expression, or several queries) is not evaluated, and fails closed.
    """
    alarm = _without_unset_zeros(alarm, _ALARM_ZERO_MEANS_UNSET)
    queries = alarm.get("metricQueries", MISSING)
    if queries in (MISSING, None, []):
        return alarm, None
    if queries is UNKNOWN or contains_unknown(queries):
        return None, AlarmFinding(unknown_property="metricQueries")
    if not isinstance(queries, list) or len(queries) != 1 or not isinstance(queries[0], Mapping):
        count = len(queries) if isinstance(queries, list) else "malformed"
        return None, AlarmFinding(problem=f"uses metric math ({count} metricQueries), which the pack cannot evaluate; expected a single metric alarm or one metric query with returnData true")
    query = queries[0]
    metric = query.get("metric", MISSING)
    if query.get("expression", MISSING) not in (MISSING, None, ""):
        return None, AlarmFinding(problem=f"uses metric math (expression {query.get('expression')!r}), which the pack cannot evaluate; expected a single metric alarm or one metric query with returnData true")
    if not isinstance(metric, Mapping):
        return None, AlarmFinding(problem="has a metric query with no metric, which the pack cannot evaluate; expected a single metric alarm or one metric query with returnData true")
    if not_boolean(query.get("returnData", MISSING)):
        return None, AlarmFinding(problem=f"has its only metric query with returnData {query.get('returnData')!r}, not true or false")
    if query.get("returnData", MISSING) is False:
        return None, AlarmFinding(problem="has its only metric query with returnData false, so the alarm has no data to evaluate")
    if query.get("accountId", MISSING) not in (MISSING, None, ""):
        return None, AlarmFinding(problem=f"watches a metric of account {query.get('accountId')!r} through metricQueries, which the pack cannot tie to this stack's filter; expected the stack's own metric")
    clashing = [p for p in _PLAIN_METRIC_PROPS if alarm.get(p, MISSING) not in (MISSING, None)]
    if clashing:
        return None, AlarmFinding(problem=f"sets {', '.join(clashing)} beside metricQueries, which CloudWatch rejects; expected one form or the other")
    view = {k: v for k, v in alarm.items() if k != "metricQueries"}
    stat = metric.get("stat", MISSING)
    view.update({
        "metricName": metric.get("metricName", MISSING), "namespace": metric.get("namespace", MISSING),
        "period": metric.get("period", MISSING), "dimensions": metric.get("dimensions", MISSING), "unit": metric.get("unit", MISSING),
    })
    view["statistic" if stat in STATISTICS or not isinstance(stat, str) else "extendedStatistic"] = stat
    return _without_unset_zeros({k: v for k, v in view.items() if v is not MISSING}, _ALARM_ZERO_MEANS_UNSET), None


def evaluate_alarm(alarm: Mapping[str, Any], spec: MetricSpec, max_period: int, source: str = "the filter") -> list[AlarmFinding]:
    """Findings that keep this alarm from going to ALARM on a single event of the metric `source` publishes (a
    metric filter's, or another publisher's described by `spec`)."""
    findings: list[AlarmFinding] = []

    def need(prop: str) -> Any:
        value = alarm.get(prop, MISSING)
        if value is UNKNOWN:
            findings.append(AlarmFinding(unknown_property=prop))
        return value

    view, finding = single_metric_view(alarm)
    if view is None:
        return [finding] if finding else []
    alarm = view

    value, finding = metric_value(spec)
    if finding:
        findings.append(finding)
    default: Optional[float] = None
    if spec.default_value not in (MISSING, None):
        if spec.default_value is UNKNOWN:
            findings.append(AlarmFinding(unknown_property="metricTransformation.defaultValue"))
        else:
            default = _number(spec.default_value)
            if default is None:
                findings.append(AlarmFinding(problem=f"has a filter defaultValue {spec.default_value!r} that is not a number"))

    statistic = need("statistic")
    extended = need("extendedStatistic")
    comparison = need("comparisonOperator")
    threshold_raw = need("threshold")
    if any(f.unknown_property for f in findings):
        return findings

    if statistic in (MISSING, None) and extended in (MISSING, None):
        findings.append(AlarmFinding(problem="has no statistic, expected Sum, Maximum or SampleCount"))
        stat_name = None
    elif statistic not in (MISSING, None):
        stat_name = statistic if statistic in STATISTICS else None
        if stat_name is None:
            findings.append(AlarmFinding(problem=f"has statistic {statistic!r}, expected one of {', '.join(STATISTICS)}"))
    elif not (isinstance(extended, str) and _PERCENTILE_RE.match(extended)):
        stat_name = None
        findings.append(AlarmFinding(problem=(
            f"has extendedStatistic {extended!r}, which the pack cannot show one event moves past the threshold (only "
            f"percentiles pNN are evaluated); expected statistic Sum")))
    else:
        stat_name = "Percentile"
        low_samples = alarm.get("evaluateLowSampleCountPercentile", MISSING)
        if low_samples is UNKNOWN:
            findings.append(AlarmFinding(unknown_property="evaluateLowSampleCountPercentile"))
        elif low_samples == "ignore":
            # One event is a low sample count: "ignore" keeps the alarm in its current state instead of evaluating.
            findings.append(AlarmFinding(problem="has evaluateLowSampleCountPercentile 'ignore', so a period with a single event keeps the alarm's state"))
    if statistic not in (MISSING, None) and extended not in (MISSING, None):
        findings.append(AlarmFinding(problem="sets both statistic and extendedStatistic, which CloudWatch rejects; expected statistic Sum"))

    threshold = _number(threshold_raw)
    if threshold is None:
        findings.append(AlarmFinding(problem=f"has {_shown('threshold', threshold_raw)}, expected a number"))
    if comparison not in GREATER_OPERATORS:
        findings.append(
            AlarmFinding(problem=f"uses comparison operator {comparison!r}, expected GreaterThanOrEqualToThreshold or GreaterThanThreshold")
        )
    if value is not None and stat_name is not None and threshold is not None and comparison in GREATER_OPERATORS:
        low, _ = statistic_range(stat_name, value, default)
        fires = low >= threshold if comparison == "GreaterThanOrEqualToThreshold" else low > threshold
        if not fires:
            op = ">=" if comparison == "GreaterThanOrEqualToThreshold" else ">"
            findings.append(
                AlarmFinding(
                    problem=f"needs {stat_name} {op} {threshold:g} but one matching event can give {low:g}, so a single event does not fire it"
                )
            )
        if default is not None:
            idle_low, _ = statistic_range(stat_name, default, None) if stat_name != "SampleCount" else (1.0, 1.0)
            idle_fires = idle_low >= threshold if comparison == "GreaterThanOrEqualToThreshold" else idle_low > threshold
            if idle_fires:
                findings.append(
                    AlarmFinding(problem="breaches on the filter's defaultValue alone, so it stays in ALARM and never notifies a new event")
                )

    periods = need("evaluationPeriods")
    datapoints = need("datapointsToAlarm")
    period = need("period")
    if any(f.unknown_property for f in findings):
        return findings
    n_periods = _number(periods)
    if n_periods is None or n_periods < 1 or n_periods != int(n_periods):
        findings.append(AlarmFinding(problem=f"has {_shown('evaluationPeriods', periods)}, expected a positive integer"))
    required = _number(datapoints) if datapoints not in (MISSING, None) else n_periods
    if datapoints not in (MISSING, None) and required is None:
        findings.append(AlarmFinding(problem=f"has {_shown('datapointsToAlarm', datapoints)}, expected a positive integer"))
    elif required is not None and required != 1:
        findings.append(
            AlarmFinding(problem=f"needs {required:g} breaching datapoints to alarm but a single event produces one")
        )
    seconds = _number(period)
    if seconds is None:
        findings.append(AlarmFinding(problem=f"has {_shown('period', period)}, expected a number of seconds"))
    elif seconds not in (10, 30) and (seconds < 60 or seconds % 60):
        findings.append(AlarmFinding(problem=f"has period {seconds:g} s, expected 10, 30 or a multiple of 60 seconds"))
    elif seconds > max_period:
        findings.append(AlarmFinding(problem=f"has period {seconds:g} s, longer than the {max_period} s allowed"))

    treat = alarm.get("treatMissingData", MISSING)
    if treat is UNKNOWN:
        findings.append(AlarmFinding(unknown_property="treatMissingData"))
    elif treat == "breaching":
        findings.append(AlarmFinding(problem="treats missing data as breaching, so it stays in ALARM and never notifies a new event"))
    elif treat == "ignore" and spec.silent_between_events and spec.default_value is UNKNOWN:
        findings.append(AlarmFinding(unknown_property="metricTransformation.defaultValue"))
    elif treat == "ignore" and spec.silent_between_events and spec.default_value in (MISSING, None):
        # Without a default value nothing is published between events, and "ignore" keeps the alarm's state through
        # the gap: once in ALARM it stays there, so the next event is no state change and notifies nobody.
        findings.append(AlarmFinding(problem=(
            f"ignores missing data while {source} publishes nothing between events, so after one event it stays in "
            f"ALARM and never notifies the next")))
    elif treat not in (MISSING, None, "missing", "notBreaching", "ignore"):
        findings.append(AlarmFinding(problem=f"has treatMissingData {treat!r}, expected missing, notBreaching or ignore"))

    # The alarm watches the filter's metric only if name, namespace, dimensions and unit all line up.
    for prop, expected in (("metricName", spec.name), ("namespace", spec.namespace)):
        actual = alarm.get(prop, MISSING)
        if actual is UNKNOWN:
            findings.append(AlarmFinding(unknown_property=prop))
        elif expected is UNKNOWN:
            findings.append(AlarmFinding(unknown_property=f"metricTransformation.{'name' if prop == 'metricName' else 'namespace'}"))
        elif actual != expected:
            findings.append(AlarmFinding(problem=f"watches {_shown(prop, actual)} but {source} publishes {expected if expected not in (MISSING, None) else 'none'!r}"))
    dims = alarm.get("dimensions", MISSING)
    filter_dims = spec.dimensions if spec.dimensions not in (MISSING, None) else {}
    if dims is UNKNOWN:
        findings.append(AlarmFinding(unknown_property="dimensions"))
    elif filter_dims is UNKNOWN:
        findings.append(AlarmFinding(unknown_property="metricTransformation.dimensions"))
    elif filter_dims:
        # A filter's dimension values are field selectors: it publishes one metric per value found in the events,
        # and an alarm names one of them (or, copying the selector, none). No single alarm sees every event.
        findings.append(AlarmFinding(problem=(
            f"watches a metric that {source} publishes per value of dimensions {filter_dims!r}, so the alarm sees "
            f"only the values it names; expected a metric without dimensions")))
    elif (dims if dims not in (MISSING, None) else {}) != filter_dims:
        findings.append(AlarmFinding(problem=f"watches dimensions {dims!r} but {source} publishes {filter_dims!r}"))
    unit = alarm.get("unit", MISSING)
    filter_unit = spec.unit if spec.unit not in (MISSING, None) else "None"
    if unit is UNKNOWN:
        findings.append(AlarmFinding(unknown_property="unit"))
    elif unit not in (MISSING, None) and unit != filter_unit:
        findings.append(AlarmFinding(problem=f"watches unit {unit!r} but {source} publishes unit {filter_unit!r}"))

    enabled = alarm.get("actionsEnabled", MISSING)
    if enabled is UNKNOWN:
        findings.append(AlarmFinding(unknown_property="actionsEnabled"))
    elif not_boolean(enabled):
        findings.append(AlarmFinding(problem=f"has actionsEnabled {enabled!r}, not true or false"))
    elif enabled is False:
        findings.append(AlarmFinding(problem="has actionsEnabled false, so it notifies nobody"))
    return findings
