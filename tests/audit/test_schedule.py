"""The org audit's delay-queue scheduler (CIS 1.4 / Security Hub IAM.4 across accounts): waits hold no worker,
requests in flight and jobs under way stay within their bounds, and a job's failure ends only that job."""

from __future__ import annotations

import threading
import time

import pytest

from audit.schedule import Feed, run_jobs
from tests.audit.helpers import Recorder


class _Waiting:
    """A job of `steps` calls with `pause` seconds between them; records who did what, and when."""

    def __init__(self, name: str, log: list[tuple[str, float]], clock: Recorder, steps: int = 2, pause: float = 5.0) -> None:
        self.name, self.log, self.clock, self.left, self.pause = name, log, clock, steps, pause
        self.failed: BaseException | None = None

    def step(self) -> float | None:
        self.log.append((self.name, self.clock.now))
        self.left -= 1
        return self.pause if self.left else None

    def fail(self, exc: BaseException) -> None:
        self.failed = exc


def test_schedule_waiting_jobs_share_one_worker(recorder: Recorder) -> None:
    # Ten jobs on one worker: all ten first calls at 0 s, one 5 s sleep, all ten second calls at 5 s.
    log: list[tuple[str, float]] = []
    jobs = [_Waiting(f"j{n}", log, recorder) for n in range(10)]
    run_jobs(jobs, workers=1, max_active=10, clock=recorder.clock, sleep=recorder.sleep)
    assert recorder.sleeps == [5.0]
    assert sorted(t for _, t in log) == [0.0] * 10 + [5.0] * 10


def test_schedule_max_active_bounds_jobs_under_way(recorder: Recorder) -> None:
    log: list[tuple[str, float]] = []
    jobs = [_Waiting(f"j{n}", log, recorder) for n in range(5)]
    run_jobs(jobs, workers=4, max_active=2, clock=recorder.clock, sleep=recorder.sleep)
    assert recorder.sleeps == [5.0, 5.0, 5.0]
    assert [name for name, t in log if t == 0.0] == ["j0", "j1"]


def test_schedule_due_steps_before_new_jobs(recorder: Recorder) -> None:
    # j0 is due again at once (pause 0): it goes before j1's first step, so started jobs finish first.
    log: list[tuple[str, float]] = []
    jobs = [_Waiting("j0", log, recorder, steps=3, pause=0.0), _Waiting("j1", log, recorder, steps=1)]
    run_jobs(jobs, workers=1, max_active=2, clock=recorder.clock, sleep=recorder.sleep)
    assert [name for name, _ in log] == ["j0", "j0", "j0", "j1"]


def test_schedule_new_jobs_before_waits_that_came_due(recorder: Recorder) -> None:
    # A clock a second later at every reading: j0's half-second wait is over by the time j1 could start. j1 starts
    # first, so that its own wait (a report being built) begins as early as it can.
    ticks = iter(range(10**6))

    def clock() -> float:
        recorder.now = float(next(ticks))
        return recorder.now

    log: list[tuple[str, float]] = []
    jobs = [_Waiting("j0", log, recorder, steps=2, pause=0.5), _Waiting("j1", log, recorder, steps=1)]
    run_jobs(jobs, workers=1, max_active=2, clock=clock, sleep=recorder.sleep)
    assert [name for name, _ in log] == ["j0", "j1", "j0"]


def test_schedule_waits_that_came_due_before_jobs_past_max_active(recorder: Recorder) -> None:
    # No room for j1 until j0 is done: j0's poll goes first, whatever j1 is waiting for.
    log: list[tuple[str, float]] = []
    jobs = [_Waiting("j0", log, recorder, steps=2, pause=1.0), _Waiting("j1", log, recorder, steps=1)]
    run_jobs(jobs, workers=1, max_active=1, clock=recorder.clock, sleep=recorder.sleep)
    assert log == [("j0", 0.0), ("j0", 1.0), ("j1", 1.0)]


def test_schedule_not_started_job_counts_as_done(recorder: Recorder) -> None:
    log: list[tuple[str, float]] = []
    jobs = [_Waiting(f"j{n}", log, recorder, steps=1) for n in range(3)]
    done: list[str] = []
    run_jobs(
        jobs, workers=2, max_active=3, start=lambda job: job.name != "j1", done=lambda job: done.append(job.name),  # type: ignore[attr-defined]
        clock=recorder.clock, sleep=recorder.sleep,
    )
    assert (sorted(name for name, _ in log), sorted(done)) == (["j0", "j2"], ["j0", "j1", "j2"])


class _Broken(_Waiting):
    def step(self) -> float | None:
        raise RuntimeError("boom")


def test_schedule_step_exception_ends_that_job_only(recorder: Recorder) -> None:
    log: list[tuple[str, float]] = []
    broken, fine = _Broken("b", log, recorder), _Waiting("f", log, recorder)
    run_jobs([broken, fine], workers=1, max_active=2, clock=recorder.clock, sleep=recorder.sleep)
    assert (repr(broken.failed), fine.failed, log) == ("RuntimeError('boom')", None, [("f", 0.0), ("f", 5.0)])


class _Concurrent:
    """Real threads: counts how many steps run at the same moment."""

    lock = threading.Lock()
    now = 0
    peak = 0

    def step(self) -> float | None:
        with self.lock:
            type(self).now += 1
            type(self).peak = max(type(self).peak, type(self).now)
        time.sleep(0.02)
        with self.lock:
            type(self).now -= 1
        return None

    def fail(self, exc: BaseException) -> None:
        raise AssertionError(exc)


def test_schedule_workers_bound_calls_in_flight() -> None:
    run_jobs([_Concurrent() for _ in range(24)], workers=4, max_active=64)
    assert _Concurrent.peak == 4


@pytest.mark.parametrize(("workers", "max_active"), [(0, 1), (1, 0)])
def test_schedule_invalid_bounds_raise(workers: int, max_active: int) -> None:
    with pytest.raises(ValueError) as excinfo:
        run_jobs([], workers=workers, max_active=max_active)
    assert str(excinfo.value) == f"run_jobs needs workers >= 1 and max_active >= 1, got {workers}, {max_active}"


class _Producer:
    """A job that adds `found` to the feed over `steps` steps (an organization's listing, page by page)."""

    def __init__(self, feed: Feed, pages: list[list[_Waiting]], log: list[tuple[str, float]], clock: Recorder) -> None:
        self.feed, self.pages, self.log, self.clock = feed, pages, log, clock

    def step(self) -> float | None:
        self.log.append(("listing", self.clock.now))
        for job in self.pages.pop(0):
            self.feed.add(job)
        return 0.0 if self.pages else None

    def fail(self, exc: BaseException) -> None:
        raise AssertionError(exc)


def test_schedule_feed_runs_jobs_added_while_running(recorder: Recorder) -> None:
    log: list[tuple[str, float]] = []
    feed = Feed()
    pages = [[_Waiting("a", log, recorder, steps=1)], [], [_Waiting("b", log, recorder, steps=1)]]
    feed.add(_Producer(feed, pages, log, recorder))
    run_jobs(feed, workers=1, max_active=4, clock=recorder.clock, sleep=recorder.sleep)
    # One worker: the listing's next page is due at once and goes first; every job added is run, once.
    assert [name for name, _ in log] == ["listing", "listing", "listing", "a", "b"]


def test_schedule_feed_with_nothing_added_ends() -> None:
    feed = Feed()
    feed.add(_Producer(feed, [[]], [], Recorder()))
    done = threading.Event()
    thread = threading.Thread(target=lambda: (run_jobs(feed, workers=3, max_active=4), done.set()), daemon=True)
    thread.start()
    assert done.wait(5.0), "run_jobs kept waiting for a feed that nothing could add to"


class _Meeting:
    """A job whose one step waits for `barrier`: it passes only if every party runs at the same time."""

    def __init__(self, barrier: threading.Barrier) -> None:
        self.barrier = barrier
        self.met = False

    def step(self) -> float | None:
        self.barrier.wait(timeout=5.0)
        self.met = True
        return None

    def fail(self, exc: BaseException) -> None:
        pass


def test_schedule_feed_wakes_a_worker_for_each_job_added() -> None:
    # Three idle workers and three jobs added by one step: all three must be woken, not one.
    barrier = threading.Barrier(3)
    feed = Feed()
    meetings = [_Meeting(barrier) for _ in range(3)]

    class _AddsAll:
        def step(self) -> float | None:
            time.sleep(0.2)  # every other worker is idle, waiting, by now
            for job in meetings:
                feed.add(job)
            return None

        def fail(self, exc: BaseException) -> None:
            raise AssertionError(exc)

    feed.add(_AddsAll())
    run_jobs(feed, workers=4, max_active=4)
    assert [m.met for m in meetings] == [True, True, True]


class _Polling:
    """A job like an account's audit at speed: `steps` short calls (the worker's thread blocks, as on a socket)
    with a wait between them that differs from job to job."""

    def __init__(self, pause: float, steps: int = 3) -> None:
        self.pause, self.left = pause, steps

    def step(self) -> float | None:
        time.sleep(0.002)
        self.left -= 1
        return self.pause if self.left else None

    def fail(self, exc: BaseException) -> None:
        raise AssertionError(exc)


def test_schedule_idle_workers_do_not_all_wake_for_each_step_due() -> None:
    # One idle worker waits on the clock for the next step; the others sleep until there is work. Every wake-up
    # reads the clock once, so the reads count them: when every idle worker waited on the clock, each step that
    # came due woke all of them (about 12 reads a step at 64 workers in the org audit's run).
    reads = 0

    def clock() -> float:
        nonlocal reads
        reads += 1
        return time.monotonic()

    jobs = [_Polling(pause=0.01 + (n % 7) * 0.003) for n in range(60)]
    run_jobs(jobs, workers=16, max_active=64, clock=clock)
    steps = 3 * len(jobs)
    assert all(job.left == 0 for job in jobs)
    # About 3 a step (the step itself, the hand-over of the timing, the timer running out); 8 before.
    assert reads <= 5 * steps, f"{reads} wake-ups for {steps} steps"


def test_run_jobs_given_up_leaves_no_worker_waiting() -> None:
    # Workers asleep in the scheduler's wait must be woken when it gives up, or each give-up leaks them for good
    # (in a warm Lambda: threads piling up, and no fork for the lister after the first).
    import threading
    import time

    from audit.schedule import run_jobs

    release = threading.Event()

    class Blocking:
        def step(self) -> None:
            release.wait(10)

        def fail(self, exc: BaseException) -> None:
            pass

    before = {t.ident for t in threading.enumerate()}
    finished = run_jobs([Blocking()], workers=4, max_active=4, give_up_at=time.monotonic() + 0.3)
    release.set()
    time.sleep(0.5)
    leaked = [t for t in threading.enumerate() if t.ident not in before and t.name.startswith("root-key-audit-")]
    assert (finished, leaked) == (False, [])
