"""moto at organization scale: two lookups that cost O(accounts) on every request, made O(1), same answers.

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

Nothing else in moto changes; `tests/simulate/test_moto_scale.py` compares the answers with moto's own.
"""

from __future__ import annotations

import functools
import threading
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
        if self not in BackendDict._instances:
            BackendDict._instances.append(self)


def install() -> None:
    """Patch moto in this process (idempotent). Call before the server or mock starts serving."""
    global _installed
    import moto.iam.models as iam_models
    from moto.core.base_backend import BackendDict

    with _lock:
        if _installed:
            return
        for owner, name in (
            (iam_models.IAMBackend, "create_access_key"),
            (iam_models.IAMBackend, "create_temp_access_key"),
            (iam_models, "get_account_id_from"),
            (BackendDict, "_create_account_specific_backend"),
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
        _installed = True


def original(owner: Any, name: str) -> Any:
    """What install() replaced (for tests that compare the two)."""
    return _originals[(owner, name)]


def uninstall() -> None:
    """Put moto back as it was and forget the index."""
    global _installed
    with _lock:
        for (owner, name), value in _originals.items():
            setattr(owner, name, value)
        _originals.clear()
        _key_accounts.clear()
        _installed = False
