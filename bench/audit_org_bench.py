"""Benchmark of the root access key audit's org mode (CIS 1.4, Security Hub IAM.4) on a simulated organization.

The audit is run exactly as a person runs it, `python -m audit --org --role-name ROLE --endpoint-url URL
--format json`, in a child process, against `simulate.slow_moto`: a moto server in this process that holds
every API call for a fixed delay and keeps each account's credential report in progress for a window after
it is requested, as AWS does. Without those waits moto's CPU is the bottleneck and concurrency shows nothing.

For each organization size and worker count it reports:
- wall time of the child (interpreter start to exit) and the speed-up against the smallest worker count;
- the ideal N x per-account latency / workers, with the per-account latency measured at the server
  (first to last call about an account, AssumeRole included) in the smallest-worker run, and the efficiency
  ideal / wall;
- peak memory: the child's ru_maxrss from os.wait4 (peak resident set of the audit process alone);
- the child's CPU time, and the server's (this process's) CPU time;
- API calls per audited account, counted at the server.
A run on the same server with no delays shows the audit's own CPU cost. Every run's JSON output is checked:
every account audited, and exactly the seeded accounts FAIL; a run that does not check out is reported as
INVALID and makes the exit status 1.

Usage (the full run takes about half an hour on 2 cores):
    .venv/bin/python bench/audit_org_bench.py
    .venv/bin/python bench/audit_org_bench.py --accounts 100 --workers 1,16    # a quick run
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from simulate import moto_root  # noqa: E402
from simulate.slow_moto import (  # noqa: E402
    AUDIT_ROLE_NAME,
    CallRecord,
    SimulatedOrganization,
    SlowMotoServer,
    Timing,
    create_organization,
    offline_child_env,
)

# One member in this many gets an active root key, so the run must find FAILs among PASSes.
FAIL_EVERY = 50
SEEDED_ROOT_KEY = moto_root.RootCredentials(key_1_active=True, key_1_last_rotated="2024-03-01T10:00:00+00:00")


@dataclass(frozen=True)
class ChildRun:
    wall_s: float
    returncode: int
    stdout: str
    stderr: str
    max_rss_kib: int
    cpu_s: float


@dataclass(frozen=True)
class RunResult:
    label: str
    accounts: int
    workers: int
    wall_s: float
    span_s: float  # first to last API call, at the server
    account_latency_s: float  # mean over audited accounts, at the server
    calls_per_account: float
    calls_by_action: dict[str, float]
    max_rss_mib: float
    child_cpu_s: float
    server_cpu_s: float
    verdict: str
    problems: tuple[str, ...] = field(default=())


def run_child(argv: Sequence[str], env: dict[str, str], timeout_s: float) -> ChildRun:
    """Run a child to completion and read its own rusage with os.wait4 (subprocess does not expose it)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.monotonic()
        proc = subprocess.Popen(list(argv), cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - started > timeout_s:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.02)
        wall = time.monotonic() - started
        proc.returncode = os.waitstatus_to_exitcode(status)  # tell Popen the child is reaped
        out.seek(0)
        err.seek(0)
        return ChildRun(
            wall_s=wall,
            returncode=proc.returncode,
            stdout=out.read().decode("utf-8", errors="replace"),
            stderr=err.read().decode("utf-8", errors="replace"),
            max_rss_kib=usage.ru_maxrss,  # KiB on Linux
            cpu_s=usage.ru_utime + usage.ru_stime,
        )


def audit_argv(endpoint_url: str, role_name: str, workers: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "audit",
        "--org",
        "--role-name",
        role_name,
        "--endpoint-url",
        endpoint_url,
        "--format",
        "json",
        "--workers",
        str(workers),
    ]


# Calls the audit makes once per run, not per account.
RUN_LEVEL_CALLS = frozenset({("sts", "GetCallerIdentity"), ("organizations", "ListAccounts")})

# What every audit run pays before its first API call: the interpreter, the audit's and boto3's imports and one
# client. Subtracting it from a run's peak RSS and CPU leaves what the accounts cost.
FLOOR_CODE = (
    "import boto3, audit.cli, audit.org, audit.runner; "
    "boto3.session.Session().client('sts', region_name='us-east-1', endpoint_url='http://127.0.0.1:9')"
)


def check_output(child: ChildRun, org: SimulatedOrganization, failing: set[str]) -> tuple[str, tuple[str, ...]]:
    """The run's verdict line and what is wrong with it, judged from the audit's JSON output."""
    problems: list[str] = []
    try:
        summary = json.loads(child.stdout)
        statuses = {str(a["account_id"]): str(a["status"]) for a in summary["accounts"]}
        overall = str(summary["status"])
    except (ValueError, KeyError, TypeError) as exc:
        tail = (child.stderr.strip().splitlines() or ["(no stderr)"])[-1]
        return "INVALID", (f"output is not the audit's JSON ({exc!r}); exit {child.returncode}; {tail}",)
    counts = Counter(statuses.values())
    verdict = f"{overall} ({', '.join(f'{n} {s}' for s, n in sorted(counts.items()))})"
    if set(statuses) != set(org.account_ids):
        problems.append(f"audited {len(statuses)} accounts, expected the organization's {len(org.account_ids)}")
    wrong = sorted(a for a, s in statuses.items() if s != ("FAIL" if a in failing else "PASS"))
    if wrong:
        problems.append(f"{len(wrong)} accounts with an unexpected verdict, e.g. {wrong[0]}: {statuses[wrong[0]]}")
    expected_exit = 1 if failing else 0
    if child.returncode != expected_exit:
        problems.append(f"exit status {child.returncode}, expected {expected_exit}")
    return verdict, tuple(problems)


def account_latencies(calls: Sequence[CallRecord], org: SimulatedOrganization) -> list[float]:
    """Per audited account: first call about it to the last answer, as the server saw them. The run's own
    calls (GetCallerIdentity and ListAccounts, made once before any account is audited) are left out: they
    would count towards the management account and stretch its span over the whole run."""
    spans: dict[str, list[float]] = defaultdict(list)
    for call in calls:
        if (call.service, call.action) not in RUN_LEVEL_CALLS:
            spans[call.subject_account_id].extend((call.started, call.finished))
    return [max(spans[a]) - min(spans[a]) for a in org.account_ids if a in spans]


def run_once(
    server: SlowMotoServer, org: SimulatedOrganization, failing: set[str], workers: int, label: str, timeout_s: float
) -> RunResult:
    server.forget_reports()
    server.clear_calls()
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    child = run_child(audit_argv(server.endpoint_url, org.role_name, workers), offline_child_env(str(REPO)), timeout_s)
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    calls = server.calls()
    verdict, problems = check_output(child, org, failing)
    latencies = account_latencies(calls, org)
    n = len(org.account_ids)
    by_action = Counter(f"{c.service}:{c.action}" for c in calls)
    return RunResult(
        label=label,
        accounts=n,
        workers=workers,
        wall_s=child.wall_s,
        span_s=(max(c.finished for c in calls) - min(c.started for c in calls)) if calls else 0.0,
        account_latency_s=statistics.fmean(latencies) if latencies else float("nan"),
        calls_per_account=len(calls) / n,
        calls_by_action={k: v / n for k, v in sorted(by_action.items())},
        max_rss_mib=child.max_rss_kib / 1024,
        child_cpu_s=child.cpu_s,
        server_cpu_s=(cpu_after.ru_utime + cpu_after.ru_stime) - (cpu_before.ru_utime + cpu_before.ru_stime),
        verdict=verdict,
        problems=problems,
    )


def _print_table(results: Sequence[RunResult]) -> None:
    header = (
        f"{'run':<8}{'accounts':>9}{'workers':>8}{'wall s':>9}{'span s':>9}{'speed-up':>9}{'ideal s':>9}{'effic.':>8}"
        f"{'acct lat s':>11}{'calls/acct':>11}{'peak RSS MiB':>13}{'audit CPU s':>12}{'moto CPU s':>11}  verdict"
    )
    print(header)
    print("-" * len(header))
    reference: dict[tuple[str, int], RunResult] = {}
    for r in results:
        ref = reference.setdefault((r.label, r.accounts), r)
        # The ideal: every account's latency, as measured with the fewest workers, split evenly over the workers.
        ideal = r.accounts * ref.account_latency_s / r.workers
        speedup = ref.wall_s / r.wall_s
        print(
            f"{r.label:<8}{r.accounts:>9}{r.workers:>8}{r.wall_s:>9.2f}{r.span_s:>9.2f}{speedup:>8.2f}x{ideal:>9.2f}"
            f"{ideal / r.wall_s:>8.0%}{r.account_latency_s:>11.3f}{r.calls_per_account:>11.2f}"
            f"{r.max_rss_mib:>13.1f}{r.child_cpu_s:>12.2f}{r.server_cpu_s:>11.2f}  {r.verdict}"
        )
        for problem in r.problems:
            print(f"{'':8}INVALID: {problem}")


def _int_list(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected comma-separated integers >= 1, got {text!r}")
    return values


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--accounts", type=_int_list, default=[100, 500],
        help="accounts audited, the management account included (default 100,500)",
    )
    parser.add_argument("--workers", type=_int_list, default=[1, 4, 16, 32], help="worker counts (default 1,4,16,32)")
    parser.add_argument("--delay-ms", type=float, default=50.0, help="delay on every API call (default 50)")
    parser.add_argument(
        "--report-window-s", type=float, default=2.0, help="credential report in progress (default 2)"
    )
    parser.add_argument(
        "--plain-workers", type=_int_list, default=[16], help="worker counts on moto with no delays (default 16)"
    )
    parser.add_argument("--no-plain", action="store_true", help="skip the runs with no delays")
    parser.add_argument("--timeout-s", type=float, default=3600.0, help="per audit run (default 3600)")
    parser.add_argument("--json-out", type=Path, help="also write the figures as JSON to this file")
    args = parser.parse_args(argv)
    try:
        slow = Timing(args.delay_ms / 1000.0, args.report_window_s)
    except ValueError as exc:
        parser.error(str(exc))
    if min(args.accounts) < 2:
        parser.error("--accounts must be at least 2: the management account and one member")
    workers = sorted(set(args.workers))
    plain_workers = [] if args.no_plain else sorted(set(args.plain_workers))

    floor = run_child([sys.executable, "-c", FLOOR_CODE], offline_child_env(str(REPO)), 120.0)
    if floor.returncode != 0:
        print(f"cannot import the audit: {floor.stderr.strip()}", file=sys.stderr)
        return 2

    moto_root.install()
    server = SlowMotoServer(slow)
    server.start()
    results: list[RunResult] = []
    print(
        f"Org audit benchmark: {args.delay_ms:g} ms per API call, credential report in progress "
        f"{args.report_window_s:g} s; the audit runs as `python -m audit --org` in a child process; "
        f"{os.cpu_count()} CPUs shared by the audit and moto.",
        flush=True,
    )
    try:
        for n in sorted(set(args.accounts)):
            server.reset()
            moto_root.reset()
            members = n - 1
            seeded = {i: SEEDED_ROOT_KEY for i in range(0, members, FAIL_EVERY)}
            setup_started = time.monotonic()
            with server.delays_paused():
                org = create_organization(
                    server.endpoint_url, members, role_name=AUDIT_ROLE_NAME, root_credentials=seeded
                )
            failing = {org.member_account_ids[i] for i in seeded}
            print(
                f"\n{n} accounts ({len(failing)} with an active root key) set up in "
                f"{time.monotonic() - setup_started:.1f} s",
                flush=True,
            )
            for label, timing, counts in (("slow", slow, workers), ("no-delay", Timing(0.0, 0.0), plain_workers)):
                server.timing = timing
                for w in counts:
                    result = run_once(server, org, failing, w, label, args.timeout_s)
                    results.append(result)
                    print(f"  {label} {n} accounts, {w} workers: {result.wall_s:.2f} s, {result.verdict}", flush=True)
    finally:
        server.stop()

    print()
    _print_table(results)
    print(
        f"\nfloor (interpreter + audit and boto3 imports + one client, no API call): {floor.wall_s:.2f} s wall, "
        f"{floor.max_rss_kib / 1024:.1f} MiB peak RSS, {floor.cpu_s:.2f} s CPU"
    )
    for r in results:
        print(
            f"  {r.label} {r.accounts} accounts, {r.workers} workers: peak RSS "
            f"{r.max_rss_mib - floor.max_rss_kib / 1024:.1f} MiB above the floor; audit CPU "
            f"{(r.child_cpu_s - floor.cpu_s) * 1000 / r.accounts:.1f} ms per account above the floor"
        )
    print("\nAPI calls per account by action (slow runs):")
    for r in results:
        if r.label == "slow":
            actions = ", ".join(f"{k} {v:.2f}" for k, v in r.calls_by_action.items())
            print(f"  {r.accounts} accounts, {r.workers} workers: {actions}")
    print(
        "\nwall: child process start to exit (includes interpreter start and imports); span: first API call to last "
        "answer, at the server. speed-up: against the fewest "
        "workers. ideal: accounts x per-account latency (server-measured, fewest workers) / workers; "
        "effic. = ideal / wall. peak RSS: ru_maxrss of the audit process (os.wait4). "
        "audit CPU: the child's user+system time; moto CPU: this process's, where the server runs."
    )
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps([r.__dict__ for r in results], indent=2, default=list))
    return 1 if any(r.problems for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
