"""Terraform values <-> the protocol's msgpack encoding, driven by a schema block (docs/plugin-protocol's
object-wire-format).

Wire layer, Terraform names only. Python values: dict (object, map, block), list (list, set, tuple, blocks),
str, int/float, bool, None (null) and `UNKNOWN_VALUE` (a value decided only at apply, msgpack extension 0).
Encoding checks every value against its type: an attribute or block the schema does not have is an `EncodeError`
naming its path, never dropped. Conversions the Terraform language makes on its own are made here too
(a bool or number where a string is expected, a numeric string where a number is expected).
"""

from __future__ import annotations

import json
import math
from typing import Any

import msgpack

from preflight.tfprovider.schema import Block, NestedBlock


class _Unknown:
    __slots__ = ()

    def __repr__(self) -> str:
        return "UNKNOWN_VALUE"

    def __reduce__(self) -> str:
        return "UNKNOWN_VALUE"


UNKNOWN_VALUE = _Unknown()
_UNKNOWN_EXT = msgpack.ExtType(0, b"")


class EncodeError(ValueError):
    """A value does not fit its schema. `path` is the Terraform attribute path, e.g. ("rule", 0, "status")."""

    def __init__(self, path: tuple, message: str) -> None:
        super().__init__(f"{format_path(path)}: {message}" if path else message)
        self.path = path
        self.reason = message


def format_path(path: tuple) -> str:
    """("rule", 0, "status") -> "rule[0].status"."""
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else step)
    return out


# ---------------------------------------------------------------------------------------------------- encoding

def encode_block(block: Block, value: Any, path: tuple = (), json_form: bool = False) -> Any:
    """A block's value (dict of attribute and nested block values) as msgpack-ready data, or with `json_form` as
    JSON-ready data (the protocol's JSON encoding, used for stored state: no unknowns)."""
    if value is None:
        return None
    if value is UNKNOWN_VALUE:
        return _unknown(path, json_form)
    if not isinstance(value, dict):
        raise EncodeError(path, f"expected an object, got {_kind(value)}")
    unknown = sorted(set(value) - set(block.attributes) - set(block.blocks))
    if unknown:
        raise EncodeError(path + (unknown[0],), "unsupported attribute or block")
    out: dict[str, Any] = {}
    for name, attr in block.attributes.items():
        out[name] = encode_value(attr.type, value.get(name), path + (name,), json_form)
    for name, nested in block.blocks.items():
        out[name] = _encode_nested(nested, value.get(name), path + (name,), json_form)
    return out


def _encode_nested(nested: NestedBlock, value: Any, path: tuple, json_form: bool) -> Any:
    if value is UNKNOWN_VALUE:
        return _unknown(path, json_form)
    mode = nested.nesting
    if mode in ("single", "group"):
        if value is None and mode == "group":
            value = {}
        return encode_block(nested.block, value, path, json_form)
    if mode == "map":
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise EncodeError(path, f"expected a map of blocks, got {_kind(value)}")
        return {str(k): encode_block(nested.block, v, path + (k,), json_form) for k, v in value.items()}
    # list and set: Terraform sends an absent block type as an empty collection, never null.
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise EncodeError(path, f"expected a list of blocks, got {_kind(value)}")
    for i, v in enumerate(value):
        if v is None:
            raise EncodeError(path + (i,), "a nested block cannot be null")
    return [encode_block(nested.block, v, path + (i,), json_form) for i, v in enumerate(value)]


def encode_value(t: Any, value: Any, path: tuple = (), json_form: bool = False) -> Any:
    """One attribute value of type constraint `t` as msgpack-ready (or JSON-ready) data."""
    if value is None:
        return None
    if value is UNKNOWN_VALUE:
        return _unknown(path, json_form)
    if t == "string":
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (int, float)):
            return _number_text(value)
        raise EncodeError(path, f"expected a string, got {_kind(value)}")
    if t == "number":
        return _number(value, path)
    if t == "bool":
        if isinstance(value, bool):
            return value
        if value in ("true", "false"):
            return value == "true"
        raise EncodeError(path, f"expected a bool, got {_kind(value)}")
    if t == "dynamic":
        inferred = infer_type(value)
        inner = encode_value(inferred, value, path, json_form)
        if json_form:
            return {"value": inner, "type": inferred}
        return [json.dumps(inferred, separators=(",", ":")).encode(), inner]
    kind = t[0]
    if kind in ("list", "set"):
        if not isinstance(value, (list, tuple)):
            raise EncodeError(path, f"expected a {kind}, got {_kind(value)}")
        return [encode_value(t[1], v, path + (i,), json_form) for i, v in enumerate(value)]
    if kind == "map":
        if not isinstance(value, dict):
            raise EncodeError(path, f"expected a map, got {_kind(value)}")
        return {str(k): encode_value(t[1], v, path + (k,), json_form) for k, v in value.items()}
    if kind == "object":
        if not isinstance(value, dict):
            raise EncodeError(path, f"expected an object, got {_kind(value)}")
        extra = sorted(set(value) - set(t[1]))
        if extra:
            raise EncodeError(path + (extra[0],), "unsupported attribute")
        return {k: encode_value(sub, value.get(k), path + (k,), json_form) for k, sub in t[1].items()}
    if kind == "tuple":
        if not isinstance(value, (list, tuple)) or len(value) != len(t[1]):
            raise EncodeError(path, f"expected a tuple of {len(t[1])} elements, got {_kind(value)}")
        return [encode_value(sub, v, path + (i,), json_form) for i, (sub, v) in enumerate(zip(t[1], value))]
    raise EncodeError(path, f"unsupported type constraint {json.dumps(t)}")


def _unknown(path: tuple, json_form: bool) -> Any:
    if json_form:
        raise EncodeError(path, "an unknown value cannot be stored (JSON has no unknowns)")
    return _UNKNOWN_EXT


def json_block(block: Block, value: Any) -> bytes:
    """A block value in the protocol's JSON encoding (UpgradeResourceState's raw state)."""
    return json.dumps(encode_block(block, value, json_form=True), separators=(",", ":")).encode()


def infer_type(value: Any) -> Any:
    """The type a value of a `dynamic` attribute is sent with (lists as tuples, dicts as objects, as HCL does)."""
    if value is None or value is UNKNOWN_VALUE:
        return "dynamic"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return ["object", {k: infer_type(v) for k, v in value.items()}]
    if isinstance(value, (list, tuple)):
        return ["tuple", [infer_type(v) for v in value]]
    raise EncodeError((), f"cannot send {_kind(value)} as a dynamic value")


def _number(value: Any, path: tuple) -> Any:
    if isinstance(value, bool):
        raise EncodeError(path, "expected a number, got a bool")
    if isinstance(value, str):
        try:
            value = float(value) if any(c in value for c in ".eE") else int(value)
        except ValueError:
            raise EncodeError(path, f"expected a number, got the string {value!r}") from None
    if isinstance(value, float):
        if not math.isfinite(value):
            raise EncodeError(path, f"expected a finite number, got {value}")
        # Pulumi's wire carries every number as a double; send integral ones as integers, as Terraform does.
        return int(value) if value.is_integer() and abs(value) < 2**63 else value
    if isinstance(value, int):
        # msgpack integers stop at 64 bits; the protocol carries larger numbers as decimal strings.
        return value if -(2**63) <= value < 2**64 else str(value)
    raise EncodeError(path, f"expected a number, got {_kind(value)}")


def _number_text(value: float | int) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a bool"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, (list, tuple)):
        return "a list"
    return type(value).__name__


def pack_block(block: Block, value: Any) -> bytes:
    return msgpack.packb(encode_block(block, value), use_bin_type=True)


def pack_value(t: Any, value: Any) -> bytes:
    return msgpack.packb(encode_value(t, value), use_bin_type=True)


# ---------------------------------------------------------------------------------------------------- decoding

def _ext_hook(code: int, data: bytes) -> Any:
    # Every extension code is an unknown value; code 12 carries refinements, which are safe to ignore.
    return UNKNOWN_VALUE


def _unpack(data: bytes) -> Any:
    return msgpack.unpackb(data, raw=False, ext_hook=_ext_hook, strict_map_key=False)


def unpack_block(block: Block, data: bytes) -> Any:
    """A msgpack-encoded block value (from the provider) as Python data typed by the schema."""
    if not data:
        return None
    return decode_block(block, _unpack(data))


def decode_block(block: Block, raw: Any, path: tuple = ()) -> Any:
    if raw is None or raw is UNKNOWN_VALUE:
        return raw
    if not isinstance(raw, dict):
        raise EncodeError(path, f"provider sent {_kind(raw)} for a block")
    out: dict[str, Any] = {}
    for name, attr in block.attributes.items():
        out[name] = decode_value(attr.type, raw.get(name), path + (name,))
    for name, nested in block.blocks.items():
        out[name] = _decode_nested(nested, raw.get(name), path + (name,))
    return out


def _decode_nested(nested: NestedBlock, raw: Any, path: tuple) -> Any:
    if raw is None or raw is UNKNOWN_VALUE:
        return raw
    if nested.nesting in ("single", "group"):
        return decode_block(nested.block, raw, path)
    if nested.nesting == "map":
        return {k: decode_block(nested.block, v, path + (k,)) for k, v in raw.items()}
    return [decode_block(nested.block, v, path + (i,)) for i, v in enumerate(raw)]


def decode_value(t: Any, raw: Any, path: tuple = ()) -> Any:
    if raw is None or raw is UNKNOWN_VALUE:
        return raw
    if t == "number":
        if isinstance(raw, str):
            # Numbers beyond a double's precision come as decimal strings.
            return float(raw) if any(c in raw for c in ".eE") else int(raw)
        return raw
    if t in ("string", "bool"):
        return raw
    if t == "dynamic":
        if not (isinstance(raw, list) and len(raw) == 2 and isinstance(raw[0], (bytes, str))):
            raise EncodeError(path, "provider sent a dynamic value without its type")
        return decode_value(json.loads(raw[0]), raw[1], path)
    kind = t[0]
    if kind in ("list", "set"):
        return [decode_value(t[1], v, path + (i,)) for i, v in enumerate(raw)]
    if kind == "map":
        return {k: decode_value(t[1], v, path + (k,)) for k, v in raw.items()}
    if kind == "object":
        return {k: decode_value(sub, raw.get(k), path + (k,)) for k, sub in t[1].items()}
    if kind == "tuple":
        return [decode_value(sub, v, path + (i,)) for i, (sub, v) in enumerate(zip(t[1], raw))]
    raise EncodeError(path, f"unsupported type constraint {json.dumps(t)}")


def unpack_value(t: Any, data: bytes) -> Any:
    return decode_value(t, _unpack(data))


def contains_unknown(value: Any) -> bool:
    if value is UNKNOWN_VALUE:
        return True
    if isinstance(value, dict):
        return any(contains_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(contains_unknown(v) for v in value)
    return False
