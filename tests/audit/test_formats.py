"""The audit in Prowler's formats (audit/formats.py, `python -m audit --format ocsf|csv [--output FILE]`).

Serves the audit control (CIS 1.4 / Security Hub IAM.4): a findings pipeline that ingests Prowler's json-ocsf or CSV
output for iam_no_root_access_key ingests this audit's unchanged, one finding per account, and an account that was
not evaluated never reads as PASS.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from py_ocsf_models.events.findings.detection_finding import DetectionFinding

from audit.cli import main
from audit.formats import CSV_COLUMNS, Where, csv_rows, findings_of, ocsf_findings
from audit.report import AccountResult, Status, error_result, verdict
from audit.runner import RunResult
from tests.audit.helpers import ROTATED, baseline_text, edit_root

NOW = datetime(2026, 11, 29, 10, 0, tzinfo=timezone.utc)
THROTTLED = "iam:GetCredentialReport failed (Throttling: Rate exceeded)"


def _result(account: str, status: Status) -> AccountResult:
    text = baseline_text().replace("111122223333", account)
    if status is Status.ERROR:
        return error_result(account, THROTTLED)
    if status is Status.FAIL:
        text = edit_root(text, access_key_1_active="true", access_key_1_last_rotated=ROTATED)
    elif status is Status.WARN:
        text = edit_root(text, access_key_2_last_rotated=ROTATED)
    result = verdict(text, expected_account_id=account, generated_at=NOW, now=NOW)
    assert result.status is status
    return result


ACCOUNTS = {
    Status.PASS: _result("111111111111", Status.PASS),
    Status.WARN: _result("444444444444", Status.WARN),
    Status.FAIL: _result("222222222222", Status.FAIL),
    Status.ERROR: _result("333333333333", Status.ERROR),
}
# (audit status, Prowler status_code, existing keys, active keys)
CASES = [
    pytest.param(Status.PASS, "PASS", 0, 0, id="pass"),
    pytest.param(Status.WARN, "FAIL", 1, 0, id="warn-inactive-key-exists"),
    pytest.param(Status.FAIL, "FAIL", 1, 1, id="fail-active-key"),
    pytest.param(Status.ERROR, "MANUAL", 0, 0, id="error-never-pass"),
]


@pytest.mark.parametrize(("status", "code", "existing", "active"), CASES)
def test_ocsf_detection_finding_per_account(status: Status, code: str, existing: int, active: int) -> None:
    result = ACCOUNTS[status]
    [finding] = ocsf_findings([result], Where("eu-west-1"), NOW)

    # The library's own model reads it back: the shape is OCSF's, as py-ocsf-models (and Prowler) define it.
    DetectionFinding.model_validate(finding)
    account = result.account_id
    assert finding["class_uid"] == 2004
    assert finding["type_uid"] == 200401
    assert finding["metadata"]["version"] == "1.5.0"
    assert finding["metadata"]["event_code"] == "iam_no_root_access_key"
    assert (finding["status_code"], finding["status"], finding["status_id"]) == (code, "New", 1)
    assert (finding["severity"], finding["severity_id"]) == ("Critical", 5)
    assert finding["status_detail"] == result.message
    assert finding["finding_info"]["uid"] == (
        f"root-key-guardrails-aws-iam_no_root_access_key-{account}-eu-west-1-<root_account>")
    assert finding["finding_info"]["title"] == "Ensure no root account access key exists"
    [resource] = finding["resources"]
    assert (resource["uid"], resource["type"], resource["region"], resource["cloud_partition"]) == (
        f"arn:aws:iam::{account}:root", "AwsIamAccessKey", "eu-west-1", "aws")
    assert resource["data"]["details"]["existing_key_count"] == existing
    assert resource["data"]["details"]["active_key_count"] == active
    assert finding["cloud"]["account"]["uid"] == account
    assert finding["remediation"]["references"] == [
        "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_getting-report.html"]
    assert finding["unmapped"]["audit_status"] == status.value
    assert finding["unmapped"]["compliance"]["CIS-1.4"] == ["1.4"]


@pytest.mark.parametrize(("status", "code", "existing", "active"), CASES)
def test_csv_row_per_account(status: Status, code: str, existing: int, active: int) -> None:
    result = ACCOUNTS[status]
    [row] = csv_rows([result], Where(), NOW)

    assert tuple(row) == CSV_COLUMNS
    assert (row["ACCOUNT_UID"], row["STATUS"], row["AUDIT_STATUS"]) == (result.account_id, code, status.value)
    assert (row["CHECK_ID"], row["SEVERITY"], row["PROVIDER"], row["SERVICE_NAME"]) == (
        "iam_no_root_access_key", "critical", "aws", "iam")
    assert (row["EXISTING_KEY_COUNT"], row["ACTIVE_KEY_COUNT"]) == (str(existing), str(active))
    assert row["STATUS_EXTENDED"] == result.message
    assert row["RESOURCE_UID"] == f"arn:aws:iam::{result.account_id}:root"


def test_run_level_error_becomes_a_finding_never_a_clean_run() -> None:
    run = RunResult(accounts=(ACCOUNTS[Status.PASS],), errors=("sns:Publish failed (AuthorizationError)",))

    rows = csv_rows(findings_of(run), Where(), NOW)

    assert [(r["ACCOUNT_UID"], r["STATUS"]) for r in rows] == [("111111111111", "PASS"), ("unknown", "MANUAL")]
    assert rows[1]["RESOURCE_UID"] == ""
    assert rows[1]["STATUS_EXTENDED"].endswith("sns:Publish failed (AuthorizationError)")


def _report(tmp_path: Path, status: Status) -> str:
    path = tmp_path / f"{status.value}.csv"
    if status is Status.ERROR:
        path.write_text("not,a,credential,report\n", encoding="utf-8")
        return str(path)
    text = baseline_text()
    if status is Status.FAIL:
        text = edit_root(text, access_key_1_active="true", access_key_1_last_rotated=ROTATED)
    elif status is Status.WARN:
        text = edit_root(text, access_key_2_last_rotated=ROTATED)
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("fmt", ["ocsf", "csv"])
@pytest.mark.parametrize(
    ("status", "exit_code", "code"),
    [
        pytest.param(Status.PASS, 0, "PASS", id="pass"),
        pytest.param(Status.WARN, 0, "FAIL", id="warn"),
        pytest.param(Status.FAIL, 1, "FAIL", id="fail"),
        pytest.param(Status.ERROR, 2, "MANUAL", id="error"),
    ],
)
def test_cli_format_output_file_and_text_exit_codes_unchanged(tmp_path: Path, fmt: str, status: Status,
                                                               exit_code: int, code: str) -> None:
    out = io.StringIO()
    target = tmp_path / f"findings.{fmt}"

    assert main(["--credential-report", _report(tmp_path, status), "--format", fmt, "--output", str(target)],
                stdout=out) == exit_code

    # stdout keeps the text report; the file holds the format.
    assert out.getvalue().splitlines()[-1].startswith(f"Overall: {status.value} (1 account(s)")
    content = target.read_text(encoding="utf-8")
    if fmt == "ocsf":
        findings: list[dict[str, Any]] = json.loads(content)
        assert [(f["status_code"], f["unmapped"]["audit_status"]) for f in findings] == [(code, status.value)]
    else:
        rows = list(csv.DictReader(io.StringIO(content), delimiter=";"))
        assert [(r["STATUS"], r["AUDIT_STATUS"]) for r in rows] == [(code, status.value)]


def test_cli_format_to_stdout_without_output(tmp_path: Path) -> None:
    out = io.StringIO()

    assert main(["--credential-report", _report(tmp_path, Status.FAIL), "--format", "csv"], stdout=out) == 1

    header, row = out.getvalue().splitlines()
    assert header.split(";") == list(CSV_COLUMNS)
    assert row.split(";")[CSV_COLUMNS.index("STATUS")] == "FAIL"


def test_cli_output_unwritable_is_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "missing-dir" / "out.json"

    assert main(["--credential-report", _report(tmp_path, Status.PASS), "--format", "ocsf", "--output",
                 str(target)], stdout=io.StringIO()) == 2
    assert capsys.readouterr().err == f"python -m audit: error: --output {target} cannot be written: No such file or directory\n"


def test_csv_one_record_per_line_whatever_an_endpoint_wrote() -> None:
    # An endpoint's error text is not ours: a line break in it, kept inside a quoted field, would still show a
    # line-based reader (grep ';PASS;', a SIEM) a forged row.
    from audit.formats import to_csv

    forged = "denied\n2026-11-29;444455556666;x;aws;iam_no_root_access_key;t;c;PASS;Account 444455556666: PASS\u2028"
    run = RunResult(accounts=(ACCOUNTS[Status.FAIL],), errors=(forged,))
    text = to_csv(findings_of(run), Where(), NOW)
    lines = text.splitlines()
    assert len(lines) == 3  # the header, the account, the run's error
    assert len(list(csv.DictReader(io.StringIO(text), delimiter=";"))) == 2
    assert all(line.startswith(NOW.isoformat() + ";") for line in lines[1:])  # no line starts as a forged row
