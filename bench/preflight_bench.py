"""Benchmark: `python -m preflight` on the default program, against the bare import floor.

Serves every control by keeping the credential-free PR check fast: most of its time should be the unavoidable cost of
importing the SDKs (`import pulumi, pulumi_aws, pulumi_policy`), not the mock engine or the pack protocol.

Each command runs as a fresh process, as in CI; runs are interleaved and the median of --repeats is reported.

    .venv/bin/python bench/preflight_bench.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

COMMANDS = {
    "floor": [sys.executable, "-c", "import pulumi, pulumi_aws, pulumi_policy"],
    "preflight": [sys.executable, "-m", "preflight", "--format", "json"],
}


def _time(argv: list[str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(argv)} failed with exit status {proc.returncode}:\n{proc.stderr}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    _time(COMMANDS["floor"])  # warm the file cache and byte-code so the first measured run is not an outlier
    runs: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(args.repeats):
        for name, argv in COMMANDS.items():
            runs[name].append(_time(argv))
    floor, preflight = statistics.median(runs["floor"]), statistics.median(runs["preflight"])
    for name, argv in COMMANDS.items():
        times = ", ".join(f"{t:.2f}" for t in runs[name])
        print(f"{name:<9} median {statistics.median(runs[name]):5.2f} s  (runs: {times})  $ {' '.join(argv[1:])}")
    print(f"\npreflight / import floor = {preflight / floor:.2f}; preflight's own cost "
          f"(mock engine + program + pack protocol) = {preflight - floor:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
