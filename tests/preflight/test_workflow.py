"""Tests of .github/workflows/: the PR check that runs the pack (preflight offline, `pulumi preview` with OIDC).

Serves every control: a PR check that can be tampered with (unpinned actions, broad token permissions, template
injection) would let a change switch the guardrails off unseen. Checked offline with tools from PyPI wheels:
check-jsonschema (GitHub's workflow schema) and zizmor (security audits).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
BIN = Path(sys.executable).parent
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)


def test_workflow_directory_only_policy_check() -> None:
    assert [p.name for p in WORKFLOWS] == ["policy-check.yml"]


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_schema_valid(workflow: Path) -> None:
    proc = _run(str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(workflow))

    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("persona", ["regular", "auditor"])
def test_workflow_zizmor_offline_no_findings(persona: str) -> None:
    proc = _run(str(BIN / "zizmor"), "--offline", "--persona", persona, *map(str, WORKFLOWS))

    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No findings to report" in proc.stdout


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_actions_pinned_and_permissions_least(workflow: Path) -> None:
    document = yaml.safe_load(workflow.read_text(encoding="utf-8"))
    jobs = document["jobs"]
    uses = [step["uses"] for job in jobs.values() for step in job["steps"] if "uses" in step]

    assert [u for u in uses if not PINNED.match(u)] == []
    assert document["permissions"] == {}
    assert jobs["preflight"]["permissions"] == {"contents": "read", "security-events": "write"}
    assert jobs["preview"]["permissions"] == {"contents": "read", "id-token": "write"}
    # The credential-free job must stay credential-free.
    assert "secrets." not in yaml.safe_dump(jobs["preflight"])
    steps = jobs["preflight"]["steps"]
    runs = [s.get("run") for s in steps]
    check = runs.index(
        "python -m preflight --policy-pack policypack --stack dev --format sarif --output preflight.sarif")
    # The upload follows the check and runs whatever its exit status; the check's own failure then fails the job.
    upload = next(i for i, s in enumerate(steps) if s.get("uses", "").startswith("github/codeql-action/upload-sarif@"))
    assert upload == check + 1
    assert steps[upload]["if"].startswith("always() && hashFiles('preflight.sarif') != ''")
    assert steps[upload]["with"] == {"sarif_file": "preflight.sarif", "category": "preflight"}
    assert "continue-on-error" not in steps[check]
    assert [s["with"]["policyPacks"] for s in jobs["preview"]["steps"]
            if s.get("uses", "").startswith("pulumi/actions@")] == ["policypack"]
