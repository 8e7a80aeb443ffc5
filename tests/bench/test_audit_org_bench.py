"""The org audit benchmark's own measurements (bench/audit_org_bench.py): what it prints as the audit's peak RSS
must be the audit's, not the benchmark process's that spawned it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import audit_org_bench  # noqa: E402

# Touching one byte per page makes every page of the ballast resident.
_PAGE = 4096
_BALLAST_MIB = 256


def test_peak_rss_is_the_childs_own_not_the_spawning_process() -> None:
    # Linux carries a process's peak RSS across exec, so wait4's ru_maxrss of a child spawned from a large parent
    # reads as the parent's size: the benchmark once printed moto's memory as the audit's.
    ballast = bytearray(_BALLAST_MIB * 2**20)
    for offset in range(0, len(ballast), _PAGE):
        ballast[offset] = 1
    child = audit_org_bench.run_child([sys.executable, "-c", "import sys; print(sys.argv[1:])", "a", "b"], dict(os.environ), 60.0)
    assert (child.returncode, child.stdout.strip()) == (0, "['a', 'b']")
    assert 0 < child.max_rss_kib < _BALLAST_MIB * 1024 // 2
    del ballast


def test_peak_rss_counts_what_the_child_allocates() -> None:
    code = f"x = bytearray({_BALLAST_MIB} * 2**20)\nfor i in range(0, len(x), {_PAGE}): x[i] = 1"
    child = audit_org_bench.run_child([sys.executable, "-c", code], dict(os.environ), 60.0)
    assert child.returncode == 0
    assert child.max_rss_kib >= _BALLAST_MIB * 1024


def test_module_child_keeps_its_exit_status_and_argv() -> None:
    child = audit_org_bench.run_child([sys.executable, "-m", "json.tool", "--no-such-flag"], dict(os.environ), 60.0)
    assert child.returncode == 2
    assert "--no-such-flag" in child.stderr
    assert child.max_rss_kib > 0


def test_run_child_refuses_what_it_cannot_wrap() -> None:
    with pytest.raises(ValueError, match="python -m"):
        audit_org_bench.run_child([sys.executable, "script.py"], dict(os.environ), 60.0)
