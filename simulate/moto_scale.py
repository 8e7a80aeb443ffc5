"""moto at organization scale: lookups that moto repeats on every request, made O(1), same answers.

moto resolves the caller's account on every request with `moto.iam.models.get_account_id_from`, which walks every
account's IAM backend in every partition looking for the access key (and creates the backends of partitions the
account never used on the way). `BackendDict._create_account_specific_backend`, reached on every
`backends[account_id]`, builds a list of every account id under a global lock to ask whether one is in it. Both are
harmless at a few accounts; at 5,000 they make each request cost milliseconds of emulator CPU, so a benchmark of
an audit of 5,000 accounts would measure moto's quadratic growth, not the audit (creating the organization alone
took over 20 minutes).

`install()` replaces both, for this process, with the same decisions made from an index:

- access keys: an index of key id -> account, filled where moto creates keys (`IAMBackend.create_access_key` and
  `create_temp_access_key`, the only places moto adds to `IAMBackend.access_keys`) and seeded from the backends
  that exist at install time. A hit is checked against the account's backends, so a key deleted or dropped by a
  reset is not found; an unknown key is the default account, as moto answers.
- account backends: `account_id in self`, a dict lookup, instead of `in list(self.keys())`.

Two more do not grow with accounts but are a third of moto's CPU per request in the server, so they set the
benchmark's emulator-CPU floor rather than anything the audit does:

- `moto.backends.list_of_moto_modules`, which lists moto's package directory and stats every entry on each
  request (under the dispatcher's global lock): the listing is taken once, as the installed package does not
  change while it runs;
- `moto.core.responses.method_names_from_class`, `inspect.getmembers` over a response class on each request:
  kept per class, and taken again when any class in its MRO gains or loses an attribute (the simulate modules
  add actions to moto's response classes, possibly after the first request).

And one that is quadratic in the listing: `OrganizationsBackend.list_accounts` describes and sorts every account
of the organization for each page, and the paginator then walks the sorted list to the token's account and slices
one page out; 250 pages of 5,000 accounts describe 1.25 million. Here the order (each account's JoinedTimestamp, its
unique attribute) is kept until the organization's accounts change, with where each timestamp first appears, so
the paginator starts at the token's account and only the page is described: the same pages, in the same order,
with the same tokens and the same errors. AWS serves a page in the same time whatever the organization's size;
moto took 14 ms of CPU a page at 5,000 accounts, each on the listing's path, which every account's audit waits for.

Nothing else in moto changes; `tests/simulate/test_moto_scale.py` compares the answers with moto's own.
"""

from __future__ import annotations

import functools
import threading
import weakref
from collections.abc import Callable
from typing import Any

__all__ = ["install", "installed", "original", "uninstall"]

_lock = threading.Lock()
_key_accounts: dict[str, str] = {}
_installed = False
# What install() replaced, by (owner, attribute), so that uninstall() can put it back.
_originals: dict[tuple[Any, str], Any] = {}


def installed() -> bool:
    return _installed


def _partitions_of(account_id: str) -> list[Any]:
    """The IAM backends `account_id` has, without creating any (moto's own indexing creates them)."""
    from moto.iam.models import iam_backends

    account = dict.get(iam_backends, account_id)
    return list(dict.values(account)) if account is not None else []


def _holds(account_id: str, access_key: str) -> bool:
    return any(access_key in backend.access_keys for backend in _partitions_of(account_id))


def get_account_id_from(access_key: str) -> str:
    """moto's `get_account_id_from`: the account whose IAM holds `access_key`, else moto's default account."""
    from moto.core import DEFAULT_ACCOUNT_ID

    with _lock:
        account_id = _key_accounts.get(access_key)
    if account_id is not None and _holds(account_id, access_key):
        return account_id
    return DEFAULT_ACCOUNT_ID


def _indexing(create: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(create)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        key = create(self, *args, **kwargs)
        with _lock:
            _key_accounts[key.physical_resource_id] = self.account_id
        return key

    return wrapper


def _create_account_specific_backend(self: Any, account_id: str) -> None:
    from moto.core.base_backend import AccountSpecificBackend, BackendDict, backend_lock

    with backend_lock:
        if not dict.__contains__(self, account_id):
            self[account_id] = AccountSpecificBackend(
                service_name=self.service_name,
                account_id=account_id,
                backend=self.backend,
                use_boto3_regions=self._use_boto3_regions,
                additional_regions=self._additional_regions,
            )
        # By identity: `in` would compare BackendDicts (dicts of every account) by value.
        if not any(instance is self for instance in BackendDict._instances):
            BackendDict._instances.append(self)


class _Listed:
    """An account as moto's paginator sees it: its unique attribute only, not yet described."""

    __slots__ = ("account", "JoinedTimestamp")

    def __init__(self, account: Any, joined: float) -> None:
        self.account, self.JoinedTimestamp = account, joined


_joined: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()


def _joined_timestamp(account: Any) -> float:
    from moto.core.utils import unix_time

    joined = _joined.get(account)
    if joined is None:
        joined = _joined[account] = unix_time(account.create_time)  # what describe() says
    return joined


class _Order:
    """An organization's accounts in moto's listing order, for as long as its accounts are these (`members`: their
    ids, which no other object can take while this holds them), and the index at which each JoinedTimestamp, as
    a token carries it, first appears: where moto's paginator would stop its walk."""

    __slots__ = ("members", "listed", "first")

    def __init__(self, accounts: list[Any], members: tuple[int, ...]) -> None:
        self.members = members
        self.listed = sorted((_Listed(a, _joined_timestamp(a)) for a in accounts), key=lambda e: e.JoinedTimestamp)
        self.first: dict[str, int] = {}
        for index, entry in enumerate(self.listed):
            self.first.setdefault(str(entry.JoinedTimestamp), index)


_orders: weakref.WeakKeyDictionary[Any, _Order] = weakref.WeakKeyDictionary()


def _order(backend: Any) -> _Order:
    accounts = list(backend.accounts)
    members = tuple(map(id, accounts))
    with _lock:
        order = _orders.get(backend)
    if order is None or order.members != members:
        order = _Order(accounts, members)
        with _lock:
            _orders[backend] = order
    return order


def list_accounts(self: Any, max_results: int | None = None, next_token: str | None = None) -> tuple[list[Any], Any]:
    """moto's paginated `OrganizationsBackend.list_accounts`, describing only the page."""
    from botocore.paginate import TokenDecoder  # what moto's paginator decodes its tokens with
    from moto.organizations.utils import PAGINATION_MODEL
    from moto.utilities.paginator import Paginator

    config = PAGINATION_MODEL["list_accounts"]
    # Checks the token as moto does, raising its errors.
    paginator = Paginator(
        max_results=max_results,
        max_results_default=config.get("limit_default"),
        starting_token=next_token,
        unique_attribute=config.get("unique_attribute"),
        param_values_to_check={},  # what moto's decorator checks: the call's arguments less token and limit
        fail_on_invalid_token=config.get("fail_on_invalid_token", True),
    )
    order = _order(self)
    limit = max_results if max_results else config.get("limit_default")
    listed = order.listed
    try:
        start = order.first[TokenDecoder().decode(next_token)["uniqueAttributes"].split("|")[0]] if next_token else 0
    except Exception:  # noqa: BLE001 - a token that names no account: moto's own walk gives moto's own answer
        start = None
    if start is not None and isinstance(limit, int) and limit > 0:
        # From the token's account on, and one past the page, from which moto builds the next token.
        listed = listed[start:start + limit + 1]
    page, token = paginator.paginate(listed)
    return [entry.account.describe() for entry in page], token


_module_names: tuple[str, ...] | None = None
# class -> (the attribute count of each class in its MRO when taken, its function names)
_method_names: dict[type, tuple[tuple[int, ...], list[str]]] = {}


def list_of_moto_modules() -> tuple[str, ...]:
    """moto's `list_of_moto_modules`, listed once."""
    global _module_names
    names = _module_names
    if names is None:
        import moto.backends

        names = _module_names = tuple(original(moto.backends, "list_of_moto_modules")())
    return names


def method_names_from_class(clazz: type) -> list[str]:
    """moto's `method_names_from_class`, kept until the class or a base gains or loses an attribute."""
    import moto.core.responses

    shape = tuple(len(vars(c)) for c in clazz.__mro__)
    hit = _method_names.get(clazz)
    if hit is not None and hit[0] == shape:
        return hit[1]
    names = original(moto.core.responses, "method_names_from_class")(clazz)
    _method_names[clazz] = (shape, names)
    return names


def install() -> None:
    """Patch moto in this process (idempotent). Call before the server or mock starts serving."""
    global _installed
    import moto.backends as moto_backends
    import moto.core.responses as moto_responses
    import moto.iam.models as iam_models
    from moto.core.base_backend import BackendDict
    from moto.organizations.models import OrganizationsBackend

    with _lock:
        if _installed:
            return
        for owner, name in (
            (iam_models.IAMBackend, "create_access_key"),
            (iam_models.IAMBackend, "create_temp_access_key"),
            (iam_models, "get_account_id_from"),
            (BackendDict, "_create_account_specific_backend"),
            (moto_backends, "list_of_moto_modules"),
            (moto_responses, "method_names_from_class"),
            (OrganizationsBackend, "list_accounts"),
        ):
            _originals[(owner, name)] = getattr(owner, name)
        for account_id, partitions in list(dict.items(iam_models.iam_backends)):
            for backend in list(dict.values(partitions)):
                for key_id in list(backend.access_keys):
                    _key_accounts[key_id] = account_id
        iam_models.IAMBackend.create_access_key = _indexing(iam_models.IAMBackend.create_access_key)
        iam_models.IAMBackend.create_temp_access_key = _indexing(iam_models.IAMBackend.create_temp_access_key)
        # moto.core.responses and simulate.slow_moto import the function from the module at each call.
        iam_models.get_account_id_from = get_account_id_from
        BackendDict._create_account_specific_backend = _create_account_specific_backend
        # moto's dispatcher and BaseResponse call these through the module attribute at each request.
        moto_backends.list_of_moto_modules = list_of_moto_modules
        moto_responses.method_names_from_class = method_names_from_class
        OrganizationsBackend.list_accounts = list_accounts
        _installed = True


def original(owner: Any, name: str) -> Any:
    """What install() replaced (for tests that compare the two)."""
    return _originals[(owner, name)]


def uninstall() -> None:
    """Put moto back as it was and forget the index and the memos."""
    global _installed, _module_names
    with _lock:
        for (owner, name), value in _originals.items():
            setattr(owner, name, value)
        _originals.clear()
        _key_accounts.clear()
        _method_names.clear()
        _orders.clear()
        _module_names = None
        _installed = False
