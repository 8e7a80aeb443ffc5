"""The pure verdict over a corpus of credential reports (CIS 1.4 / Security Hub IAM.4).

Every case starts from tests/audit/data/credential-report-baseline.csv, a report in AWS's real 22-column layout
whose root row has no keys, and changes one thing.
"""

from __future__ import annotations

import base64
import tracemalloc
from typing import Any
import itertools
import gzip
import json
import threading
from datetime import datetime, timedelta, timezone

import pytest

from audit.report import (
    AWS_COLUMNS,
    KEY_SLOTS,
    AccountResult,
    Status,
    decode_content,
    one_line,
    parse_root_row,
    remediation_steps,
    verdict,
    worst,
)
from tests.audit.helpers import BASELINE_ACCOUNT, ROTATED, USED, baseline_text, edit_root

NOW = datetime(2026, 11, 29, 10, 0, tzinfo=timezone.utc)
UNKNOWN_AGE = "credential report generation time unknown, so its age was not checked"
PREFIX = f"Account {BASELINE_ACCOUNT}: "
ERROR_PREFIX = "The account: the root access key audit could not be completed: "


def test_report_fixture_has_aws_column_layout() -> None:
    header = baseline_text().split("\n", 1)[0]
    assert tuple(header.split(",")) == AWS_COLUMNS
    assert len(AWS_COLUMNS) == 22


def test_report_baseline_no_keys_passes() -> None:
    result = verdict(baseline_text())
    assert result.status is Status.PASS
    assert result.message == f"{PREFIX}PASS, the root user has no access keys; {UNKNOWN_AGE}."
    assert result.account_id == BASELINE_ACCOUNT
    assert [key.exists for key in result.keys] == [False, False]


def _swap_columns(text: str, first: str, second: str) -> str:
    lines = text.split("\n")
    header = lines[0].split(",")
    i, j = header.index(first), header.index(second)
    out = []
    for line in lines:
        cells = line.split(",")
        cells[i], cells[j] = cells[j], cells[i]
        out.append(",".join(cells))
    return "\n".join(out)


def _add_column(text: str, name: str, value: str) -> str:
    lines = text.split("\n")
    return "\n".join([lines[0] + "," + name] + [line + "," + value for line in lines[1:]])


def _drop_column(text: str, name: str) -> str:
    lines = text.split("\n")
    index = lines[0].split(",").index(name)
    return "\n".join(",".join(c for k, c in enumerate(line.split(",")) if k != index) for line in lines)


ACTIVE_1 = {"access_key_1_active": "true", "access_key_1_last_rotated": ROTATED}

# (case id, transform of the baseline text, expected status, expected message)
VALID_CASES = [
    (
        "key1-active",
        lambda t: edit_root(t, **ACTIVE_1),
        Status.FAIL,
        f"{PREFIX}FAIL, the root user has 1 active access key (key 1 (active, last rotated {ROTATED}, never used)); "
        f"{UNKNOWN_AGE}.",
    ),
    (
        "key2-active-used",
        lambda t: edit_root(
            t,
            access_key_2_active="true",
            access_key_2_last_rotated=ROTATED,
            access_key_2_last_used_date=USED,
            access_key_2_last_used_region="us-east-1",
            access_key_2_last_used_service="s3",
        ),
        Status.FAIL,
        f"{PREFIX}FAIL, the root user has 1 active access key (key 2 (active, last rotated {ROTATED}, last used "
        f"{USED} in us-east-1 by s3)); {UNKNOWN_AGE}.",
    ),
    (
        "both-active",
        lambda t: edit_root(t, **ACTIVE_1, access_key_2_active="true", access_key_2_last_rotated=ROTATED),
        Status.FAIL,
        f"{PREFIX}FAIL, the root user has 2 active access keys (key 1 (active, last rotated {ROTATED}, never used); "
        f"key 2 (active, last rotated {ROTATED}, never used)); {UNKNOWN_AGE}.",
    ),
    (
        "key1-active-without-rotation-date",
        lambda t: edit_root(t, access_key_1_active="true"),
        Status.FAIL,
        f"{PREFIX}FAIL, the root user has 1 active access key (key 1 (active, last rotated unknown, never used)); "
        f"{UNKNOWN_AGE}.",
    ),
    (
        "key1-inactive-exists",
        lambda t: edit_root(t, access_key_1_last_rotated=ROTATED),
        Status.WARN,
        f"{PREFIX}WARN, the root user has no active access key but 1 inactive access key that must be deleted, not "
        f"only deactivated (key 1 (inactive, last rotated {ROTATED}, never used)); {UNKNOWN_AGE}.",
    ),
    (
        "key2-inactive-used-region-only",
        lambda t: edit_root(
            t,
            access_key_2_last_rotated=ROTATED,
            access_key_2_last_used_date=USED,
            access_key_2_last_used_region="eu-central-2",
        ),
        Status.WARN,
        f"{PREFIX}WARN, the root user has no active access key but 1 inactive access key that must be deleted, not "
        f"only deactivated (key 2 (inactive, last rotated {ROTATED}, last used {USED} in eu-central-2)); "
        f"{UNKNOWN_AGE}.",
    ),
    (
        "one-active-one-inactive",
        lambda t: edit_root(t, **ACTIVE_1, access_key_2_last_rotated=ROTATED),
        Status.FAIL,
        f"{PREFIX}FAIL, the root user has 1 active access key (key 1 (active, last rotated {ROTATED}, never used)); "
        f"{UNKNOWN_AGE}.",
    ),
    (
        "crlf-line-endings",
        lambda t: edit_root(t, **ACTIVE_1).replace("\n", "\r\n"),
        Status.FAIL,
        f"{PREFIX}FAIL, the root user has 1 active access key (key 1 (active, last rotated {ROTATED}, never used)); "
        f"{UNKNOWN_AGE}.",
    ),
    (
        "utf8-bom",
        lambda t: "\ufeff" + t,
        Status.PASS,
        f"{PREFIX}PASS, the root user has no access keys; {UNKNOWN_AGE}.",
    ),
    (
        "trailing-newline",
        lambda t: t + "\n",
        Status.PASS,
        f"{PREFIX}PASS, the root user has no access keys; {UNKNOWN_AGE}.",
    ),
    (
        "extra-column",
        lambda t: _add_column(edit_root(t, **ACTIVE_1), "access_key_1_last_used_ip", "N/A"),
        Status.FAIL,
        f"{PREFIX}FAIL, the root user has 1 active access key (key 1 (active, last rotated {ROTATED}, never used)); "
        f"{UNKNOWN_AGE}.",
    ),
    (
        "reordered-columns",
        lambda t: _swap_columns(edit_root(t, **ACTIVE_1), "access_key_1_active", "access_key_2_active"),
        Status.FAIL,
        f"{PREFIX}FAIL, the root user has 1 active access key (key 1 (active, last rotated {ROTATED}, never used)); "
        f"{UNKNOWN_AGE}.",
    ),
    (
        "cert-columns-absent",
        lambda t: _drop_column(_drop_column(t, "cert_2_active"), "cert_2_last_rotated"),
        Status.PASS,
        f"{PREFIX}PASS, the root user has no access keys; {UNKNOWN_AGE}.",
    ),
    (
        "root-row-not-first",
        lambda t: "\n".join([t.split("\n")[0]] + t.split("\n")[2:] + [t.split("\n")[1]]),
        Status.PASS,
        f"{PREFIX}PASS, the root user has no access keys; {UNKNOWN_AGE}.",
    ),
    (
        "gov-cloud-partition",
        lambda t: edit_root(t, arn=f"arn:aws-us-gov:iam::{BASELINE_ACCOUNT}:root"),
        Status.PASS,
        f"{PREFIX}PASS, the root user has no access keys; {UNKNOWN_AGE}.",
    ),
]


@pytest.mark.parametrize(("transform", "status", "message"), [c[1:] for c in VALID_CASES], ids=[c[0] for c in VALID_CASES])
def test_report_valid_variant_gets_exact_verdict(transform, status: Status, message: str) -> None:
    result = verdict(transform(baseline_text()))
    assert (result.status, result.message) == (status, message)


def _truncate_last_row(t: str) -> str:
    return t[: t.rindex(",N/A,false")]


ERROR_CASES = [
    (
        "missing-key-column",
        lambda t: _drop_column(t, "access_key_2_active"),
        "the header lacks column(s) access_key_2_active; a credential report has user, arn, access_key_1_active, "
        "access_key_1_last_rotated, access_key_1_last_used_date, access_key_1_last_used_region, "
        "access_key_1_last_used_service, access_key_2_active, access_key_2_last_rotated, access_key_2_last_used_date, "
        "access_key_2_last_used_region, access_key_2_last_used_service",
    ),
    (
        "no-root-row",
        lambda t: "\n".join(line for line in t.split("\n") if not line.startswith("<root_account>")),
        "the credential report has no root row (user <root_account> or an ARN ending in :root)",
    ),
    (
        "header-only",
        lambda t: t.split("\n")[0] + "\n",
        "the credential report has no root row (user <root_account> or an ARN ending in :root)",
    ),
    (
        "two-root-rows",
        lambda t: t + "\n" + t.split("\n")[1],
        "the credential report has 2 root rows; expected exactly one",
    ),
    (
        "active-uppercase",
        lambda t: edit_root(t, access_key_1_active="TRUE"),
        "root row column access_key_1_active has unknown value 'TRUE'; expected true or false",
    ),
    (
        "active-empty",
        lambda t: edit_root(t, access_key_2_active=""),
        "root row column access_key_2_active has unknown value ''; expected true or false",
    ),
    (
        "active-not-supported",
        lambda t: edit_root(t, access_key_1_active="not_supported"),
        "root row column access_key_1_active has unknown value 'not_supported'; expected true or false",
    ),
    (
        "rotated-garbage",
        lambda t: edit_root(t, access_key_1_last_rotated="yesterday"),
        "root row column access_key_1_last_rotated has unknown value 'yesterday'; expected N/A or an ISO 8601 "
        "timestamp",
    ),
    (
        "rotated-without-offset",
        lambda t: edit_root(t, access_key_2_last_rotated="2025-02-03T04:05:06"),
        "root row column access_key_2_last_rotated has unknown value '2025-02-03T04:05:06'; expected N/A or an ISO "
        "8601 timestamp with a UTC offset",
    ),
    (
        "used-date-garbage",
        lambda t: edit_root(t, access_key_2_last_used_date="no_information"),
        "root row column access_key_2_last_used_date has unknown value 'no_information'; expected N/A or an ISO 8601 "
        "timestamp",
    ),
    (
        "region-garbage",
        lambda t: edit_root(t, access_key_1_last_used_region="Paris"),
        "root row column access_key_1_last_used_region has unknown value 'Paris'; expected N/A or an AWS region name",
    ),
    (
        "service-garbage",
        lambda t: edit_root(t, access_key_1_last_used_service="S3 API"),
        "root row column access_key_1_last_used_service has unknown value 'S3 API'; expected N/A or an AWS service "
        "namespace",
    ),
    (
        "root-arn-malformed",
        lambda t: edit_root(t, arn="arn:aws:iam::1111:root"),
        "root row column arn has unknown value 'arn:aws:iam::1111:root'; expected arn:<partition>:iam::<12 digits>:root",
    ),
    (
        "root-arn-with-other-user",
        lambda t: edit_root(t, user="root"),
        "root row column user has unknown value 'root'; expected <root_account>",
    ),
    (
        "truncated-last-row",
        _truncate_last_row,
        "line 4 has 19 field(s) but the header has 22; the report is truncated or corrupt",
    ),
    (
        "truncated-root-row",
        lambda t: t.split("\n")[0] + "\n" + t.split("\n")[1][:60],
        "line 2 has 3 field(s) but the header has 22; the report is truncated or corrupt",
    ),
    (
        "root-row-cut-inside-last-column",
        lambda t: t[: t.index("\n", t.index("<root_account>")) - 2],
        "root row column cert_2_last_rotated has unknown value 'N'; expected N/A or an ISO 8601 timestamp",
    ),
    (
        "root-row-cut-inside-timestamp",
        lambda t: t.split("\n")[0] + "\n" + t.split("\n")[1].replace("2026-11-20T09:14:02+00:00", "2026-11-20T09:14"),
        "root row column password_last_used has unknown value '2026-11-20T09:14'; expected N/A or no_information or "
        "not_supported or an ISO 8601 timestamp",
    ),
    (
        "mfa-garbage",
        lambda t: edit_root(t, mfa_active="enabled"),
        "root row column mfa_active has unknown value 'enabled'; expected true or false",
    ),
    (
        "duplicate-column",
        lambda t: _add_column(t, "access_key_1_active", "true"),
        "the header repeats column(s) 'access_key_1_active'",
    ),
    (
        "unterminated-quote",
        lambda t: t + '\n"alice',
        "the credential report is not valid CSV: unexpected end of data",
    ),
    ("empty", lambda t: "", "the credential report is empty"),
    ("whitespace-only", lambda t: "\n\r\n  \n", "the credential report is empty"),
    (
        "base64-still-encoded",
        lambda t: base64.b64encode(t.encode()).decode(),
        "the content is still base64-encoded; decode it first (aws iam get-credential-report --query Content "
        "--output text | base64 --decode)",
    ),
    (
        "base64-wrapped-lines",
        lambda t: base64.encodebytes(t.encode()).decode(),
        "the content is still base64-encoded; decode it first (aws iam get-credential-report --query Content "
        "--output text | base64 --decode)",
    ),
    (
        "json-answer-not-extracted",
        lambda t: json.dumps({"Content": base64.b64encode(t.encode()).decode(), "ReportFormat": "text/csv",
                              "GeneratedTime": "2026-11-29T09:00:00+00:00"}, indent=4),
        "the content is the JSON answer of get-credential-report, not the report; extract and decode it "
        "(aws iam get-credential-report --query Content --output text | base64 --decode)",
    ),
    # Two reports joined: the second header is read as a user row, and the second root row under the first's
    # columns (here with a key slot and a cert slot swapped, which alone would read the active key as a cert).
    (
        "second-header-row",
        lambda t: t.rstrip("\n") + "\n" + t.split("\n")[0] + "\n",
        "line 5 has arn 'arn', which is neither the root's nor an IAM user's; the report is corrupt",
    ),
    (
        "user-row-not-an-arn",
        lambda t: t.replace("arn:aws:iam::111122223333:user/people/alice", "alice"),
        "line 4 has arn 'alice', which is neither the root's nor an IAM user's; the report is corrupt",
    ),
    (
        "user-row-of-another-account",
        lambda t: t.replace("arn:aws:iam::111122223333:user/people/alice", "arn:aws:iam::444455556666:user/alice"),
        "line 4 is of account 444455556666 but earlier lines are of 111122223333; a credential report holds one account",
    ),
    (
        "empty-row-of-commas",
        lambda t: t.rstrip("\n") + "\n" + "," * 21 + "\n",
        "line 5 has arn '', which is neither the root's nor an IAM user's; the report is corrupt",
    ),
    (
        "control-character",
        lambda t: t.replace("alice", "al\x07ice"),
        "the content is binary (it contains control character 0x07), not a CSV credential report",
    ),
]


@pytest.mark.parametrize(("transform", "reason"), [c[1:] for c in ERROR_CASES], ids=[c[0] for c in ERROR_CASES])
def test_report_untrustworthy_variant_is_error_with_reason(transform, reason: str) -> None:
    result = verdict(transform(baseline_text()))
    assert (result.status, result.reason, result.message) == (Status.ERROR, reason, ERROR_PREFIX + reason)
    assert result.keys == ()


BINARY_CASES = [
    ("gzip", lambda b: gzip.compress(b), "the content is gzip-compressed binary data, not a CSV credential report"),
    ("nul-bytes", lambda b: b.replace(b"alice", b"al\x00ice"), "the content is binary (it contains NUL bytes), not a CSV credential report"),
    (
        "utf-16-as-powershell-writes",
        lambda b: b.decode("utf-8").encode("utf-16"),
        "the content is UTF-16 text, not the UTF-8 CSV that AWS produces; save the decoded report as UTF-8 "
        "(e.g. base64 --decode > report.csv, or Out-File -Encoding utf8 in PowerShell)",
    ),
    (
        "latin-1",
        lambda b: b.replace(b"alice", "alicé".encode("latin-1")),
        "the content is not UTF-8 text (invalid byte 0xe9 at offset 900); a credential report is a UTF-8 CSV file",
    ),
]


@pytest.mark.parametrize(("transform", "reason"), [c[1:] for c in BINARY_CASES], ids=[c[0] for c in BINARY_CASES])
def test_report_binary_bytes_is_error_with_reason(transform, reason: str) -> None:
    result = verdict(transform(baseline_text().encode("utf-8")))
    assert (result.status, result.reason) == (Status.ERROR, reason)


def test_report_bytes_with_bom_and_crlf_passes() -> None:
    content = b"\xef\xbb\xbf" + baseline_text().replace("\n", "\r\n").encode("utf-8")
    assert verdict(content).status is Status.PASS


@pytest.mark.parametrize(
    ("generated", "max_age", "status", "message"),
    [
        (
            NOW - timedelta(hours=3),
            timedelta(hours=5),
            Status.PASS,
            f"{PREFIX}PASS, the root user has no access keys; credential report generated 2026-11-29T07:00:00Z.",
        ),
        (
            NOW - timedelta(hours=6),
            timedelta(hours=5),
            Status.ERROR,
            f"{PREFIX}the root access key audit could not be completed: the credential report was generated at "
            "2026-11-29T04:00:00Z, 6.0 h ago, which is older than the 5.0 h limit",
        ),
        (
            NOW + timedelta(hours=1),
            timedelta(hours=5),
            Status.ERROR,
            f"{PREFIX}the root access key audit could not be completed: the credential report claims to be generated "
            "in the future (2026-11-29T11:00:00Z)",
        ),
        (
            datetime(2026, 11, 29, 9, 0),
            timedelta(hours=5),
            Status.ERROR,
            f"{PREFIX}the root access key audit could not be completed: the report generation time "
            "2026-11-29T09:00:00 has no time zone",
        ),
    ],
    ids=["fresh", "stale", "future", "naive"],
)
def test_report_generation_time_checked_against_limit(
    generated: datetime, max_age: timedelta, status: Status, message: str
) -> None:
    result = verdict(baseline_text(), generated_at=generated, now=NOW, max_age=max_age)
    assert (result.status, result.message) == (status, message)


def test_report_stale_report_with_active_key_is_error_not_fail() -> None:
    # A stale report cannot vouch for anything; ERROR (worse than FAIL) keeps the alarm firing.
    result = verdict(
        edit_root(baseline_text(), **ACTIVE_1),
        generated_at=NOW - timedelta(hours=30),
        now=NOW,
        max_age=timedelta(hours=5),
    )
    assert result.status is Status.ERROR


@pytest.mark.parametrize(
    ("expected", "reason"),
    [
        ("444455556666", "the credential report's root row is for account 111122223333, not 444455556666"),
        ("12345", "account id '12345' is not 12 digits"),
    ],
)
def test_report_other_account_is_error(expected: str, reason: str) -> None:
    result = verdict(baseline_text(), expected_account_id=expected)
    assert (result.status, result.account_id, result.reason) == (Status.ERROR, expected, reason)


@pytest.mark.parametrize(
    ("content", "text"),
    [("\ufeffuser,arn", "user,arn"), ("\ufeff\ufeffuser,arn", "\ufeffuser,arn"), (b"\xef\xbb\xbfuser,arn", "user,arn")],
    ids=["one-bom", "second-bom-kept", "bom-bytes"],
)
def test_report_decode_content_strips_bom_only_once(content: str | bytes, text: str) -> None:
    # One BOM is an encoding marker; a second one is content, and the header check then refuses it.
    assert decode_content(content) == text


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([Status.PASS, Status.PASS], Status.PASS),
        ([Status.PASS, Status.WARN], Status.WARN),
        ([Status.WARN, Status.FAIL, Status.PASS], Status.FAIL),
        ([Status.FAIL, Status.ERROR], Status.ERROR),
        ([], Status.ERROR),
    ],
)
def test_report_worst_orders_error_above_fail(statuses: list[Status], expected: Status) -> None:
    assert worst(statuses) is expected


@pytest.mark.parametrize(
    ("transform", "count"),
    [
        (lambda t: t, 0),
        (lambda t: edit_root(t, **ACTIVE_1), 4),
        (lambda t: edit_root(t, access_key_1_last_rotated=ROTATED), 4),
        (lambda t: "", 1),
    ],
    ids=["pass", "fail", "warn", "error"],
)
def test_report_remediation_steps_only_for_findings(transform, count: int) -> None:
    steps = remediation_steps(verdict(transform(baseline_text())))
    assert len(steps) == count
    if count == 4:
        assert steps[0].startswith(f"Delete root access key slot(s) 1 of account {BASELINE_ACCOUNT}:")
        assert steps[1].startswith(f"With centralized root access (AWS Organizations), from the management or "
                                   f"delegated admin account: aws sts assume-root --target-principal {BASELINE_ACCOUNT} ")
    if count == 1:
        assert steps == ("Fix the cause above and rerun the audit; until it passes, treat the account as possibly "
                         "having an active root access key.",)


# ------------------------------------------------------------------ fail-closed properties

from hypothesis import example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_CELL = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=12)


@settings(max_examples=200, deadline=None)
@given(value=_CELL)
def test_report_any_active_value_passes_only_when_false(value: str) -> None:
    result = verdict(edit_root(baseline_text(), access_key_1_active=value))
    if value == "false":
        assert result.status is Status.PASS
    elif value == "true":
        assert result.status is Status.FAIL
    else:
        assert result.status is Status.ERROR


@settings(max_examples=200, deadline=None)
@given(column=st.sampled_from(["access_key_1_last_rotated", "access_key_2_last_rotated"]), value=_CELL)
def test_report_any_rotation_value_never_passes_unless_na(column: str, value: str) -> None:
    result = verdict(edit_root(baseline_text(), **{column: value}))
    assert (result.status is Status.PASS) == (value == "N/A")


@settings(max_examples=300, deadline=None)
@given(content=st.binary(max_size=2048))
def test_report_arbitrary_bytes_never_crash_never_pass(content: bytes) -> None:
    assert verdict(content).status is Status.ERROR


@settings(max_examples=100, deadline=None)
@given(cut=st.integers(min_value=0, max_value=len(baseline_text()) - 1))
@example(cut=baseline_text().index("\n", baseline_text().index("<root_account>")) - 1)
def test_report_truncated_anywhere_never_passes_by_accident(cut: int) -> None:
    # Cut before the end of the root row: ERROR. Cut after it: the root row is intact, and the user rows are
    # either complete or flagged as truncated.
    text = baseline_text()
    result = verdict(text[:cut])
    root_end = text.index("\n", text.index("<root_account>"))
    if cut <= root_end - 1:
        assert result.status is Status.ERROR
    else:
        assert result.status in (Status.PASS, Status.ERROR)


# ------------------------------------------------------------------ key slots: any trace of a key is a key

_CONTRADICTORY_NO_ROTATION = (
    "root row access key {slot} is contradictory: access_key_{slot}_active is false and access_key_{slot}_last_rotated "
    "is N/A, but {present} is set; AWS gives every existing key a rotation date, so whether this key exists is "
    "unknown"
)
_CONTRADICTORY_NO_DATE = (
    "root row access key {slot} is contradictory: {present} is set but access_key_{slot}_last_used_date is N/A; AWS "
    "records where a key was used only with when"
)


def _slot(slot: int, **fields: str) -> dict[str, str]:
    return {f"access_key_{slot}_{name}": value for name, value in fields.items()}


SLOT_CASES = [
    # (case id, root-row changes, expected status, expected reason for an ERROR / message for the others)
    (
        "inactive-used-date-only",
        _slot(2, last_used_date=USED),
        Status.ERROR,
        _CONTRADICTORY_NO_ROTATION.format(slot=2, present="access_key_2_last_used_date"),
    ),
    (
        "inactive-used-everything-but-rotation",
        _slot(1, last_used_date=USED, last_used_region="us-east-1", last_used_service="s3"),
        Status.ERROR,
        _CONTRADICTORY_NO_ROTATION.format(
            slot=1, present="access_key_1_last_used_date, access_key_1_last_used_region, access_key_1_last_used_service"
        ),
    ),
    (
        "inactive-region-only",
        _slot(1, last_used_region="eu-west-1"),
        Status.ERROR,
        _CONTRADICTORY_NO_ROTATION.format(slot=1, present="access_key_1_last_used_region"),
    ),
    (
        "inactive-service-only",
        _slot(2, last_used_service="iam"),
        Status.ERROR,
        _CONTRADICTORY_NO_ROTATION.format(slot=2, present="access_key_2_last_used_service"),
    ),
    (
        "inactive-rotated-region-without-date",
        _slot(1, last_rotated=ROTATED, last_used_region="us-east-1"),
        Status.ERROR,
        _CONTRADICTORY_NO_DATE.format(slot=1, present="access_key_1_last_used_region"),
    ),
    (
        "inactive-rotated-service-without-date",
        _slot(2, last_rotated=ROTATED, last_used_region="us-east-1", last_used_service="sts"),
        Status.ERROR,
        _CONTRADICTORY_NO_DATE.format(slot=2, present="access_key_2_last_used_region, access_key_2_last_used_service"),
    ),
    (
        "active-used-date-only",
        _slot(2, active="true", last_used_date=USED),
        Status.FAIL,
        f"{PREFIX}FAIL, the root user has 1 active access key (key 2 (active, last rotated unknown, last used {USED})); "
        f"{UNKNOWN_AGE}.",
    ),
    (
        "active-service-only",
        _slot(1, active="true", last_used_service="s3"),
        Status.FAIL,
        f"{PREFIX}FAIL, the root user has 1 active access key (key 1 (active, last rotated unknown, never used)); "
        f"{UNKNOWN_AGE}.",
    ),
    (
        "inactive-rotated-used-global-service",
        _slot(1, last_rotated=ROTATED, last_used_date=USED, last_used_service="iam"),
        Status.WARN,
        f"{PREFIX}WARN, the root user has no active access key but 1 inactive access key that must be deleted, not "
        f"only deactivated (key 1 (inactive, last rotated {ROTATED}, last used {USED} by iam)); {UNKNOWN_AGE}.",
    ),
    (
        "inactive-rotated-used-date-only",
        _slot(2, last_rotated=ROTATED, last_used_date=USED),
        Status.WARN,
        f"{PREFIX}WARN, the root user has no active access key but 1 inactive access key that must be deleted, not "
        f"only deactivated (key 2 (inactive, last rotated {ROTATED}, last used {USED})); {UNKNOWN_AGE}.",
    ),
    (
        # The active key is proven whatever slot 2 says: FAIL, so it counts where FAILs are counted.
        "active-key1-and-contradictory-key2",
        {**ACTIVE_1, **_slot(2, last_used_date=USED)},
        Status.FAIL,
        f"{PREFIX}FAIL, the root user has 1 active access key (key 1 (active, last rotated {ROTATED}, never used)); "
        f"{UNKNOWN_AGE}. The report is also inconsistent: "
        + _CONTRADICTORY_NO_ROTATION.format(slot=2, present="access_key_2_last_used_date")
        + ".",
    ),
    (
        "both-slots-contradictory",
        {**_slot(1, last_used_service="s3"), **_slot(2, last_rotated=ROTATED, last_used_region="us-east-1")},
        Status.ERROR,
        _CONTRADICTORY_NO_ROTATION.format(slot=1, present="access_key_1_last_used_service")
        + "; "
        + _CONTRADICTORY_NO_DATE.format(slot=2, present="access_key_2_last_used_region"),
    ),
]


@pytest.mark.parametrize(("changes", "status", "expected"), [c[1:] for c in SLOT_CASES], ids=[c[0] for c in SLOT_CASES])
def test_report_slot_with_any_trace_is_a_key(changes: dict[str, str], status: Status, expected: str) -> None:
    result = verdict(edit_root(baseline_text(), **changes))
    if status is Status.ERROR:
        assert (result.status, result.reason) == (status, expected)
        assert result.message == f"{PREFIX}the root access key audit could not be completed: {expected}"
        # The slots are kept, so the JSON output and the finding still show what the row said.
        assert len(result.keys) == 2
    else:
        assert (result.status, result.message) == (status, expected)


_SLOT_VALUES = {"last_rotated": ROTATED, "last_used_date": USED, "last_used_region": "us-east-1", "last_used_service": "s3"}


@pytest.mark.parametrize("slot", KEY_SLOTS)
@pytest.mark.parametrize("active", ["true", "false"])
@pytest.mark.parametrize("present", [combo for n in range(5) for combo in itertools.combinations(_SLOT_VALUES, n)])
def test_report_every_slot_combination_passes_only_when_empty(slot: int, active: str, present: tuple[str, ...]) -> None:
    result = verdict(edit_root(baseline_text(), **_slot(slot, active=active, **{n: _SLOT_VALUES[n] for n in present})))
    consistent = "last_rotated" in present and (
        "last_used_date" in present or not {"last_used_region", "last_used_service"} & set(present)
    )
    if active == "true":
        expected = Status.FAIL
    elif not present:
        expected = Status.PASS
    else:
        expected = Status.WARN if consistent else Status.ERROR
    assert result.status is expected


# ------------------------------------------------------------------ ASCII, whole-value matches

ARABIC_INDIC_ACCOUNT = "".join(chr(0x0660 + int(d)) for d in BASELINE_ACCOUNT)

def _newline_after(column: str, value: str, **changes: str) -> dict[str, str]:
    """Root-row changes whose `column` is `value` and a newline, which CSV carries inside a quoted field."""
    return {**changes, column: value + "\n"}


STRICT_CASES = [
    (
        "arn-arabic-indic-digits",
        {"arn": f"arn:aws:iam::{ARABIC_INDIC_ACCOUNT}:root"},
        f"root row column arn has unknown value 'arn:aws:iam::{ARABIC_INDIC_ACCOUNT}:root'; expected "
        "arn:<partition>:iam::<12 digits>:root",
    ),
    (
        "arn-trailing-newline",
        _newline_after("arn", f"arn:aws:iam::{BASELINE_ACCOUNT}:root"),
        f"root row column arn has unknown value 'arn:aws:iam::{BASELINE_ACCOUNT}:root\\n'; expected "
        "arn:<partition>:iam::<12 digits>:root",
    ),
    (
        "region-trailing-newline",
        _newline_after("access_key_1_last_used_region", "us-east-1", **_slot(1, last_rotated=ROTATED, last_used_date=USED)),
        "root row column access_key_1_last_used_region has unknown value 'us-east-1\\n'; expected N/A or an AWS region "
        "name",
    ),
    (
        "region-arabic-indic-digit",
        {**_slot(2, last_rotated=ROTATED, last_used_date=USED, last_used_region="us-east-\u0661")},
        "root row column access_key_2_last_used_region has unknown value 'us-east-\u0661'; expected N/A or an AWS "
        "region name",
    ),
    (
        "service-trailing-newline",
        _newline_after("access_key_1_last_used_service", "s3", **_slot(1, last_rotated=ROTATED, last_used_date=USED)),
        "root row column access_key_1_last_used_service has unknown value 's3\\n'; expected N/A or an AWS service "
        "namespace",
    ),
    (
        "rotated-basic-format",
        _slot(1, last_rotated="20250203T040506+00:00"),
        "root row column access_key_1_last_rotated has unknown value '20250203T040506+00:00'; expected N/A or an ISO "
        "8601 timestamp",
    ),
    (
        "rotated-week-date",
        _slot(1, last_rotated="2025-W05-1T00:00:00+00:00"),
        "root row column access_key_1_last_rotated has unknown value '2025-W05-1T00:00:00+00:00'; expected N/A or an "
        "ISO 8601 timestamp",
    ),
    (
        "used-date-space-separator",
        _slot(2, last_rotated=ROTATED, last_used_date="2026-11-01 12:00:00+00:00"),
        "root row column access_key_2_last_used_date has unknown value '2026-11-01 12:00:00+00:00'; expected N/A or "
        "an ISO 8601 timestamp",
    ),
    (
        "rotated-trailing-newline",
        _newline_after("access_key_1_last_rotated", ROTATED),
        f"root row column access_key_1_last_rotated has unknown value '{ROTATED}\\n'; expected N/A or an ISO 8601 "
        "timestamp",
    ),
    (
        "rotated-month-13",
        _slot(1, last_rotated="2025-13-03T04:05:06+00:00"),
        "root row column access_key_1_last_rotated has unknown value '2025-13-03T04:05:06+00:00'; expected N/A or an "
        "ISO 8601 timestamp",
    ),
    (
        "creation-time-basic-format",
        {"user_creation_time": "20190612T080144+00:00"},
        "root row column user_creation_time has unknown value '20190612T080144+00:00'; expected an ISO 8601 timestamp",
    ),
]


@pytest.mark.parametrize(("changes", "reason"), [c[1:] for c in STRICT_CASES], ids=[c[0] for c in STRICT_CASES])
def test_report_value_aws_never_writes_is_error(changes: dict[str, str], reason: str) -> None:
    result = verdict(edit_root(baseline_text(), **changes))
    assert (result.status, result.reason) == (Status.ERROR, reason)


@pytest.mark.parametrize(
    "expected", [ARABIC_INDIC_ACCOUNT, BASELINE_ACCOUNT + "\n", " " + BASELINE_ACCOUNT, "1111222233334"],
    ids=["arabic-indic", "trailing-newline", "leading-space", "13-digits"],
)
def test_report_expected_account_not_ascii_12_digits_is_error(expected: str) -> None:
    result = verdict(baseline_text(), expected_account_id=expected)
    assert (result.status, result.reason) == (Status.ERROR, f"account id {expected!r} is not 12 digits")


def test_report_base64_with_unicode_spaces_is_not_mistaken_for_base64() -> None:
    # \s would take U+2028 as whitespace; the text is then judged as CSV, and refused as such.
    text = base64.b64encode(baseline_text().encode()).decode()
    result = verdict(text[:40] + "\u2028" + text[40:])
    assert result.status is Status.ERROR
    assert result.reason is not None and not result.reason.startswith("the content is still base64-encoded")


def _judged_within(text: str, seconds: float) -> AccountResult | None:
    """The verdict, or None if it took longer than `seconds`: a pattern that backtracks on hostile input would
    take hours on these inputs, where a linear one takes milliseconds, so the bound is far from any noise."""
    done: list[AccountResult] = []
    worker = threading.Thread(target=lambda: done.append(verdict(text)), daemon=True)
    worker.start()
    worker.join(seconds)
    return done[0] if done else None


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (" " * 1_000_000 + "-", "the credential report is not valid CSV: field larger than field limit"),
        ("\n" * 1_000_000 + "QUJD\n" * 10 + "-", "the header lacks column(s) user, arn"),
        ("," * 1_000_000 + "\n", "the header repeats column(s) ''"),
    ],
    ids=["a-million-blanks", "a-million-line-breaks", "a-million-empty-columns"],
)
def test_report_hostile_input_is_judged_in_linear_time(text: str, reason: str) -> None:
    result = _judged_within(text, 60.0)
    assert result is not None, "the verdict took over 60 s"
    assert result.status is Status.ERROR
    assert reason in (result.reason or "")


@pytest.mark.parametrize("kind", [bytes, str])
def test_report_larger_than_any_report_is_error(kind: type, monkeypatch: pytest.MonkeyPatch) -> None:
    text = baseline_text()
    content = text.encode() if kind is bytes else text
    monkeypatch.setattr("audit.report.MAX_REPORT_BYTES", len(content))
    assert verdict(content).status is Status.PASS
    monkeypatch.setattr("audit.report.MAX_REPORT_BYTES", len(content) - 1)
    result = verdict(content)
    assert result.status is Status.ERROR
    assert (result.reason or "").startswith("the content is over")


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("a\nb", "a\\x0ab"),
        ("a\r\nb", "a\\x0d\\x0ab"),
        ("a\x85b", "a\\x85b"),  # NEL, a line break to Unicode
        ("a\u2028b\u2029c", "a\\u2028b\\u2029c"),
        ("a\x1b[2Jb", "a\\x1b[2Jb"),  # a terminal escape that clears the screen
        ("a\x0bb\x0cc", "a\\x0bb\\x0cc"),
        ("tab\tand text", "tab\tand text"),
        ("plain, non-ASCII \u00e9 and \u65e5", "plain, non-ASCII \u00e9 and \u65e5"),
    ],
)
def test_one_line_escapes_what_breaks_lines(text: str, shown: str) -> None:
    assert one_line(text) == shown


def test_report_rows_are_read_one_at_a_time() -> None:
    # A report near MAX_REPORT_BYTES must cost about its own size, not a copy per row and a dict per user.
    users = "".join(f"user{i},arn:aws:iam::111122223333:user/user{i}{',N/A' * 20}\n" for i in range(20_000))
    text = baseline_text().rstrip("\n") + "\n" + users
    tracemalloc.start()
    try:
        parse_root_row(text)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < len(text) // 4


@pytest.mark.parametrize(("content", "generated_at", "reason"), [
    (None, None, "the content is a NoneType, not the report's bytes or text"),
    (12, None, "the content is a int, not the report's bytes or text"),
    # Year 1 at UTC+14 is before datetime.min once in UTC: the subtraction overflows.
    ("report", datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))), None),
])
def test_report_verdict_of_odd_input_is_error_not_a_crash(content: Any, generated_at: Any, reason: str | None) -> None:
    text = baseline_text() if content == "report" else content
    result = verdict(text, generated_at=generated_at, now=NOW)
    assert result.status is Status.ERROR
    if reason is not None:
        assert result.reason == reason


def test_report_verdict_takes_bytearray_and_memoryview() -> None:
    for content in (bytearray(baseline_text().encode()), memoryview(baseline_text().encode())):
        assert verdict(content).status is Status.PASS


def test_report_row_arn_that_fails_late_is_judged_at_once() -> None:
    # A path part could hold "/" before: a long path failing at its end was tried split every way (9 s at 27
    # parts, doubling with each). One split only now.
    import time

    arn = "arn:aws:iam::111122223333:user/" + "a/" * 200 + "!"
    text = baseline_text().rstrip("\n") + "\n" + f"x,{arn}" + ",N/A" * 20 + "\n"
    started = time.monotonic()
    result = verdict(text)
    assert time.monotonic() - started < 2.0
    assert result.status is Status.ERROR and "which is neither the root's nor an IAM user's" in (result.reason or "")
