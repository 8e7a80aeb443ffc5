"""Tests for simulate.moto_scale: moto's caller-account lookup and account backends made O(1) for the 5,000-account
benchmark of the root access key audit (CIS 1.4, Security Hub IAM.4) must answer exactly as moto's own do."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
import moto.backends as moto_backends
import moto.core.responses as moto_responses
from moto.core.base_backend import BackendDict
from moto.iam import models as iam_models
from moto.iam.responses import IamResponse
from moto.organizations.models import OrganizationsBackend
from moto.sts.responses import TokenResponse

from simulate import moto_scale

MEMBER_A = "111111111111"
MEMBER_B = "222222222222"
UNKNOWN_KEY = "AKIAUNKNOWNUNKNOWN00"


@pytest.fixture(autouse=True)
def _aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture
def scaled() -> Iterator[None]:
    moto_scale.install()
    try:
        yield
    finally:
        moto_scale.uninstall()


def _moto_answer(access_key: str) -> str:
    return moto_scale.original(iam_models, "get_account_id_from")(access_key)


def _assume(account_id: str) -> dict[str, str]:
    sts = boto3.client("sts", region_name="us-east-1")
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{account_id}:role/any", RoleSessionName="probe")["Credentials"]
    return {
        "aws_access_key_id": creds["AccessKeyId"],
        "aws_secret_access_key": creds["SecretAccessKey"],
        "aws_session_token": creds["SessionToken"],
    }


def _user_key(**creds: Any) -> str:
    iam = boto3.client("iam", region_name="us-east-1", **creds)
    iam.create_user(UserName="u")
    return str(iam.create_access_key(UserName="u")["AccessKey"]["AccessKeyId"])


def test_moto_scale_same_account_as_moto_for_every_kind_of_key(scaled: None) -> None:
    with mock_aws():
        temp_a = _assume(MEMBER_A)
        keys = {
            "default account user key": _user_key(),
            "temporary key in A": temp_a["aws_access_key_id"],
            "user key made in A": _user_key(**temp_a),
            "temporary key in B": _assume(MEMBER_B)["aws_access_key_id"],
            "static test key": "testing",
            "never issued": UNKNOWN_KEY,
        }
        answers = {what: (moto_scale.get_account_id_from(key), _moto_answer(key)) for what, key in keys.items()}
    assert {what: ours for what, (ours, _) in answers.items()} == {
        "default account user key": DEFAULT_ACCOUNT_ID,
        "temporary key in A": MEMBER_A,
        "user key made in A": MEMBER_A,
        "temporary key in B": MEMBER_B,
        "static test key": DEFAULT_ACCOUNT_ID,
        "never issued": DEFAULT_ACCOUNT_ID,
    }
    assert all(ours == moto for ours, moto in answers.values()), answers


def test_moto_scale_requests_resolve_through_the_index(scaled: None) -> None:
    # moto.core.responses looks the function up at each request: an assumed role's calls land in its account.
    with mock_aws():
        creds = _assume(MEMBER_A)
        identity = boto3.client("sts", region_name="us-east-1", **creds).get_caller_identity()
    assert identity["Account"] == MEMBER_A


def test_moto_scale_deleted_key_is_default_account(scaled: None) -> None:
    with mock_aws():
        creds = _assume(MEMBER_A)
        key = _user_key(**creds)
        boto3.client("iam", region_name="us-east-1", **creds).delete_access_key(UserName="u", AccessKeyId=key)
        assert (moto_scale.get_account_id_from(key), _moto_answer(key)) == (DEFAULT_ACCOUNT_ID, DEFAULT_ACCOUNT_ID)


def test_moto_scale_reset_forgets_keys(scaled: None) -> None:
    with mock_aws():
        key = _assume(MEMBER_A)["aws_access_key_id"]
    # Leaving mock_aws resets every backend, as the server's /moto-api/reset does.
    with mock_aws():
        assert (moto_scale.get_account_id_from(key), _moto_answer(key)) == (DEFAULT_ACCOUNT_ID, DEFAULT_ACCOUNT_ID)


def test_moto_scale_keys_made_before_install_are_found() -> None:
    with mock_aws():
        key = _assume(MEMBER_A)["aws_access_key_id"]
        moto_scale.install()
        try:
            assert moto_scale.get_account_id_from(key) == MEMBER_A
        finally:
            moto_scale.uninstall()


def test_moto_scale_lookup_creates_no_backends(scaled: None) -> None:
    # moto's own walk creates every partition's IAM backend in every account it passes: memory and time per request.
    with mock_aws():
        key = _assume(MEMBER_A)["aws_access_key_id"]
        before = {a: sorted(dict.keys(p)) for a, p in dict.items(iam_models.iam_backends)}
        moto_scale.get_account_id_from(key)
        moto_scale.get_account_id_from(UNKNOWN_KEY)
        after = {a: sorted(dict.keys(p)) for a, p in dict.items(iam_models.iam_backends)}
    assert after == before


def test_moto_scale_account_backend_made_once_and_tracked_for_reset(scaled: None) -> None:
    with mock_aws():
        first = iam_models.iam_backends[MEMBER_B]
        assert iam_models.iam_backends[MEMBER_B] is first
        assert iam_models.iam_backends in BackendDict._instances
        first["aws"].create_user("us-east-1", "u")
    with mock_aws():
        assert MEMBER_B not in iam_models.iam_backends


def test_moto_scale_module_list_same_as_motos(scaled: None) -> None:
    listed = moto_backends.list_of_moto_modules()
    assert list(listed) == list(moto_scale.original(moto_backends, "list_of_moto_modules")())
    assert "iam" in listed and "sts" in listed
    assert moto_backends.list_of_moto_modules() is listed  # taken once


def test_moto_scale_method_names_same_as_motos(scaled: None) -> None:
    moto_names = moto_scale.original(moto_responses, "method_names_from_class")
    for response_class in (IamResponse, TokenResponse):
        assert moto_responses.method_names_from_class(response_class) == moto_names(response_class)


def test_moto_scale_method_names_see_an_action_added_later(scaled: None) -> None:
    # simulate.moto_org_features adds IAM actions to moto's response class, possibly after the first request.
    class Base:
        def inherited(self) -> None: ...

    class Response(Base):
        def get_thing(self) -> None: ...

    assert moto_responses.method_names_from_class(Response) == ["get_thing", "inherited"]
    Response.put_thing = lambda self: None  # type: ignore[attr-defined]
    assert moto_responses.method_names_from_class(Response) == ["get_thing", "inherited", "put_thing"]
    Base.base_thing = lambda self: None  # type: ignore[attr-defined]
    assert "base_thing" in moto_responses.method_names_from_class(Response)
    del Response.get_thing
    assert "get_thing" not in moto_responses.method_names_from_class(Response)


def test_moto_scale_requests_dispatch_through_the_memos(scaled: None) -> None:
    with mock_aws():
        iam = boto3.client("iam", region_name="us-east-1")
        iam.create_user(UserName="u")
        assert [u["UserName"] for u in iam.list_users()["Users"]] == ["u"]


def _org_backend_with_accounts(count: int) -> Any:
    from moto.organizations.models import organizations_backends

    orgs = boto3.client("organizations", region_name="us-east-1")
    orgs.create_organization(FeatureSet="ALL")
    for n in range(count):
        orgs.create_account(Email=f"a{n}@example.com", AccountName=f"a{n}")
    return organizations_backends[DEFAULT_ACCOUNT_ID]["aws"]


@pytest.mark.parametrize("max_results", [None, 7, 20])
def test_moto_scale_account_pages_and_tokens_same_as_motos(scaled: None, max_results: int | None) -> None:
    from moto.organizations.models import OrganizationsBackend

    moto_list = moto_scale.original(OrganizationsBackend, "list_accounts")
    with mock_aws():
        backend = _org_backend_with_accounts(44)
        ours, theirs = [], []
        for lister, pages in ((moto_scale.list_accounts, ours), (moto_list, theirs)):
            token = None
            while True:
                page, token = lister(backend, max_results=max_results, next_token=token)
                pages.append(([a["Id"] for a in page], token))
                if token is None:
                    break
    assert ours == theirs
    assert sum(len(ids) for ids, _ in ours) == 45


def test_moto_scale_account_listing_bad_token_same_error_as_motos(scaled: None) -> None:
    from moto.core.exceptions import InvalidToken
    from moto.organizations.models import OrganizationsBackend

    with mock_aws():
        backend = _org_backend_with_accounts(2)
        for lister in (moto_scale.list_accounts, moto_scale.original(OrganizationsBackend, "list_accounts")):
            with pytest.raises(InvalidToken):
                lister(backend, next_token="bm90IGEgdG9rZW4=")


def test_moto_scale_account_listing_describes_only_the_page(scaled: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.organizations.models import FakeAccount

    with mock_aws():
        backend = _org_backend_with_accounts(44)
        described: list[str] = []
        describe = FakeAccount.describe
        monkeypatch.setattr(FakeAccount, "describe", lambda self: described.append(self.id) or describe(self))
        _, token = moto_scale.list_accounts(backend, max_results=20)
        moto_scale.list_accounts(backend, max_results=20, next_token=token)
    assert len(described) == 40


def _both_pages(backend: Any, max_results: int, token: str | None) -> tuple[Any, Any]:
    """One page from moto_scale and from moto on the same backend: (ids, next token), or the error's type."""
    answers = []
    for lister in (moto_scale.list_accounts, moto_scale.original(OrganizationsBackend, "list_accounts")):
        try:
            page, next_token = lister(backend, max_results=max_results, next_token=token)
            answers.append(([a["Id"] for a in page], next_token))
        except Exception as exc:  # noqa: BLE001 - the error itself is what is compared
            answers.append(type(exc))
    return answers[0], answers[1]


def _change_added(backend: Any) -> None:
    boto3.client("organizations", region_name="us-east-1").create_account(Email="new@example.com", AccountName="new")


def _change_removed_later(backend: Any) -> None:
    backend.accounts.pop()  # an account of a later page leaves the organization


def _change_removed_next(backend: Any) -> None:
    backend.accounts.pop(8)  # the account the token names (the 9th: max_results 8) leaves


@pytest.mark.parametrize("change", [_change_added, _change_removed_later, _change_removed_next])
def test_moto_scale_account_pages_same_as_motos_when_the_organization_changes(
    scaled: None, change: Callable[[Any], None]
) -> None:
    with mock_aws():
        backend = _org_backend_with_accounts(20)
        ours, theirs = _both_pages(backend, 8, None)
        assert ours == theirs
        change(backend)
        token = ours[1]
        while token is not None:
            ours, theirs = _both_pages(backend, 8, token)
            assert ours == theirs
            token = ours[1] if isinstance(ours, tuple) else None


def test_moto_scale_account_pages_same_as_motos_when_accounts_joined_at_one_moment(scaled: None) -> None:
    with mock_aws():
        backend = _org_backend_with_accounts(20)
        # The 9th account (the first token's, at 8 a page) joined with the 8th: the token's timestamp is both
        # accounts', and moto goes on from the first of them, listing it again.
        backend.accounts[8].create_time = backend.accounts[7].create_time
        pages = []
        token = None
        while True:
            ours, theirs = _both_pages(backend, 8, token)
            assert ours == theirs
            pages.append(ours[0])
            token = ours[1]
            if token is None:
                break
    assert pages[1][0] == pages[0][-1]


def test_moto_scale_account_page_walks_only_the_page(scaled: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.utilities.paginator import Paginator

    walked: list[int] = []
    paginate = Paginator.paginate
    monkeypatch.setattr(Paginator, "paginate", lambda self, results: walked.append(len(results)) or paginate(self, results))
    with mock_aws():
        backend = _org_backend_with_accounts(44)
        token = None
        while True:
            _, token = moto_scale.list_accounts(backend, max_results=20, next_token=token)
            if token is None:
                break
    # 45 accounts by 20: each page is handed its own accounts and the next one, from which the token is made.
    assert walked == [21, 21, 5]


def _patched() -> tuple[Any, ...]:
    """Everything moto_scale replaces, as moto has it now."""
    return (
        iam_models.get_account_id_from,
        iam_models.IAMBackend.create_access_key,
        iam_models.IAMBackend.create_temp_access_key,
        BackendDict._create_account_specific_backend,
        moto_backends.list_of_moto_modules,
        moto_responses.method_names_from_class,
        OrganizationsBackend.list_accounts,
    )


def test_moto_scale_uninstall_restores_moto() -> None:
    saved = _patched()
    moto_scale.install()
    assert all(now is not before for now, before in zip(_patched(), saved))
    moto_scale.install()  # idempotent: the second call must not wrap the wrappers
    assert moto_scale.installed()
    moto_scale.uninstall()
    assert not moto_scale.installed()
    assert _patched() == saved


def test_moto_scale_uninstall_forgets_the_listing_orders() -> None:
    moto_scale.install()
    try:
        with mock_aws():
            backend = _org_backend_with_accounts(3)
            moto_scale.list_accounts(backend, max_results=2)
            assert len(moto_scale._orders) == 1
    finally:
        moto_scale.uninstall()
    assert len(moto_scale._orders) == 0
