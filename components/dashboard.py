"""A CloudWatch dashboard answering "is any root key active anywhere, and are the guardrails working?".

Serves detection (CIS 1.4 / 4.3, Security Hub IAM.4 / CloudWatch.1) and the audit: the guardrail alarms' states,
RootAccessKeysActive for the organization and per account, AuditErrors, the root CreateAccessKey filter metrics
(created and denied by the SCP) and the audit function's errors and duration, on one page.

The body is data built from the metric names the filters and the audit publish (components/documents.py, which
takes the audit's from audit/metrics.py), never retyped, so a renamed metric cannot leave a widget blank.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Sequence

import pulumi
import pulumi_aws as aws

from components import documents

WIDTH = 24  # the dashboard grid is 24 units wide
HALF = WIDTH // 2
HEIGHT = 6


@dataclass(frozen=True)
class DashboardArgs:
    # A stack-qualified name: dashboard names are unique per account, across every stack deployed to it.
    dashboard_name: str
    region: str
    metric_namespace: str
    alarm_arns: Sequence[pulumi.Input[str]]
    # The detection filters' metric names, in the namespace above; empty when detection is off.
    filter_metrics: Sequence[str] = ()
    filter_period_seconds: int = 300
    # The audit function's name, or None when the audit is off; its metrics are read over audit_period_seconds.
    audit_function_name: pulumi.Input[str] | None = None
    audit_period_seconds: int = 3600


def _metric_widget(title: str, metrics: list[list[Any]], region: str, period: int, stat: str, x: int, y: int,
                   width: int = HALF) -> dict[str, Any]:
    return {
        "type": "metric", "x": x, "y": y, "width": width, "height": HEIGHT,
        "properties": {"title": title, "region": region, "view": "timeSeries", "stacked": False,
                       "metrics": metrics, "period": period, "stat": stat},
    }


def per_account_search(namespace: str, metric: str, stat: str, period: int) -> str:
    """The SEARCH expression for one metric's per-account series (dimension AccountId), as the audit publishes it."""
    # The namespace in double quotes: the config allows spaces in it, and the search syntax needs them quoted
    # (it cannot hold a double quote itself).
    return (f"SEARCH('{{\"{namespace}\",{documents.DIMENSION_ACCOUNT_ID}}} MetricName=\"{metric}\"', "
            f"'{stat}', {period})")


def dashboard_body(args: DashboardArgs, alarm_arns: Sequence[str], function_name: str | None) -> dict[str, Any]:
    """The dashboard body (resolved values only), widgets laid out top to bottom."""
    ns, region = args.metric_namespace, args.region
    widgets: list[dict[str, Any]] = []
    y = 0
    if alarm_arns:
        widgets.append({"type": "alarm", "x": 0, "y": y, "width": WIDTH, "height": 3,
                        "properties": {"title": "Guardrail alarms", "alarms": sorted(alarm_arns)}})
        y += 3
    if function_name is not None:
        period = args.audit_period_seconds
        active, errors = documents.METRIC_ROOT_ACCESS_KEYS_ACTIVE, documents.METRIC_AUDIT_ERRORS
        widgets.append(_metric_widget(
            "Root access keys active: organization", [[ns, active, {"label": "all audited accounts"}]],
            region, period, "Maximum", 0, y))
        widgets.append(_metric_widget(
            "Root access keys active: per account",
            [[{"expression": per_account_search(ns, active, "Maximum", period), "id": "perAccount",
               "label": ""}]], region, period, "Maximum", HALF, y))
        y += HEIGHT
        widgets.append(_metric_widget(
            "Audit errors",
            [[ns, errors, {"label": "organization"}],
             [{"expression": per_account_search(ns, errors, "Maximum", period), "id": "errorsPerAccount",
               "label": ""}]],
            region, period, "Maximum", 0, y))
        widgets.append(_metric_widget(
            "Audit function", [["AWS/Lambda", "Errors", "FunctionName", function_name, {"stat": "Sum"}],
                               ["AWS/Lambda", "Duration", "FunctionName", function_name,
                                {"stat": "Maximum", "yAxis": "right"}]],
            region, period, "Sum", HALF, y))
        y += HEIGHT
    if args.filter_metrics:
        widgets.append(_metric_widget(
            "Root CreateAccessKey and root usage (CloudTrail metric filters)",
            [[ns, metric] for metric in args.filter_metrics], region, args.filter_period_seconds, "Sum", 0, y,
            width=WIDTH))
    return {"widgets": widgets}


class GuardrailsDashboard(pulumi.ComponentResource):
    """One aws.cloudwatch.Dashboard over the guardrails' alarms and metrics."""

    dashboard: aws.cloudwatch.Dashboard

    def __init__(self, name: str, args: DashboardArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("root-key-guardrails:dashboard:GuardrailsDashboard", name, None, opts)
        if not (args.filter_metrics or args.audit_function_name is not None):
            raise ValueError("the dashboard needs the detection filters or the audit function to show")
        body = pulumi.Output.all(
            list(args.alarm_arns),
            args.audit_function_name if args.audit_function_name is not None else "",
        ).apply(lambda values: json.dumps(
            dashboard_body(args, values[0], values[1] if args.audit_function_name is not None else None),
            sort_keys=True))
        self.dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=args.dashboard_name,
            dashboard_body=body,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"dashboardName": self.dashboard.dashboard_name})
