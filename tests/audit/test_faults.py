"""Faults that are neither ClientError nor BotoCoreError (CIS 1.4 / IAM.4 audit): a 200 that botocore cannot parse,
parses into an unexpected shape, or that carries a blob or timestamp botocore cannot decode. Each ends as an
ERROR of its account or of its sink, and every other sink still runs. Real HTTP: botocore against a loopback
endpoint that forwards to moto except for the faulted operation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from audit.aws import Clients, RetryPolicy
from audit.handler import AuditRunError, handler
from audit.report import Status
from audit.runner import AuditConfig, run_audit
from simulate import moto_root
from tests.audit.fault_endpoint import Canned, FaultEndpoint, fault_endpoint
from tests.audit.helpers import AUDIT_ROLE, MANAGEMENT_ACCOUNT, ORG_MEMBERS, ROTATED, build_org

NAMESPACE = "RootKeyGuardrails"
SINK_OPERATIONS = ("POST /findings", "POST /findings/import", "PutMetricData", "Publish")
_IAM_NS = "https://iam.amazonaws.com/doc/2010-05-08/"


def _report(content: str = "dXNlcg==", generated: str = "2026-11-29T09:00:00Z") -> Canned:
    return Canned(
        200,
        f'<GetCredentialReportResponse xmlns="{_IAM_NS}"><GetCredentialReportResult><Content>{content}</Content>'
        f"<ReportFormat>text/csv</ReportFormat><GeneratedTime>{generated}</GeneratedTime>"
        "</GetCredentialReportResult></GetCredentialReportResponse>".encode(),
    )


HTML = Canned(200, b"<!DOCTYPE html><html><body><p>Sign in to continue</p></body></html>", "text/html")
AUDIT = "the credential report audit failed (unexpected "

# (case id, operation, canned answer, the account's ERROR reason)
ACCOUNT_FAULTS = [
    (
        "invalid-xml-response-parser-error",
        "GetCredentialReport",
        Canned(200, b"<GetCredentialReportResponse><unclosed"),
        AUDIT + "ResponseParserError: Unable to parse response (unclosed token: line 1, column 29), invalid XML "
        "received. Further retries may succeed:\nb'<GetCredentialReportResponse><unclosed')",
    ),
    ("html-page-key-error", "GetCredentialReport", HTML, AUDIT + "KeyError: 'GetCredentialReportResult')"),
    ("content-not-base64", "GetCredentialReport", _report(content="abc"), AUDIT + "Error: Incorrect padding)"),
    (
        "generated-time-garbage",
        "GetCredentialReport",
        _report(generated="not-a-time"),
        AUDIT + 'ValueError: Invalid timestamp "not-a-time": Unknown string format: not-a-time)',
    ),
    (
        "generated-time-year-out-of-range",
        "GetCredentialReport",
        _report(generated="99999-01-01T00:00:00Z"),
        AUDIT + 'ValueError: Invalid timestamp "99999-01-01T00:00:00Z": year 99999 is out of range: '
        "99999-01-01T00:00:00Z)",
    ),
    (
        "generated-time-huge-epoch",
        "GetCredentialReport",
        _report(generated="1e20"),
        AUDIT + 'RuntimeError: Unable to calculate correct timezone offset for "1e20")',
    ),
    (
        "generate-html-page",
        "GenerateCredentialReport",
        HTML,
        AUDIT + "KeyError: 'GenerateCredentialReportResult')",
    ),
]


@pytest.fixture
def endpoint(moto_url: str) -> Iterator[FaultEndpoint]:
    with fault_endpoint(moto_url) as fault:
        yield fault


def _topic(url: str) -> str:
    return boto3.client("sns", region_name="us-east-1", endpoint_url=url).create_topic(Name="alerts")["TopicArn"]


_SESSION: list[boto3.session.Session] = []


def _session() -> boto3.session.Session:
    # One session for the module: it keeps the loaded service models, which keeps the tests fast.
    if not _SESSION:
        _SESSION.append(boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing"))
    return _SESSION[0]


def _clients(url: str) -> Clients:
    return Clients(_session(), region="us-east-1", endpoint_url=url)


def _fast() -> RetryPolicy:
    return RetryPolicy(base_delay=0.0, max_delay=0.0, max_attempts=3, deadline_seconds=5.0, call_seconds=1.0, sleep=lambda s: None)


def _sinks_seen(endpoint: FaultEndpoint) -> list[str]:
    return [name for name in endpoint.seen if name in SINK_OPERATIONS]


@pytest.mark.parametrize(("op", "canned", "reason"), [f[1:] for f in ACCOUNT_FAULTS], ids=[f[0] for f in ACCOUNT_FAULTS])
def test_fault_single_account_is_error_and_every_sink_runs(
    endpoint: FaultEndpoint, moto_url: str, op: str, canned: Canned, reason: str
) -> None:
    topic = _topic(moto_url)
    endpoint.faults[op] = canned
    config = AuditConfig(metric_namespace=NAMESPACE, sns_topic_arn=topic, security_hub=True)
    run = run_audit(config, _clients(endpoint.url), retry=_fast())
    (account,) = run.accounts
    assert (run.status, account.status, account.account_id, account.reason) == (
        Status.ERROR, Status.ERROR, MANAGEMENT_ACCOUNT, reason
    )
    assert run.errors == ()
    assert _sinks_seen(endpoint) == ["POST /findings", "POST /findings/import", "PutMetricData", "Publish"]


def test_fault_caller_identity_html_is_error_and_metrics_and_sns_still_run(endpoint: FaultEndpoint, moto_url: str) -> None:
    topic = _topic(moto_url)
    endpoint.faults["GetCallerIdentity"] = HTML
    config = AuditConfig(metric_namespace=NAMESPACE, sns_topic_arn=topic, security_hub=True)
    run = run_audit(config, _clients(endpoint.url), retry=_fast())
    assert [(a.account_id, a.reason) for a in run.accounts] == [
        (None, "sts:GetCallerIdentity failed (unexpected KeyError: 'GetCallerIdentityResult')")
    ]
    assert run.errors == ("Security Hub findings were not sent: the calling account is unknown",)
    assert _sinks_seen(endpoint) == ["PutMetricData", "Publish"]


ORG_FAULTS = [
    (
        "caller-identity-html",
        "GetCallerIdentity",
        HTML,
        "sts:GetCallerIdentity failed (unexpected KeyError: 'GetCallerIdentityResult')",
    ),
    (
        "list-accounts-without-id",
        "ListAccounts",
        Canned(200, b'{"Accounts": [{"Name": "x", "State": "ACTIVE"}]}', "application/x-amz-json-1.1"),
        "organizations:ListAccounts failed (unexpected KeyError: 'Id')",
    ),
    (
        # botocore parses a 200 that is not JSON into an empty answer: no account listed is no PASS.
        "list-accounts-not-json",
        "ListAccounts",
        Canned(200, b"<html>maintenance</html>", "application/x-amz-json-1.1"),
        "organizations:ListAccounts answered a page without an Accounts list (an empty answer)",
    ),
]


@pytest.mark.filterwarnings("ignore:Exception\\(STSClientError\\) with code AccessDenied:UserWarning")
@pytest.mark.parametrize(("op", "canned", "error"), [f[1:] for f in ORG_FAULTS], ids=[f[0] for f in ORG_FAULTS])
def test_fault_org_listing_is_run_error_and_sinks_run(
    endpoint: FaultEndpoint, moto_url: str, op: str, canned: Canned, error: str
) -> None:
    build_org(boto3.session.Session(), {"clean": ORG_MEMBERS["clean"]}, endpoint_url=moto_url)
    topic = _topic(moto_url)
    endpoint.faults[op] = canned
    config = AuditConfig(org_role_name=AUDIT_ROLE, metric_namespace=NAMESPACE, sns_topic_arn=topic)
    run = run_audit(config, _clients(endpoint.url), retry=_fast())
    assert (run.status, run.accounts, run.errors) == (Status.ERROR, (), (error,))
    assert _sinks_seen(endpoint) == ["PutMetricData", "Publish"]


def _sink_fault(status: int, body: bytes, content_type: str) -> Canned:
    return Canned(status, body, content_type)


_QUERY_ERROR = b"<ErrorResponse><Error><Type>Sender</Type><Code>InvalidParameterValue</Code><Message>bad</Message></Error></ErrorResponse>"
_CBOR_OR_JSON_ERROR = b"not a valid body"
# (case id, faulted operation, canned answer, the sink error's beginning, the sinks that must still be reached)
SINK_FAULTS = [
    (
        "metrics-client-error-on-pass",
        "PutMetricData",
        Canned(400, b'{"__type": "InvalidParameterValue", "message": "bad"}', "application/x-amz-json-1.0"),
        f"cloudwatch:PutMetricData to namespace {NAMESPACE} failed (",
        ["POST /findings", "POST /findings/import", "PutMetricData", "Publish"],
    ),
    (
        "hub-get-findings-html",
        "POST /findings",
        Canned(200, b"<html>not json</html>", "application/json"),
        "securityhub:GetFindings failed (unexpected ValueError: the answer has no Findings list); the previous "
        "verdicts are unknown",
        # PASS findings are not written while the previous verdicts are unknown.
        ["POST /findings", "PutMetricData", "Publish"],
    ),
    (
        "hub-import-html",
        "POST /findings/import",
        Canned(200, b"<html>not json</html>", "application/json"),
        "securityhub:BatchImportFindings answered without SuccessCount/FailedCount, so the import of 1 finding(s) "
        "is unconfirmed",
        ["POST /findings", "POST /findings/import", "PutMetricData", "Publish"],
    ),
]


@pytest.mark.parametrize(
    ("op", "canned", "error_start", "sinks"), [f[1:] for f in SINK_FAULTS], ids=[f[0] for f in SINK_FAULTS]
)
def test_fault_sink_on_pass_run_is_error_of_that_sink_and_alert_still_sent(
    endpoint: FaultEndpoint, moto_url: str, op: str, canned: Canned, error_start: str, sinks: list[str]
) -> None:
    topic = _topic(moto_url)
    endpoint.faults[op] = canned
    config = AuditConfig(metric_namespace=NAMESPACE, sns_topic_arn=topic, security_hub=True)
    run = run_audit(config, _clients(endpoint.url), retry=_fast())
    assert [a.status for a in run.accounts] == [Status.PASS]
    (error,) = run.errors
    assert (run.status, error.startswith(error_start)) == (Status.ERROR, True), error
    assert _sinks_seen(endpoint) == sinks


SNS_FAULTS = [
    (
        "invalid-xml",
        Canned(200, b"<PublishResponse><x"),
        "unexpected ResponseParserError: Unable to parse response (unclosed token: line 1, column 17), invalid XML "
        "received. Further retries may succeed:\nb'<PublishResponse><x')",
    ),
    ("html-page", HTML, "unexpected KeyError: 'PublishResult')"),
    (
        "no-message-id",
        Canned(200, b'<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult/></PublishResponse>'),
        "unexpected ValueError: the answer has no MessageId, so the delivery is unconfirmed)",
    ),
    ("client-error", Canned(400, _QUERY_ERROR), "InvalidParameterValue: bad)"),
]


@pytest.mark.parametrize(("canned", "reason"), [f[1:] for f in SNS_FAULTS], ids=[f[0] for f in SNS_FAULTS])
def test_fault_sns_after_metrics_resends_error_total(
    endpoint: FaultEndpoint, moto_url: str, canned: Canned, reason: str
) -> None:
    moto_root.set_root_credentials(MANAGEMENT_ACCOUNT, moto_root.RootCredentials(key_1_active=True, key_1_last_rotated=ROTATED))
    topic = _topic(moto_url)
    endpoint.faults["Publish"] = canned
    config = AuditConfig(metric_namespace=NAMESPACE, sns_topic_arn=topic, security_hub=True)
    run = run_audit(config, _clients(endpoint.url), retry=_fast())
    assert ([a.status for a in run.accounts], run.status) == ([Status.FAIL], Status.ERROR)
    assert run.errors == (f"sns:Publish to {topic} failed ({reason}",)
    # The metrics went out before the alert failed; the AuditErrors total is sent again with the failure counted.
    assert _sinks_seen(endpoint) == ["POST /findings", "POST /findings/import", "PutMetricData", "Publish", "PutMetricData"]


@pytest.mark.parametrize(("op", "canned", "reason"), [f[1:] for f in ACCOUNT_FAULTS[:3]], ids=[f[0] for f in ACCOUNT_FAULTS[:3]])
def test_fault_lambda_default_mode_raises_summary_error(
    endpoint: FaultEndpoint, moto_url: str, monkeypatch: pytest.MonkeyPatch, op: str, canned: Canned, reason: str
) -> None:
    # The Lambda default: single account, metrics and Security Hub on. AWS_ENDPOINT_URL points every client at
    # the loopback endpoint, as nothing may leave it.
    topic = _topic(moto_url)
    for key, value in {
        "AWS_ENDPOINT_URL": endpoint.url,
        "AUDIT_METRIC_NAMESPACE": NAMESPACE,
        "AUDIT_SNS_TOPIC_ARN": topic,
        "AUDIT_SECURITY_HUB": "true",
    }.items():
        monkeypatch.setenv(key, value)
    endpoint.faults[op] = canned
    with pytest.raises(AuditRunError) as excinfo:
        handler({}, None)
    message = f"Account {MANAGEMENT_ACCOUNT}: the root access key audit could not be completed: {reason}"
    assert str(excinfo.value) == f"root access key audit ended as ERROR: {message}"
    assert [a["message"] for a in excinfo.value.summary["accounts"]] == [message]
    assert _sinks_seen(endpoint) == ["POST /findings", "POST /findings/import", "PutMetricData", "Publish"]


# ------------------------------------------------------------------ any exception type, in any sink (in process)

import binascii  # noqa: E402

from moto import mock_aws  # noqa: E402

SINK_METHODS = [
    ("securityhub", "get_findings"),
    ("securityhub", "batch_import_findings"),
    ("cloudwatch", "put_metric_data"),
    ("sns", "publish"),
]
SINK_ACTIONS = {
    "get_findings": "securityhub:GetFindings",
    "batch_import_findings": "securityhub:BatchImportFindings",
    "put_metric_data": f"cloudwatch:PutMetricData to namespace {NAMESPACE}",
    "publish": "sns:Publish to arn:aws:sns:us-east-1:123456789012:alerts",
}
EXCEPTIONS = [
    KeyError("Findings"),
    TypeError("'NoneType' object is not subscriptable"),
    AttributeError("'str' object has no attribute 'get'"),
    OverflowError("date value out of range"),
    binascii.Error("Incorrect padding"),
    ValueError("Invalid timestamp"),
]


class _Spy:
    """Wraps the sink methods of one Clients: records each call, raises where told to."""

    def __init__(self, clients: Clients, fail: tuple[str, str] | None, exc: Exception | None) -> None:
        self.calls: list[str] = []
        for service, method in SINK_METHODS:
            client = clients(service)
            real = getattr(client, method)

            def spy(*args: Any, _real: Any = real, _name: str = method, _hit: bool = (service, method) == fail, **kw: Any) -> Any:
                self.calls.append(_name)
                if _hit:
                    raise exc  # type: ignore[misc]
                return _real(*args, **kw)

            setattr(client, method, spy)


@pytest.fixture
def in_process(aws_env: None, moto_root_installed: None) -> Iterator[Clients]:
    with mock_aws():
        boto3.client("sns", region_name="us-east-1").create_topic(Name="alerts")
        # An inactive key: WARN, so the SNS alert is due whatever the sinks do.
        moto_root.set_root_credentials(MANAGEMENT_ACCOUNT, moto_root.RootCredentials(key_2_last_rotated=ROTATED))
        yield Clients(_session(), region="us-east-1")


@pytest.mark.parametrize("exc", EXCEPTIONS, ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("sink", SINK_METHODS, ids=lambda s: s[1])
def test_fault_any_exception_in_one_sink_is_its_error_only(in_process: Clients, sink: tuple[str, str], exc: Exception) -> None:
    spy = _Spy(in_process, sink, exc)
    config = AuditConfig(metric_namespace=NAMESPACE, sns_topic_arn="arn:aws:sns:us-east-1:123456789012:alerts", security_hub=True)
    run = run_audit(config, in_process, retry=_fast())
    failure = f"{SINK_ACTIONS[sink[1]]} failed (unexpected {type(exc).__name__}: {exc})"
    if sink[1] == "get_findings":
        failure += (
            "; the previous verdicts are unknown, so recoveries cannot be detected and the findings of passing "
            "accounts were left unchanged"
        )
    assert ([a.status for a in run.accounts], run.status, run.errors) == ([Status.WARN], Status.ERROR, (failure,))
    expected = ["get_findings", "batch_import_findings", "put_metric_data", "publish"]
    if sink[1] == "publish":
        expected.append("put_metric_data")  # the AuditErrors total again, with the SNS failure counted
    assert spy.calls == expected


def test_fault_every_sink_failing_reports_each(in_process: Clients) -> None:
    spy = _Spy(in_process, None, None)
    for service, method in SINK_METHODS:
        setattr(in_process(service), method, lambda *a, _m=method, **k: (spy.calls.append(_m), 1 / 0))
    config = AuditConfig(metric_namespace=NAMESPACE, sns_topic_arn="arn:aws:sns:us-east-1:123456789012:alerts", security_hub=True)
    run = run_audit(config, in_process, retry=_fast())
    assert run.status is Status.ERROR
    assert [error.split(" failed ", 1)[0] for error in run.errors] == [
        "securityhub:GetFindings",
        "securityhub:BatchImportFindings",
        f"cloudwatch:PutMetricData to namespace {NAMESPACE}",
        "sns:Publish to arn:aws:sns:us-east-1:123456789012:alerts",
        f"cloudwatch:PutMetricData (AuditErrors total) to namespace {NAMESPACE}",
    ]


@pytest.mark.parametrize("exc", EXCEPTIONS, ids=lambda e: type(e).__name__)
def test_fault_any_exception_fetching_report_is_account_error(in_process: Clients, exc: Exception) -> None:
    def boom(*args: Any, **kwargs: Any) -> Any:
        raise exc

    in_process("iam").get_credential_report = boom
    spy = _Spy(in_process, None, None)
    config = AuditConfig(metric_namespace=NAMESPACE, sns_topic_arn="arn:aws:sns:us-east-1:123456789012:alerts", security_hub=True)
    run = run_audit(config, in_process, retry=_fast())
    (account,) = run.accounts
    assert (account.status, account.account_id, account.reason) == (
        Status.ERROR, MANAGEMENT_ACCOUNT, f"the credential report audit failed (unexpected {type(exc).__name__}: {exc})"
    )
    assert spy.calls == ["get_findings", "batch_import_findings", "put_metric_data", "publish"]


def test_fault_handler_raises_summary_error_when_the_run_itself_crashes(
    aws_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(*args: Any, **kwargs: Any) -> Any:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr("audit.handler.run_audit", crash)
    with pytest.raises(AuditRunError) as excinfo:
        handler({}, None)
    assert str(excinfo.value) == (
        "root access key audit ended as ERROR: The account: the root access key audit could not be completed: the audit "
        "run failed unexpectedly: RecursionError: maximum recursion depth exceeded"
    )


@pytest.mark.filterwarnings("ignore:Exception\\(STSClientError\\) with code AccessDenied:UserWarning")
def test_fault_org_member_report_html_is_that_account_error_and_sinks_run(endpoint: FaultEndpoint, moto_url: str) -> None:
    ids = build_org(_session(), {"clean": ORG_MEMBERS["clean"]}, endpoint_url=moto_url)
    topic = _topic(moto_url)
    endpoint.faults["GetCredentialReport"] = HTML
    config = AuditConfig(org_role_name=AUDIT_ROLE, metric_namespace=NAMESPACE, sns_topic_arn=topic, security_hub=True)
    run = run_audit(config, _clients(endpoint.url), retry=_fast())
    assert run.status is Status.ERROR
    # The exception is named; the exact wording of a member's reason belongs to the org audit.
    assert {a.account_id: (a.status, a.reason is not None and "KeyError: 'GetCredentialReportResult'" in a.reason) for a in run.accounts} == {
        MANAGEMENT_ACCOUNT: (Status.ERROR, True),
        ids["clean"]: (Status.ERROR, True),
    }
    assert _sinks_seen(endpoint) == ["POST /findings", "POST /findings/import", "PutMetricData", "Publish"]
