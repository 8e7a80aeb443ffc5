"""The provider's schema as plain frozen types: blocks, attributes, nested blocks and Terraform type constraints.

Wire layer (no Pulumi names here). A Terraform type constraint stays in the JSON form the protocol sends it in:
"string" | "number" | "bool" | "dynamic" | ["list", T] | ["set", T] | ["map", T] | ["object", {name: T}]
(optionally with a third element listing optional attributes) | ["tuple", [T, ...]].
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping

PRIMITIVES = frozenset({"string", "number", "bool", "dynamic"})
NESTING_MODES = ("invalid", "single", "list", "set", "map", "group")


@dataclass(frozen=True)
class Attribute:
    name: str
    type: Any
    required: bool = False
    optional: bool = False
    computed: bool = False
    sensitive: bool = False
    deprecated: bool = False


@dataclass(frozen=True)
class Block:
    attributes: Mapping[str, Attribute] = field(default_factory=dict)
    blocks: Mapping[str, "NestedBlock"] = field(default_factory=dict)
    deprecated: bool = False


@dataclass(frozen=True)
class NestedBlock:
    name: str
    nesting: str  # one of NESTING_MODES[1:]
    block: Block
    min_items: int = 0
    max_items: int = 0


@dataclass(frozen=True)
class Schema:
    version: int
    block: Block


def check_type(t: Any) -> Any:
    """Return `t` if it is a well-formed type constraint, else raise ValueError naming it."""
    if isinstance(t, str):
        if t in PRIMITIVES:
            return t
    elif isinstance(t, list) and t:
        kind = t[0]
        if kind in ("list", "set", "map") and len(t) == 2:
            check_type(t[1])
            return t
        if kind == "object" and len(t) in (2, 3) and isinstance(t[1], dict):
            for sub in t[1].values():
                check_type(sub)
            return t
        if kind == "tuple" and len(t) == 2 and isinstance(t[1], list):
            for sub in t[1]:
                check_type(sub)
            return t
    raise ValueError(f"not a Terraform type constraint: {json.dumps(t)}")


def block_from_proto(pb: Any) -> Block:
    attributes = {
        a.name: Attribute(name=a.name, type=check_type(json.loads(a.type)), required=a.required, optional=a.optional,
                          computed=a.computed, sensitive=a.sensitive, deprecated=a.deprecated)
        for a in pb.attributes
    }
    blocks = {
        b.type_name: NestedBlock(name=b.type_name, nesting=NESTING_MODES[b.nesting], block=block_from_proto(b.block),
                                 min_items=b.min_items, max_items=b.max_items)
        for b in pb.block_types
    }
    for nested in blocks.values():
        if nested.nesting == "invalid":
            raise ValueError(f"nested block {nested.name!r} has no nesting mode")
    return Block(attributes=attributes, blocks=blocks, deprecated=pb.deprecated)


def schema_from_proto(pb: Any) -> Schema:
    return Schema(version=pb.version, block=block_from_proto(pb.block))
