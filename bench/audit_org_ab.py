"""Side by side: the org audit (`python -m audit --org`, CIS 1.4 / Security Hub IAM.4 in every account) of two or
more checkouts of this repository, run in turn against one latency-modelled server, round after round.

On a shared machine one run's wall time says little: the same run took 5.5 s and 13 s on one day. Interleaved,
the checkouts see the same load, so their medians compare. Each run is judged as bench/audit_org_bench.py judges
it (every account once, exactly the seeded accounts FAIL); an INVALID run makes the exit status 1.

Usage, e.g. against the commit before a change (`git worktree add /tmp/before <commit>`):
    .venv/bin/python bench/audit_org_ab.py --tree before=/tmp/before --tree after=. --rounds 4
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import bench.audit_org_bench as bench  # noqa: E402
from simulate import moto_root, moto_scale  # noqa: E402
from simulate.slow_moto import AUDIT_ROLE_NAME, SlowMotoServer, Timing, create_organization  # noqa: E402


def _tree(text: str) -> tuple[str, Path]:
    name, sep, path = text.partition("=")
    tree = Path(path).resolve()
    if not sep or not name or not (tree / "audit" / "__main__.py").is_file():
        raise argparse.ArgumentTypeError(f"expected NAME=PATH to a checkout of this repository, got {text!r}")
    return name, tree


def _pages(server: SlowMotoServer) -> tuple[float, float]:
    """The listing's medians at the server: a page's own time, and the gap from one page's answer to the next
    page's request (the caller's share)."""
    pages = sorted((c for c in server.calls() if c.action == "ListAccounts"), key=lambda c: c.started)
    own = statistics.median(c.finished - c.started for c in pages) if pages else float("nan")
    gaps = [b.started - a.finished for a, b in zip(pages, pages[1:])]
    return own, statistics.median(gaps) if gaps else float("nan")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", type=_tree, action="append", required=True, help="NAME=PATH, two or more")
    parser.add_argument("--rounds", type=int, default=4, help="runs of each tree, interleaved (default 4)")
    parser.add_argument("--accounts", type=int, default=500, help="accounts, the management one included")
    parser.add_argument("--in-flight", type=int, default=64, help="--workers of every run (default 64)")
    args = parser.parse_args(argv)
    if len(args.tree) < 2 or len({name for name, _ in args.tree}) != len(args.tree):
        parser.error("give two or more --tree NAME=PATH, each NAME once")
    if args.rounds < 1 or args.accounts < 2:
        parser.error(f"--rounds must be >= 1 and --accounts >= 2, got --rounds {args.rounds} --accounts {args.accounts}")

    for _, tree in args.tree:
        bench.compile_sources(tree)
    moto_root.install()
    moto_scale.install()
    timing = Timing(call_delay_s=0.05, report_window_s=2.0)
    server = SlowMotoServer(timing)
    server.start()
    results: dict[str, list[bench.RunResult]] = {name: [] for name, _ in args.tree}
    invalid = False
    try:
        members = args.accounts - 1
        seeded = {i: bench.SEEDED_ROOT_KEY for i in range(0, members, bench.FAIL_EVERY)}
        with server.delays_paused():
            org = create_organization(server.endpoint_url, members, role_name=AUDIT_ROLE_NAME, root_credentials=seeded)
        failing = {org.member_account_ids[i] for i in seeded}
        for round_ in range(args.rounds):
            for name, tree in args.tree:
                bench.REPO = tree  # the child runs `python -m audit` from this checkout
                run = bench.run_once(server, org, failing, args.in_flight, name, timeout_s=600)
                page, gap = _pages(server)
                results[name].append(run)
                invalid = invalid or bool(run.problems)
                print(
                    f"round {round_ + 1} {name:>10}: wall {run.wall_s:5.2f} s, ratio {_ratio(run, timing):.2f}x, "
                    f"listing {run.listing_s:.2f} s (page {page * 1000:.0f} ms, gap {gap * 1000:.0f} ms), "
                    f"{run.calls_per_account:.2f} calls/account, audit CPU {run.child_cpu_s:.2f} s, "
                    f"emulator CPU {run.server_cpu_s:.2f} s, {run.verdict}",
                    flush=True,
                )
                for problem in run.problems:
                    print(f"    INVALID: {problem}")
    finally:
        bench.REPO = REPO
        server.stop()
    print(f"\nmedians over {args.rounds} interleaved round(s), {args.accounts} accounts at {args.in_flight} in flight:")
    for name, runs in results.items():
        print(
            f"  {name:>10}: wall {statistics.median(r.wall_s for r in runs):.2f} s, ratio to the floor "
            f"{statistics.median(_ratio(r, timing) for r in runs):.2f}x, listing "
            f"{statistics.median(r.listing_s for r in runs):.2f} s, audit CPU "
            f"{statistics.median(r.child_cpu_s for r in runs):.2f} s"
        )
    return 1 if invalid else 0


def _ratio(run: bench.RunResult, timing: Timing) -> float:
    return run.wall_s / bench.floor_of(run, timing).value


if __name__ == "__main__":
    raise SystemExit(main())
