"""The pack's policy configuration: JSON schemas for the CLI and typed, validated settings for the policies.

Pulumi scopes configuration per policy (`{"<policy-name>": {"<key>": ...}}` in a `--policy-pack-config` file), so
each policy declares only the keys it reads. A bad value never falls back to a default: the policy reports it as a
violation naming the key, the value and what is allowed (fail closed), because the CLI's schema validation is not
guaranteed in every driver.
"""

from __future__ import annotations

import fnmatch
import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional

from pulumi_policy import PolicyConfigSchema

# These patterns are also the config schema's (JSON Schema's ECMA regex, which has no \Z), so they keep ^...$ and
# Python matches them with fullmatch: $ alone also matches before a trailing newline.
# Log group names: 1-512 chars of [.-_/#A-Za-z0-9] (CloudWatch Logs CreateLogGroup rules).
_LOG_GROUP_RE = re.compile(r"^[.\-_/#A-Za-z0-9]{1,512}$")
_SCP_ID_RE = re.compile(r"^p-[0-9a-z]{8,128}$")
TARGET_ID_RE = re.compile(r"^(r-[0-9a-z]{4,32}|ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}|[0-9]{12})$")
_ARN_RE = re.compile(r"^arn:aws[a-zA-Z-]*:[a-z0-9-]+:[a-z0-9-]*:([0-9]{12})?:.+$")


class ConfigError(ValueError):
    """A policy configuration value that is not allowed; the message names key, value and what is allowed."""


@dataclass(frozen=True)
class ConfigKey:
    name: str
    schema: Mapping[str, Any]
    default: Any
    parse: Callable[[str, Any], Any]


def _string_list(item_re: Optional[re.Pattern[str]], what: str) -> Callable[[str, Any], tuple[str, ...]]:
    def parse(key: str, value: Any) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"policy config key '{key}' is {value!r}; expected an array of strings ({what})")
        for v in value:
            if item_re is not None and not item_re.fullmatch(v):
                raise ConfigError(f"policy config key '{key}' contains {v!r}; expected {what}")
            if item_re is None and not v:
                raise ConfigError(f"policy config key '{key}' contains an empty string; expected {what}")
        return tuple(value)

    return parse


def _non_empty(parse: Callable[[str, Any], tuple[str, ...]], why: str) -> Callable[[str, Any], tuple[str, ...]]:
    def checked(key: str, value: Any) -> tuple[str, ...]:
        items = parse(key, value)
        if not items:
            raise ConfigError(f"policy config key '{key}' is []; expected at least one pattern ({why})")
        return items

    return checked


def _boolean(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"policy config key '{key}' is {value!r}; expected true or false")
    return value


def _period(key: str, value: Any) -> int:
    # CloudWatch alarm periods: 10, 30, or a multiple of 60 up to one day.
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or (isinstance(value, float) and not math.isfinite(value))  # JSON's 1e400 is infinity, which int() refuses
        or int(value) != value
    ):
        raise ConfigError(f"policy config key '{key}' is {value!r}; expected an integer number of seconds")
    seconds = int(value)
    if not (seconds in (10, 30) or (seconds % 60 == 0 and 60 <= seconds <= 86400)):
        raise ConfigError(
            f"policy config key '{key}' is {seconds}; expected 10, 30 or a multiple of 60 up to 86400 seconds"
        )
    return seconds


STACKS = ConfigKey(
    "stacks",
    {
        "type": "array",
        "items": {"type": "string", "minLength": 1},
        "default": ["*"],
        "description": "Glob patterns (fnmatch, case-sensitive) of the stack names, or <project>/<stack>, that must "
        "carry this control; other stacks get only the guard policies.",
    },
    ("*",),
    _non_empty(_string_list(None, "non-empty glob patterns of stack names"),
               "an empty list would exempt every stack; to turn the policy off, set its enforcementLevel to disabled"),
)
ALLOW_UNKNOWN = ConfigKey(
    "allowUnknownValues",
    {
        "type": "boolean",
        "default": False,
        "description": "Relax the unknown-value handling: when a value this policy needs is unknown during preview, "
        "skip that check (it is re-judged on the resource outputs at `pulumi up`) instead of reporting a violation.",
    },
    False,
    _boolean,
)
EXTERNAL_LOG_GROUPS = ConfigKey(
    "externalTrailLogGroups",
    {
        "type": "array",
        "items": {"type": "string", "pattern": _LOG_GROUP_RE.pattern},
        "default": [],
        "description": "Names of CloudWatch log groups fed by a multi-region CloudTrail trail managed outside this "
        "stack (for example an organization trail in the management account).",
    },
    (),
    _string_list(_LOG_GROUP_RE, "CloudWatch Logs log group names"),
)
MAX_ALARM_PERIOD = ConfigKey(
    "maxAlarmPeriodSeconds",
    {
        "type": "integer",
        "minimum": 10,
        "maximum": 86400,
        "default": 300,
        "description": "Longest alarm period (seconds) accepted for the detection alarms; 10, 30 or a multiple of 60.",
    },
    300,
    _period,
)
EXTERNAL_TOPICS = ConfigKey(
    "externalTopicArns",
    {
        "type": "array",
        "items": {"type": "string"},
        "default": [],
        "description": "ARNs of SNS topics managed outside this stack that are known to have subscribers and a key "
        "CloudWatch may use; alarm actions may point at them.",
    },
    (),
    _string_list(_ARN_RE, "SNS topic ARNs"),
)
EXTERNAL_KEYS = ConfigKey(
    "externalKmsKeyArns",
    {
        "type": "array",
        "items": {"type": "string"},
        "default": [],
        "description": "ARNs (or alias ARNs) of KMS keys managed outside this stack whose key policy lets "
        "cloudwatch.amazonaws.com use them.",
    },
    (),
    _string_list(_ARN_RE, "KMS key or alias ARNs"),
)
PROTECTED_TRAILS = ConfigKey(
    "protectedTrailNames",
    {
        "type": "array",
        "items": {"type": "string", "minLength": 1},
        "default": [],
        "description": "Glob patterns of the CloudTrail trail names this guard protects; empty protects every trail.",
    },
    (),
    _string_list(None, "non-empty glob patterns of trail names"),
)
OWN_SCP_NAMES = ("deny-root-access-keys-scp-*",)
PROTECTED_SCP_NAMES = ConfigKey(
    "protectedPolicyNames",
    {
        "type": "array",
        "items": {"type": "string", "minLength": 1},
        # The program's own SCP (its auto-name), so that turning its Deny into an Allow, or its action into a wildcard
        # broad enough to be unrelated, still leaves it protected: those are the weakenings easiest to slip through.
        "default": list(OWN_SCP_NAMES),
        "description": "Glob patterns of SCP names that must keep denying root access-key creation, in addition to "
        "every SCP whose document names iam:CreateAccessKey. The default is the program's own SCP.",
    },
    OWN_SCP_NAMES,
    _string_list(None, "non-empty glob patterns of SCP names"),
)
PROTECTED_SCP_IDS = ConfigKey(
    "protectedPolicyIds",
    {
        "type": "array",
        "items": {"type": "string", "pattern": _SCP_ID_RE.pattern},
        "default": [],
        "description": "Ids (p-...) of the deployed deny-root-keys SCPs; an attachment of one of them may only target "
        "the ids in requiredTargetIds.",
    },
    (),
    _string_list(_SCP_ID_RE, "SCP ids like p-examplepolicyid111"),
)
REQUIRED_TARGETS = ConfigKey(
    "requiredTargetIds",
    {
        "type": "array",
        "items": {"type": "string", "pattern": TARGET_ID_RE.pattern},
        "default": [],
        "description": "Organization root, OU or account ids the protected SCPs must stay attached to; empty accepts "
        "any target.",
    },
    (),
    _string_list(TARGET_ID_RE, "root ids r-..., OU ids ou-...-... or 12-digit account ids"),
)


_SERVICE_PRINCIPAL_RE = re.compile(r"^[a-z0-9.-]+\.amazonaws\.com$")
REQUIRED_SERVICE_PRINCIPALS = ConfigKey(
    "requiredServiceAccessPrincipals",
    {
        "type": "array",
        "items": {"type": "string", "pattern": _SERVICE_PRINCIPAL_RE.pattern},
        "default": [],
        "description": "Service principals a managed Organization must keep trusted, e.g. cloudtrail.amazonaws.com "
        "when the detection relies on an organization trail (removing it stops that trail).",
    },
    (),
    _string_list(_SERVICE_PRINCIPAL_RE, "service principals like cloudtrail.amazonaws.com"),
)


PARTITIONS = ("aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f", "aws-eusc")


def _partition(key: str, value: Any) -> str:
    if value not in PARTITIONS:
        raise ConfigError(f"policy config key '{key}' is {value!r}; expected one of {', '.join(PARTITIONS)}")
    return str(value)


PARTITION = ConfigKey(
    "partition",
    {
        "type": "string",
        "enum": list(PARTITIONS),
        "default": "aws",
        "description": "AWS partition of the organization; the SCP must cover arn:<partition>:iam::<account>:root.",
    },
    "aws",
    _partition,
)


_ACCOUNT_ID_RE = re.compile(r"^[0-9]{12}$")


def _account_id(key: str, value: Any) -> str:
    if not isinstance(value, str) or not (value == "" or _ACCOUNT_ID_RE.fullmatch(value)):
        raise ConfigError(f"policy config key '{key}' is {value!r}; expected a 12-digit AWS account id (or \"\" for none)")
    return value


MANAGEMENT_ACCOUNT = ConfigKey(
    "managementAccountId",
    {
        "type": "string",
        "pattern": r"^([0-9]{12})?$",
        "default": "",
        "description": "The organization's management account, where SCPs never apply, so an attachment to it does "
        "not count. Needed when an SCP is attached to an account id and the stack has no Organization resource "
        "whose masterAccountId is known.",
    },
    "",
    _account_id,
)


def schema(*keys: ConfigKey) -> PolicyConfigSchema:
    return PolicyConfigSchema(properties={k.name: dict(k.schema) for k in keys})


@dataclass(frozen=True)
class Settings:
    values: Mapping[str, Any]

    def __getitem__(self, key: ConfigKey) -> Any:
        return self.values[key.name]


def parse_settings(raw: Mapping[str, Any] | None, *keys: ConfigKey) -> Settings:
    """Validate the policy's configuration; raises ConfigError on the first bad or unexpected key."""
    raw = dict(raw or {})
    raw.pop("enforcementLevel", None)
    known = {k.name: k for k in keys}
    for name in raw:
        if name not in known:
            allowed = ", ".join(sorted(known)) or "none"
            raise ConfigError(f"policy config key '{name}' is not recognised; expected one of: {allowed}")
    values: dict[str, Any] = {}
    for key in keys:
        values[key.name] = key.parse(key.name, raw[key.name]) if key.name in raw else key.default
    return Settings(values)


def stack_selected(stack: str, project: str, patterns: tuple[str, ...]) -> bool:
    """Whether the stack must carry a control; an unknown stack name counts as selected (fail closed)."""
    if not stack:
        return True
    candidates = [stack] + ([f"{project}/{stack}"] if project else [])
    return any(fnmatch.fnmatchcase(c, p) for p in patterns for c in candidates)


def name_matches(name: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)
