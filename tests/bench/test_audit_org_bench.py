"""The org audit benchmark's own measurements (bench/audit_org_bench.py): what it prints as the audit's peak RSS
must be the audit's, not the benchmark process's that spawned it; the floor it judges against is the issue's."""

from __future__ import annotations

import dataclasses
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


def _slow_run(calls_per_account: float, emulator_cpu_s: float) -> audit_org_bench.RunResult:
    return audit_org_bench.RunResult(
        label="slow", accounts=500, workers=16, wall_s=10.0, span_s=9.0, account_latency_s=2.5, listing_s=2.0,
        calls_per_account=calls_per_account, calls_by_action={}, max_rss_mib=50.0, child_cpu_s=5.0,
        server_cpu_s=emulator_cpu_s, verdict="FAIL",
    )


def test_floor_is_the_issues_formula_and_the_stricter_one_uses_the_calls_made() -> None:
    # 2 s window + 500 x 4 x 50 ms / 16 = 8.25 s; with the 3.05 calls made, 6.77 s.
    floor = audit_org_bench.floor_of(_slow_run(3.05, emulator_cpu_s=4.0), audit_org_bench.Timing(0.05, 2.0))
    assert (floor.value, round(floor.value_made, 4)) == (8.25, 6.7656)


def test_floor_is_the_emulator_cpu_where_that_is_larger() -> None:
    floor = audit_org_bench.floor_of(_slow_run(3.05, emulator_cpu_s=9.0), audit_org_bench.Timing(0.05, 2.0))
    assert (floor.value, floor.value_made) == (9.0, 9.0)


def test_median_run_is_the_run_with_the_median_ratio() -> None:
    # Floors of 8.25 s (the issue's formula at 16 in flight): ratios 1.2x, 1.0x, 1.6x; the median is the first run.
    runs = [_slow_run(3.05, emulator_cpu_s=1.0) for _ in range(3)]
    runs = [dataclasses.replace(r, wall_s=wall) for r, wall in zip(runs, (9.9, 8.25, 13.2))]
    assert audit_org_bench.median_run(runs, audit_org_bench.Timing(0.05, 2.0)) is runs[0]
    # Of an even count, the lower of the two middle ones: a figure the runs measured, not an average of two.
    assert audit_org_bench.median_run(runs[:2], audit_org_bench.Timing(0.05, 2.0)) is runs[1]


def test_compile_sources_leaves_the_audits_bytecode_for_its_runs(tmp_path: Path) -> None:
    (tmp_path / "audit").mkdir()
    (tmp_path / "audit" / "mod.py").write_text("X = 1\n")
    audit_org_bench.compile_sources(tmp_path)
    assert [p.name for p in (tmp_path / "audit" / "__pycache__").iterdir()] == [
        f"mod.{sys.implementation.cache_tag}.pyc"
    ]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--rounds", "0"], "--rounds must be an integer >= 1, got 0"),
        (["--accounts", "1"], "got --accounts 1 --big-accounts 5000"),
        (["--accounts", "600", "--big-accounts", "500"], "got --accounts 600 --big-accounts 500"),
    ],
)
def test_bench_refuses_bad_arguments_naming_them(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        audit_org_bench.main(args)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err
