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

from .filter_pattern import DIGIT, Absent, Const, EventClass, FieldSpec, Free, Obj, Shape

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


# --- The classes of events a filter must catch ------------------------------------------------------------------
#
# A filter is judged over every event of these classes (filter_pattern.judge_class), not over the samples. A field
# is fixed only when every event of the class carries that value, because of what the class is:
# - eventSource, eventName: the call (iam.amazonaws.com CreateAccessKey; signin.amazonaws.com ConsoleLogin).
# - userIdentity.type "Root", userIdentity.arn arn:<partition>:iam::<12 digits>:root and userIdentity.accountId
#   (12 digits): the root identity, whatever account of the organization and whatever credential it signs with.
# - userIdentity.invokedBy absent: the root user itself calls; CloudTrail sets invokedBy only when an AWS service
#   calls on the principal's behalf, and those calls are another class (the CIS pattern rightly excludes them).
# - eventType "AwsApiCall" (AwsConsoleSignIn for a sign-in), readOnly false, managementEvent true, eventCategory
#   "Management": properties of the API itself, the same fields trail event selectors test (cloudtrail.py).
# - errorCode and errorMessage absent for a call that succeeded; errorCode present (any value) for a denied one.
# Everything else is free and may be absent: access key ids (root signs with its long-term AKIA key or a console
# session's ASIA key), sessionContext (temporary credentials only), request and response contents, times, addresses,
# user agents, regions, TLS details, event and request ids, versions.
CLASS_CREATED = "root-create-access-key"
CLASS_DENIED = "root-create-access-key-denied"
CLASS_CONSOLE_LOGIN = "root-console-login"

CLASS_DESCRIPTIONS = MappingProxyType(
    {
        CLASS_CREATED: "root user CreateAccessKey call that succeeds",
        CLASS_DENIED: "root user CreateAccessKey call that fails with an errorCode, such as an SCP's AccessDenied",
        CLASS_CONSOLE_LOGIN: "root user console sign-in",
    }
)

_ACCOUNT = (DIGIT,) * 12


def _root_identity(partition: str) -> Obj:
    return Obj(
        {
            "type": Const("Root"),
            "arn": Shape((("arn:",), (partition,), (":iam::",), *_ACCOUNT, (":root",))),
            "accountId": Shape(_ACCOUNT),
            "invokedBy": Absent(),
        }
    )


@cache
def event_class(name: str, partition: str = "aws") -> EventClass:
    """One class of root events in the partition, with the fixed fields above and everything else free."""
    management = {"readOnly": Const(False), "managementEvent": Const(True), "eventCategory": Const("Management")}
    if name == CLASS_CONSOLE_LOGIN:
        fields: dict[str, FieldSpec] = {
            "eventSource": Const("signin.amazonaws.com"),
            "eventName": Const("ConsoleLogin"),
            "eventType": Const("AwsConsoleSignIn"),
        }
    elif name in (CLASS_CREATED, CLASS_DENIED):
        denied = name == CLASS_DENIED
        fields = {
            "eventSource": Const("iam.amazonaws.com"),
            "eventName": Const("CreateAccessKey"),
            "eventType": Const("AwsApiCall"),
            "errorCode": Free(present=True) if denied else Absent(),
            "errorMessage": Free() if denied else Absent(),
        }
    else:
        raise KeyError(name)
    return EventClass(name, CLASS_DESCRIPTIONS[name], Obj({**fields, **management, "userIdentity": _root_identity(partition)}))


# Which class each must-match sample belongs to: the sample is kept as a regression case of its class.
SAMPLE_CLASS = MappingProxyType(
    {ROOT_CREATE_ACCESS_KEY: CLASS_CREATED, ROOT_CREATE_ACCESS_KEY_DENIED: CLASS_DENIED, ROOT_CONSOLE_LOGIN: CLASS_CONSOLE_LOGIN}
)


@dataclass(frozen=True)
class Expectation:
    """The classes of events a filter of one kind must match in full, and the sample events it must not match."""

    kind: str
    summary: str  # what the filter must catch, for messages
    must_match: tuple[str, ...]  # event class names
    must_not_match: tuple[str, ...]  # sample names


# A root-key filter may also count denied attempts or root sign-ins (both are root activity worth an alert), but
# one that fires on every IAM user's or role's key would be muted as noise, so those events must not match.
ROOT_ACCESS_KEY_FILTER = Expectation(
    "root CreateAccessKey",
    "the root user creating its own access key",
    (CLASS_CREATED,),
    (IAM_USER_CREATE_ACCESS_KEY, ASSUMED_ROLE_CREATE_ACCESS_KEY),
)
# CIS root-usage: every root action and sign-in, but not AWS services acting for root.
CIS_ROOT_USAGE_FILTER = Expectation(
    "CIS root usage",
    "every root user action and sign-in but not AWS services acting for root",
    (CLASS_CREATED, CLASS_DENIED, CLASS_CONSOLE_LOGIN),
    (IAM_USER_CREATE_ACCESS_KEY, ASSUMED_ROLE_CREATE_ACCESS_KEY, ROOT_INVOKED_BY_SERVICE),
)
