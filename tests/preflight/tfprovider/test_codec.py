"""The msgpack wire encoding of values, driven by small hand-written schemas (no provider binary needed)."""

from __future__ import annotations

import json

import msgpack
import pytest

from preflight.tfprovider.codec import (UNKNOWN_VALUE, EncodeError, decode_value, encode_block, json_block, pack_block,
                                        unpack_block)
from preflight.tfprovider.schema import Attribute, Block, NestedBlock

RULE = Block(attributes={"status": Attribute("status", "string", optional=True),
                         "days": Attribute("days", "number", optional=True)})
SCHEMA = Block(
    attributes={
        "id": Attribute("id", "string", optional=True, computed=True),
        "name": Attribute("name", "string", required=True),
        "enabled": Attribute("enabled", "bool", optional=True),
        "count": Attribute("count", "number", optional=True),
        "tags": Attribute("tags", ["map", "string"], optional=True),
        "arns": Attribute("arns", ["set", "string"], optional=True),
        "ports": Attribute("ports", ["list", "number"], optional=True),
        "point": Attribute("point", ["object", {"x": "number", "label": "string"}], optional=True),
        "anything": Attribute("anything", "dynamic", optional=True),
    },
    blocks={
        "single": NestedBlock("single", "single", RULE),
        "group": NestedBlock("group", "group", RULE),
        "rule": NestedBlock("rule", "list", RULE, max_items=1),
        "selector": NestedBlock("selector", "set", RULE),
        "named": NestedBlock("named", "map", RULE),
    },
)
BASELINE = {"name": "n"}


def _wire(value):
    return msgpack.unpackb(pack_block(SCHEMA, value), raw=False, strict_map_key=False)


def test_encode_block_baseline_fills_every_attribute_and_block():
    assert _wire(BASELINE) == {
        "id": None, "name": "n", "enabled": None, "count": None, "tags": None, "arns": None, "ports": None,
        "point": None, "anything": None, "single": None, "group": {"status": None, "days": None}, "rule": [],
        "selector": [], "named": {},
    }


@pytest.mark.parametrize("change, key, expected", [
    ({"enabled": True}, "enabled", True),
    ({"enabled": "false"}, "enabled", False),
    ({"count": 3.0}, "count", 3),
    ({"count": 2.5}, "count", 2.5),
    ({"count": "42"}, "count", 42),
    ({"name": True}, "name", "true"),
    ({"name": 7.0}, "name", "7"),
    ({"tags": {"Owner": "sec"}}, "tags", {"Owner": "sec"}),
    ({"arns": ["a", "b"]}, "arns", ["a", "b"]),
    ({"ports": [1, 2.0]}, "ports", [1, 2]),
    ({"point": {"x": 1}}, "point", {"x": 1, "label": None}),
    ({"single": {"status": "on"}}, "single", {"status": "on", "days": None}),
    ({"group": {"days": 3}}, "group", {"status": None, "days": 3}),
    ({"rule": [{"status": "Enabled"}]}, "rule", [{"status": "Enabled", "days": None}]),
    ({"selector": [{"days": 1}, {"days": 2}]}, "selector", [{"status": None, "days": 1}, {"status": None, "days": 2}]),
    ({"named": {"a": {"days": 1}}}, "named", {"a": {"status": None, "days": 1}}),
])
def test_encode_block_value_kinds_encode_by_schema(change, key, expected):
    assert _wire({**BASELINE, **change})[key] == expected


def test_encode_block_unknown_values_are_extension_zero():
    raw = pack_block(SCHEMA, {**BASELINE, "id": UNKNOWN_VALUE, "rule": UNKNOWN_VALUE, "tags": {"a": UNKNOWN_VALUE}})
    decoded = msgpack.unpackb(raw, raw=False, ext_hook=lambda code, data: ("ext", code, data))
    assert decoded["id"] == ("ext", 0, b"")
    assert decoded["rule"] == ("ext", 0, b"")
    assert decoded["tags"] == {"a": ("ext", 0, b"")}


def test_encode_block_dynamic_value_carries_its_json_type():
    wire = _wire({**BASELINE, "anything": {"k": [1, "x"]}})
    type_json, value = wire["anything"]
    assert json.loads(type_json) == ["object", {"k": ["tuple", ["number", "string"]]}]
    assert value == {"k": [1, "x"]}


@pytest.mark.parametrize("change, message", [
    ({"nmae": "x"}, "nmae: unsupported attribute or block"),
    ({"enabled": "yes"}, "enabled: expected a bool, got a string"),
    ({"count": "many"}, "count: expected a number, got the string 'many'"),
    ({"count": float("nan")}, "count: expected a finite number, got nan"),
    ({"ports": 3}, "ports: expected a list, got a number"),
    ({"point": {"y": 1}}, "point.y: unsupported attribute"),
    ({"rule": [{"status": "on", "extra": 1}]}, "rule[0].extra: unsupported attribute or block"),
    ({"rule": {"status": "on"}}, "rule: expected a list of blocks, got an object"),
    ({"tags": ["a"]}, "tags: expected a map, got a list"),
    ({"selector": [None]}, "selector[0]: a nested block cannot be null"),
])
def test_encode_block_bad_value_is_an_error_naming_its_path(change, message):
    with pytest.raises(EncodeError) as info:
        encode_block(SCHEMA, {**BASELINE, **change})
    assert str(info.value) == message


def test_unpack_block_round_trips_with_unknowns_and_big_numbers():
    value = {**BASELINE, "id": UNKNOWN_VALUE, "count": 10**20, "rule": [{"status": "Enabled", "days": 5}],
             "anything": ["a", True]}
    decoded = unpack_block(SCHEMA, pack_block(SCHEMA, value))
    assert decoded["id"] is UNKNOWN_VALUE
    assert decoded["count"] == 10**20
    assert decoded["rule"] == [{"status": "Enabled", "days": 5}]
    assert decoded["anything"] == ["a", True]
    assert decoded["named"] == {}


@pytest.mark.parametrize("raw, expected", [("12345678901234567890123", 12345678901234567890123), ("1.5", 1.5)])
def test_decode_value_number_sent_as_string_is_a_number(raw, expected):
    assert decode_value("number", raw) == expected


def test_unpack_block_refined_unknown_extension_is_unknown():
    raw = msgpack.packb({"name": msgpack.ExtType(12, msgpack.packb({2: "prefix-"}))}, use_bin_type=True)
    assert unpack_block(SCHEMA, raw)["name"] is UNKNOWN_VALUE


def test_json_block_uses_the_json_encoding_for_dynamic_values():
    raw = json_block(SCHEMA, {**BASELINE, "anything": ["a", 1], "rule": [{"status": "Enabled"}]})
    decoded = json.loads(raw)
    assert decoded["anything"] == {"value": ["a", 1], "type": ["tuple", ["string", "number"]]}
    assert decoded["rule"] == [{"status": "Enabled", "days": None}]


def test_json_block_unknown_value_is_refused():
    with pytest.raises(EncodeError) as info:
        json_block(SCHEMA, {**BASELINE, "id": UNKNOWN_VALUE})
    assert str(info.value) == "id: an unknown value cannot be stored (JSON has no unknowns)"
