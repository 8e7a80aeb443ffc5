"""`python -m audit` (CIS 1.4 / IAM.4 audit CLI): exit codes, text and JSON output, offline files, and online runs
against a moto server over real HTTP."""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest

from audit.cli import main
from simulate import moto_root
from tests.audit.helpers import (
    AUDIT_ROLE,
    BASELINE_FILE,
    MANAGEMENT_ACCOUNT,
    ORG_MEMBERS,
    ROTATED,
    baseline_text,
    build_org,
    edit_root,
)

REPO = Path(__file__).resolve().parents[2]
ARABIC_INDIC_12 = "\u0661" * 12  # int() and \\d take these as digits; AWS never writes them
UNKNOWN_AGE = "credential report generation time unknown, so its age was not checked"


def _run(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    code = main(argv, stdout=out)
    return code, out.getvalue()


def _write(tmp_path: Path, text: str | bytes, name: str = "report.csv") -> str:
    path = tmp_path / name
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8", newline="")
    else:
        path.write_bytes(text)
    return str(path)


def test_cli_offline_clean_report_text_exit_0() -> None:
    code, out = _run(["--credential-report", str(BASELINE_FILE)])
    assert code == 0
    assert out == (
        f"Account 111122223333: PASS, the root user has no access keys; {UNKNOWN_AGE}.\n"
        "Overall: PASS (1 account(s): 1 PASS, 0 WARN, 0 FAIL, 0 ERROR).\n"
    )


def test_cli_offline_active_key_exit_1_with_remediation(tmp_path: Path) -> None:
    path = _write(tmp_path, edit_root(baseline_text(), access_key_2_active="true", access_key_2_last_rotated=ROTATED))
    code, out = _run(["--credential-report", path])
    lines = out.splitlines()
    assert code == 1
    assert lines[0] == (
        f"Account 111122223333: FAIL, the root user has 1 active access key (key 2 (active, last rotated {ROTATED}, "
        f"never used)); {UNKNOWN_AGE}."
    )
    assert lines[1].startswith("  1. Delete root access key slot(s) 2 of account 111122223333: sign in as the root user")
    assert [line[:5] for line in lines[1:5]] == ["  1. ", "  2. ", "  3. ", "  4. "]
    assert lines[-1] == "Overall: FAIL (1 account(s): 0 PASS, 0 WARN, 1 FAIL, 0 ERROR)."


def test_cli_offline_inactive_key_exit_0_warn(tmp_path: Path) -> None:
    path = _write(tmp_path, edit_root(baseline_text(), access_key_1_last_rotated=ROTATED))
    code, out = _run(["--credential-report", path, "--format", "json"])
    assert code == 0
    assert json.loads(out)["status"] == "WARN"


def test_cli_offline_json_shape_one_entry_per_account(tmp_path: Path) -> None:
    path = _write(tmp_path, edit_root(baseline_text(), access_key_1_active="true", access_key_1_last_rotated=ROTATED))
    code, out = _run(["--credential-report", path, "--format", "json"])
    doc = json.loads(out)
    assert code == 1
    assert list(doc) == ["status", "accounts", "errors", "notes", "recovered", "counts"]
    assert doc["status"] == "FAIL"
    assert doc["counts"] == {"PASS": 0, "WARN": 0, "FAIL": 1, "ERROR": 0}
    (account,) = doc["accounts"]
    assert account == {
        "account_id": "111122223333",
        "status": "FAIL",
        "message": f"Account 111122223333: FAIL, the root user has 1 active access key (key 1 (active, last rotated "
        f"{ROTATED}, never used)); {UNKNOWN_AGE}.",
        "reason": None,
        "root_keys": [
            {"slot": 1, "active": True, "last_rotated": ROTATED, "last_used_date": None, "last_used_region": None, "last_used_service": None},
            {"slot": 2, "active": False, "last_rotated": None, "last_used_date": None, "last_used_region": None, "last_used_service": None},
        ],
        "active_key_count": 1,
        "report_generated_at": None,
        "remediation_actions": [],
        "remediation_steps": account["remediation_steps"],
    }
    assert len(account["remediation_steps"]) == 4


def test_cli_offline_file_as_aws_cli_writes_it(tmp_path: Path, aws_env: None, moto_root_installed: None) -> None:
    # `aws iam get-credential-report --query Content --output text` prints the base64 of Content; `base64 --decode`
    # turns it back into the bytes. Reproduce both halves from a moto report with an injected root row.
    from moto import mock_aws

    moto_root.set_root_credentials(MANAGEMENT_ACCOUNT, moto_root.RootCredentials(key_1_active=True, key_1_last_rotated=ROTATED))
    with mock_aws():
        iam = boto3.client("iam", region_name="us-east-1")
        iam.create_user(UserName="deployer")
        iam.generate_credential_report()
        content = iam.get_credential_report()["Content"]
    cli_text = base64.b64encode(content).decode() + "\n"
    decoded = subprocess.run(["base64", "--decode"], input=cli_text.encode(), capture_output=True, check=True).stdout
    assert decoded == content
    code, out = _run(["--credential-report", _write(tmp_path, decoded), "--format", "json"])
    assert (code, json.loads(out)["accounts"][0]["account_id"]) == (1, MANAGEMENT_ACCOUNT)
    # Forgetting `| base64 --decode` is named, not misread.
    code, out = _run(["--credential-report", _write(tmp_path, cli_text, "raw.txt"), "--format", "json"])
    assert (code, json.loads(out)["accounts"][0]["reason"]) == (
        2,
        "the content is still base64-encoded; decode it first (aws iam get-credential-report --query Content "
        "--output text | base64 --decode)",
    )


def test_cli_offline_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(BASELINE_FILE.read_bytes())))
    code, out = _run(["--credential-report", "-", "--format", "json"])
    assert (code, json.loads(out)["status"]) == (0, "PASS")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--org"], "--org needs --role-name NAME (the role assumed in every member account)"),
        (["--role-name", "R"], "--role-name needs --org"),
        (["--workers", "0"], "argument --workers: 0 is out of range (1..64)"),
        (["--workers", "many"], "argument --workers: 'many' is not an integer (1..64)"),
        (["--credential-report", str(BASELINE_FILE), "--output", "-"],
         "argument --output: '-' is not a file; give a path, or leave --output out and use --format alone for stdout"),

        # int() alone would refuse 5,000 digits with a message of its own ("invalid ... value").
        (["--workers", "9" * 5000], f"argument --workers: {'9' * 64!r}... (5000 characters) is out of range (1..64)"),
        (["--workers", "\u0668"], "argument --workers: '\u0668' is not an integer (1..64)"),
        (["--workers", "1_6"], "argument --workers: '1_6' is not an integer (1..64)"),
        (["--max-age-hours", " 5"], "argument --max-age-hours: ' 5' is not an integer (1..24)"),
        (["--org", "--role-name", "Audit\u0131"], "role name 'Audit\u0131' is not a valid IAM role name (1-64 characters of letters, digits and +=,.@_-)"),
        (["--org", "--role-name", "Audit\n"], "role name 'Audit\\n' is not a valid IAM role name (1-64 characters of letters, digits and +=,.@_-)"),
        (["--max-age-hours", "25"], "argument --max-age-hours: 25 is out of range (1..24)"),
        (["--format", "xml"], "argument --format: 'xml' is not one of text, json, ocsf, csv"),
        (["--dry-run"], "--dry-run needs --remediate"),
        (["--credential-report", "x.csv", "--endpoint-url", "http://localhost:1"], "--credential-report judges a file offline; it takes no AWS options"),
        (["--credential-report", "x.csv", "--org", "--role-name", "R"], "argument --org: not allowed with argument --credential-report"),
        (["--org", "--role-name", "bad/name"], "role name 'bad/name' is not a valid IAM role name (1-64 characters of letters, digits and +=,.@_-)"),
        (["--metric-namespace", "AWS/IAM"], "metric namespace 'AWS/IAM' must not start with AWS/ (reserved)"),
        (["--remediate"], "--remediate needs --org: sts:AssumeRoot reaches member accounts, never the calling account"),
        (["--credential-report", "x.csv", "--region", "eu-west-1"], "--credential-report judges a file offline; it takes no AWS options"),
        (["--credential-report", "x.csv", "--profile", "audit"], "--credential-report judges a file offline; it takes no AWS options"),
        (["--endpoint-url", "localhost:5000"], "argument --endpoint-url: 'localhost:5000' is not an http:// or https:// URL with a host"),
        (["--endpoint-url", "ftp://moto"], "argument --endpoint-url: 'ftp://moto' is not an http:// or https:// URL with a host"),
        # An empty value is never "option not given", which would change what the run does.
        (["--credential-report", ""], "argument --credential-report: '' is empty; give a value or leave the option out"),
        (["--credential-report="], "argument --credential-report: '' is empty; give a value or leave the option out"),
        (["--credential-report", "  "], "argument --credential-report: '  ' is empty; give a value or leave the option out"),
        (["--endpoint-url", ""], "argument --endpoint-url: '' is empty; give a value or leave the option out"),
        (["--org", "--role-name", ""], "argument --role-name: '' is empty; give a value or leave the option out"),
        (["--role-name", ""], "argument --role-name: '' is empty; give a value or leave the option out"),
        (["--region", ""], "argument --region: '' is empty; give a value or leave the option out"),
        (["--profile", ""], "argument --profile: '' is empty; give a value or leave the option out"),
        (["--metric-namespace", ""], "argument --metric-namespace: '' is empty; give a value or leave the option out"),
        (["--sns-topic-arn", "\t"], "argument --sns-topic-arn: '\\t' is empty; give a value or leave the option out"),
        (["--credential-report", "x.csv", "--account-id", ""], "argument --account-id: '' is not an AWS account id (12 digits 0-9)"),
        (["--credential-report", "x.csv", "--account-id", "12345"], "argument --account-id: '12345' is not an AWS account id (12 digits 0-9)"),
        (
            ["--credential-report", "x.csv", "--account-id", ARABIC_INDIC_12],
            f"argument --account-id: '{ARABIC_INDIC_12}' is not an AWS account id (12 digits 0-9)",
        ),
        (
            ["--credential-report", "x.csv", "--account-id", "111122223333\n"],
            "argument --account-id: '111122223333\\n' is not an AWS account id (12 digits 0-9)",
        ),
        (["--account-id", "111122223333"], "--account-id needs --credential-report (online, the account is the one the credentials reach)"),
        (["--credential-report", "x.csv", "--security-hub"], "--credential-report judges a file offline; it takes no AWS options"),
        (["--credential-report", "x.csv", "--metric-namespace", "NS"], "--credential-report judges a file offline; it takes no AWS options"),
        # A saved file has no generation time: an age limit asked for could not be applied, and must not read as applied.
        (
            ["--credential-report", "x.csv", "--max-age-hours", "5"],
            "--credential-report judges a file offline; not with --max-age-hours, which only an online audit uses",
        ),
        (
            ["--credential-report", "x.csv", "--workers", "8"],
            "--credential-report judges a file offline; not with --workers, which only an online audit uses",
        ),
        (
            ["--credential-report", "x.csv", "--no-progress", "--max-age-hours", "1"],
            "--credential-report judges a file offline; not with --max-age-hours, --no-progress, which only an online "
            "audit uses",
        ),
    ],
)
def test_cli_bad_usage_exit_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as excinfo:
        main(argv)
    assert excinfo.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == f"python -m audit: error: {message}"


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("nope.csv", "No such file or directory"),
        (".", "Is a directory"),
        ("report.csv/inner.csv", "Not a directory"),
    ],
    ids=["missing", "directory", "below-a-file"],
)
def test_cli_offline_unreadable_path_is_usage_error_exit_2(
    tmp_path: Path, path: str, problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(tmp_path, baseline_text())
    target = str(tmp_path / path)
    with pytest.raises(SystemExit) as excinfo:
        main(["--credential-report", target], session=_BrokenSession())
    captured = capsys.readouterr()
    assert (excinfo.value.code, captured.out) == (2, "")
    assert captured.err.splitlines()[-1] == f"python -m audit: error: argument --credential-report: cannot read {target!r}: {problem}"


@pytest.mark.parametrize(
    ("account_id", "code", "reason"),
    [
        ("111122223333", 0, None),
        ("444455556666", 2, "the credential report's root row is for account 111122223333, not 444455556666"),
    ],
    ids=["same-account", "other-account"],
)
def test_cli_offline_account_id_asserts_report_account(account_id: str, code: int, reason: str | None) -> None:
    exit_code, out = _run(["--credential-report", str(BASELINE_FILE), "--account-id", account_id, "--format", "json"])
    (account,) = json.loads(out)["accounts"]
    assert (exit_code, account["account_id"], account["reason"]) == (code, account_id, reason)


def test_cli_offline_account_id_other_account_with_active_key_is_error_not_fail(tmp_path: Path) -> None:
    path = _write(tmp_path, edit_root(baseline_text(), access_key_1_active="true", access_key_1_last_rotated=ROTATED))
    code, out = _run(["--credential-report", path, "--account-id", "444455556666"])
    assert code == 2
    assert out.splitlines()[0] == (
        "Account 444455556666: the root access key audit could not be completed: the credential report's root row is "
        "for account 111122223333, not 444455556666."
    )


def test_cli_offline_stdin_closed_is_usage_error_exit_2() -> None:
    script = f'"{sys.executable}" -m audit --credential-report - <&-'
    proc = subprocess.run(["bash", "-c", script], capture_output=True, cwd=REPO, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert (proc.returncode, proc.stdout) == (2, b"")
    assert proc.stderr.decode().splitlines()[-1] == (
        "python -m audit: error: argument --credential-report: cannot read '-': stdin is closed"
    )


# ------------------------------------------------------------------ output trouble never changes the exit status


def _module(args: list[str], **kw: Any) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO), **kw.pop("env", {})}
    return subprocess.run([sys.executable, "-m", "audit", *args], env=env, cwd=REPO, timeout=60, **kw)


def _big_report(tmp_path: Path, **changes: str) -> str:
    # A value this long is repeated in the message, so the output is larger than a pipe's buffer and the writer
    # meets the closed pipe for certain.
    return _write(tmp_path, edit_root(baseline_text(), **changes))


BIG = "x" * 100_000  # under the csv module's 128 KiB field limit
OUTPUT_VERDICTS = [
    ("pass", {}, 0),
    ("fail", {"access_key_1_active": "true", "access_key_1_last_rotated": ROTATED}, 1),
    ("error", {"access_key_1_last_used_region": "us-" + BIG}, 2),
]


@pytest.mark.parametrize(("changes", "code"), [c[1:] for c in OUTPUT_VERDICTS], ids=[c[0] for c in OUTPUT_VERDICTS])
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_cli_closed_pipe_is_silent_and_keeps_verdict_exit(tmp_path: Path, changes: dict[str, str], code: int, fmt: str) -> None:
    path = _write(tmp_path, edit_root(baseline_text(), **changes))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "audit", "--credential-report", path, "--format", fmt],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=REPO,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before the audit writes a byte
    err = proc.stderr.read()
    assert (proc.wait(timeout=60), err) == (code, b"")


def test_cli_head_c_10_reads_prefix_exit_is_verdict(tmp_path: Path) -> None:
    path = _big_report(tmp_path, access_key_1_last_used_region="us-" + BIG)
    script = f'set -o pipefail; "{sys.executable}" -m audit --credential-report "{path}" | head -c 10'
    proc = subprocess.run(["bash", "-c", script], capture_output=True, cwd=REPO, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert (proc.returncode, proc.stdout, proc.stderr) == (2, b"The accoun", b"")


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_cli_non_ascii_under_ascii_encoding_is_escaped(tmp_path: Path, fmt: str) -> None:
    path = _write(tmp_path, edit_root(baseline_text(), access_key_2_last_used_region="Z\u00fcrich"))
    proc = _module(["--credential-report", path, "--format", fmt], capture_output=True, env={"PYTHONIOENCODING": "ascii"})
    assert (proc.returncode, proc.stderr) == (2, b"")
    reason = json.loads(proc.stdout)["accounts"][0]["reason"] if fmt == "json" else proc.stdout.decode("ascii")
    assert "'Z\u00fcrich'" in reason if fmt == "json" else "'Z\\xfcrich'" in reason


@pytest.mark.parametrize(("changes", "code"), [c[1:] for c in OUTPUT_VERDICTS[:2]], ids=[c[0] for c in OUTPUT_VERDICTS[:2]])
def test_cli_output_unwritable_is_exit_2(tmp_path: Path, changes: dict[str, str], code: int) -> None:
    path = _write(tmp_path, edit_root(baseline_text(), **changes))
    with open("/dev/full", "wb") as full:
        proc = _module(["--credential-report", path], stdout=full, stderr=subprocess.PIPE)
    assert proc.returncode == 2
    assert proc.stderr.decode().splitlines() == [
        "python -m audit: error: cannot write the output: [Errno 28] No space left on device"
    ]


def test_cli_stdout_closed_is_exit_2(tmp_path: Path) -> None:
    script = f'"{sys.executable}" -m audit --credential-report "{BASELINE_FILE}" >&-'
    proc = subprocess.run(["bash", "-c", script], capture_output=True, cwd=REPO, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 2
    assert proc.stderr.decode().splitlines()[-1].startswith("python -m audit: error: cannot write the output: ")


@pytest.mark.parametrize(("args", "code"), [(["--credential-report", str(BASELINE_FILE)], 2), (["--credential-report", "/nonexistent"], 2)],
                         ids=["pass", "usage-error"])
def test_cli_stderr_that_cannot_encode_keeps_exit_2(args: list[str], code: int) -> None:
    # Every diagnostic goes through a best-effort writer: a stderr whose codec fails (here the same as stdout's)
    # must not turn "the output could not be written" or a usage error into an uncaught error's exit 1.
    proc = _module(args, capture_output=True, env={"PYTHONIOENCODING": "undefined"})
    assert proc.returncode == code
    assert b"Traceback" not in proc.stderr


@pytest.mark.parametrize("args", [["--credential-report", str(BASELINE_FILE)], ["--credential-report", "/nonexistent"]],
                         ids=["stdout-closed", "usage-error"])
def test_cli_stderr_full_keeps_exit_2(args: list[str]) -> None:
    script = " ".join([f'"{sys.executable}"', "-m", "audit", *(f'"{a}"' for a in args), ">&-", "2>/dev/full"])
    proc = subprocess.run(["bash", "-c", script], capture_output=True, cwd=REPO, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 2


def test_cli_output_onto_the_report_is_usage_error_and_keeps_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The saved report is the evidence: rendering over it would destroy what was judged.
    report = _write(tmp_path, baseline_text())
    with pytest.raises(SystemExit) as exit_info:
        main(["--credential-report", report, "--output", str(Path(report).parent / "." / Path(report).name)])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1].endswith(
        f"argument --output: {str(Path(report).parent / '.' / Path(report).name)!r} is the --credential-report file; "
        "writing there would overwrite the report")
    assert Path(report).read_text() == baseline_text()


def test_cli_crash_outside_the_run_is_exit_2_not_fail() -> None:
    # Python exits 1 on an uncaught exception, and 1 means FAIL: `python -m audit` turns any crash into ERROR.
    code = ("import runpy, sys, audit.cli\n"
            "def crash(*a, **k): raise RuntimeError('boom')\n"
            "audit.cli.main = crash\n"
            "sys.argv = ['audit']\n"
            "runpy.run_module('audit', run_name='__main__')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, cwd=REPO, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert (proc.returncode, proc.stderr.decode().splitlines()[-1]) == (2, "python -m audit: error: unexpected RuntimeError: boom")


# ------------------------------------------------------------------ online, over real HTTP


class _BrokenSession:
    """A session whose clients blow up with something no handler expects."""

    region_name = "us-east-1"

    def client(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("botocore data directory is corrupt")


def test_cli_unexpected_crash_is_error_exit_2_not_fail() -> None:
    out = io.StringIO()
    code = main(["--format", "json"], session=_BrokenSession(), stdout=out)
    doc = json.loads(out.getvalue())
    assert (code, doc["status"]) == (2, "ERROR")
    assert doc["accounts"][0]["reason"] == (
        "sts:GetCallerIdentity failed (unexpected RuntimeError: botocore data directory is corrupt)"
    )


def test_cli_online_single_account_pass_then_fail(moto_url: str) -> None:
    code, out = _run(["--endpoint-url", moto_url, "--format", "json"])
    doc = json.loads(out)
    assert (code, doc["status"], doc["accounts"][0]["account_id"]) == (0, "PASS", MANAGEMENT_ACCOUNT)
    assert doc["accounts"][0]["report_generated_at"] is not None
    moto_root.set_root_credentials(MANAGEMENT_ACCOUNT, moto_root.RootCredentials(key_1_active=True, key_1_last_rotated=ROTATED))
    code, out = _run(["--endpoint-url", moto_url, "--format", "json"])
    assert (code, json.loads(out)["status"]) == (1, "FAIL")


@pytest.mark.filterwarnings("ignore:Exception\\(STSClientError\\) with code AccessDenied:UserWarning")
def test_cli_online_org_json_one_entry_per_account(moto_url: str) -> None:
    ids = build_org(boto3.session.Session(), ORG_MEMBERS, endpoint_url=moto_url)
    code, out = _run(["--org", "--role-name", AUDIT_ROLE, "--endpoint-url", moto_url, "--workers", "4", "--format", "json"])
    doc = json.loads(out)
    assert code == 2
    assert doc["status"] == "ERROR"
    assert {a["account_id"]: a["status"] for a in doc["accounts"]} == {
        MANAGEMENT_ACCOUNT: "PASS",
        ids["clean"]: "PASS",
        ids["leaky"]: "FAIL",
        ids["dormant"]: "WARN",
        ids["orphan"]: "ERROR",
    }
    assert doc["counts"] == {"PASS": 2, "WARN": 1, "FAIL": 1, "ERROR": 1}


@pytest.mark.filterwarnings("ignore:Exception\\(STSClientError\\) with code AccessDenied:UserWarning")
def test_cli_module_entry_point_org_over_http(moto_url: str) -> None:
    members: dict[str, Any] = {"clean": ORG_MEMBERS["clean"], "leaky": ORG_MEMBERS["leaky"]}
    ids = build_org(boto3.session.Session(), members, endpoint_url=moto_url)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-m", "audit", "--org", "--role-name", AUDIT_ROLE, "--endpoint-url", moto_url,
         "--workers", "2", "--format", "json", "--region", "us-east-1"],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=120,
    )
    doc = json.loads(proc.stdout)
    assert proc.returncode == 1, proc.stderr
    assert {a["account_id"]: a["status"] for a in doc["accounts"]} == {
        MANAGEMENT_ACCOUNT: "PASS", ids["clean"]: "PASS", ids["leaky"]: "FAIL"
    }


@pytest.mark.parametrize("path", ["/dev/zero", "-"], ids=["endless-file", "endless-stdin"])
def test_cli_offline_input_larger_than_any_report_is_error_exit_2(
    path: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The read stops one byte past the limit, so an endless source is judged, not read until memory runs out.
    monkeypatch.setattr("audit.cli.MAX_REPORT_BYTES", 4096)
    monkeypatch.setattr("audit.report.MAX_REPORT_BYTES", 4096)
    if path == "-":
        monkeypatch.setattr(sys, "stdin", open("/dev/zero", "rb"))  # noqa: SIM115 - pytest restores stdin
        monkeypatch.setattr(sys.stdin, "buffer", sys.stdin, raising=False)
    code, out = _run(["--credential-report", path, "--format", "json"])
    account = json.loads(out)["accounts"][0]
    assert (code, account["status"]) == (2, "ERROR")
    assert account["reason"].startswith("the content is over 4,096 bytes, far more than a credential report can be")


def test_cli_offline_report_at_the_size_limit_is_judged(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    text = baseline_text().encode()
    monkeypatch.setattr("audit.cli.MAX_REPORT_BYTES", len(text))
    monkeypatch.setattr("audit.report.MAX_REPORT_BYTES", len(text))
    code, _ = _run(["--credential-report", _write(tmp_path, text)])
    assert code == 0


def test_cli_text_output_escapes_line_breaks_of_foreign_text(tmp_path: Path) -> None:
    # A quoted column name can hold line breaks; printed raw they would forge an account's PASS and the overall line.
    forged = "zz\nAccount 111122223333: PASS, the root user has no access keys\nOverall: PASS (1 account(s))"
    header, rest = baseline_text().split("\n", 1)
    text = f'{header},"{forged}","{forged}"\n' + "\n".join(line + ",x,x" for line in rest.splitlines()) + "\n"
    code, out = _run(["--credential-report", _write(tmp_path, text)])
    assert code == 2
    assert [line for line in out.splitlines() if line.startswith(("Account", "Overall"))] == [
        "Overall: ERROR (1 account(s): 0 PASS, 0 WARN, 0 FAIL, 1 ERROR)."
    ]
    assert "the header repeats column(s) 'zz\\nAccount 111122223333: PASS" in out


def test_cli_offline_findings_name_the_reports_partition(tmp_path: Path) -> None:
    text = edit_root(baseline_text(), arn="arn:aws-cn:iam::111122223333:root")
    code, out = _run(["--credential-report", _write(tmp_path, text), "--format", "csv"])
    [row] = list(csv.DictReader(io.StringIO(out), delimiter=";"))
    assert code == 0
    assert (row["PARTITION"], row["RESOURCE_UID"]) == ("aws-cn", "arn:aws-cn:iam::111122223333:root")


def test_cli_online_findings_name_the_sessions_region(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # No --region: the run's calls go to the session's region, and the findings say so.
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-3")
    code, out = _run(["--endpoint-url", moto_url, "--format", "ocsf"])
    [finding] = json.loads(out)
    assert code == 0
    assert (finding["cloud"]["region"], finding["resources"][0]["region"]) == ("eu-west-3", "eu-west-3")


def test_cli_stderr_closed_writes_nothing_to_stdout() -> None:
    # With 2>&- Python's sys.stderr is None, and print(file=None) writes to stdout: a usage error or a warning
    # would land in the JSON or CSV a pipeline reads.
    script = f'"{sys.executable}" -m audit --credential-report /nonexistent --format json 2>&-'
    proc = subprocess.run(["bash", "-c", script], capture_output=True, cwd=REPO, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert (proc.returncode, proc.stdout) == (2, b"")
