"""Demo of the root access key audit (CIS 1.4, Security Hub IAM.4, Prowler iam_no_root_access_key), offline.

It starts a local moto server with AWS-like timing (simulate.slow_moto), gives the account's root user an
active access key in the credential report (simulate.moto_root), and runs the audit exactly as a person would,
`python -m audit --endpoint-url URL`, three times:

1. root has an active access key            -> FAIL, exit status 1, with the finding and the remediation;
2. the key is deactivated but not deleted   -> WARN, exit status 0 (CIS 5.0+ says delete, not deactivate);
3. the key is deleted                       -> PASS, exit status 0.

Between steps the credential report is regenerated, as AWS does when the cached one is older than 4 hours.
The demo exits 1 if any outcome differs from the expected one, and 2 if it could not run.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from simulate import moto_root  # noqa: E402
from simulate.slow_moto import SlowMotoServer, Timing, offline_child_env  # noqa: E402

# moto's account for any credentials it has not issued itself (the "testing" keys below).
ACCOUNT_ID = "123456789012"
# Short, so the demo is quick, but real: the audit has to wait for the report as it does on AWS.
TIMING = Timing(call_delay_s=0.02, report_window_s=1.0)
ROTATED = "2024-03-01T10:00:00+00:00"
RUN_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Step:
    title: str
    root: moto_root.RootCredentials
    status: str  # the verdict the audit must print for the account
    exit_status: int


STEPS = (
    Step(
        "the root user has an active access key (created 2024-03-01, last used from eu-west-1 for s3)",
        moto_root.RootCredentials(
            key_1_active=True,
            key_1_last_rotated=ROTATED,
            key_1_last_used_date="2024-06-01T08:30:00+00:00",
            key_1_last_used_region="eu-west-1",
            key_1_last_used_service="s3",
        ),
        "FAIL",
        1,
    ),
    Step(
        "the key is deactivated but still exists",
        moto_root.RootCredentials(key_1_active=False, key_1_last_rotated=ROTATED),
        "WARN",
        0,
    ),
    Step("the key is deleted", moto_root.RootCredentials(), "PASS", 0),
)


def _run_audit(endpoint_url: str, output_format: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "audit", "--endpoint-url", endpoint_url, "--format", output_format],
        cwd=REPO,
        env=offline_child_env(str(REPO)),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )


def _json_status(stdout: str) -> str:
    """The account's verdict from the audit's JSON output, or why it cannot be read."""
    import json

    try:
        summary = json.loads(stdout)
        statuses = {str(a["account_id"]): str(a["status"]) for a in summary["accounts"]}
    except (ValueError, KeyError, TypeError) as exc:
        return f"unreadable JSON output ({exc!r})"
    return statuses.get(ACCOUNT_ID, f"no entry for account {ACCOUNT_ID} (accounts: {sorted(statuses)})")


def _show(text: str) -> None:
    print(textwrap.indent(text.rstrip() or "(no output)", "    | "))


def main() -> int:
    moto_root.install()
    server = SlowMotoServer(TIMING)
    server.start()
    print(
        f"Local moto server at {server.endpoint_url}: {TIMING.call_delay_s * 1000:g} ms per API call, credential "
        f"report in progress for {TIMING.report_window_s:g} s after it is requested (as on AWS).\n"
    )
    failures: list[str] = []
    try:
        for number, step in enumerate(STEPS, start=1):
            print(f"== Step {number}: {step.title}")
            moto_root.set_root_credentials(ACCOUNT_ID, step.root)
            server.forget_reports()
            print(f"$ python -m audit --endpoint-url {server.endpoint_url}")
            text = _run_audit(server.endpoint_url, "text")
            _show(text.stdout)
            if text.stderr.strip():
                print("    stderr:")
                _show(text.stderr)
            # The text is for people; the verdict is checked on the JSON output of a second run, which finds the
            # report just generated (AWS reuses a report for up to 4 hours).
            status = _json_status(_run_audit(server.endpoint_url, "json").stdout)
            outcome = f"exit status {text.returncode}, verdict {status}"
            expected = f"exit status {step.exit_status}, verdict {step.status}"
            if outcome == expected:
                print(f"-> as expected: {outcome}\n")
            else:
                print(f"-> UNEXPECTED: {outcome}; expected {expected}\n")
                failures.append(f"step {number} ({step.title}): {outcome}; expected {expected}")
    except (OSError, subprocess.TimeoutExpired) as exc:
        print(f"The demo could not run the audit: {exc}", file=sys.stderr)
        return 2
    finally:
        server.stop()
        moto_root.reset()

    if failures:
        print("Audit demo FAILED:\n" + "\n".join(f"  - {f}" for f in failures), file=sys.stderr)
        return 1
    print("Audit demo passed: an active root key is FAIL, a deactivated one WARN, none PASS.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
