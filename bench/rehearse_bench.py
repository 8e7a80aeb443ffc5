"""Benchmark: the rehearsal's wall time and peak memory (provider included), the provider's time per resource, and
the provider-checked preview against the mock-only preview.

Serves every control by keeping the two provider-backed checks affordable in CI: `make rehearse` (pulumi up, verify,
destroy through terraform-provider-aws against moto) and `python -m preflight --provider-check`.

Peak RSS is the peak of the summed resident memory of the whole process tree (the rehearsal's Python, the moto server
inside it, the provider child and the audit interpreter), sampled every 50 ms from /proc. Preview runs are
interleaved (mock, provider, mock, provider ...) and medians reported, as fresh processes as in CI.

    .venv/bin/python bench/rehearse_bench.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _tree_rss(root_pid: int) -> int:
    """Summed RSS in bytes of root_pid and all its descendants."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/statm", encoding="utf-8") as fh:
                rss[int(entry)] = int(fh.read().split()[1]) * _PAGE
            parents[int(entry)] = int(fields[1])
        except (OSError, IndexError, ValueError):
            continue
    tree, frontier = {root_pid}, [root_pid]
    while frontier:
        pid = frontier.pop()
        for child, parent in parents.items():
            if parent == pid and child not in tree:
                tree.add(child)
                frontier.append(child)
    return sum(rss.get(pid, 0) for pid in tree)


def _run_measured(argv: list[str]) -> tuple[float, int, subprocess.CompletedProcess]:
    peak = 0
    started = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss(proc.pid))
            done.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    elapsed = time.perf_counter() - started
    done.set()
    sampler.join()
    return elapsed, peak, subprocess.CompletedProcess(argv, proc.returncode, out, err)


def _time(argv: list[str]) -> float:
    started = time.perf_counter()
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(argv)} failed with exit status {proc.returncode}:\n{proc.stderr[-2000:]}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="preview runs of each kind (default 3)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        summary_path = Path(tmp) / "summary.json"
        wall, peak, proc = _run_measured([sys.executable, "-m", "preflight.rehearse", "--summary", str(summary_path),
                                          "--state-dir", tmp])
        if not summary_path.is_file():
            raise SystemExit(f"the rehearsal wrote no summary (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
        summary = json.loads(summary_path.read_text())
    print(f"rehearsal (python -m preflight.rehearse, exit {proc.returncode}): wall {wall:.1f} s, "
          f"peak RSS {peak / 2**20:.0f} MiB (process tree: rehearsal + moto + provider + audit interpreter)")
    for variant in summary["variants"]:
        seconds = ", ".join(f"{k} {v:.1f} s" for k, v in variant["seconds"].items())
        print(f"  variant {variant['name']}: {variant['created']} resources; {seconds}")
        by_type: dict[str, list[float]] = defaultdict(list)
        for step in variant["steps"]:
            by_type[step["type"]].append(step["seconds"])
        total = sum(sum(v) for v in by_type.values())
        count = sum(len(v) for v in by_type.values())
        print(f"  provider create time: {total:.1f} s for {count} resources, median "
              f"{statistics.median([s for v in by_type.values() for s in v]):.2f} s per resource; slowest types:")
        for type_, times in sorted(by_type.items(), key=lambda kv: -max(kv[1]))[:6]:
            print(f"    {type_:<72} {max(times):6.2f} s (x{len(times)})")

    mock, provider = [], []
    base = [sys.executable, "-m", "preflight", "--format", "json"]
    for _ in range(args.repeats):
        mock.append(_time(base))
        provider.append(_time([*base, "--provider-check"]))
    m, p = statistics.median(mock), statistics.median(provider)
    print(f"preview, median of {args.repeats}: mock-only {m:.1f} s, provider-checked {p:.1f} s "
          f"({p / m:.1f}x the mock-only preview; +{p - m:.1f} s, mostly starting the 700 MB provider and reading its "
          f"schema)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
