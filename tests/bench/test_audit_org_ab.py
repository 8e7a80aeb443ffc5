"""The side-by-side org audit benchmark (bench/audit_org_ab.py): it runs each checkout in turn against one server,
judges every run as the main benchmark does, and refuses what it cannot compare."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "bench" / "audit_org_ab.py"


def _ab(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, cwd=REPO, timeout=300)


def test_ab_runs_each_tree_in_turn_and_prints_their_medians() -> None:
    proc = _ab("--tree", f"one={REPO}", "--tree", f"two={REPO}", "--rounds", "1", "--accounts", "20",
               "--in-flight", "8")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    runs = [line for line in lines if line.startswith("round 1")]
    assert [line.split(":")[0] for line in runs] == ["round 1        one", "round 1        two"]
    assert all(line.endswith("FAIL (1 FAIL, 19 PASS)") for line in runs), runs
    assert lines[-2].strip().startswith("one: wall") and lines[-1].strip().startswith("two: wall")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tree", f"one={REPO}"], "give two or more --tree NAME=PATH, each NAME once"),
        (["--tree", f"one={REPO}", "--tree", f"one={REPO}"], "give two or more --tree NAME=PATH, each NAME once"),
        (["--tree", "one=/nonexistent", "--tree", f"two={REPO}"], "expected NAME=PATH to a checkout of this repository"),
        (["--tree", str(REPO), "--tree", f"two={REPO}"], "expected NAME=PATH to a checkout of this repository"),
        (["--tree", f"one={REPO}", "--tree", f"two={REPO}", "--rounds", "0"], "--rounds must be >= 1"),
    ],
)
def test_ab_refuses_what_it_cannot_compare(args: list[str], message: str) -> None:
    proc = _ab(*args)
    assert proc.returncode == 2
    assert message in proc.stderr
