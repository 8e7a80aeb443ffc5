"""What a CloudTrail trail must keep to feed the root CreateAccessKey detection: logging on, multi-region, global
service events, the write management event selected, and a CloudWatch Logs destination (CIS AWS 3.x/4.x trail
controls that the monitoring recommendations 3.3 / 4.3 / 5.3 rely on)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping, Optional

from .values import MISSING, UNKNOWN, contains_unknown, not_boolean

# The fields of the root CreateAccessKey event that event selectors can test.
CREATE_ACCESS_KEY_FIELDS: Mapping[str, str] = {
    "eventCategory": "Management",
    "readOnly": "false",
    "eventSource": "iam.amazonaws.com",
    "eventName": "CreateAccessKey",
    "eventType": "AwsApiCall",
}

_LOG_GROUP_ARN_RE = re.compile(r"^arn:aws[a-zA-Z-]*:logs:[^:]*:[^:]*:log-group:([^:]+)(:\*)?\Z")


@dataclass(frozen=True)
class TrailFinding:
    problem: Optional[str] = None
    unknown_property: Optional[str] = None


def log_group_name_from_arn(arn: Any) -> Optional[str]:
    if not isinstance(arn, str):
        return None
    match = _LOG_GROUP_ARN_RE.match(arn)
    return match.group(1) if match else None


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    return [] if value in (MISSING, None) else [value]


def _field_selector_matches(selector: Mapping[str, Any]) -> Optional[bool]:
    field = selector.get("field")
    if not isinstance(field, str):
        return None
    value = CREATE_ACCESS_KEY_FIELDS.get(field)
    if value is None:
        # resources.type / resources.ARN etc. only narrow data events; the pack cannot prove them for this event.
        return False
    checks = {
        "equals": lambda xs: any(x == value for x in xs),
        "notEquals": lambda xs: all(x != value for x in xs),
        "startsWith": lambda xs: any(value.startswith(x) for x in xs),
        "notStartsWith": lambda xs: all(not value.startswith(x) for x in xs),
        "endsWith": lambda xs: any(value.endswith(x) for x in xs),
        "notEndsWith": lambda xs: all(not value.endswith(x) for x in xs),
    }
    for key, check in checks.items():
        items = selector.get(key, MISSING)
        if items in (MISSING, None):
            continue
        items = _as_list(items)
        if not all(isinstance(i, str) for i in items):
            return None
        if not check(items):
            return False
    return True


def records_create_access_key(props: Mapping[str, Any]) -> tuple[Optional[bool], str]:
    """Whether the trail's selectors record the root CreateAccessKey write management event (None: unknown)."""
    basic = props.get("eventSelectors", MISSING)
    advanced = props.get("advancedEventSelectors", MISSING)
    if basic is UNKNOWN or advanced is UNKNOWN or contains_unknown(basic) or contains_unknown(advanced):
        return None, "eventSelectors" if contains_unknown(basic) else "advancedEventSelectors"
    advanced_list = _as_list(advanced)
    basic_list = _as_list(basic)
    if advanced_list:
        for selector in advanced_list:
            fields = selector.get("fieldSelectors") if isinstance(selector, Mapping) else None
            if not isinstance(fields, list) or not fields:
                continue
            results = [_field_selector_matches(f) if isinstance(f, Mapping) else None for f in fields]
            if all(r is True for r in results):
                return True, ""
        return False, "its advanced event selectors do not select the iam.amazonaws.com CreateAccessKey write management event"
    if basic_list:
        for selector in basic_list:
            if not isinstance(selector, Mapping):
                continue
            rw = selector.get("readWriteType", "All")
            include = selector.get("includeManagementEvents", True)
            excluded = _as_list(selector.get("excludeManagementEventSources", []))
            if rw in ("All", "WriteOnly", None) and include in (True, None) and "iam.amazonaws.com" not in excluded:
                return True, ""
        return False, "its event selectors exclude write management events from iam.amazonaws.com"
    return True, ""  # no selectors: CloudTrail logs all management events


def trail_findings(props: Mapping[str, Any]) -> list[TrailFinding]:
    """Problems that keep a trail from delivering a root CreateAccessKey from any region to CloudWatch Logs."""
    findings: list[TrailFinding] = []
    logging = props.get("enableLogging", MISSING)
    if logging is UNKNOWN:
        findings.append(TrailFinding(unknown_property="enableLogging"))
    elif not_boolean(logging):
        findings.append(TrailFinding(problem=f"has enableLogging {logging!r}, not true or false"))
    elif logging is False:
        findings.append(TrailFinding(problem="has enableLogging false"))
    multi = props.get("isMultiRegionTrail", MISSING)
    if multi is UNKNOWN:
        findings.append(TrailFinding(unknown_property="isMultiRegionTrail"))
    elif multi is not True:
        findings.append(TrailFinding(problem="is not multi-region (isMultiRegionTrail is not true)"))
    global_events = props.get("includeGlobalServiceEvents", MISSING)
    if global_events is UNKNOWN:
        findings.append(TrailFinding(unknown_property="includeGlobalServiceEvents"))
    elif not_boolean(global_events):
        findings.append(TrailFinding(problem=f"has includeGlobalServiceEvents {global_events!r}, not true or false"))
    elif global_events is False:
        findings.append(TrailFinding(problem="has includeGlobalServiceEvents false, so IAM events are not recorded"))
    recorded, why = records_create_access_key(props)
    if recorded is None:
        findings.append(TrailFinding(unknown_property=why))
    elif not recorded:
        findings.append(TrailFinding(problem=why))
    return findings
