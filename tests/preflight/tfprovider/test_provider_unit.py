"""Autonaming and Terraform core's proposed new state (no provider binary needed)."""

from __future__ import annotations

import re

import pytest

from preflight.tfprovider.provider import ProviderError, autoname, proposed_new
from preflight.tfprovider.schema import Attribute, Block, NestedBlock


@pytest.mark.parametrize("name, max_length, lower, pattern", [
    ("trail-logs", 255, False, r"trail-logs-[0-9a-f]{7}"),
    ("Trail-Bucket", 63, True, r"trail-bucket-[0-9a-f]{7}"),
    ("x" * 56, 64, False, "x" * 56 + r"-[0-9a-f]{7}"),
])
def test_autoname_appends_seven_hex_digits(name, max_length, lower, pattern):
    assert re.fullmatch(pattern, autoname(name, max_length, lower=lower))


def test_autoname_too_long_is_an_error_not_a_truncation():
    with pytest.raises(ProviderError) as info:
        autoname("x" * 57, 64)
    assert str(info.value) == ("x" * 57 + ": the name plus a random suffix is longer than the maximum of 64 "
                               "characters; set the name explicitly")


INNER = Block(attributes={"status": Attribute("status", "string", optional=True),
                          "region": Attribute("region", "string", optional=True, computed=True)})
BLOCK = Block(
    attributes={"id": Attribute("id", "string", optional=True, computed=True),
                "arn": Attribute("arn", "string", computed=True),
                "name": Attribute("name", "string", optional=True, computed=True),
                "description": Attribute("description", "string", optional=True)},
    blocks={"rule": NestedBlock("rule", "list", INNER), "one": NestedBlock("one", "single", INNER)},
)


def test_proposed_new_create_is_the_config():
    config = {"name": "n", "rule": [{"status": "on"}]}
    assert proposed_new(BLOCK, None, config) == {"id": None, "arn": None, "name": "n", "description": None,
                                                 "rule": [{"status": "on", "region": None}], "one": None}


def test_proposed_new_update_keeps_prior_computed_values_the_config_leaves_null():
    prior = {"id": "i-1", "arn": "arn:1", "name": "n-123", "description": "old",
             "rule": [{"status": "off", "region": "eu-west-1"}], "one": {"status": "a", "region": "r"}}
    config = {"description": None, "rule": [{"status": "on"}], "one": {"status": "b"}}
    assert proposed_new(BLOCK, prior, config) == {
        "id": "i-1", "arn": "arn:1", "name": "n-123", "description": None,
        "rule": [{"status": "on", "region": "eu-west-1"}], "one": {"status": "b", "region": "r"}}


SET_BLOCK = Block(blocks={"rule": NestedBlock("rule", "set", INNER)})


@pytest.mark.parametrize("config_rule, expected", [
    ({"status": "on", "region": None}, {"status": "on", "region": "eu-west-1"}),
    ({"status": "off", "region": None}, {"status": "off", "region": "us-east-1"}),
    ({"status": "new", "region": None}, {"status": "new", "region": None}),
    ({"status": "on", "region": "ap-south-1"}, {"status": "on", "region": "ap-south-1"}),
])
def test_proposed_new_set_element_takes_computed_values_from_its_matching_prior_element(config_rule, expected):
    prior = {"rule": [{"status": "off", "region": "us-east-1"}, {"status": "on", "region": "eu-west-1"}]}
    assert proposed_new(SET_BLOCK, prior, {"rule": [config_rule]}) == {"rule": [expected]}
