"""The guardrails dashboard (components/dashboard.py): every widget reads a metric the program publishes.

Serves detection and the audit: a widget on a metric nobody writes stays blank and reads as "nothing happened", so
each widget's metric is matched against the filters' metricTransformations, the audit's own datums
(audit.publish.metric_data) and the audit function's AWS/Lambda metrics, and each alarm against the alarms created.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from typing import Any

import pytest

from audit.publish import metric_data
from audit.report import Status, error_result, verdict
from tests.audit.helpers import ROTATED, baseline_text, edit_root
from tests.components.support import Registered, program

DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
FILTER = "aws:cloudwatch/logMetricFilter:LogMetricFilter"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
FUNCTION = "aws:lambda/function:Function"
NOW = datetime(2026, 11, 29, 10, 0, tzinfo=timezone.utc)
# The namespace is double-quoted, as the search syntax needs for one with spaces.
SEARCH = re.compile(r"""^SEARCH\('\{"(?P<ns>[^"]+)",(?P<dims>[^}]+)\} MetricName="(?P<name>[^"]+)"', '\w+', \d+\)$""")

Metric = tuple[str, str, tuple[str, ...]]  # namespace, name, dimension names


def _audit_datums() -> set[tuple[str, tuple[str, ...]]]:
    # The datums of a run over a PASS, a FAIL, a WARN and an ERROR account: every name and dimension set it writes.
    text = baseline_text()
    results = [
        verdict(text, expected_account_id="111122223333", generated_at=NOW, now=NOW),
        verdict(edit_root(text.replace("111122223333", "222222222222"), access_key_1_active="true",
                          access_key_1_last_rotated=ROTATED), expected_account_id="222222222222", generated_at=NOW,
                now=NOW),
        verdict(edit_root(text.replace("111122223333", "444444444444"), access_key_2_last_rotated=ROTATED),
                expected_account_id="444444444444", generated_at=NOW, now=NOW),
        error_result("333333333333", "iam:GetCredentialReport failed (Throttling: Rate exceeded)"),
    ]
    assert [r.status for r in results] == [Status.PASS, Status.FAIL, Status.WARN, Status.ERROR]
    return {(d["MetricName"], tuple(x["Name"] for x in d.get("Dimensions", ()))) for d in metric_data(results, 0, NOW)}


def published(reg: Registered, namespace: str) -> set[Metric]:
    metrics: set[Metric] = {(f.inputs["metricTransformation"]["namespace"], f.inputs["metricTransformation"]["name"],
                             ()) for f in reg.of_type(FILTER)}
    if reg.of_type(FUNCTION):
        metrics |= {(namespace, name, dims) for name, dims in _audit_datums()}
        metrics |= {("AWS/Lambda", name, ("FunctionName",)) for name in ("Errors", "Duration")}
    return metrics


def widget_metrics(body: dict[str, Any], function_name: str | None) -> list[Metric]:
    found: list[Metric] = []
    for widget in body["widgets"]:
        for row in widget["properties"].get("metrics", []):
            if isinstance(row[0], dict):
                match = SEARCH.match(row[0]["expression"])
                assert match, row[0]["expression"]
                found.append((match["ns"], match["name"], tuple(match["dims"].split(","))))
                continue
            plain = [x for x in row if not isinstance(x, dict)]
            namespace, name, dims = plain[0], plain[1], plain[2:]
            if namespace == "AWS/Lambda":
                assert dims == ["FunctionName", function_name]
            found.append((namespace, name, tuple(dims[0::2])))
    return found


def _body(reg: Registered) -> dict[str, Any]:
    return json.loads(reg.one(DASHBOARD).inputs["dashboardBody"])


@pytest.mark.parametrize(
    ("overrides", "namespace", "expected_count"),
    [
        pytest.param({}, "RootKeyGuardrails", 9, id="default"),
        pytest.param({"metricNamespace": "Security/RootKeys"}, "Security/RootKeys", 9, id="namespace"),
        pytest.param({"cisRootUsageAlarm": False}, "RootKeyGuardrails", 8, id="no-cis-filter"),
        pytest.param({"enableDetection": False}, "RootKeyGuardrails", 6, id="audit-only"),
        pytest.param({"enableAudit": False}, "RootKeyGuardrails", 3, id="detection-only"),
    ],
)
def test_dashboard_widgets_read_published_metrics(overrides: dict[str, Any], namespace: str,
                                                  expected_count: int) -> None:
    reg = program(overrides, preview=False)
    functions = reg.of_type(FUNCTION)
    function_name = functions[0].outputs["name"] if functions else None

    metrics = widget_metrics(_body(reg), function_name)

    assert len(metrics) == expected_count
    assert sorted(set(metrics) - published(reg, namespace)) == []
    # And the other way: nothing the program publishes is missing from the page.
    assert sorted(published(reg, namespace) - set(metrics)) == []


def test_dashboard_alarm_widget_lists_every_alarm() -> None:
    reg = program(preview=False)
    [alarm_widget] = [w for w in _body(reg)["widgets"] if w["type"] == "alarm"]

    assert alarm_widget["properties"]["alarms"] == sorted(a.outputs["arn"] for a in reg.of_type(ALARM))
    assert len(alarm_widget["properties"]["alarms"]) == 4
    dashboard = reg.one(DASHBOARD)
    assert dashboard.inputs["dashboardName"] == "root-key-guardrails-dev-dashboard"
    assert reg.by_urn(dashboard.parent).type == "root-key-guardrails:dashboard:GuardrailsDashboard"


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"enableDashboard": False}, id="off"),
        pytest.param({"enableScp": False, "enableDetection": False, "enableAudit": False}, id="nothing-to-show"),
    ],
)
def test_dashboard_not_created(overrides: dict[str, Any]) -> None:
    assert program(overrides).of_type(DASHBOARD) == []
