"""Realistic CloudTrail events the detection policies evaluate filter patterns against (CIS AWS 4.3 / 5.3,
Security Hub CloudWatch.1), and what each kind of filter must and must not match.

The events are the JSON CloudTrail writes to CloudWatch Logs, shipped as package data so the pack needs no network.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any, Mapping

ROOT_CREATE_ACCESS_KEY = "root_create_access_key"
ROOT_CREATE_ACCESS_KEY_DENIED = "root_create_access_key_denied"
IAM_USER_CREATE_ACCESS_KEY = "iam_user_create_access_key"
ASSUMED_ROLE_CREATE_ACCESS_KEY = "assumed_role_create_access_key"
ROOT_CONSOLE_LOGIN = "root_console_login"
ROOT_INVOKED_BY_SERVICE = "root_invoked_by_service"

ALL_SAMPLES = (
    ROOT_CREATE_ACCESS_KEY,
    ROOT_CREATE_ACCESS_KEY_DENIED,
    IAM_USER_CREATE_ACCESS_KEY,
    ASSUMED_ROLE_CREATE_ACCESS_KEY,
    ROOT_CONSOLE_LOGIN,
    ROOT_INVOKED_BY_SERVICE,
)

DESCRIPTIONS = MappingProxyType(
    {
        ROOT_CREATE_ACCESS_KEY: "the root user creating its own access key",
        ROOT_CREATE_ACCESS_KEY_DENIED: "the root user's CreateAccessKey denied by an SCP (errorCode AccessDenied)",
        IAM_USER_CREATE_ACCESS_KEY: "an IAM user creating an access key",
        ASSUMED_ROLE_CREATE_ACCESS_KEY: "an assumed role creating an access key",
        ROOT_CONSOLE_LOGIN: "a root console sign-in",
        ROOT_INVOKED_BY_SERVICE: "an AWS service acting on behalf of the root user (invokedBy set)",
    }
)


@cache
def load(name: str) -> Mapping[str, Any]:
    text = resources.files(__package__).joinpath("events", f"{name}.json").read_text(encoding="utf-8")
    return json.loads(text)


# Each sample is also judged in a variant whose incidental fields differ, so that a pattern cannot pass by pinning
# what happens to be in the one sample (its account, region-free IP address, user agent, time, MFA or TLS details)
# while missing the same call made elsewhere. Fields that define the event (identity type, event name and source,
# error code, invokedBy, event type) are left alone.
VARIANT_SUFFIX = "@elsewhere"
_SAMPLE_ACCOUNT = "111122223333"
_VARIANT_ACCOUNT = "444455556666"
_VARIANT_FIELDS: Mapping[str, Any] = MappingProxyType(
    {
        "eventVersion": "1.11",
        "eventTime": "2027-03-15T22:41:08Z",
        "userAgent": "aws-cli/2.17.0 md/Botocore#1.35.0 ua/2.0 os/windows#10 md/arch#amd64 lang/python#3.12",
        "requestID": "c0ffee00-1234-4abc-8def-0123456789ab",
        "eventID": "deadbeef-5678-4fed-9cba-9876543210fe",
    }
)
_VARIANT_DROPPED = ("tlsDetails", "sessionCredentialFromConsole")
# Non-root principals whose names contain "Root": a term pattern that merely looks for the word Root catches them.
_VARIANT_RENAMES: Mapping[str, str] = MappingProxyType({"alice": "RootOpsAdmin", "ops-session": "RootKeyRotation"})


def _vary_strings(value: Any) -> Any:
    if isinstance(value, str):
        value = value.replace(_SAMPLE_ACCOUNT, _VARIANT_ACCOUNT)
        for old, new in _VARIANT_RENAMES.items():
            value = value.replace(old, new)
        return value
    if isinstance(value, list):
        return [_vary_strings(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _vary_strings(v) for k, v in value.items()}
    return value


def _variant(event: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = _vary_strings(event)
    for key, value in _VARIANT_FIELDS.items():
        if key in out:
            out[key] = value
    source_ip = out.get("sourceIPAddress")
    if isinstance(source_ip, str) and not source_ip.endswith(".amazonaws.com"):
        out["sourceIPAddress"] = "2001:db8:4f2::17"  # AWS service callers keep their host name
    for key in _VARIANT_DROPPED:
        out.pop(key, None)
    attributes = out.get("userIdentity", {}).get("sessionContext", {}).get("attributes")
    if isinstance(attributes, dict) and "mfaAuthenticated" in attributes:
        attributes["mfaAuthenticated"] = "false"
    return out


@cache
def load_with_variants(name: str) -> tuple[tuple[str, Mapping[str, Any]], ...]:
    """The sample and its incidental-field variant, as (name, event) pairs; the variant's name ends in VARIANT_SUFFIX."""
    event = load(name)
    return ((name, event), (name + VARIANT_SUFFIX, _variant(event)))


def describe(name: str) -> str:
    """How a sample (or its variant) is named in messages."""
    if name.endswith(VARIANT_SUFFIX):
        base = DESCRIPTIONS[name[: -len(VARIANT_SUFFIX)]]
        named = " named with the word Root" if load(name[: -len(VARIANT_SUFFIX)])["userIdentity"].get("type") != "Root" else ""
        return f"{base}{named} in another account, from another address, user agent and time, without MFA or TLS details"
    return DESCRIPTIONS[name]


@dataclass(frozen=True)
class Expectation:
    """The sample events a filter of one kind must match, and those it must not."""

    kind: str
    summary: str  # what the filter must catch, for messages
    must_match: tuple[str, ...]
    must_not_match: tuple[str, ...]


# A root-key filter may also count denied attempts or root sign-ins (both are root activity worth an alert), but
# one that fires on every IAM user's or role's key would be muted as noise, so those events must not match.
ROOT_ACCESS_KEY_FILTER = Expectation(
    "root CreateAccessKey",
    "the root user creating its own access key",
    (ROOT_CREATE_ACCESS_KEY,),
    (IAM_USER_CREATE_ACCESS_KEY, ASSUMED_ROLE_CREATE_ACCESS_KEY),
)
# CIS root-usage: every root action and sign-in, but not AWS services acting for root.
CIS_ROOT_USAGE_FILTER = Expectation(
    "CIS root usage",
    "every root user action and sign-in but not AWS services acting for root",
    (ROOT_CREATE_ACCESS_KEY, ROOT_CREATE_ACCESS_KEY_DENIED, ROOT_CONSOLE_LOGIN),
    (IAM_USER_CREATE_ACCESS_KEY, ASSUMED_ROLE_CREATE_ACCESS_KEY, ROOT_INVOKED_BY_SERVICE),
)
