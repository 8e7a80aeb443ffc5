"""Lambda entry point of the scheduled root access key audit (CIS 1.4, Security Hub IAM.4).

Thin on purpose: configuration from environment variables, clients created per invocation (never at import, so
moto and Stubber can stand in), the work in audit.runner. A run whose status is ERROR raises, so Lambda's Errors
metric, its retries and the failure destination see it; FAIL and WARN return normally because they are
findings, published to metrics, SNS and Security Hub, not failures of the audit.
Imports only boto3/botocore and the standard library: that is all the Lambda runtime provides.
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Mapping
from typing import Any

from audit.org import _ROLE_NAME, DEFAULT_WORKERS, MAX_WORKERS
from audit.report import bounded_int, error_result, shown
from audit.runner import (
    DEFAULT_REPORT_AGE_HOURS,
    MAX_REPORT_AGE_HOURS,
    MIN_REPORT_AGE_HOURS,
    RUN_RESERVE_SECONDS,
    AuditConfig,
    RunResult,
    run_audit,
)

LOG = logging.getLogger("audit")

ENV_NAMESPACE = "AUDIT_METRIC_NAMESPACE"
ENV_TOPIC = "AUDIT_SNS_TOPIC_ARN"
ENV_SECURITY_HUB = "AUDIT_SECURITY_HUB"
ENV_ROLE = "AUDIT_ORG_ROLE_NAME"
ENV_MAX_AGE = "AUDIT_MAX_REPORT_AGE_HOURS"
ENV_REMEDIATE = "AUDIT_REMEDIATE"
ENV_WORKERS = "AUDIT_MAX_WORKERS"
DEFAULT_NAMESPACE = "RootKeyGuardrails"
# ASCII only: str.strip() and int() also take other scripts' spaces and digits (and int() takes "1_0").
_BLANK = " \t\r\n"
# arn:<partition>:sns:<region>:<12-digit account>:<topic name>
_TOPIC_ARN = re.compile(r"arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}(?:\.fifo)?", re.ASCII)


class ConfigError(ValueError):
    """An environment variable holds a value the audit cannot use."""


class AuditRunError(RuntimeError):
    """The run ended as ERROR; carries the summary so the failure destination gets the facts."""

    def __init__(self, summary: dict[str, Any]) -> None:
        self.summary = summary
        reasons = [a["message"] for a in summary["accounts"] if a["status"] == "ERROR"] + summary["errors"]
        # Bounded: the exception text lands in logs and the failure destination; the summary has everything.
        shown = "; ".join(reasons[:10]) + (f"; and {len(reasons) - 10} more" if len(reasons) > 10 else "")
        super().__init__(f"root access key audit ended as ERROR: {shown or 'no account was audited'}")


def _bool(env: Mapping[str, str], key: str, default: str) -> bool:
    value = env.get(key, default).strip(_BLANK)
    if value not in ("true", "false"):
        raise ConfigError(f"{key}={value!r} is not allowed; use true or false")
    return value == "true"


def _int(env: Mapping[str, str], key: str, default: str, low: int, high: int) -> int:
    value = env.get(key, default).strip(_BLANK)
    number = bounded_int(value, low, high)
    if isinstance(number, str):
        raise ConfigError(f"{key}={shown(value)} is {number}; allowed: {low}..{high}")
    return number


def config_from_env(env: Mapping[str, str]) -> AuditConfig:
    namespace = env.get(ENV_NAMESPACE, DEFAULT_NAMESPACE).strip(_BLANK)
    if not namespace:
        raise ConfigError(f"{ENV_NAMESPACE} is empty; the alarms watch the audit's metrics in this namespace")
    if namespace.startswith("AWS/"):
        raise ConfigError(f"{ENV_NAMESPACE}={shown(namespace)} is not allowed: AWS/ is reserved for AWS's own metrics; use a namespace of your own")
    topic = env.get(ENV_TOPIC, "").strip(_BLANK)
    if topic and not _TOPIC_ARN.fullmatch(topic):
        raise ConfigError(f"{ENV_TOPIC}={shown(topic)} is not an SNS topic ARN; use an ARN or leave it empty")
    role = env.get(ENV_ROLE, "")
    if role and not role.strip(_BLANK):
        # Empty is the program's way to say single-account; blanks are a mistake, and reading them as empty
        # would quietly audit one account where an organization was meant.
        raise ConfigError(f"{ENV_ROLE}={role!r} is blank; give the member role's name, or leave it empty to audit only this account")
    if role.strip(_BLANK) and not _ROLE_NAME.fullmatch(role.strip(_BLANK)):
        raise ConfigError(
            f"{ENV_ROLE}={shown(role)} is not an IAM role name (1-64 of letters, digits and +=,.@_-, no path); "
            f"give the member role's name, or leave it empty to audit only this account")
    try:
        return AuditConfig(
            org_role_name=role.strip(_BLANK),
            max_report_age_hours=_int(env, ENV_MAX_AGE, str(DEFAULT_REPORT_AGE_HOURS), MIN_REPORT_AGE_HOURS, MAX_REPORT_AGE_HOURS),
            workers=_int(env, ENV_WORKERS, str(DEFAULT_WORKERS), 1, MAX_WORKERS),
            remediate=_bool(env, ENV_REMEDIATE, "false"),
            metric_namespace=namespace,
            sns_topic_arn=topic,
            security_hub=_bool(env, ENV_SECURITY_HUB, "true"),
            progress=False,
        )
    except ValueError as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(str(exc)) from None


def _time_budget(context: Any) -> float | None:
    """Seconds left before the Lambda's timeout; None outside Lambda (no context).

    A run cut off by the timeout publishes nothing; within a budget it publishes what it found. So a remaining
    time that cannot be read is taken as only the time kept for publishing: no account is audited, the run is
    ERROR and says so through its sinks, where a guessed budget could let the timeout cut it off silently.
    """
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(remaining):
        return None
    try:
        millis = remaining()
        seconds = float(millis) / 1000
    except Exception as exc:  # noqa: BLE001 - whatever the context does, the run must still publish
        LOG.error("the Lambda context's remaining time cannot be read (%s: %s): only publishing", type(exc).__name__, exc)
        return RUN_RESERVE_SECONDS
    if isinstance(millis, bool) or not math.isfinite(seconds):
        LOG.error("the Lambda context's remaining time is %r, not a number of milliseconds: only publishing", millis)
        return RUN_RESERVE_SECONDS
    return seconds


def handler(event: Mapping[str, Any] | None, context: Any, *, session: Any = None) -> dict[str, Any]:
    """Run the audit; returns the summary ({"status", "accounts", ...}) or raises AuditRunError on ERROR."""
    import boto3

    from audit.aws import Clients, client_config

    logging.getLogger().setLevel(logging.INFO)
    config = config_from_env(os.environ)
    try:
        clients = Clients(
            session or boto3.session.Session(),
            region=os.environ.get("AWS_REGION"),
            config=client_config(max_pool_connections=max(10, config.workers)),
        )
        run: RunResult = run_audit(config, clients, time_budget_seconds=_time_budget(context))
    except Exception as exc:  # noqa: BLE001 - the failure destination gets the summary error, never a raw one
        LOG.exception("the audit run failed unexpectedly")
        run = RunResult(
            accounts=(error_result(None, f"the audit run failed unexpectedly: {type(exc).__name__}: {exc}"),)
        )
    summary = run.to_dict()
    for account in summary["accounts"]:
        LOG.info("%s", account["message"])
    if run.status.value == "ERROR":
        raise AuditRunError(summary)
    return summary
