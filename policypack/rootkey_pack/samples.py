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
