"""A delay-queue scheduler for the organization-wide root access key audit (CIS 1.4, Security Hub IAM.4).

An account's audit is a few API calls separated by waits: the credential report takes seconds to build, and a
throttled call backs off. A thread per account would sit idle through every wait, so here a job is a sequence
of steps, each one API call, and between steps it waits in a heap keyed by the time it is due, holding no
thread. `workers` threads make the calls, so `workers` bounds the requests in flight; steps that are due go
before new jobs, so started accounts finish (and a long organization does not start everything at once).

Worker threads are daemons: on Ctrl-C the main thread stops at once, and a call still in flight (bounded by
its timeouts) is abandoned rather than waited for.
"""

from __future__ import annotations

import heapq
import itertools
import queue
import threading
import time
from collections.abc import Callable, Iterable
from typing import Protocol


class Job(Protocol):
    def step(self) -> float | None:
        """Make one call. Returns the seconds until the next step is due, or None when the job is done."""

    def fail(self, exc: BaseException) -> None:
        """The step raised: end the job with this failure."""


def run_jobs(
    jobs: Iterable[Job],
    *,
    workers: int,
    max_active: int,
    start: Callable[[Job], bool] = lambda job: True,
    done: Callable[[Job], None] = lambda job: None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Run every job to its end on `workers` threads, at most `max_active` jobs started and not done.

    start(job) is asked just before a job's first step; False means it is not started (and counts as done).
    done(job) is called in this thread when a job ends. A KeyboardInterrupt stops everything and propagates;
    jobs not done by then get no done() call. With nothing in flight the scheduler sleeps until the next step
    is due, through `sleep`, so a test's virtual clock and sleep drive it without waiting.
    """
    if workers < 1 or max_active < 1:
        raise ValueError(f"run_jobs needs workers >= 1 and max_active >= 1, got {workers}, {max_active}")
    ready: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
    finished: queue.SimpleQueue[tuple[Job, float | None]] = queue.SimpleQueue()
    stopping = threading.Event()

    def work() -> None:
        while (job := ready.get()) is not None:
            if stopping.is_set():
                return
            try:
                delay = job.step()
            except Exception as exc:  # noqa: BLE001 - a job's surprise ends that job, not the scheduler
                job.fail(exc)
                delay = None
            finished.put((job, delay))

    threads = [threading.Thread(target=work, name=f"root-key-audit-{n}", daemon=True) for n in range(workers)]
    for thread in threads:
        thread.start()
    waiting: list[tuple[float, int, Job]] = []
    order = itertools.count()
    pending = iter(jobs)
    exhausted = False
    active = in_flight = 0
    try:
        while True:
            now = clock()
            while in_flight < workers and waiting and waiting[0][0] <= now:
                ready.put(heapq.heappop(waiting)[2])
                in_flight += 1
            while in_flight < workers and active < max_active and not exhausted:
                job = next(pending, None)
                if job is None:
                    exhausted = True
                elif start(job):
                    ready.put(job)
                    in_flight += 1
                    active += 1
                else:
                    done(job)
            if exhausted and active == 0:
                return
            timeout = None
            if waiting and in_flight == 0:
                sleep(max(0.0, waiting[0][0] - clock()))
                continue
            if waiting and in_flight < workers:
                timeout = max(0.0, waiting[0][0] - clock())
            try:
                job, delay = finished.get(timeout=timeout)
            except queue.Empty:
                continue
            in_flight -= 1
            if delay is None:
                active -= 1
                done(job)
            else:
                heapq.heappush(waiting, (clock() + delay, next(order), job))
    finally:
        stopping.set()
        for _ in threads:
            ready.put(None)
