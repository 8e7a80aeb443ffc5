"""The scheduled audit Lambda (CIS 1.4 / Security Hub IAM.4): configuration from the environment, a summary on
PASS/WARN/FAIL, an exception on ERROR, and nothing but boto3 imported on its path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from audit.handler import AuditRunError, ConfigError, config_from_env, handler
from audit.runner import AuditConfig
from simulate import moto_root
from tests.audit.helpers import MANAGEMENT_ACCOUNT, ROTATED

REPO = Path(__file__).resolve().parents[2]
BASE_ENV = {
    "AUDIT_METRIC_NAMESPACE": "RootKeyGuardrails",
    "AUDIT_SNS_TOPIC_ARN": "",
    "AUDIT_SECURITY_HUB": "true",
    "AUDIT_ORG_ROLE_NAME": "",
    "AUDIT_MAX_REPORT_AGE_HOURS": "5",
    "AUDIT_REMEDIATE": "false",
    "AUDIT_MAX_WORKERS": "8",
}


def test_handler_config_baseline_env() -> None:
    assert config_from_env(BASE_ENV) == AuditConfig(
        org_role_name="",
        max_report_age_hours=5,
        workers=8,
        remediate=False,
        metric_namespace="RootKeyGuardrails",
        sns_topic_arn="",
        security_hub=True,
        progress=False,
    )


def test_handler_config_defaults_when_unset() -> None:
    config = config_from_env({})
    assert (config.metric_namespace, config.security_hub, config.workers, config.max_report_age_hours) == (
        "RootKeyGuardrails",
        True,
        8,
        5,
    )


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("AUDIT_SECURITY_HUB", "yes", "AUDIT_SECURITY_HUB='yes' is not allowed; use true or false"),
        ("AUDIT_REMEDIATE", "True", "AUDIT_REMEDIATE='True' is not allowed; use true or false"),
        ("AUDIT_MAX_REPORT_AGE_HOURS", "0", "AUDIT_MAX_REPORT_AGE_HOURS='0' is out of range; allowed: 1..24"),
        ("AUDIT_MAX_REPORT_AGE_HOURS", "4h", "AUDIT_MAX_REPORT_AGE_HOURS='4h' is not an integer; allowed: 1..24"),
        ("AUDIT_MAX_WORKERS", "100", "AUDIT_MAX_WORKERS='100' is out of range; allowed: 1..64"),
        ("AUDIT_METRIC_NAMESPACE", "", "AUDIT_METRIC_NAMESPACE is empty; the alarms watch the audit's metrics in this namespace"),
        ("AUDIT_METRIC_NAMESPACE", "AWS/IAM", "AUDIT_METRIC_NAMESPACE='AWS/IAM' is not allowed: AWS/ is reserved for AWS's own "
         "metrics; use a namespace of your own"),
        # int() alone would refuse it with its own message, naming neither the key nor the range.
        ("AUDIT_MAX_WORKERS", "9" * 5000, f"AUDIT_MAX_WORKERS={'9' * 64!r}... (5000 characters) is out of range; allowed: 1..64"),
        ("AUDIT_MAX_REPORT_AGE_HOURS", "1" * 21, f"AUDIT_MAX_REPORT_AGE_HOURS={'1' * 21!r} is out of range; allowed: 1..24"),
        ("AUDIT_SNS_TOPIC_ARN", "alerts", "AUDIT_SNS_TOPIC_ARN='alerts' is not an SNS topic ARN; use an ARN or leave it empty"),
        (
            "AUDIT_SNS_TOPIC_ARN",
            "arn:aws:sqs:us-east-1:123456789012:alerts",
            "AUDIT_SNS_TOPIC_ARN='arn:aws:sqs:us-east-1:123456789012:alerts' is not an SNS topic ARN; use an ARN or "
            "leave it empty",
        ),
        # ASCII only: int() takes other scripts' digits and "1_0", \w and strip() other scripts' letters and spaces.
        ("AUDIT_MAX_WORKERS", "\u0668", "AUDIT_MAX_WORKERS='\u0668' is not an integer; allowed: 1..64"),
        ("AUDIT_MAX_WORKERS", "1_6", "AUDIT_MAX_WORKERS='1_6' is not an integer; allowed: 1..64"),
        ("AUDIT_MAX_REPORT_AGE_HOURS", "\uff15", "AUDIT_MAX_REPORT_AGE_HOURS='\uff15' is not an integer; allowed: 1..24"),
        ("AUDIT_REMEDIATE", "\u00a0false", "AUDIT_REMEDIATE='\\xa0false' is not allowed; use true or false"),
        (
            "AUDIT_SNS_TOPIC_ARN",
            "arn:aws:sns:us-east-1:\u0661\u0662\u0663456789012:alerts",
            "AUDIT_SNS_TOPIC_ARN='arn:aws:sns:us-east-1:\u0661\u0662\u0663456789012:alerts' is not an SNS topic ARN; "
            "use an ARN or leave it empty",
        ),
        (
            "AUDIT_SNS_TOPIC_ARN",
            "arn:aws:sns:us-east-1:123456789012:alerts\n\u00a0",
            "AUDIT_SNS_TOPIC_ARN='arn:aws:sns:us-east-1:123456789012:alerts\\n\\xa0' is not an SNS topic ARN; use an "
            "ARN or leave it empty",
        ),
        (
            "AUDIT_ORG_ROLE_NAME",
            "R\u00f6leAudit",
            "AUDIT_ORG_ROLE_NAME='R\u00f6leAudit' is not an IAM role name (1-64 of letters, digits and +=,.@_-, no path); "
            "give the member role's name, or leave it empty to audit only this account",
        ),
        # Blank is not empty: read as empty, it would quietly audit one account where an organization was meant.
        (
            "AUDIT_ORG_ROLE_NAME",
            " \t",
            "AUDIT_ORG_ROLE_NAME=' \\t' is blank; give the member role's name, or leave it empty to audit only this "
            "account",
        ),
        (
            "AUDIT_ORG_ROLE_NAME",
            "role/Audit",
            "AUDIT_ORG_ROLE_NAME='role/Audit' is not an IAM role name (1-64 of letters, digits and +=,.@_-, no path); "
            "give the member role's name, or leave it empty to audit only this account",
        ),
    ],
)
def test_handler_config_bad_value_raises_naming_key(key: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        config_from_env({**BASE_ENV, key: value})
    assert str(excinfo.value) == message


@pytest.fixture
def lambda_env(monkeypatch: pytest.MonkeyPatch, aws_env: None, moto_root_installed: None) -> None:
    for key, value in BASE_ENV.items():
        monkeypatch.setenv(key, value)


def test_handler_clean_account_returns_pass_summary_and_publishes(lambda_env: None) -> None:
    with mock_aws():
        summary = handler({}, None)
        metrics = boto3.client("cloudwatch", region_name="us-east-1").list_metrics(Namespace="RootKeyGuardrails")["Metrics"]
        findings = boto3.client("securityhub", region_name="us-east-1").get_findings()["Findings"]
    assert summary["status"] == "PASS"
    assert [(a["account_id"], a["status"]) for a in summary["accounts"]] == [(MANAGEMENT_ACCOUNT, "PASS")]
    json.dumps(summary)  # JSON-able, as Lambda requires
    assert {m["MetricName"] for m in metrics} == {"RootAccessKeysActive", "AuditErrors"}
    assert [(f["Id"], f["Compliance"]["Status"]) for f in findings] == [
        (f"root-key-guardrails/iam-root-access-key/{MANAGEMENT_ACCOUNT}", "PASSED")
    ]


def test_handler_active_key_returns_fail_and_alerts(lambda_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    moto_root.set_root_credentials(MANAGEMENT_ACCOUNT, moto_root.RootCredentials(key_1_active=True, key_1_last_rotated=ROTATED))
    with mock_aws():
        sns = boto3.client("sns", region_name="us-east-1")
        sqs = boto3.client("sqs", region_name="us-east-1")
        topic = sns.create_topic(Name="root-key-alerts")["TopicArn"]
        queue = sqs.create_queue(QueueName="alerts")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        monkeypatch.setenv("AUDIT_SNS_TOPIC_ARN", topic)
        summary = handler({}, None)
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    assert summary["status"] == "FAIL"
    (message,) = messages
    envelope = json.loads(message["Body"])
    assert envelope["Subject"] == "[FAIL] Root access key audit: 1 FAIL of 1 account(s)"
    assert envelope["Message"] == (
        "Root access key audit (CIS 1.4, Security Hub IAM.4): overall FAIL.\n\n- " + summary["accounts"][0]["message"]
    )
    assert envelope["MessageAttributes"]["status"] == {"Type": "String", "Value": "FAIL"}


def test_handler_error_run_raises_with_summary(lambda_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    # Org mode where the organization lists no ACTIVE account: nothing was audited, which is no PASS.
    monkeypatch.setenv("AUDIT_ORG_ROLE_NAME", "RootKeyAuditRole")
    with mock_aws(), pytest.raises(AuditRunError) as excinfo:
        handler({}, None)
    summary: dict[str, Any] = excinfo.value.summary
    assert (summary["status"], summary["accounts"]) == ("ERROR", [])
    assert summary["errors"] == ["organizations:ListAccounts returned no ACTIVE account"]
    assert str(excinfo.value) == "root access key audit ended as ERROR: organizations:ListAccounts returned no ACTIVE account"


def test_handler_import_path_needs_only_boto3() -> None:
    code = (
        "import sys, audit.handler, audit.cli;"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in {'tqdm', 'moto', 'simulate', 'pytest'});"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert (proc.returncode, proc.stdout.strip()) == (0, "[]")


class _LambdaContext:
    """The one method of Lambda's context object the handler reads."""

    def __init__(self, remaining_ms: int) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@pytest.mark.filterwarnings("ignore:Exception\\(STSClientError\\) with code AccessDenied:UserWarning")
def test_handler_org_run_without_time_left_reports_accounts_not_audited(
    lambda_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.audit.helpers import AUDIT_ROLE, ORG_MEMBERS, build_org

    monkeypatch.setenv("AUDIT_ORG_ROLE_NAME", AUDIT_ROLE)
    monkeypatch.setenv("AUDIT_SECURITY_HUB", "false")
    with mock_aws():
        ids = build_org(boto3.session.Session(), {"clean": ORG_MEMBERS["clean"]})
        # 80 s left, less the 60 s kept for publishing: room for a listing page (13 s at its slowest), not for an
        # account (AssumeRole, generation and download: 39 s). Every listed account is ERROR, and says why.
        with pytest.raises(AuditRunError) as excinfo:
            handler({}, _LambdaContext(80_000))
    summary = excinfo.value.summary
    assert [(a["account_id"], a["status"], a["reason"]) for a in summary["accounts"]] == [
        (account, "ERROR", "not audited: the run's time budget ran out before this account's turn")
        for account in sorted([MANAGEMENT_ACCOUNT, ids["clean"]])
    ]


def test_handler_org_run_without_time_to_list_is_error(lambda_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.audit.helpers import AUDIT_ROLE, ORG_MEMBERS, build_org

    monkeypatch.setenv("AUDIT_ORG_ROLE_NAME", AUDIT_ROLE)
    monkeypatch.setenv("AUDIT_SECURITY_HUB", "false")
    with mock_aws():
        build_org(boto3.session.Session(), {"clean": ORG_MEMBERS["clean"]})
        # 30 s left is less than the publishing reserve: not even the listing may start.
        with pytest.raises(AuditRunError) as excinfo:
            handler({}, _LambdaContext(30_000))
    summary = excinfo.value.summary
    assert (summary["status"], summary["accounts"]) == ("ERROR", [])
    assert summary["errors"] == [
        "gave up after 0 attempt(s): the run's time budget would pass during organizations:ListAccounts, which may "
        "take 13 s"
    ]


class _BrokenContext:
    def __init__(self, answer: Any) -> None:
        self.answer = answer

    def get_remaining_time_in_millis(self) -> Any:
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


@pytest.mark.parametrize("answer", ["soon", float("nan"), None, True, RuntimeError("context gone")],
                         ids=["text", "nan", "none", "bool", "raises"])
def test_handler_unreadable_remaining_time_is_error_and_still_publishes(lambda_env: None, answer: Any) -> None:
    # Read as only the time kept for publishing: the run is ERROR and still publishes, rather than guessing a
    # budget (nan read as none at all) that the Lambda's timeout could cut off with nothing sent.
    with mock_aws():
        with pytest.raises(AuditRunError) as excinfo:
            handler({}, _BrokenContext(answer))
        metrics = boto3.client("cloudwatch", region_name="us-east-1").list_metrics(Namespace="RootKeyGuardrails")["Metrics"]
    assert excinfo.value.summary["status"] == "ERROR"
    assert {m["MetricName"] for m in metrics} >= {"AuditErrors"}
