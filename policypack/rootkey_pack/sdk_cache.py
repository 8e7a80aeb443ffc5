"""Convert each resource at most once per analyzer request, and only when a policy reads its properties: keeps
the PR check's cost flat as the pack gains policies (serves every control; measured by bench/pack_bench.py).

pulumi-policy's servicer (pulumi_policy.policy._PolicyAnalyzerServicer, 1.21) runs every policy of a request in a
loop, and for each policy converts every resource again: json_format.MessageToDict, deserialize_properties,
unknown_checking_proxy, the resource options and the provider. For AnalyzeStack that is the whole stack once per
stack policy, most of the pack's time on a 10,000-resource stack, although the policies read the properties of a
few types only. Inside a request, the three property conversions are deferred: the SDK gets a read-only mapping
that converts the message (with the SDK's own functions, so unknown values still raise UnknownValueError) on first
access, and the same mapping for every policy of the request. Options and providers are memoised likewise. Memos
are keyed by the identity of the message they came from (the memo holds the message, so an id cannot be reused
while it lives) and dropped when the call returns.

Every policy still runs on its own, with its own name, config, enforcement level and report function: only the
conversion is shared. The shared objects are read-only for this pack's validators, which copy what they read
(values.plain); a validator that wrote into `args.props` would now be seen by the next policy of the same request.
`install` checks the SDK version it was written against and fails loudly at start-up on another one, rather than
guess at changed internals.
"""

from __future__ import annotations

import functools
import threading
from contextlib import contextmanager
from collections.abc import Mapping
from typing import Any, Callable, Hashable, Iterator, Optional

import pulumi_policy.policy as sdk
import pulumi_policy.version as sdk_version

SDK_VERSION = "1.21.0"

_state = threading.local()
_REQUEST_METHODS = ("Analyze", "AnalyzeStack", "Remediate")
_CONVERSION_METHODS = ("_get_resource_options", "_get_provider_resource")


def _tables() -> Optional[dict[tuple[str, Any], tuple[Any, Any]]]:
    return getattr(_state, "tables", None)


def _memo(kind: str, source: Any, compute: Callable[[Any], Any]) -> Any:
    tables = getattr(_state, "tables", None)
    if tables is None:
        return compute(source)  # outside a request (Configure, tests): no sharing
    key = (kind, id(source))
    hit = tables.get(key)
    if hit is not None and hit[0] is source:
        return hit[1]
    value = compute(source)
    tables[key] = (source, value)
    return value


def request_value(key: Hashable, compute: Callable[[], Any]) -> Any:
    """`compute()`, once per request under `key` (for values derived from the whole request, such as the stack view
    every stack policy of an AnalyzeStack call builds from the same resources); computed afresh outside a request."""
    tables = getattr(_state, "tables", None)
    if tables is None:
        return compute()
    entry = tables.get(("value", key))
    if entry is None:
        entry = (None, compute())
        tables[("value", key)] = entry
    return entry[1]


def request_memo(source: Any, compute: Callable[[Any], Any]) -> Any:
    """`compute(source)`, shared by every policy of the current request (computed afresh outside one)."""
    return _memo("pack", source, compute)


@contextmanager
def request_scope() -> Iterator[None]:
    """Share conversions within one analyzer call (per thread: the gRPC server may serve calls concurrently)."""
    outer = _tables()
    if outer is not None:
        yield
        return
    _state.tables = {}
    try:
        yield
    finally:
        _state.tables = None


class _Pending:
    """A resource's properties message and the deserialize flags, converted later if at all."""

    __slots__ = ("message", "args")

    def __init__(self, message: Any, args: tuple[Any, ...] = ()) -> None:
        self.message = message
        self.args = args


class LazyProps(Mapping[str, Any]):
    """The SDK's unknown-checking proxy of one resource's properties, built on first access."""

    def __init__(self, pending: _Pending) -> None:
        self._pending = pending
        self._props: Optional[Mapping[str, Any]] = None

    @property
    def message(self) -> Any:
        return self._pending.message

    def _target(self) -> Mapping[str, Any]:
        if self._props is None:
            raw = _REAL["json_format"].MessageToDict(self._pending.message)
            self._props = _REAL["unknown_checking_proxy"](_REAL["deserialize_properties"](raw, *self._pending.args))
        return self._props

    def __getitem__(self, key: str) -> Any:
        return self._target()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._target())

    def __len__(self) -> int:
        return len(self._target())


_REAL: dict[str, Any] = {}


class _JsonFormat:
    """Stands in for google.protobuf.json_format inside the SDK module: within a request, MessageToDict returns the
    message's deferred proxy (one per message and request)."""

    def __init__(self, real: Any) -> None:
        self._real = real

    def MessageToDict(self, message: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N802 (protobuf's name)
        if args or kwargs or _tables() is None:
            return self._real.MessageToDict(message, *args, **kwargs)
        # The deferred proxy itself: deserialize_properties and unknown_checking_proxy pass it through.
        return _memo("props", message, lambda m: LazyProps(_Pending(m)))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def _deserialize_properties(props: Any, *args: Any) -> Any:
    if isinstance(props, LazyProps):
        # Analyze and AnalyzeStack pass no flag; Remediate asks for secrets proxies, and gets its own conversion.
        return LazyProps(_Pending(props.message, args)) if args and args[0] else props
    return _REAL["deserialize_properties"](props, *args)


def _unknown_checking_proxy(props: Any) -> Any:
    return props if isinstance(props, LazyProps) else _REAL["unknown_checking_proxy"](props)


def _wrap_request(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(self: Any, request: Any, context: Any) -> Any:
        with request_scope():
            return method(self, request, context)

    return call


def _wrap_conversion(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(self: Any, request: Any) -> Any:
        return _memo(name, request, lambda r: method(self, r))

    return call


def install() -> None:
    """Patch the SDK module once; idempotent."""
    if getattr(sdk, "_rootkey_sdk_cache", False):
        return
    servicer = sdk._PolicyAnalyzerServicer
    missing = [n for n in (*_REQUEST_METHODS, *_CONVERSION_METHODS) if not callable(getattr(servicer, n, None))] + [
        n for n in ("json_format", "deserialize_properties", "unknown_checking_proxy") if not hasattr(sdk, n)]
    if missing:
        raise RuntimeError(f"pulumi_policy no longer has {', '.join(missing)}; update rootkey_pack.sdk_cache for this SDK version")
    if sdk_version.VERSION != SDK_VERSION:
        raise RuntimeError(f"rootkey_pack.sdk_cache was written for pulumi-policy {SDK_VERSION}, not {sdk_version.VERSION}; "
                           "check the servicer's conversions and update it (or pin the SDK in requirements.txt)")
    _REAL.update(json_format=sdk.json_format, deserialize_properties=sdk.deserialize_properties,
                 unknown_checking_proxy=sdk.unknown_checking_proxy)
    sdk.json_format = _JsonFormat(sdk.json_format)  # type: ignore[assignment]
    sdk.deserialize_properties = _deserialize_properties  # type: ignore[assignment]
    sdk.unknown_checking_proxy = _unknown_checking_proxy  # type: ignore[assignment]
    for name in _CONVERSION_METHODS:
        setattr(servicer, name, _wrap_conversion(name, getattr(servicer, name)))
    for name in _REQUEST_METHODS:
        setattr(servicer, name, _wrap_request(getattr(servicer, name)))
    sdk._rootkey_sdk_cache = True  # type: ignore[attr-defined]
