"""The organization's account listing (organizations:ListAccounts, for the CIS 1.4 / Security Hub IAM.4 audit of
every member account) in a forked child process, so that its pages follow one another at the API's pace.

ListAccounts pages by 20 at most, one page after another: 25 calls in a row for 500 accounts, and the last
account's audit starts only after the last page. In the audit's process every page's call competes for the
interpreter lock with up to 64 accounts' calls: it gives the lock up at each socket operation and waits for it
each time again, and a page took about twice its API latency. In its own process, with the lock to itself, the
listing keeps the API's pace; the audit's process reads each page's accounts from a pipe, one wait for the lock
a page.

The child runs the same AccountListing (its retries, deadlines, checks of each page, dedupe) and sends each
page's accounts as a line of JSON, then how the listing ended. It is forked only from a process with no other
thread (so no lock can be held by a thread that does not exist in the child), on Linux, with Ctrl-C ignored (the
parent answers it and ends the child); it ends with os._exit, so nothing of the parent's (buffered output, exit
handlers) runs twice. Anything that ends the child early, or a line the parent cannot read, is the listing's
ERROR, never a shorter organization.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any, Protocol

LOG = logging.getLogger(__name__)


class Listing(Protocol):
    """What ListingProcess runs in the child and stands in for in the parent (audit.org.AccountListing)."""

    found: Callable[[Any], None]
    error: str | None
    complete: bool
    listed: int

    def step(self) -> float | None: ...

    def fail(self, exc: BaseException) -> None: ...


def can_fork() -> bool:
    """Whether this process may fork a lister: Linux (macOS's system libraries may not survive a fork without
    exec), and no other thread (a lock one of them holds would stay held forever in the child)."""
    return sys.platform == "linux" and hasattr(os, "fork") and threading.active_count() == 1


class ListingProcess:
    """`listing` run in a forked child from construction on. In this process, a job for audit.schedule whose
    step relays the accounts of the child's next page, or its end, to `found`, and `error`, `complete` and
    `listed` as the listing's own. The child sends each account (a dataclass) as its fields, and `account` makes
    it again from them, raising ValueError on anything else; `sleep` waits out the listing's pauses (its retries)
    in the child. close() ends the child, whatever its state."""

    def __init__(
        self,
        listing: Listing,
        account: Callable[[Any], Any],
        *,
        sleep: Callable[[float], None],
    ) -> None:
        self.found, self.account = listing.found, account
        self.error: str | None = None
        self.complete = False
        self.listed = 0
        self._closing = False
        read_end, write_end = os.pipe()
        # SIGINT stays blocked from before the fork until the child ignores it: a Ctrl-C in between would
        # otherwise raise in the child and unwind it into the parent's code.
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            try:
                pid = os.fork()
            except OSError:
                os.close(read_end)
                os.close(write_end)
                raise
            if pid == 0:
                _child(listing, read_end, write_end, previous, sleep)  # never returns
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        os.close(write_end)
        self.pid: int | None = pid
        self._lines = os.fdopen(read_end, "rb")

    def step(self) -> float | None:
        try:
            line = self._lines.readline()
        except ValueError:
            if self._closing:
                return None  # closed before this step could read (Ctrl-C): the run has reported the listing
            raise
        if self._closing:
            return None  # closed while this step waited (Ctrl-C): the run has already reported the listing
        try:
            message = json.loads(line) if line else None
            if message is not None and not isinstance(message, dict):
                raise ValueError(f"a message of unexpected shape: {message!r}")
            if message is not None and "accounts" in message:
                # The whole message is read before any of it is handed on, as AccountListing does with a page.
                accounts = [self.account(account) for account in message["accounts"]]
            elif message is not None:
                end = message["end"]
                error, complete = end["error"], end["complete"]
                if not (error is None or isinstance(error, str)) or not isinstance(complete, bool):
                    raise ValueError(f"an end of unexpected shape: {end!r}")
        except (ValueError, KeyError, TypeError) as exc:
            self._end(f"organizations:ListAccounts: the listing process sent what could not be read ({exc})")
            return None
        if message is None:
            status = self._reap()
            self._end(f"organizations:ListAccounts: the listing process ended before the listing did ({status})")
            return None
        if "accounts" in message:
            for account in accounts:
                self.listed += 1
                self.found(account)
            return 0.0
        self._reap()
        self.error, self.complete = error, complete
        return None

    def fail(self, exc: BaseException) -> None:
        LOG.error("organizations:ListAccounts: unexpected failure relaying the listing process", exc_info=exc)
        self._end(f"organizations:ListAccounts: unexpected {type(exc).__name__} relaying the listing process: {exc}")

    def close(self) -> None:
        """End the child if it still runs (an interrupted or failed run), and reap it."""
        self._closing = True
        if self.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            self._reap()
        self._lines.close()  # waits for a step reading it: the child's end has ended its read

    def _end(self, error: str) -> None:
        LOG.error("%s", error)
        self.error = error
        self.close()

    def _reap(self) -> str:
        if self.pid is None:
            return "already reaped"
        pid, self.pid = self.pid, None
        try:
            _, status = os.waitpid(pid, 0)
        except ChildProcessError:
            return "not found"
        if os.WIFSIGNALED(status):
            return f"killed by signal {os.WTERMSIG(status)}"
        return f"exit status {os.waitstatus_to_exitcode(status)}"


def _child(
    listing: Listing, read_end: int, write_end: int, mask: Iterable[int], sleep: Callable[[float], None]
) -> None:
    code = 1
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        os.close(read_end)

        def send(message: dict[str, Any]) -> None:
            data = (json.dumps(message) + "\n").encode()
            while data:
                data = data[os.write(write_end, data):]

        page: list[dict[str, Any]] = []
        listing.found = lambda account: page.append(dataclasses.asdict(account))
        while True:
            try:
                pause = listing.step()
            except Exception as exc:  # noqa: BLE001 - as the scheduler does: the listing's surprise is its ERROR
                listing.fail(exc)
                pause = None
            if page:
                send({"accounts": page})
                page.clear()
            if pause is None:
                break
            if pause > 0:
                sleep(pause)
        send({"end": {"error": listing.error, "complete": listing.complete}})
        code = 0
    except BaseException:  # noqa: BLE001 - nothing may unwind into the parent's code: the parent reports the end
        pass
    finally:
        os._exit(code)
