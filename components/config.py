"""Typed, validated stack configuration for all three root-access-key guardrails.

Serves every control (the SCP, the CIS 1.7 / 4.3 / Security Hub CloudWatch.1 detection, the IAM.4 audit): a
misconfigured guardrail that deploys looks like protection and is not, so every value is checked here, before the
program registers a single resource, and the program stops with one message that names the key, the value and
what is allowed.

`parse_config` is pure (a key -> raw string lookup in, a frozen `GuardrailsConfig` out) so it is tested without
the engine; `load_config` feeds it from `pulumi.Config` the way the CLI passes values (strings; arrays as JSON).
"""

from __future__ import annotations

import collections
import difflib
import ipaddress
import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from enum import Enum
from typing import TYPE_CHECKING, Callable
from urllib.parse import urlsplit

import pulumi

from components.schedule import ScheduleError, describe_seconds, longest_gap

if TYPE_CHECKING:  # components.context imports this module at run time
    from components.context import Organization

PROJECT = "root-key-guardrails"

# PutRetentionPolicy accepts exactly these values (0/"never expire" is refused on purpose: CloudWatch.16).
LOG_RETENTION_DAYS: tuple[int, ...] = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
)

# Matched with fullmatch and ASCII classes: $ alone also matches before a trailing newline, and \d takes other
# scripts' digits; AWS takes neither, and "111122223333\n" would slip past the management-account check.
ROOT_ID_RE = re.compile(r"r-[0-9a-z]{4,32}", re.ASCII)
OU_ID_RE = re.compile(r"ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}", re.ASCII)
ACCOUNT_ID_RE = re.compile(r"[0-9]{12}", re.ASCII)
# CloudWatch Logs log group names: 1-512 of [.-_/#A-Za-z0-9].
LOG_GROUP_NAME_RE = re.compile(r"[\.\-_/#A-Za-z0-9]{1,512}", re.ASCII)
# The namespace of the metric filters' metric transformations and of the audit's metrics and the alarms: CloudWatch
# takes [0-9A-Za-z.-_/#: ], not starting with ":", and CloudWatch Logs metric transformations refuse ":", "*" and "$"
# anywhere, so the value both accept has no ":".
NAMESPACE_RE = re.compile(r"[0-9A-Za-z.\-_/# ]{1,255}", re.ASCII)
NAMESPACE_REFUSED = ":*$"
# IAM role names: 1-64 of [\w+=,.@-].
ROLE_NAME_RE = re.compile(r"[\w+=,.@-]{1,64}", re.ASCII)
# Pragmatic address syntax: a dot-atom local part and a dotted domain of DNS labels with a letter TLD.
EMAIL_RE = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}",
    re.ASCII,
)
# RFC 5321: at most 64 characters before the @, 254 in all (what fits a 256-octet path with its angle brackets).
EMAIL_LOCAL_MAX, EMAIL_MAX = 64, 254
# A host name SNS can reach: DNS labels of 1-63 ASCII letters, digits and hyphens, neither starting nor ending with
# a hyphen, at least two of them, the last not all digits (127.1 and 10.0.0.1 are IPv4 addresses to a resolver).
_DNS_LABEL_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?", re.ASCII)
# Names no public resolver answers (RFC 6761, RFC 6762, RFC 8375, ICANN's .internal): an endpoint there never gets
# a delivery from SNS.
_PRIVATE_DNS_SUFFIXES = ("localhost", "local", "internal", "invalid", "test", "onion", "home.arpa")
# Roles that already exist in member accounts with administrator access (Organizations' and Control Tower's
# access roles, the StackSet execution roles), and prefixes of names AWS reserves for its own roles (IAM Identity
# Center, service-linked, Control Tower). The audit function may sts:AssumeRole the named role in every account of
# the organization, and the member StackSet's reader role of that name would collide with it: never one of these.
# IAM role names are unique regardless of case, so these are compared ignoring case.
ADMIN_ROLE_NAMES = (
    "OrganizationAccountAccessRole", "AWSControlTowerExecution", "AWSCloudFormationStackSetExecutionRole",
)
RESERVED_ROLE_PREFIXES = ("AWSReservedSSO_", "AWSServiceRoleFor", "aws-controltower-", "stacksets-exec-")
# The RootAccessKeysActive alarm's period is two schedule gaps, and it notifies when a whole period passes without a
# datapoint (a stopped audit); CloudWatch caps a period at one day, so the audit must run at least every 12 hours.
MAX_AUDIT_INTERVAL_SECONDS = 12 * 3600


class ConfigError(pulumi.RunError):
    """Bad stack configuration. A RunError, so the CLI prints the message alone, without a traceback."""


class TrailMode(str, Enum):
    ORGANIZATION = "organization"
    ACCOUNT = "account"
    EXISTING = "existing"


@dataclass(frozen=True)
class Subscription:
    """One subscriber of the alert topic."""

    protocol: str  # the SNS protocol: email or https
    endpoint: str
    # Registered with pulumi.Output.secret, so the state and the preview never show it in clear.
    secret: bool


# The keys whose values the program can keep secret: they reach a resource only as a subscription endpoint. Every
# other value is written in clear into resource names, policy documents the pack reads at preview, or outputs, so
# one set with --secret is refused rather than shown.
MAY_BE_SECRET = frozenset({"alarmEmails", "alarmHttpsEndpoints"})
# Marks the GuardrailsConfig field that says how the values were set, which is no config key of its own.
_NOT_A_KEY = {"config_key": False}


@dataclass(frozen=True)
class GuardrailsConfig:
    enable_scp: bool = True
    scp_targets: tuple[str, ...] = ()
    scp_deny_all_root_actions: bool = False
    enable_centralized_root_access: bool = False
    enable_detection: bool = True
    trail_mode: TrailMode = TrailMode.ORGANIZATION
    existing_log_group_name: str = ""
    log_retention_days: int = 365
    metric_namespace: str = "RootKeyGuardrails"
    alarm_period_seconds: int = 300
    cis_root_usage_alarm: bool = True
    event_bridge_detection: bool = True
    alarm_emails: tuple[str, ...] = ()
    alarm_https_endpoints: tuple[str, ...] = ()
    enable_audit: bool = True
    audit_schedule: str = "rate(1 hour)"
    audit_org_role_name: str = ""
    audit_remediate: bool = False
    audit_security_hub: bool = True
    audit_max_report_age_hours: int = 5
    member_stack_set: bool = True
    member_stack_set_targets: tuple[str, ...] = ()
    org_event_forwarding: bool = False
    enable_dashboard: bool = True
    # The keys (short names) whose values were set with --secret; only MAY_BE_SECRET ones get here.
    secret_keys: frozenset[str] = field(default=frozenset(), metadata=_NOT_A_KEY)

    @property
    def subscriptions(self) -> tuple[Subscription, ...]:
        # A webhook URL commonly carries its token: it is kept secret whether or not it was set with --secret.
        return (
            *(Subscription("email", email, "alarmEmails" in self.secret_keys) for email in self.alarm_emails),
            *(Subscription("https", url, True) for url in self.alarm_https_endpoints),
        )

    @property
    def has_subscriptions(self) -> bool:
        return bool(self.subscriptions)

    @property
    def deploys_dashboard(self) -> bool:
        """The dashboard shows the detection and audit metrics; with both off it has nothing to show."""
        return self.enable_dashboard and (self.enable_detection or self.enable_audit)

    @property
    def deploys_member_stack_set(self) -> bool:
        """The StackSet carries the audit reader role (org audit) and/or the forwarding rule (opt-in)."""
        return self.member_stack_set and (bool(self.audit_org_role_name) or self.org_event_forwarding)

    @property
    def needs_organization(self) -> bool:
        # An SCP always needs the organization: its root is the default target, and explicit targets are checked
        # against its root and accounts.
        return (
            self.enable_scp
            or self.enable_centralized_root_access
            or (self.enable_detection and self.trail_mode is TrailMode.ORGANIZATION)
            or bool(self.audit_org_role_name)
            or self.deploys_member_stack_set
        )


def _camel(field_name: str) -> str:
    head, *rest = field_name.split("_")
    return head + "".join(part.capitalize() for part in rest)


# The project's config keys and their fields, derived from the dataclass so a new field cannot be forgotten here.
_FIELDS: dict[str, str] = {
    _camel(f.name): f.name for f in fields(GuardrailsConfig) if f.metadata.get("config_key", True)
}
CONFIG_KEYS: tuple[str, ...] = tuple(_FIELDS)


def schedule_interval_seconds(expression: str) -> int:
    """Longest gap between two runs of a valid schedule (EventBridge semantics, see components.schedule)."""
    return longest_gap(expression).seconds


def _key(name: str) -> str:
    return f"{PROJECT}:{name}"


def _show(raw: str) -> str:
    return json.dumps(raw)


@dataclass(frozen=True)
class _WholeNumbers:
    """The whole numbers an integer key accepts, and the text that says so in its error."""

    allows: Callable[[int], bool]
    allowed: str


_RETENTION_RULE = _WholeNumbers(
    lambda days: days in LOG_RETENTION_DAYS,
    "must be one of the values CloudWatch Logs accepts: " + ", ".join(map(str, LOG_RETENTION_DAYS)),
)
# CloudWatch alarms take 10 and 30 (high resolution) or whole minutes up to a day; the policy pack's detection
# policies (root-access-key-creation-alarmed, cis-root-usage-alarmed) refuse a period above maxAlarmPeriodSeconds,
# 300 by default, as a root access key must alarm within minutes. The program takes what the PR gate passes.
MAX_ALARM_PERIOD_SECONDS = 300
_ALARM_PERIOD_RULE = _WholeNumbers(
    lambda seconds: seconds in (10, 30) or (0 < seconds <= MAX_ALARM_PERIOD_SECONDS and seconds % 60 == 0),
    "must be 10, 30, 60, 120, 180, 240 or 300 seconds (a root access key must alarm within minutes: the policy "
    "pack's detection policies refuse a period above their maxAlarmPeriodSeconds, 300)",
)
# AWS hands back a cached report until it is 4 hours old, so a limit under 5 hours would turn a healthy account
# into ERROR several times a day.
_REPORT_AGE_RULE = _WholeNumbers(
    lambda hours: 5 <= hours <= 24,
    "must be a whole number of hours from 5 to 24 (AWS serves a cached credential report for up to 4 hours)",
)


@dataclass(frozen=True)
class _Sameness:
    """Entries of a list key that are one value to AWS although written differently."""

    normal: Callable[[str], str]
    why: str


def _same_email(address: str) -> str:
    return address.lower()


def _same_url(url: str) -> str:
    # Scheme and host name are case-insensitive, and :443 is https's port: one endpoint, subscribed twice.
    try:
        parts = urlsplit(url)
        port = 443 if parts.port is None else parts.port
    except ValueError:
        return url
    return f"{parts.scheme.lower()}://{(parts.hostname or '').lower()}:{port}{parts.path or '/'}?{parts.query}"


_SAME_EMAIL = _Sameness(_same_email, "SNS compares e-mail addresses ignoring case, so both name one subscriber")
_SAME_URL = _Sameness(_same_url, "a URL's scheme and host name are compared ignoring case (and :443 is https's "
                      "port), so both name one endpoint")


class _Collector:
    """Gathers every problem so one run reports all of them, each on its own line."""

    def __init__(self, lookup: Callable[[str], str | None], is_secret: Callable[[str], bool] = lambda key: False) -> None:
        self._lookup = lookup
        self._is_secret = is_secret
        self.errors: list[str] = []

    def fail(self, key: str, value: str, allowed: str, *, as_json: bool = False) -> None:
        self.fail_full(_key(key), value, allowed, as_json=as_json)

    def fail_full(self, full_key: str, value: str, allowed: str, *, as_json: bool = False) -> None:
        """`value` is shown quoted, or as it is when `as_json` (a list the user wrote); a secret one never is,
        as the error lands in the terminal and the CI log."""
        shown = "[secret]" if self._is_secret(full_key) else value if as_json else _show(value)
        self.errors.append(f"{full_key} = {shown}: {allowed}")

    def raise_if_errors(self) -> None:
        if self.errors:
            raise ConfigError("Invalid configuration:\n" + "\n".join(f"  {e}" for e in self.errors))

    def raw(self, key: str) -> str | None:
        return self.raw_full(_key(key))

    def raw_full(self, full_key: str) -> str | None:
        return self._lookup(full_key)

    def boolean(self, key: str, default: bool) -> bool:
        raw = self.raw(key)
        if raw is None:
            return default
        if raw in ("true", "false"):
            return raw == "true"
        self.fail(key, raw, "must be true or false")
        return default

    def integer(self, key: str, default: int, rule: _WholeNumbers) -> int:
        raw = self.raw(key)
        if raw is None:
            return default
        # At most 18 digits: int() refuses 4,300, with an error that names no key.
        if re.fullmatch(r"-?[0-9]{1,18}", raw, re.ASCII) and rule.allows(int(raw)):
            return int(raw)
        # One text for "not a number" and "out of range", so the message always names the allowed set.
        self.fail(key, raw, rule.allowed)
        return default

    def string(self, key: str, default: str) -> str:
        raw = self.raw(key)
        return default if raw is None else raw

    def string_list(self, key: str, same: _Sameness | None = None) -> tuple[str, ...] | None:
        """`same`: when two entries are one subscriber although written differently (case), and why."""
        raw = self.raw(key)
        if raw is None:
            return ()
        try:
            value = json.loads(raw)
        except (json.JSONDecodeError, RecursionError):  # RecursionError: a list nested 100,000 deep
            self.fail(key, raw, "must be a list of strings (in YAML a list, on the command line a JSON array)")
            return None
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            self.fail(key, json.dumps(value), "must be a list of strings (in YAML a list, on the command line a JSON array)",
                      as_json=True)
            return None
        normal = same.normal if same else (lambda item: item)
        groups: dict[str, list[int]] = collections.defaultdict(list)
        for n, item in enumerate(value, 1):
            groups[normal(item)].append(n)
        # Groups of entries that are one value (written alike, or as `same` says), ordered by their first entry.
        duplicates = sorted((positions for positions in groups.values() if len(positions) > 1),
                            key=lambda positions: value[positions[0] - 1])
        if duplicates:
            if self._is_secret(_key(key)):
                # The rule's text is not redacted as the value is: name the repeated entries by position instead.
                repeated = "; ".join("entries " + " and ".join(map(str, positions)) for positions in duplicates)
            else:
                shown = []
                for positions in duplicates:
                    written = list(dict.fromkeys(value[n - 1] for n in positions))
                    shown.append(written[0] if len(written) == 1 else " and ".join(written))
                repeated = ", ".join(shown)
            differ = any(len({value[n - 1] for n in positions}) > 1 for positions in duplicates)
            why = f"; {same.why}" if same and differ else ""
            self.fail(key, json.dumps(value), f"must not list the same value twice ({repeated}){why}", as_json=True)
            return None
        return tuple(value)


def _scp_target_ok(target: str) -> bool:
    return bool(ROOT_ID_RE.fullmatch(target) or OU_ID_RE.fullmatch(target) or ACCOUNT_ID_RE.fullmatch(target))


def _host_problem(host: str) -> str | None:
    """Why SNS could never deliver to `host` (urlsplit's hostname: lower case, IPv6 without brackets)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        # The host is not quoted here or below: the rule's text is shown even when the value is a redacted secret.
        return ("must name its host by a public DNS name, not an IP address (SNS delivers to public endpoints, whose "
                "certificate names their host; loopback, link-local and private addresses never get a delivery)")
    # A fully qualified name may end in its root's dot (example.com.): the same host.
    labels = host.removesuffix(".").split(".")
    if (not host.isascii() or len(host) > 254 or len(labels) < 2 or labels[-1].isdigit()
            or not all(_DNS_LABEL_RE.fullmatch(label) for label in labels)):
        return ("must name its host by a DNS name: ASCII only (an internationalized name in its xn-- form), at least "
                "two dot-separated labels of 1-63 letters, digits and hyphens, none starting or ending with a "
                "hyphen, at most 253 characters")
    if any(host == suffix or host.endswith("." + suffix) for suffix in _PRIVATE_DNS_SUFFIXES):
        return ("must name a host public DNS resolves, not one under a name reserved for local or private use "
                f"({', '.join('.' + suffix for suffix in _PRIVATE_DNS_SUFFIXES)}), which SNS never reaches")
    return None


def _https_problem(url: str) -> str | None:
    if any(ch.isspace() for ch in url):
        return "must not contain whitespace"
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in url):
        return "must not contain control or invisible formatting characters"
    try:
        parts = urlsplit(url)
        port = parts.port  # urllib checks the port only when it is read
    except ValueError as exc:  # an unclosed [IPv6 literal, a port that is not 0-65535
        return f"is not a valid URL ({exc})"
    if parts.scheme != "https":
        return "must be an https:// URL"
    if not parts.hostname:
        return "must name a host"
    if parts.username or parts.password:
        return "must not embed credentials (stack config is not a secret store)"
    host = _host_problem(parts.hostname)
    if host:
        return host
    if port == 0:
        return "must have a port from 1 to 65535 (or none, for 443)"
    if not url.isascii():
        return "must be ASCII: percent-encode other characters of the path or query"
    if parts.fragment:
        return "must not have a #fragment"
    return None


def _role_name_problem(name: str) -> str | None:
    folded = name.casefold()
    admin = next((n for n in ADMIN_ROLE_NAMES if folded == n.casefold()), None)
    reserved = next((p for p in RESERVED_ROLE_PREFIXES if folded.startswith(p.casefold())), None)
    if admin is None and reserved is None:
        return None
    what = (f"{admin}, an administrator role that already exists in member accounts" if admin
            else f"a role name starting {reserved}, which AWS uses for roles it creates and manages")
    return (f"must name a role of its own, not {what} (IAM compares role names ignoring case): the audit function "
            "may sts:AssumeRole this role in every account of the organization, and the member StackSet's reader "
            "role would collide with it; use a dedicated name such as RootKeyAuditReader")


def _schedule_problem(expression: str) -> str | None:
    try:
        gap = longest_gap(expression)
    except ScheduleError as exc:
        return str(exc)
    if gap.ends is not None:
        return (f"stops running after {gap.ends.isoformat()} (its year field), and the audit alarm would then read "
                "the silence as a stopped audit; use * or a range open to the future in the year field")
    if gap.seconds > MAX_AUDIT_INTERVAL_SECONDS:
        return (f"leaves up to {describe_seconds(gap.seconds)} between runs; at most 12 hours are allowed, because "
                "the audit alarm's period is two gaps and CloudWatch caps a period at one day")
    return None


# Namespaces whose keys are not this project's: the providers' and the engine's, and preflight's mock AWS world.
OTHER_NAMESPACES = frozenset({"aws", "pulumi", "preflight"})


def _unknown_keys(c: _Collector, present: Iterable[str]) -> None:
    # A misspelt key (scpTarget for scpTargets) would be ignored and its control silently left at the default.
    prefix = f"{PROJECT}:"
    for full in sorted(set(present)):
        namespace, colon, name = full.partition(":")
        if colon and namespace != PROJECT and (
            difflib.get_close_matches(namespace, [PROJECT], n=1, cutoff=0.8)
            or (name in CONFIG_KEYS and namespace not in OTHER_NAMESPACES)
        ):
            # root-key-guardrail:alarmEmails, or guardrails:enableScp, is in no namespace the program reads: every
            # value under it would be ignored, and its control left at the default.
            c.fail_full(full, c.raw_full(full) or "", f"is not in this project's namespace; did you mean {PROJECT}:{name}?")
            continue
        if not full.startswith(prefix) or full[len(prefix):] in CONFIG_KEYS:
            continue
        name = full[len(prefix):]
        close = difflib.get_close_matches(name, CONFIG_KEYS, n=1)
        hint = f"did you mean {close[0]}?" if close else f"the keys are {', '.join(CONFIG_KEYS)}"
        raw = c.raw(name)
        c.fail(name, "" if raw is None else raw, f"is not a configuration key of this project; {hint}")


@dataclass(frozen=True)
class _Needs:
    """Keys whose value has an effect only while `holds` (of the parsed config) is true."""

    keys: tuple[str, ...]
    holds: Callable[[GuardrailsConfig], bool]
    needs: str
    why: str


# A value that would be silently ignored is an error, so nobody believes in a control that is off. Every key that
# only some switch (or other key) makes effective is listed here, and `_unmet_needs` is the one check.
_NEEDS: tuple[_Needs, ...] = (
    _Needs(("scpTargets", "scpDenyAllRootActions"), lambda c: c.enable_scp,
           "enableScp true", "without it there is no SCP to attach or extend"),
    _Needs(("trailMode", "existingLogGroupName", "cisRootUsageAlarm", "eventBridgeDetection"),
           lambda c: c.enable_detection, "enableDetection true", "only detection reads it"),
    _Needs(("existingLogGroupName",), lambda c: c.trail_mode is TrailMode.EXISTING,
           "trailMode existing", "the other trail modes create their own trail and log group"),
    _Needs(("metricNamespace", "alarmPeriodSeconds", "alarmEmails", "alarmHttpsEndpoints", "enableDashboard"),
           lambda c: c.enable_detection or c.enable_audit,
           "enableDetection or enableAudit true", "with both off there are no metrics, alarms, alert topic or dashboard"),
    _Needs(("logRetentionDays",),
           lambda c: c.enable_audit or (c.enable_detection and c.trail_mode is not TrailMode.EXISTING),
           "enableAudit true, or enableDetection true with trailMode organization or account",
           "it sets the retention of the log groups this stack creates (an existing trail's group is not one)"),
    _Needs(("auditSchedule", "auditOrgRoleName", "auditRemediate", "auditSecurityHub", "auditMaxReportAgeHours"),
           lambda c: c.enable_audit, "enableAudit true", "only the audit reads it"),
    _Needs(("auditRemediate",), lambda c: bool(c.audit_org_role_name),
           "auditOrgRoleName set", "remediation acts on member accounts, which only the organization audit finds"),
    # auditRemediate also needs centralized root access (RootSessions): enableCentralizedRootAccess in the management
    # account, where this stack enables it, or enabled there beforehand for a delegated administrator of IAM, who
    # cannot enable it. Which one applies is known only once the deploying account is: components.prerequisites.
    _Needs(("memberStackSet", "memberStackSetTargets"), lambda c: bool(c.audit_org_role_name) or c.org_event_forwarding,
           "auditOrgRoleName set or orgEventForwarding true",
           "the StackSet carries the audit reader role and the forwarding rule, nothing else"),
    _Needs(("memberStackSetTargets",), lambda c: c.member_stack_set,
           "memberStackSet true", "they are where the StackSet deploys"),
    _Needs(("orgEventForwarding",), lambda c: c.enable_detection and c.event_bridge_detection,
           "enableDetection and eventBridgeDetection true", "member events go to the central rule's alert topic"),
    _Needs(("orgEventForwarding",), lambda c: c.member_stack_set,
           "memberStackSet true", "the StackSet deploys the member-account rule"),
)


def _encode(value: object) -> str:
    """A typed config value as the CLI writes it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return json.dumps(list(value))
    if isinstance(value, Enum):
        return str(value.value)
    return str(value)


def _unmet_needs(c: _Collector, config: GuardrailsConfig) -> None:
    # The CLI passes Pulumi.yaml's defaults as if they were set, so a key counts as set when it differs from its
    # default: a value equal to the default has the same effect as no value.
    default = GuardrailsConfig()
    for need in _NEEDS:
        if need.holds(config):
            continue
        for key in need.keys:
            value, usual = getattr(config, _FIELDS[key]), getattr(default, _FIELDS[key])
            # A part switched off is never in the way: `cisRootUsageAlarm: false` beside `enableDetection: false`
            # says the same thing twice, and refusing it would make a user undo a safe choice.
            if value != usual and value is not False:
                is_list = isinstance(usual, tuple)
                shown_default = _encode(usual) if is_list else _show(_encode(usual))
                c.fail(key, _encode(value),
                       f"needs {need.needs} ({need.why}); otherwise leave it at its default {shown_default}",
                       as_json=is_list)


def parse_config(
    lookup: Callable[[str], str | None],
    keys: Iterable[str] = (),
    is_secret: Callable[[str], bool] = lambda key: False,
) -> GuardrailsConfig:
    """Build the config from raw CLI values (full keys), or raise ConfigError listing every bad value.

    `keys`: every config key the stack sets (full keys); one in this project's namespace that the project does
    not declare is an error. `is_secret(full key)`: whether a value was set with --secret; it is not shown.
    """
    c = _Collector(lookup, is_secret)
    d = GuardrailsConfig()
    _unknown_keys(c, keys)
    secret_keys = frozenset(key for key in CONFIG_KEYS if is_secret(_key(key)))
    for key in CONFIG_KEYS:
        if key in secret_keys and key not in MAY_BE_SECRET:
            c.fail(key, "", f"must be set without --secret: only {' and '.join(sorted(MAY_BE_SECRET))} are kept "
                   "secret, and this value would be written in clear into resources, the preview and the state")

    enable_scp = c.boolean("enableScp", d.enable_scp)
    scp_targets = c.string_list("scpTargets")
    for target in scp_targets or ():
        if not _scp_target_ok(target):
            c.fail("scpTargets", target,
                   "each target must be a root id r-[0-9a-z]{4,32}, an OU id ou-[0-9a-z]{4,32}-[a-z0-9]{8,32} "
                   "or a 12-digit account id")
    scp_deny_all = c.boolean("scpDenyAllRootActions", d.scp_deny_all_root_actions)
    centralized = c.boolean("enableCentralizedRootAccess", d.enable_centralized_root_access)

    enable_detection = c.boolean("enableDetection", d.enable_detection)
    raw_mode = c.string("trailMode", d.trail_mode.value)
    try:
        trail_mode = TrailMode(raw_mode)
    except ValueError:
        c.fail("trailMode", raw_mode, "must be one of organization, account, existing")
        trail_mode = d.trail_mode
    existing = c.string("existingLogGroupName", d.existing_log_group_name)
    if existing.startswith("arn:"):
        c.fail("existingLogGroupName", existing,
               "must be the log group's name, not its ARN (the part after log-group:, without :*)")
    elif existing and not LOG_GROUP_NAME_RE.fullmatch(existing):
        c.fail("existingLogGroupName", existing,
               "must be a CloudWatch log group name: 1-512 characters from A-Z a-z 0-9 . - _ / #")
    retention = c.integer("logRetentionDays", d.log_retention_days, _RETENTION_RULE)
    namespace = c.string("metricNamespace", d.metric_namespace)
    if any(ch in NAMESPACE_REFUSED for ch in namespace):
        c.fail("metricNamespace", namespace,
               "must not contain :, * or $ (the metric filters use it as their metric namespace, where CloudWatch "
               "Logs refuses them)")
    elif not NAMESPACE_RE.fullmatch(namespace) or not namespace.strip():
        c.fail("metricNamespace", namespace,
               "must be 1-255 characters from A-Z a-z 0-9 . - _ / # and space, not only spaces")
    elif namespace.startswith("AWS/"):
        c.fail("metricNamespace", namespace, "must not start with AWS/ (reserved for AWS services)")
    period = c.integer("alarmPeriodSeconds", d.alarm_period_seconds, _ALARM_PERIOD_RULE)
    cis_alarm = c.boolean("cisRootUsageAlarm", d.cis_root_usage_alarm)
    event_bridge = c.boolean("eventBridgeDetection", d.event_bridge_detection)
    emails = c.string_list("alarmEmails", _SAME_EMAIL)
    for email in emails or ():
        if not EMAIL_RE.fullmatch(email):
            c.fail("alarmEmails", email, "each entry must be an e-mail address like secops@example.com")
        elif len(email.rpartition("@")[0]) > EMAIL_LOCAL_MAX or len(email) > EMAIL_MAX:
            c.fail("alarmEmails", email, f"each entry must have at most {EMAIL_LOCAL_MAX} characters before the @ and "
                   f"{EMAIL_MAX} in all (RFC 5321: a longer address is never delivered)")
    endpoints = c.string_list("alarmHttpsEndpoints", _SAME_URL)
    for url in endpoints or ():
        problem = _https_problem(url)
        if problem:
            c.fail("alarmHttpsEndpoints", url, f"each entry {problem}")

    enable_audit = c.boolean("enableAudit", d.enable_audit)
    enable_dashboard = c.boolean("enableDashboard", d.enable_dashboard)
    schedule = c.string("auditSchedule", d.audit_schedule)
    problem = _schedule_problem(schedule)
    if problem:
        c.fail("auditSchedule", schedule, problem)
    role_name = c.string("auditOrgRoleName", d.audit_org_role_name)
    if role_name and not ROLE_NAME_RE.fullmatch(role_name):
        c.fail("auditOrgRoleName", role_name,
               "must be empty or an IAM role name: 1-64 characters from A-Z a-z 0-9 + = , . @ _ -")
    elif role_name:
        problem = _role_name_problem(role_name)
        if problem:
            c.fail("auditOrgRoleName", role_name, problem)
    remediate = c.boolean("auditRemediate", d.audit_remediate)
    security_hub = c.boolean("auditSecurityHub", d.audit_security_hub)
    max_age = c.integer("auditMaxReportAgeHours", d.audit_max_report_age_hours, _REPORT_AGE_RULE)

    member_stack_set = c.boolean("memberStackSet", d.member_stack_set)
    member_targets = c.string_list("memberStackSetTargets")
    for target in member_targets or ():
        if not (ROOT_ID_RE.fullmatch(target) or OU_ID_RE.fullmatch(target)):
            c.fail("memberStackSetTargets", target,
                   "each target must be a root id r-[0-9a-z]{4,32} or an OU id ou-[0-9a-z]{4,32}-[a-z0-9]{8,32} "
                   "(a service-managed StackSet deploys to organizational units, not to single accounts)")
    forwarding = c.boolean("orgEventForwarding", d.org_event_forwarding)

    if trail_mode is TrailMode.EXISTING and not existing:
        c.fail("existingLogGroupName", existing, "must name the trail's log group when trailMode is existing")

    config = GuardrailsConfig(
        enable_scp=enable_scp,
        scp_targets=scp_targets or (),
        scp_deny_all_root_actions=scp_deny_all,
        enable_centralized_root_access=centralized,
        enable_detection=enable_detection,
        trail_mode=trail_mode,
        existing_log_group_name=existing,
        log_retention_days=retention,
        metric_namespace=namespace,
        alarm_period_seconds=period,
        cis_root_usage_alarm=cis_alarm,
        event_bridge_detection=event_bridge,
        alarm_emails=emails or (),
        alarm_https_endpoints=endpoints or (),
        enable_audit=enable_audit,
        audit_schedule=schedule,
        audit_org_role_name=role_name,
        audit_remediate=remediate,
        audit_security_hub=security_hub,
        audit_max_report_age_hours=max_age,
        member_stack_set=member_stack_set,
        member_stack_set_targets=member_targets or (),
        org_event_forwarding=forwarding,
        enable_dashboard=enable_dashboard,
        secret_keys=secret_keys,
    )
    _unmet_needs(c, config)
    c.raise_if_errors()
    return config


def load_config() -> GuardrailsConfig:
    """Read the project's config as the CLI passed it. Raw strings, so every value goes through parse_config."""
    from pulumi.runtime.config import CONFIG, get_config, get_config_env, is_config_secret

    # The language host hands the stack's config to the SDK (CONFIG); PULUMI_CONFIG is the older channel.
    present = set(CONFIG.get()) | set(get_config_env() or {})
    return parse_config(get_config, present, is_config_secret)


# IAM is a global service: EventBridge receives its API-call events only in the partition's home region.
IAM_EVENTS_REGION = {"aws": "us-east-1", "aws-us-gov": "us-gov-west-1", "aws-cn": "cn-north-1"}


def _outside_organization(target: str, org: Organization) -> str | None:
    """What a syntactically valid root, OU or account id must be to exist in `org`, when it cannot."""
    if ROOT_ID_RE.fullmatch(target):
        if target != org.root_id:
            return f"must be the root of organization {org.id}, {org.root_id} (an organization has one root)"
    elif OU_ID_RE.fullmatch(target):
        # AWS builds an OU id from its root's id (ou-<root id without r->-<8-32 chars>), so this much is known
        # without listing the OUs; whether the rest names an OU is only known to Organizations.
        prefix = f"ou-{org.root_id.removeprefix('r-')}-"
        if not target.startswith(prefix):
            return f"must be an OU of organization {org.id}, whose OU ids all start {prefix} (its root is {org.root_id})"
    elif target not in org.account_ids:
        return (f"must be an account of organization {org.id} (aws organizations list-accounts lists them); "
                "AttachPolicy would fail at apply, after other resources exist")
    return None


def check_environment(
    config: GuardrailsConfig, region: str, partition: str = "aws", *, organization: Organization | None = None
) -> None:
    """Checks that need the deployment's region or organization (invokes, still before any resource)."""
    c = _Collector(lambda key: None)
    home = IAM_EVENTS_REGION.get(partition, "us-east-1")
    if config.enable_detection and config.event_bridge_detection and region != home:
        c.fail("eventBridgeDetection", "true",
               f"needs the stack in {home}, where EventBridge receives IAM API calls (this stack deploys to {region}); "
               f"set aws:region to {home} or eventBridgeDetection to false (the metric-filter alarm still covers every "
               "region through the multi-region trail)")
    if organization is not None:
        # memberStackSetTargets holds no account ids (parse_config refuses them), so only an SCP target can be the
        # management account. An organization whose accounts were not listed refuses every account target.
        for key, targets in (("scpTargets", config.scp_targets), ("memberStackSetTargets", config.member_stack_set_targets)):
            for target in targets:
                if target == organization.management_account_id:
                    # Organizations accepts the attachment, and it does nothing: a control that only looks deployed.
                    c.fail(key, target, "is the organization's management account, where SCPs never apply; remove it "
                           "(detection and the audit cover the management account)")
                    continue
                problem = _outside_organization(target, organization)
                if problem:
                    c.fail(key, target, problem)
    c.raise_if_errors()


def environment_warnings(config: GuardrailsConfig) -> list[str]:
    """Valid but weaker settings, reported with pulumi.log.warn so previews show them."""
    warnings: list[str] = []
    if (config.enable_detection or config.enable_audit) and not config.has_subscriptions:
        warnings.append(
            "no alarmEmails or alarmHttpsEndpoints: alarms publish to a topic nobody is subscribed to yet; CIS 4.3 "
            "and Security Hub CloudWatch.1 want at least one subscriber"
        )
    if config.alarm_period_seconds < 60:
        warnings.append(
            f"alarmPeriodSeconds {config.alarm_period_seconds} is below the one-minute resolution of metric-filter and "
            "Lambda metrics: most periods get no datapoint, so detection is no faster than with 60"
        )
    if config.log_retention_days < 365:
        warnings.append(
            f"logRetentionDays {config.log_retention_days} is under 365 days (Security Hub CloudWatch.16, CIS 3.x)"
        )
    return warnings


__all__ = [
    "CONFIG_KEYS",
    "ConfigError",
    "GuardrailsConfig",
    "MAY_BE_SECRET",
    "Subscription",
    "LOG_RETENTION_DAYS",
    "TrailMode",
    "IAM_EVENTS_REGION",
    "check_environment",
    "environment_warnings",
    "load_config",
    "parse_config",
    "schedule_interval_seconds",
]
