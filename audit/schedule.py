"""A delay-queue scheduler for the organization-wide root access key audit (CIS 1.4, Security Hub IAM.4).

An account's audit is a few API calls separated by waits: the credential report takes seconds to build, and a
throttled call backs off. A thread per account would sit idle through every wait, so here a job is a sequence
of steps, each one API call, and between steps it waits in a heap keyed by the time it is due, holding no
thread. `workers` threads make the calls, so `workers` bounds the requests in flight. Each worker takes its
next step itself, under one lock, in this order; no dispatcher thread sits between two calls:

1. a step due at once (a job's next call with no wait, such as the generation right after AssumeRole);
2. a new job, while fewer than `max_active` are under way: the waits are what take time, so the sooner every
   account's report is being built, the more of them overlap, and the run ends one report window after the
   last start instead of trailing off. `max_active` keeps a long organization from starting everything at
   once, so a poll is held back by at most about two calls per active job spread over the workers;
3. a step whose wait is over (a poll, a backoff after throttling).

One idle worker waits on the clock for the next such step and hands the timing on when it takes it; the other
idle workers sleep until a step ends or jobs arrive, so a step coming due wakes one worker, not all of them.

New jobs can also arrive while the scheduler runs, through a `Feed` that a running job adds to: the
organization's listing is such a job, one page per step, so the first accounts are being audited while later
pages are still being fetched (AWS pages ListAccounts by 20 at most: 250 calls in a row for 5,000 accounts).

Worker threads are daemons: on Ctrl-C the main thread stops at once, and a call still in flight (bounded by
its timeouts) is abandoned rather than waited for.
"""

from __future__ import annotations

import collections
import heapq
import itertools
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol

# How often the waiting main thread looks up, so that Ctrl-C is seen at once.
_WAKE_S = 0.1


class Job(Protocol):
    def step(self) -> float | None:
        """Make one call. Returns the seconds until the next step is due, or None when the job is done."""

    def fail(self, exc: BaseException) -> None:
        """The step raised: end the job with this failure."""


class Feed:
    """Jobs for run_jobs that may still grow while it runs: a running job's step adds to it (`add`), and the
    scheduler takes them in order as new jobs. It is exhausted once it is empty with no job under way, since only
    a running job can add to it."""

    def __init__(self, jobs: Iterable[Job] = ()) -> None:
        # deque's append and popleft are atomic: the producer adds without the scheduler's lock.
        self._jobs: collections.deque[Job] = collections.deque(jobs)

    def add(self, job: Job) -> None:
        self._jobs.append(job)

    def __len__(self) -> int:
        return len(self._jobs)


class _Queue:
    """The scheduler's state; every method runs with `lock` held."""

    def __init__(
        self,
        jobs: Iterable[Job] | Feed,
        max_active: int,
        start: Callable[[Job], bool],
        done: Callable[[Job], None],
        clock: Callable[[], float],
        sleep: Callable[[float], None],
    ) -> None:
        self.lock = threading.Condition(threading.Lock())
        self.feed = jobs if isinstance(jobs, Feed) else None
        self.pending: Iterator[Job] = iter(()) if isinstance(jobs, Feed) else iter(jobs)
        self.max_active, self.start, self.done, self.clock, self.sleep = max_active, start, done, clock, sleep
        self.ready: collections.deque[Job] = collections.deque()  # due at once
        self.waiting: list[tuple[float, int, Job]] = []  # due later, by due time
        self.order = itertools.count()
        self.exhausted = False
        self.active = self.in_flight = 0
        self.stopping = False
        self.finished = threading.Event()
        self.timer: int | None = None  # the thread ident of the worker waiting for the next step to come due
        self.error: BaseException | None = None

    def take(self) -> Job | None:
        """The next step to run, waiting until one is due; None when everything is done or stopping."""
        while not self.stopping:
            now = self.clock()
            job = self._next(now)
            if job is not None:
                self.in_flight += 1
                if self.waiting and self.timer is None:
                    self.lock.notify(1)  # an idle worker takes over timing the next step
                return job
            if self.exhausted and self.active == 0:
                self.finish()
                return None
            if not self.waiting or (self.timer is not None and self.in_flight):
                self.lock.wait()  # a step in flight, or the timing worker, will wake this one when there is work
            elif self.in_flight == 0:
                # Nothing can come due sooner: sleep to the next step (a test's virtual clock advances here).
                self.sleep(max(0.0, self.waiting[0][0] - now))
            else:
                self._time(self.waiting[0][0] - now)
        return None

    def _next(self, now: float) -> Job | None:
        """The step to run now, in the module's order, if there is one."""
        if self.ready:
            return self.ready.popleft()
        while self.active < self.max_active and not self.exhausted:
            job = self._new_job()
            if job is None:
                break
            if self.start(job):
                self.active += 1
                return job
            self.done(job)
        if self.waiting and self.waiting[0][0] <= now:
            return heapq.heappop(self.waiting)[2]
        return None

    def _time(self, seconds: float) -> None:
        """Wait, as the one timing worker, until the next step is due or a put brings an earlier one. One worker
        on a timer, not every idle one: with 64 workers each woke for every step that came due, and the wake-ups
        that found nothing to do cost about a fifth of the audit's CPU."""
        me = threading.get_ident()
        self.timer = me
        try:
            self.lock.wait(max(0.0, seconds))
        finally:
            if self.timer == me:
                self.timer = None

    def _new_job(self) -> Job | None:
        """The next job not yet started, if there is one now; sets `exhausted` when there will be no more."""
        if self.feed is None:
            job = next(self.pending, None)
            self.exhausted = job is None
            return job
        if self.feed:
            return self.feed._jobs.popleft()
        # Only a job under way can add to the feed; with none, nothing ever will.
        self.exhausted = self.active == 0
        return None

    def put(self, job: Job, delay: float | None) -> None:
        self.in_flight -= 1
        if delay is None:
            self.active -= 1
            self.done(job)
        elif delay <= 0:
            self.ready.append(job)
        else:
            due = self.clock() + delay
            if not self.waiting or due < self.waiting[0][0]:
                # The timing worker waits for a later step (or none is timing): hand the timing to a worker now.
                self.timer = None
                self.lock.notify(1)
            heapq.heappush(self.waiting, (due, next(self.order), job))
        # This worker takes its own next step (a ready one first); a step may also have added jobs to the feed:
        # wake a worker for each of those.
        if self.feed:
            self.lock.notify(len(self.feed))

    def finish(self, error: BaseException | None = None) -> None:
        self.error = self.error or error
        self.stopping = True
        self.finished.set()
        self.lock.notify_all()


def run_jobs(
    jobs: Iterable[Job] | Feed,
    *,
    workers: int,
    max_active: int,
    start: Callable[[Job], bool] = lambda job: True,
    done: Callable[[Job], None] = lambda job: None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    give_up_at: float | None = None,
) -> bool:
    """Run every job to its end on `workers` threads, at most `max_active` jobs started and not done. True when
    every job ended; False when `give_up_at` (on `clock`) came first.

    Past `give_up_at` the scheduler stops and returns, and a call still in flight is abandoned to its daemon
    thread: a timeout bounds each socket read, not a whole answer, so an endpoint that trickles its answer a
    byte at a time could otherwise hold the run past the Lambda's timeout, with nothing published.

    start(job) is asked just before a job's first step; False means it is not started (and counts as done).
    done(job) is called when a job ends. Both run on a worker thread under the scheduler's lock. A
    KeyboardInterrupt stops everything and propagates; jobs not done by then get no done() call. With nothing in
    flight the scheduler sleeps until the next step is due, through `sleep`, so a test's virtual clock and sleep
    drive it without waiting.
    """
    if workers < 1 or max_active < 1:
        raise ValueError(f"run_jobs needs workers >= 1 and max_active >= 1, got {workers}, {max_active}")
    state = _Queue(jobs, max_active, start, done, clock, sleep)

    def work() -> None:
        with state.lock:
            try:
                while (job := state.take()) is not None:
                    state.lock.release()
                    try:
                        delay = job.step()
                    except Exception as exc:  # noqa: BLE001 - a job's surprise ends that job, not the scheduler
                        job.fail(exc)
                        delay = None
                    finally:
                        state.lock.acquire()
                    state.put(job, delay)
            except BaseException as exc:  # noqa: BLE001 - start/done failed: stop, and let the caller see it
                state.finish(exc)

    threads = [threading.Thread(target=work, name=f"root-key-audit-{n}", daemon=True) for n in range(workers)]
    for thread in threads:
        thread.start()
    try:
        while not state.finished.wait(_WAKE_S):
            if give_up_at is not None and clock() >= give_up_at:
                break
    finally:
        # Under the lock, and every waiting worker woken: one asleep in wait() would otherwise stay blocked for
        # good (in a warm Lambda, a thread leaked each run, and no fork for the lister after it).
        with state.lock:
            state.stopping = True
            state.lock.notify_all()
    if state.error is not None:
        raise state.error
    return state.finished.is_set()
