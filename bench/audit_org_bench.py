"""Benchmark of `python -m audit --org` (the CIS 1.4 / Security Hub IAM.4 root access key audit of every account),
in a child process, against `simulate.slow_moto`: a moto server in this process, plain or latency-modelled
(every API call held for a fixed delay, each account's credential report in progress for a window after it is
requested, as AWS does). Side by side in one run:

1. plain moto, 500 accounts, default workers: wall time, the audit's CPU per account, peak RSS (goal <= 25 s);
2. latency-modelled, 500 accounts at 16 and 64 requests in flight: wall time against the floor, which is one
   report window + accounts x 4 calls x delay / in flight (the issue's formula), or the emulator's own CPU time
   for the run if that is larger (one Python process serializes its requests); both printed, and the ratio
   (goal <= 1.5x), and beside it the stricter ratio with the calls the run made instead of 4. Each bound is run
   --rounds times, the bounds in turn, and the run with the median ratio is the case's figure: on a shared
   machine one run can be a second slower than the next;
3. latency-modelled, 5,000 accounts at 64 in flight: wall time and peak RSS (goals <= 11x the 500-account time,
   <= 150 MiB);
4. from the per-account cost, how many accounts one 15-minute Lambda invocation audits.

Every run's JSON output is checked: every account audited once, exactly the seeded accounts FAIL; a run that does
not check out is INVALID and makes the exit status 1. Peak RSS is the child's own VmHWM, which it writes as it
exits: os.wait4's ru_maxrss would not do, because Linux carries the peak across exec, and a child spawned from
this process (which holds moto and thousands of accounts) would report this process's size.

The audit's modules are compiled once before the runs, as the first run of `python -m audit` leaves them: with
PYTHONDONTWRITEBYTECODE set (this machine sets it), every run would compile them from source again, start-up
that a user's runs do not pay.

Usage (about 6 minutes on 2 shared cores):
    .venv/bin/python bench/audit_org_bench.py
    .venv/bin/python bench/audit_org_bench.py --accounts 200 --big-accounts 0    # a quick run
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

from audit.org import DEFAULT_WORKERS  # noqa: E402  (python -m audit's --workers default)
from simulate import moto_root, moto_scale  # noqa: E402
from simulate.slow_moto import (  # noqa: E402
    AUDIT_ROLE_NAME,
    CallRecord,
    SimulatedOrganization,
    SlowMotoServer,
    Timing,
    add_members,
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
    listing_s: float  # first ListAccounts page asked to last page answered, at the server
    calls_per_account: float
    calls_by_action: dict[str, float]
    max_rss_mib: float
    child_cpu_s: float
    server_cpu_s: float
    verdict: str
    problems: tuple[str, ...] = field(default=())


# Runs `python -m MODULE ARGS...` or `python -c CODE ARGS...` as the child itself would, and at exit writes the
# process's peak resident set (VmHWM, which exec resets) to the file named by the environment.
_PEAK_RSS_ENV = "ROOT_KEY_BENCH_PEAK_RSS_FILE"
_PEAK_RSS_PRELUDE = f"""
import atexit, os, runpy, sys

def _write_peak():
    with open("/proc/self/status") as status:
        peak = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    with open(os.environ["{_PEAK_RSS_ENV}"], "w") as out:
        out.write(peak)

atexit.register(_write_peak)
mode, target, *rest = sys.argv[1:]
if mode == "-m":
    sys.argv = [target, *rest]
    runpy.run_module(target, run_name="__main__", alter_sys=True)
else:
    sys.argv = ["-c", *rest]
    exec(compile(target, "<string>", "exec"), {{"__name__": "__main__"}})
"""


def run_child(argv: Sequence[str], env: dict[str, str], timeout_s: float) -> ChildRun:
    """Run `python -m ...` or `python -c ...` to completion: its output, wall and CPU time (os.wait4, as
    subprocess does not expose rusage) and its own peak RSS (see _PEAK_RSS_PRELUDE)."""
    python, mode, *rest = argv
    if mode not in ("-m", "-c"):
        raise ValueError(f"run_child runs `python -m` or `python -c`, got {list(argv)!r}")
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, tempfile.TemporaryDirectory() as tmp:
        peak_file = Path(tmp, "peak-rss-kib")
        env = {**env, _PEAK_RSS_ENV: str(peak_file)}
        started = time.monotonic()
        proc = subprocess.Popen(
            [python, "-c", _PEAK_RSS_PRELUDE, mode, *rest],
            cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
        )
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
        try:
            peak_kib = int(peak_file.read_text())
        except (OSError, ValueError):
            peak_kib = 0  # killed, or died before its atexit hooks: the run is judged INVALID on its output
        return ChildRun(
            wall_s=wall,
            returncode=proc.returncode,
            stdout=out.read().decode("utf-8", errors="replace"),
            stderr=err.read().decode("utf-8", errors="replace"),
            max_rss_kib=peak_kib,
            cpu_s=usage.ru_utime + usage.ru_stime,
        )


def audit_argv(endpoint_url: str, role_name: str, workers: int | None) -> list[str]:
    argv = [
        sys.executable, "-m", "audit", "--org", "--role-name", role_name, "--endpoint-url", endpoint_url,
        "--format", "json",
    ]
    return argv + (["--workers", str(workers)] if workers is not None else [])


def compile_sources(tree: Path) -> None:
    """Compile the audit's modules under `tree` into their __pycache__, as a first run of `python -m audit` would
    (compileall writes them whatever PYTHONDONTWRITEBYTECODE says; the runs then read them)."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree / "audit")], check=True, stdout=subprocess.DEVNULL)


def median_run(runs: Sequence[RunResult], timing: Timing) -> RunResult:
    """The run whose ratio to the floor is the median (the lower one of an even count)."""
    ratios = [r.wall_s / floor_of(r, timing).value for r in runs]
    return runs[ratios.index(statistics.median_low(ratios))]


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
    if len(summary["accounts"]) != len(statuses):
        problems.append(f"{len(summary['accounts'])} verdicts for {len(statuses)} distinct accounts")
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
    server: SlowMotoServer,
    org: SimulatedOrganization,
    failing: set[str],
    workers: int | None,
    label: str,
    timeout_s: float,
) -> RunResult:
    server.forget_reports()
    server.clear_calls()
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    child = run_child(audit_argv(server.endpoint_url, org.role_name, workers), offline_child_env(str(REPO)), timeout_s)
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    calls = server.calls()
    verdict, problems = check_output(child, org, failing)
    if not child.max_rss_kib:
        problems += ("the child reported no peak RSS",)
    latencies = account_latencies(calls, org)
    pages = [c for c in calls if (c.service, c.action) == ("organizations", "ListAccounts")]
    n = len(org.account_ids)
    by_action = Counter(f"{c.service}:{c.action}" for c in calls)
    return RunResult(
        label=label,
        accounts=n,
        workers=workers or DEFAULT_WORKERS,
        wall_s=child.wall_s,
        span_s=(max(c.finished for c in calls) - min(c.started for c in calls)) if calls else 0.0,
        account_latency_s=statistics.fmean(latencies) if latencies else float("nan"),
        listing_s=(max(c.finished for c in pages) - min(c.started for c in pages)) if pages else 0.0,
        calls_per_account=len(calls) / n,
        calls_by_action={k: v / n for k, v in sorted(by_action.items())},
        max_rss_mib=child.max_rss_kib / 1024,
        child_cpu_s=child.cpu_s,
        server_cpu_s=(cpu_after.ru_utime + cpu_after.ru_stime) - (cpu_before.ru_utime + cpu_before.ru_stime),
        verdict=verdict,
        problems=problems,
    )


LAMBDA_SECONDS = 900.0
# Kept back by the Lambda for publishing (audit.runner.RUN_RESERVE_SECONDS).
LAMBDA_RESERVE_S = 60.0
# Lambda gives a function one full vCPU at 1,769 MB and CPU in proportion to memory below that.
FULL_VCPU_MB = 1769


# The floor counts 4 calls per account (AssumeRole, generation, a poll, the download).
FLOOR_CALLS_PER_ACCOUNT = 4


@dataclass(frozen=True)
class Floor:
    latency_s: float  # one report window + accounts x 4 calls x delay / in flight: the formula
    latency_made_s: float  # the same with the calls the run made: lower when it makes fewer, so stricter
    emulator_cpu_s: float

    @property
    def value(self) -> float:
        return max(self.latency_s, self.emulator_cpu_s)

    @property
    def value_made(self) -> float:
        return max(self.latency_made_s, self.emulator_cpu_s)


def floor_of(r: RunResult, timing: Timing) -> Floor:
    def latency(calls: float) -> float:
        return timing.report_window_s + calls * timing.call_delay_s / r.workers

    return Floor(
        latency(FLOOR_CALLS_PER_ACCOUNT * r.accounts), latency(r.calls_per_account * r.accounts), r.server_cpu_s
    )


def _print_runs(results: Sequence[tuple[str, RunResult]], timing: Timing, startup: ChildRun) -> None:
    header = (
        f"{'case':<42}{'wall s':>8}{'span s':>8}{'calls/acct':>11}{'audit CPU ms/acct':>18}{'peak RSS MiB':>13}"
        f"{'emulator CPU s':>15}  verdict"
    )
    print(header)
    print("-" * len(header))
    for case, r in results:
        cpu_ms = (r.child_cpu_s - startup.cpu_s) * 1000 / r.accounts
        print(
            f"{case:<42}{r.wall_s:>8.2f}{r.span_s:>8.2f}{r.calls_per_account:>11.2f}{cpu_ms:>18.1f}"
            f"{r.max_rss_mib:>13.1f}{r.server_cpu_s:>15.2f}  {r.verdict}"
        )
        for problem in r.problems:
            print(f"{'':4}INVALID: {problem}")
    print(
        f"\naudit start-up (interpreter, imports, one client, no call): {startup.wall_s:.2f} s wall, "
        f"{startup.cpu_s:.2f} s CPU, {startup.max_rss_kib / 1024:.1f} MiB; audit CPU per account excludes it."
    )
    print(
        "\nAgainst the floor (latency-modelled runs): max(latency floor, emulator CPU); the latency floor is the "
        f"issue's, with {FLOOR_CALLS_PER_ACCOUNT} calls per account, and (stricter) with the calls the run made"
    )
    for case, r in results:
        if r.label != "slow":
            continue
        f = floor_of(r, timing)
        print(
            f"  {case:<40} latency floor {f.latency_s:6.2f} s ({f.latency_made_s:.2f} s for "
            f"{r.calls_per_account:.2f} calls/account), emulator CPU {f.emulator_cpu_s:6.2f} s -> "
            f"wall / floor {r.wall_s / f.value:.2f}x ({r.wall_s / f.value_made:.2f}x for the calls made), "
            f"span / floor {r.span_s / f.value:.2f}x; listing (audited as it goes) {r.listing_s:.2f} s"
        )
    print("\nAPI calls per account, by action:")
    for case, r in results:
        print(f"  {case:<40} " + ", ".join(f"{k} {v:.2f}" for k, v in r.calls_by_action.items()))


def _print_lambda(small: RunResult, big: RunResult, plain: RunResult, startup: ChildRun) -> None:
    # Marginal cost of one more account: between the two latency-modelled organization sizes at the same bound,
    # so start-up, listing and the report window cancel out.
    marginal_wall = (big.wall_s - small.wall_s) / (big.accounts - small.accounts)
    cpu_per_account = (plain.child_cpu_s - startup.cpu_s) / plain.accounts
    usable = LAMBDA_SECONDS - LAMBDA_RESERVE_S - small.wall_s
    print(
        f"\nOne 15-minute Lambda invocation ({LAMBDA_SECONDS:g} s, {LAMBDA_RESERVE_S:g} s kept for publishing):"
        f"\n  marginal wall per account at {big.workers} in flight: {marginal_wall * 1000:.1f} ms "
        f"({small.accounts} -> {big.accounts} accounts: {small.wall_s:.1f} s -> {big.wall_s:.1f} s, "
        f"x{big.wall_s / small.wall_s:.1f}); audit CPU per account {cpu_per_account * 1000:.1f} ms at one full core"
    )
    print(f"  latency-bound: {usable / marginal_wall:,.0f} accounts")
    for memory in (256, 512, 1024, FULL_VCPU_MB):
        share = min(1.0, memory / FULL_VCPU_MB)
        print(f"  CPU-bound at {memory:>4} MB ({share:.2f} vCPU): {usable * share / cpu_per_account:,.0f} accounts")
    print(f"  peak RSS at {big.accounts} accounts: {big.max_rss_mib:.0f} MiB")


def _int_list(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected comma-separated integers >= 1, got {text!r}")
    return values


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--accounts", type=int, default=500, help="accounts of cases 1 and 2 (default 500)")
    parser.add_argument("--big-accounts", type=int, default=5000, help="accounts of case 3 (default 5000; 0 skips)")
    parser.add_argument("--in-flight", type=_int_list, default=[16, 64], help="case 2's bounds (default 16,64)")
    parser.add_argument("--big-in-flight", type=int, default=64, help="case 3's bound (default 64)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each case 2 bound, in turn (default 3)")
    parser.add_argument("--delay-ms", type=float, default=50.0, help="delay on every API call (default 50)")
    parser.add_argument("--report-window-s", type=float, default=2.0, help="credential report in progress (default 2)")
    parser.add_argument("--timeout-s", type=float, default=1800.0, help="per audit run (default 1800)")
    parser.add_argument("--json-out", type=Path, help="also write the figures as JSON to this file")
    args = parser.parse_args(argv)
    try:
        slow = Timing(args.delay_ms / 1000.0, args.report_window_s)
    except ValueError as exc:
        parser.error(str(exc))
    if args.accounts < 2 or (args.big_accounts and args.big_accounts <= args.accounts) or args.big_accounts > 5000:
        parser.error(
            f"need 2 <= --accounts < --big-accounts <= 5000 (or --big-accounts 0), got --accounts {args.accounts} "
            f"--big-accounts {args.big_accounts}"
        )
    if args.rounds < 1:
        parser.error(f"--rounds must be an integer >= 1, got {args.rounds}")

    compile_sources(REPO)
    startup = run_child([sys.executable, "-c", FLOOR_CODE], offline_child_env(str(REPO)), 120.0)
    if startup.returncode != 0:
        print(f"cannot import the audit: {startup.stderr.strip()}", file=sys.stderr)
        return 2
    moto_root.install()
    # Without it moto's per-request cost grows with the number of accounts, and case 3 would measure moto.
    moto_scale.install()
    server = SlowMotoServer(slow)
    server.start()
    print(
        f"Org audit benchmark: `python -m audit --org` in a child process against a moto server in this one; "
        f"latency model {args.delay_ms:g} ms per call, report in progress {args.report_window_s:g} s; "
        f"{os.cpu_count()} CPUs shared by both (and whatever else runs here).",
        flush=True,
    )
    results: list[tuple[str, RunResult]] = []

    def run(case: str, org: SimulatedOrganization, failing: set[str], timing: Timing, workers: int | None) -> RunResult:
        server.timing = timing
        result = run_once(server, org, failing, workers, "slow" if timing.call_delay_s else "plain", args.timeout_s)
        results.append((case, result))
        print(f"  {case}: {result.wall_s:.2f} s, {result.verdict}", flush=True)
        return result

    try:
        started = time.monotonic()
        members = args.accounts - 1
        seeded = {i: SEEDED_ROOT_KEY for i in range(0, members, FAIL_EVERY)}
        with server.delays_paused():
            org = create_organization(server.endpoint_url, members, role_name=AUDIT_ROLE_NAME, root_credentials=seeded)
        failing = {org.member_account_ids[i] for i in seeded}
        print(f"{args.accounts} accounts set up in {time.monotonic() - started:.0f} s", flush=True)
        plain = run(f"1. plain, {args.accounts}, workers {DEFAULT_WORKERS}", org, failing, Timing(0.0, 0.0), None)
        bounds = list(dict.fromkeys(args.in_flight + ([args.big_in_flight] if args.big_accounts else [])))
        rounds: dict[int, list[RunResult]] = {bound: [] for bound in bounds}
        for round_ in range(args.rounds):
            for bound in bounds:
                case = f"2. latency, {args.accounts}, {bound} in flight" + (f", run {round_ + 1}" if args.rounds > 1 else "")
                rounds[bound].append(run(case, org, failing, slow, bound))
        small = {bound: median_run(runs, slow) for bound, runs in rounds.items()}
        big = None
        if args.big_accounts:
            started = time.monotonic()
            more = args.big_accounts - args.accounts
            first = len(org.member_account_ids)
            more_seeded = {i: SEEDED_ROOT_KEY for i in range(more) if (first + i) % FAIL_EVERY == 0}
            with server.delays_paused():
                org = add_members(server.endpoint_url, org, more, root_credentials=more_seeded)
            failing |= {org.member_account_ids[first + i] for i in more_seeded}
            print(f"{more} accounts more set up in {time.monotonic() - started:.0f} s", flush=True)
            big = run(f"3. latency, {args.big_accounts}, {args.big_in_flight} in flight", org, failing, slow, args.big_in_flight)
    finally:
        server.stop()

    print()
    _print_runs(results, slow, startup)
    if args.rounds > 1:
        print(f"\nCase 2, the run with the median ratio of {args.rounds}, the bounds in turn (used below):")
        for bound, runs in rounds.items():
            ratios = ", ".join(f"{r.wall_s / floor_of(r, slow).value:.2f}x" for r in runs)
            chosen = small[bound]
            print(
                f"  {bound} in flight: {chosen.wall_s:.2f} s, {chosen.wall_s / floor_of(chosen, slow).value:.2f}x the floor "
                f"(runs: {ratios})"
            )
    if big is not None:
        ref = small[args.big_in_flight]
        print(
            f"\n5,000-account growth: wall x{big.wall_s / ref.wall_s:.1f} for x{big.accounts / ref.accounts:.0f} accounts "
            f"(goal <= 11x); peak RSS {big.max_rss_mib:.0f} MiB (goal <= 150)"
        )
        _print_lambda(ref, big, plain, startup)
    print(
        "\nwall: child start to exit (interpreter start and imports included); span: first API call to last answer, at "
        "the server; audit CPU: the child's user+system time less its start-up; emulator CPU: this process's, "
        "where moto runs."
    )
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps([{"case": c, **r.__dict__} for c, r in results], indent=2, default=list))
    return 1 if any(r.problems for _, r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
