"""The org audit's account listing in a forked child (audit.lister, for CIS 1.4 / Security Hub IAM.4 across an
organization): it relays what the same listing in this process would find, and every way it can end early is
the listing's ERROR. Each test forks on purpose, with a fake organizations client whose calls, made in the
child, leave the copy in this process untouched."""

from __future__ import annotations

import io
import os
import signal
import threading
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from audit import lister
from audit.aws import RetryPolicy
from audit.lister import ListingProcess, can_fork
from audit.org import Account, AccountListing, _account_from

POLICY = RetryPolicy(base_delay=0.01, max_delay=0.02, max_attempts=4, deadline_seconds=30.0, call_seconds=1.0)


def _account(account_id: str, state: str = "ACTIVE") -> dict[str, Any]:
    return {"Id": account_id, "Name": f"acct-{account_id}", "State": state}


def _pages(*pages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"Accounts": accounts, **({"NextToken": f"p{n + 2}"} if n + 1 < len(pages) else {})}
        for n, accounts in enumerate(pages)
    ]


class _Organizations:
    """ListAccounts page by page; an entry that is an exception is raised, a callable is called first."""

    def __init__(self, answers: list[Any]) -> None:
        self.answers = answers
        self.calls = 0

    def list_accounts(self, **kwargs: Any) -> dict[str, Any]:
        self.calls += 1
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer() if callable(answer) else answer


# The baseline: three pages, one account not ACTIVE, one listed twice.
BASELINE = _pages(
    [_account("111111111111"), _account("222222222222", "SUSPENDED")],
    [_account("333333333333"), _account("111111111111")],
    [_account("444444444444")],
)
BASELINE_FOUND = ["111111111111", "333333333333", "444444444444"]


def _in_this_process(answers: list[Any]) -> AccountListing:
    found: list[Account] = []
    listing = AccountListing(_Organizations(answers), found.append, policy=POLICY)
    while (pause := listing.step()) is not None:
        time.sleep(pause)
    return listing


def _forked(answers: list[Any], account: Any = _account_from) -> tuple[ListingProcess, list[str], _Organizations]:
    """The listing over `answers` in a child, relayed to the end: the process, the account ids relayed, and
    this process's copy of the client (which the child's calls do not touch)."""
    found: list[Account] = []
    organizations = _Organizations(list(answers))
    process = ListingProcess(
        AccountListing(organizations, found.append, policy=POLICY), account, sleep=time.sleep
    )
    try:
        while process.step() is not None:
            pass
    finally:
        process.close()
    return process, [a.account_id for a in found], organizations


def _still_listing() -> ListingProcess:
    """A listing process whose child is still in its first call (for a minute), so nothing has been sent."""
    return ListingProcess(
        AccountListing(_Organizations([lambda: time.sleep(60)]), lambda account: None, policy=POLICY),
        _account_from,
        sleep=time.sleep,
    )


def test_lister_relays_what_the_listing_finds_and_its_end() -> None:
    process, found, organizations = _forked(BASELINE)
    assert (found, process.listed, process.complete, process.error) == (BASELINE_FOUND, 3, True, None)
    assert organizations.calls == 0  # every call was made in the child
    assert process.pid is None  # reaped


def test_lister_relays_the_names() -> None:
    found: list[Account] = []
    process = ListingProcess(AccountListing(_Organizations(list(BASELINE)), found.append, policy=POLICY),
                             _account_from, sleep=time.sleep)
    while process.step() is not None:
        pass
    assert found[0] == Account(account_id="111111111111", name="acct-111111111111")


def test_lister_retries_a_throttled_page_in_the_child() -> None:
    throttled = ClientError({"Error": {"Code": "TooManyRequestsException", "Message": "Slow down."}}, "ListAccounts")
    process, found, _ = _forked([BASELINE[0], throttled, *BASELINE[1:]])
    assert (found, process.complete, process.error) == (BASELINE_FOUND, True, None)


@pytest.mark.parametrize(
    "bad_page",
    [
        {"Accounts": [{"Name": "no id", "State": "ACTIVE"}]},
        ClientError({"Error": {"Code": "AccessDeniedException", "Message": "Denied."}}, "ListAccounts"),
        {"Accounts": [_account("555555555555")], "NextToken": "p2"},  # a token the listing has followed already
    ],
    ids=["page-of-unexpected-shape", "access-denied", "repeated-token"],
)
def test_lister_ends_with_the_error_the_listing_in_this_process_would_give(bad_page: Any) -> None:
    answers = [BASELINE[0], bad_page, *BASELINE[1:]]
    expected = _in_this_process(list(answers)).error
    process, found, _ = _forked(answers)
    assert expected is not None
    assert (process.error, process.complete) == (expected, False)
    assert found[0] == "111111111111"  # the first page's account was relayed before the error


def test_lister_child_killed_is_the_listing_error() -> None:
    def die() -> dict[str, Any]:
        os.kill(os.getpid(), signal.SIGKILL)
        raise AssertionError("unreachable")

    process, found, _ = _forked([BASELINE[0], die])
    assert (found, process.complete) == (["111111111111"], False)
    assert process.error == (
        "organizations:ListAccounts: the listing process ended before the listing did (killed by signal 9)"
    )


def test_lister_message_that_cannot_be_read_is_the_listing_error_and_adds_none_of_it() -> None:
    def account(fields: Any) -> Account:
        if fields["account_id"] == "444444444444":
            raise ValueError("not this one")
        return _account_from(fields)

    # 444444444444 shares the last page with no other account; make that page hold two, the second one bad.
    answers = [*BASELINE[:2], {"Accounts": [_account("666666666666"), _account("444444444444")]}]
    process, found, _ = _forked(answers, account)
    assert found == ["111111111111", "333333333333"]
    assert process.error == (
        "organizations:ListAccounts: the listing process sent what could not be read (not this one)"
    )


@pytest.mark.parametrize(
    "fields",
    [{"account_id": 1, "name": "x"}, {"account_id": "1"}, {"account_id": "1", "name": "x", "extra": "y"}, ["1", "x"]],
)
def test_lister_account_of_unexpected_shape_is_refused(fields: Any) -> None:
    with pytest.raises(ValueError, match="an account of unexpected shape"):
        _account_from(fields)


def test_lister_close_ends_a_child_still_listing() -> None:
    process = _still_listing()
    pid = process.pid
    started = time.monotonic()
    process.close()
    assert time.monotonic() - started < 5
    assert process.pid is None
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # type: ignore[arg-type]


def test_lister_close_while_a_step_waits_ends_that_step_quietly(caplog: pytest.LogCaptureFixture) -> None:
    # Ctrl-C in the parent: the run closes the listing while a worker is blocked reading the pipe.
    process = _still_listing()
    result: list[float | None] = []
    reader = threading.Thread(target=lambda: result.append(process.step()))
    reader.start()
    time.sleep(0.2)
    process.close()
    reader.join(5)
    assert result == [None]
    assert process.error is None
    assert "ended before the listing did" not in caplog.text


def test_lister_child_ignores_ctrl_c() -> None:
    # On a terminal Ctrl-C reaches the child too; the parent answers it, and the child must not die of it.
    def interrupted() -> dict[str, Any]:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.1)
        return BASELINE[1]

    process, found, _ = _forked([BASELINE[0], interrupted, BASELINE[2]])
    assert (found, process.complete, process.error) == (BASELINE_FOUND, True, None)


def test_lister_forks_only_on_linux_without_other_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lister.sys, "platform", "linux")
    monkeypatch.setattr(lister.threading, "active_count", lambda: 1)
    assert can_fork()
    monkeypatch.setattr(lister.threading, "active_count", lambda: 2)
    assert not can_fork()
    monkeypatch.setattr(lister.threading, "active_count", lambda: 1)
    monkeypatch.setattr(lister.sys, "platform", "darwin")
    assert not can_fork()


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"not json\n", "Expecting value"),
        (b"[1, 2]\n", "a message of unexpected shape: [1, 2]"),
        (b'"accounts"\n', "a message of unexpected shape: 'accounts'"),
        (b'{"accounts": [{"account_id": "1"}]}\n', "an account of unexpected shape"),
        (b'{"end": {"error": 3, "complete": true}}\n', "an end of unexpected shape"),
        (b'{"end": {"error": null}}\n', "'complete'"),
        (b'{"other": 1}\n', "'end'"),
    ],
)
def test_lister_line_of_unexpected_shape_is_the_listing_error(line: bytes, reason: str) -> None:
    # What the child sends is this project's own, but a bad line must still end as the listing's ERROR.
    process = _still_listing()
    real = process._lines
    os.kill(process.pid, signal.SIGKILL)  # type: ignore[arg-type]
    process._lines = io.BufferedReader(io.BytesIO(line))  # type: ignore[assignment]
    real.close()
    assert process.step() is None
    assert process.error is not None
    assert process.error.startswith("organizations:ListAccounts: the listing process sent what could not be read (")
    assert reason in process.error
    assert (process.pid, process.complete, process.listed) == (None, False, 0)


def test_lister_step_after_close_ends_quietly(caplog: pytest.LogCaptureFixture) -> None:
    # A worker can still take the listing's step after Ctrl-C closed it: it ends with no error and no log.
    process = _still_listing()
    process.close()
    assert process.step() is None
    assert process.error is None
    assert caplog.records == []


class _Sts:
    def get_caller_identity(self) -> dict[str, str]:
        return {"Account": "000000000000"}

    def assume_role(self, **kwargs: Any) -> dict[str, Any]:
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "Not here."}}, "AssumeRole")


class _FakeClients:
    """Just what audit_organization asks of audit.aws.Clients before any account's report: every AssumeRole is
    denied, so each listed account ends as ERROR, and the run still says which accounts were listed."""

    partition = "aws"

    def __init__(self, organizations: _Organizations) -> None:
        self.organizations = organizations

    def __call__(self, service: str) -> Any:
        assert service == "sts"
        return _Sts()

    def scheduled(self, service: str) -> Any:
        return self.organizations if service == "organizations" else _Sts()


def test_org_audit_lists_in_its_own_process_when_fork_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    # No process to spare (EAGAIN): the audit lists in its own process, and leaks neither end of the pipe.
    import audit.org

    def no_fork() -> int:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    opened = len(os.listdir("/proc/self/fd"))
    monkeypatch.setattr(lister.os, "fork", no_fork)
    monkeypatch.setattr(audit.org, "can_fork", lambda: True)
    organizations = _Organizations(list(BASELINE))
    result = audit.org.audit_organization(
        _FakeClients(organizations), "RootKeyAuditRole", retry=POLICY, progress=False  # type: ignore[arg-type]
    )
    assert organizations.calls == 3  # listed here, in this process
    assert sorted(r.account_id for r in result.accounts) == BASELINE_FOUND
    assert result.errors == ()
    assert len(os.listdir("/proc/self/fd")) == opened
