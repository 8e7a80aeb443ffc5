"""How an organization audit (CIS 1.4 / Security Hub IAM.4 in every account) times its credential report polls:
the run probes for the reports' build time instead of every account polling blind, and one slow account cannot
hold the others back. Many accounts' fetches run on a virtual clock against IAMs that build a report for a set
time, as AWS does (STARTED, then ReportInProgress until it is ready)."""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.exceptions import ClientError

from audit.aws import Budget, ReportFetch, ReportTimes, RetryPolicy
from tests.audit.helpers import Recorder, baseline_text


@dataclass
class BuildingIam:
    """One account's IAM: its report is being built for `build_s` after the generation, on the virtual clock."""

    recorder: Recorder
    build_s: float
    started: float | None = None
    answer_delay_s: float = 0.0  # the STARTED answer reaches the caller this long after IAM began building
    faults: list[str] = field(default_factory=list)  # error codes the next polls get, in order, before any answer
    polls: list[float] = field(default_factory=list)  # each GetCredentialReport, by the report's age
    generations: int = 0

    def generate_credential_report(self) -> dict[str, Any]:
        self.generations += 1
        self.started = self.recorder.now
        self.recorder.now += self.answer_delay_s
        return {"State": "STARTED"}

    def get_credential_report(self) -> dict[str, Any]:
        assert self.started is not None
        age = self.recorder.now - self.started
        self.polls.append(round(age, 6))
        if self.faults:
            raise ClientError({"Error": {"Code": self.faults.pop(0), "Message": "fault"}}, "GetCredentialReport")
        if age < self.build_s:
            raise ClientError({"Error": {"Code": "ReportInProgress", "Message": "building"}}, "GetCredentialReport")
        return {"Content": baseline_text().encode(), "ReportFormat": "text/csv"}


def _run(
    accounts: list[tuple[float, float]], times: ReportTimes, policy: RetryPolicy, recorder: Recorder,
    iams: list[BuildingIam] | None = None,
) -> list[BuildingIam]:
    """Fetch every account's report as the organization scheduler does, with unbounded workers: (start, build_s) per
    account, the first accounts' IAMs given in `iams` if they are special; each step runs when it is due, in order
    of due time, then of account."""
    given = iams or []
    iams = given + [BuildingIam(recorder, build_s) for _, build_s in accounts[len(given):]]
    fetches: dict[int, ReportFetch] = {}
    due = [(start, n) for n, (start, _) in enumerate(accounts)]
    heapq.heapify(due)
    while due:
        at, n = heapq.heappop(due)
        recorder.now = max(recorder.now, at)
        if n not in fetches:
            fetches[n] = ReportFetch(iams[n], Budget(policy), times)
        pause = fetches[n].step()
        if pause is not None:
            heapq.heappush(due, (recorder.now + pause, n))
        else:
            assert fetches[n].report is not None
    return iams


def _policy(recorder: Recorder, max_attempts: int = 12) -> RetryPolicy:
    return RetryPolicy(
        base_delay=1.0, max_delay=8.0, max_attempts=max_attempts, deadline_seconds=120.0,
        sleep=recorder.sleep, clock=recorder.clock, jitter=lambda delay: delay,
    )


def _together(count: int, build_s: float) -> list[tuple[float, float]]:
    """`count` accounts whose generations start 10 ms apart, as a listing page's accounts do."""
    return [(n * 0.01, build_s) for n in range(count)]


def test_probe_accounts_building_together_learn_the_build_time_in_one_step() -> None:
    recorder = Recorder()
    times = ReportTimes(probe=True)
    iams = _run(_together(20, 2.0), times, _policy(recorder), recorder)
    # The run found the reports ready within a step (10%) of their 2 s, where the blind schedule finds them at 3 s.
    assert times.ready_after is not None and 2.0 <= times.ready_after <= 2.2
    # Probes at 1.0, 1.1, 1.21... are the oldest accounts' polls, three each at most; the others skip them with no
    # call, and poll once, half a step after the earliest age a report was ready.
    probers = [iam for iam in iams if len(iam.polls) > 1]
    assert len(probers) == 3 and all(len(iam.polls) <= ReportTimes.QUICK_POLLS_PER_ACCOUNT + 1 for iam in probers)
    assert all(iam.polls == [pytest.approx(times.poll_after)] for iam in iams if iam not in probers)
    # A prober that used its probes backs off on its own schedule, so it ends later than the rest, but before
    # the blind schedule's 3 s.
    assert max(iam.polls[-1] for iam in probers) < 3.0


def test_probe_blind_schedule_without_probe_polls_twice_each() -> None:
    # The same accounts on the single-account schedule (no probing): 1 s, then 2 s more, for every one of them.
    recorder = Recorder()
    times = ReportTimes()
    iams = _run(_together(20, 2.0), times, _policy(recorder), recorder)
    assert [len(iam.polls) for iam in iams] == [2] * 20
    assert times.ready_after == pytest.approx(3.0)


def test_probe_slow_oldest_account_does_not_hold_the_others() -> None:
    # The first account's report takes a minute (thousands of IAM users); the others' take 1.5 s. The oldest stops
    # probing after its share and backs off alone; the next oldest probe on and find theirs ready within a step.
    recorder = Recorder()
    times = ReportTimes(probe=True)
    iams = _run([(0.0, 60.0)] + _together(9, 1.5)[1:] + [(0.09, 1.5)], times, _policy(recorder), recorder)
    slow, fast = iams[0], iams[1:]
    assert max(iam.polls[-1] for iam in fast) <= 1.5 * 1.1 + 0.1
    assert slow.polls[:ReportTimes.QUICK_POLLS_PER_ACCOUNT] == [1.0, 1.1, 1.21]
    assert slow.polls[-1] >= 60.0


@pytest.mark.parametrize("build_s", [4.5, 10.0])
def test_probe_ends_at_probe_until_and_every_account_backs_off_alone(build_s: float) -> None:
    # Reports slower than the probing's reach: it stops at PROBE_UNTIL_S, and no account is held past it waiting for
    # probes; each then polls on its own backoff and finds its report.
    recorder = Recorder()
    times = ReportTimes(probe=True)
    iams = _run(_together(20, build_s), times, _policy(recorder), recorder)
    first_polls = [iam.polls[0] for iam in iams]
    limit = ReportTimes.PROBE_UNTIL_S
    assert max(first_polls) <= limit * (1 + ReportTimes.STEP_FRACTION)
    assert all(iam.polls[-1] >= build_s for iam in iams)
    # Each account's polls: at most its probes, then its own backoff (1, 2, 4, 8 s) to the report.
    assert max(len(iam.polls) for iam in iams) <= ReportTimes.QUICK_POLLS_PER_ACCOUNT + 5


def test_probe_polls_do_not_take_the_attempts_a_slow_report_needs() -> None:
    # Six attempts: the generation and five polls. Alone, the account probes at 1.0, 1.1 and 1.21 s, then backs
    # off 1, 2, 4 s: its report, ready at 8 s, is found at the sixth call of its own schedule plus the probes.
    recorder = Recorder()
    times = ReportTimes(probe=True)
    [iam] = _run([(0.0, 8.0)], times, _policy(recorder, max_attempts=6), recorder)
    assert iam.polls == [1.0, 1.1, 1.21, 2.21, 4.21, 8.21]


@pytest.mark.parametrize(
    "fault, polls, generations",
    [
        # Throttled at its probe: it backs off alone (2 s, its second wait) and finds its report then.
        ("Throttling", [1.0, 3.0], 1),
        # Its report vanished at its probe: it generates again after its backoff (2 s), and by then the run knows
        # when reports are ready, so one poll, half a step after 2.144 s, finds the new one.
        ("ReportNotPresent", [1.0, 2.250768], 2),
    ],
    ids=["throttled", "report-gone"],
)
def test_probe_fault_at_the_oldest_account_slows_only_it(fault: str, polls: list[float], generations: int) -> None:
    recorder = Recorder()
    times = ReportTimes(probe=True)
    oldest = BuildingIam(recorder, build_s=2.0, faults=[fault])
    iams = _run(_together(10, 2.0), times, _policy(recorder), recorder, iams=[oldest])
    assert (oldest.polls, oldest.generations) == (polls, generations)
    # The next oldest probed on: the run learned the build time within a step; the accounts that did not probe
    # polled once, half a step after it, and those that did ended before the plain schedule's 3 s.
    assert times.ready_after is not None and 2.0 <= times.ready_after <= 2.2
    probers = [iam for iam in iams[1:] if len(iam.polls) > 1]
    assert all(iam.polls == [pytest.approx(times.poll_after)] for iam in iams[1:] if iam not in probers)
    assert len(probers) == 3 and max(iam.polls[-1] for iam in probers) < 3.0


def test_report_times_probe_steps_past_the_frontier() -> None:
    times = ReportTimes(probe=True)
    assert times.next_probe(first=1.0) == 1.0
    assert times.claim(1.0, first=1.0) == 0.0  # the first probe is this account's
    assert times.next_probe(first=1.0) == pytest.approx(1.1)  # a step of at least 0.1 s
    assert times.claim(0.95, first=1.0) == pytest.approx(0.15)  # younger: wait for an age past the probe
    assert times.claim(3.0, first=1.0) == 0.0
    assert times.next_probe(first=1.0) == pytest.approx(3.3)  # 10% of the frontier
    assert times.claim(3.3 - 0.0005, first=1.0) == 0.0  # a rounding error short of the step is the step
    times.saw_ready(2.5)
    assert (times.next_probe(first=1.0), times.claim(0.5, first=1.0)) == (None, 0.0)  # known: no more probing


def test_report_times_without_probe_never_probes() -> None:
    times = ReportTimes()
    assert (times.next_probe(first=1.0), times.claim(0.5, first=1.0)) == (None, 0.0)


def test_fetch_hold_of_a_rounding_error_polls_now() -> None:
    # A poll that comes a rounding error before its time is due: held for that, a virtual clock (or a large
    # monotonic reading) would not move, and the poll would be held again forever.
    recorder = Recorder()
    times = ReportTimes()
    times.saw_ready(1.1)
    recorder.now = 7.0
    iam = BuildingIam(recorder, build_s=1.0)
    fetch = ReportFetch(iam, Budget(_policy(recorder)), times)
    pause = fetch.step()
    assert pause == pytest.approx(1.155)
    assert pause is not None
    recorder.now += pause - 1e-12
    assert fetch.step() is None
    assert len(iam.polls) == 1


def test_fetch_miss_at_the_run_ready_age_repolls_a_step_later() -> None:
    # The run's reports were ready at 0.9 s; this one takes 1.15 s. It polls half a step after, at 0.95 s, then a
    # step (10%, at least 0.1 s) later, twice, rather than a backoff's second later.
    recorder = Recorder()
    times = ReportTimes(probe=True)
    times.saw_ready(0.9)
    [iam] = _run([(0.0, 1.15)], times, _policy(recorder), recorder)
    assert iam.polls == [0.95, 1.05, 1.155]


def test_fetch_repolls_after_misses_are_bounded_then_backs_off() -> None:
    # A report much slower than the run's: three quick polls in all, then its own backoff (1, 2, 4 s).
    recorder = Recorder()
    times = ReportTimes(probe=True)
    times.saw_ready(0.9)
    [iam] = _run([(0.0, 6.0)], times, _policy(recorder), recorder)
    assert iam.polls == [0.95, 1.05, 1.155, 1.2705, 2.2705, 4.2705, 8.2705]


def test_probe_ready_age_never_below_the_build_time_however_late_the_answers() -> None:
    # The first account's STARTED reaches it 0.5 s after IAM began building (its caller was busy); the rest are
    # answered at once. Ages count from the ask, so the age the run learns is never below the 1.6 s build time,
    # and the promptly answered accounts find their reports at their first poll.
    recorder = Recorder()
    times = ReportTimes(probe=True)
    late = BuildingIam(recorder, build_s=1.6, answer_delay_s=0.5)
    iams = _run([(0.0, 1.6)] + _together(10, 1.6)[1:], times, _policy(recorder), recorder, iams=[late])
    assert times.ready_after is not None and times.ready_after >= 1.6
    assert all(len(iam.polls) == 1 for iam in iams[5:])
