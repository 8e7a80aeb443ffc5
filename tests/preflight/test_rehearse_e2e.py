"""The end-to-end rehearsal: `python -m preflight.rehearse` deploys the program through terraform-provider-aws to an
in-process moto, verifies every control, runs the deployed audit, destroys, and proves no request left loopback.

One run (a few minutes on two cores) serves every case here; without the provider binary the module is skipped with
the reason in the summary.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.preflight.test_rehearse import _provider_binary_reason

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(_provider_binary_reason() is not None, reason=_provider_binary_reason() or "")


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory):
    """One rehearsal per test session: under pytest-xdist the workers share it through a lock in the session's
    common temporary directory, so `make test -n 2` does not run it twice."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    out = shared / "rehearsal"
    with open(shared / "rehearsal.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        result = out / "result.json"
        if not result.is_file():
            out.mkdir(exist_ok=True)
            summary = out / "summary.json"
            proc = subprocess.run([sys.executable, "-m", "preflight.rehearse", "-C", str(ROOT), "--summary",
                                   str(summary), "--state-dir", str(out)],
                                  capture_output=True, text=True, timeout=1200, check=False)
            result.write_text(json.dumps({"returncode": proc.returncode, "stderr": proc.stderr[-3000:],
                                          "summary": json.loads(summary.read_text()) if summary.is_file() else None}))
    outcome = json.loads(result.read_text())
    assert outcome["summary"] is not None, \
        f"the rehearsal wrote no summary (exit {outcome['returncode']}):\n{outcome['stderr']}"
    return outcome["returncode"], outcome["summary"]


def _export_failure(failure: str) -> bool:
    # The pack's verdict on the deployed state has its own (xfail) case below.
    return failure.startswith(("preflight --stack-export on the deployed state", "deployed state passes the pack"))


def test_rehearsal_every_resource_created_verified_destroyed(rehearsal):
    _, summary = rehearsal
    assert summary["variants"], "no variant was rehearsed"
    for variant in summary["variants"]:
        assert variant["created"] == variant["planned"] > 30, variant["name"]
        assert variant["destroyed"] == variant["created"], variant["name"]
        assert [c for c in variant["checks_failed"] if not _export_failure(c)] == [], variant["name"]
        assert variant["left"] == [], variant["name"]
        assert [f for f in variant["failures"] if not _export_failure(f)] == [], variant["name"]


def test_rehearsal_every_control_type_deployed(rehearsal):
    types = set(rehearsal[1]["variants"][0]["types"])
    assert {"aws:organizations/policy:Policy", "aws:organizations/policyAttachment:PolicyAttachment",
            "aws:cloudtrail/trail:Trail", "aws:cloudwatch/logMetricFilter:LogMetricFilter",
            "aws:cloudwatch/metricAlarm:MetricAlarm", "aws:sns/topicSubscription:TopicSubscription",
            "aws:lambda/function:Function", "aws:lambda/permission:Permission"} <= types


def test_rehearsal_deployed_audit_fails_with_key_then_passes(rehearsal):
    _, summary = rehearsal
    org = summary["organization"]
    audited = {"default": [org["management"]], "organization": [org["management"], *org["members"]]}
    for variant in summary["variants"]:
        audit = variant["audit"]
        assert [(a["case"], a["status"]) for a in audit] == [("seeded active root key", "FAIL"),
                                                            ("root key deleted", "PASS")], variant["name"]
        with_key, without_key = audit
        # Every account the variant audits (the org rollout: each member through the StackSet's role) has a finding.
        assert sorted(f.split(":", 1)[0] for f in with_key["findings"]) == \
            sorted(f"Account {a}" for a in audited[variant["name"]])
        assert all(f.split(": ", 1)[1].startswith("FAIL, the root user has 1 active access key (key 1 (active, ")
                   for f in with_key["findings"])
        assert all(f.split(": ", 1)[1].startswith("PASS, the root user has no access keys;")
                   for f in without_key["findings"])
        # The handler came from the uploaded zip, not from this checkout.
        assert all(not a["module_file"].startswith(str(ROOT)) and "rehearse-lambda-" in a["module_file"]
                   for a in audit)


def test_rehearsal_both_variants_rehearsed(rehearsal):
    variants = {v["name"]: v for v in rehearsal[1]["variants"]}
    assert sorted(variants) == ["default", "organization"]
    assert {"aws:cloudformation/stackSet:StackSet", "aws:cloudformation/stackSetInstance:StackSetInstance",
            "aws:iam/organizationsFeatures:OrganizationsFeatures"} <= set(variants["organization"]["types"])


def test_rehearsal_no_request_leaves_loopback(rehearsal):
    _, summary = rehearsal
    assert summary["boto3_hosts"] == ["127.0.0.1"] and summary["boto3_requests"] > 0
    assert summary["refused"] == []
    # The provider's proxy is the trap: any request for a non-loopback host would be listed here.
    assert summary["trap_hits"] == []


def test_rehearsal_deployed_state_passes_the_pack(rehearsal):
    returncode, summary = rehearsal
    assert [f for v in summary["variants"] for f in v["failures"]] == []
    assert returncode == 0
