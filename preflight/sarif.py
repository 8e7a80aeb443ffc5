"""SARIF 2.1.0 rendering of a preflight run, for GitHub code scanning and any other SARIF reader.

Serves every control: a violation shows on the pull request at the line of the program that registered the resource
at fault, with the policy's "Ensure ..." description, remediation and framework tags alongside.

One run per policy pack (the pack is the tool that judged), one rule per policy the pack declares, one result per
violation. A result's logical location is the resource's URN; its physical location is the file and line the SDK
reported as the registration's source position. A stack export carries no source position, so its results have
logical locations only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import unquote, urlparse

from preflight.analyzer import PackReport, PolicyInfo, Violation
from preflight.model import RecordedResource
from preflight.render import RunSummary

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
SRCROOT = "%SRCROOT%"
_STACK_TYPE = "pulumi:pulumi:Stack"

# GitHub code scanning ranks alerts by properties["security-severity"] (a number as a string, 0.0-10.0):
# over 9.0 critical, 7.0-8.9 high, 4.0-6.9 medium, 0.1-3.9 low.
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0"}
_LEVEL = {"mandatory": "error", "remediate": "error", "advisory": "warning", "disabled": "none"}


def _rule(policy: PolicyInfo) -> dict[str, Any]:
    properties: dict[str, Any] = {"tags": list(policy.tags)}
    if policy.severity in SECURITY_SEVERITY:
        properties["security-severity"] = SECURITY_SEVERITY[policy.severity]
        properties["severity"] = policy.severity
    rule: dict[str, Any] = {
        "id": policy.name,
        "name": policy.name,
        "shortDescription": {"text": policy.description},
        "fullDescription": {"text": policy.description},
        "defaultConfiguration": {"level": _LEVEL.get(policy.enforcement, "warning")},
        "properties": properties,
    }
    if policy.remediation:
        rule["help"] = {"text": policy.remediation}
    if policy.url:
        rule["helpUri"] = policy.url
    return rule


def _unknown_rule(violation: Violation) -> PolicyInfo:
    # A violation from a policy the pack did not declare (a failed remediation is reported this way): still a rule.
    return PolicyInfo(name=violation.policy, description=violation.description or violation.policy,
                      enforcement=violation.enforcement, kind="unknown", config_schema=None,
                      severity=violation.severity)


def source_location(res: RecordedResource | None, base: Path) -> dict[str, Any] | None:
    """The physical location of a resource's registration, relative to the project directory; None if unknown."""
    if res is None or not res.source_uri or res.source_line < 1:
        return None
    parsed = urlparse(res.source_uri)
    if parsed.scheme != "file":
        return None
    try:
        relative = Path(unquote(parsed.path)).resolve().relative_to(base.resolve())
    except ValueError:
        # Registered from outside the project (an installed library): no line in this repository to annotate.
        return None
    return {"artifactLocation": {"uri": relative.as_posix(), "uriBaseId": SRCROOT},
            "region": {"startLine": res.source_line}}


def _entry_point(base: Path) -> dict[str, Any] | None:
    # A stack policy's finding is about the program as a whole (a control missing from it): it points at the
    # program's entry point, where the components are wired.
    candidate = base / "__main__.py"
    if not candidate.is_file():
        return None
    return {"artifactLocation": {"uri": candidate.resolve().relative_to(base.resolve()).as_posix(),
                                 "uriBaseId": SRCROOT},
            "region": {"startLine": 1}}


def _result(violation: Violation, rule_index: int, resources: Mapping[str, RecordedResource], stack_urn: str,
            base: Path, with_source: bool) -> dict[str, Any]:
    urn = violation.urn or stack_urn
    res = resources.get(urn)
    location: dict[str, Any] = {}
    if with_source:
        physical = source_location(res, base) if violation.urn else _entry_point(base)
        if physical is not None:
            location["physicalLocation"] = physical
    logical: dict[str, Any] = {"fullyQualifiedName": urn, "kind": "resource"}
    if res is not None:
        logical["name"] = res.name
    location["logicalLocations"] = [logical]
    return {
        "ruleId": violation.policy,
        "ruleIndex": rule_index,
        "level": _LEVEL.get(violation.enforcement, "warning"),
        "message": {"text": violation.message or violation.description},
        "locations": [location],
        "properties": {"enforcement": violation.enforcement, "urn": violation.urn},
    }


def _run(pack: PackReport, summary: RunSummary, base: Path) -> dict[str, Any]:
    policies = list(pack.policies)
    known = {p.name for p in policies}
    for v in pack.violations:
        if v.policy not in known:
            policies.append(_unknown_rule(v))
            known.add(v.policy)
    index = {p.name: i for i, p in enumerate(policies)}
    resources = {r.urn: r for r in summary.resources}
    stack_urn = next((r.urn for r in summary.resources if r.type == _STACK_TYPE),
                     f"urn:pulumi:{summary.stack}::{summary.project}::{_STACK_TYPE}::{summary.project}-{summary.stack}")
    with_source = summary.mode == "preview"
    run: dict[str, Any] = {
        "tool": {"driver": {
            "name": pack.name,
            "version": pack.version,
            "informationUri": "https://www.pulumi.com/docs/iac/using-pulumi/crossguard/",
            "rules": [_rule(p) for p in policies],
        }},
        "automationDetails": {"id": f"preflight/{summary.project}/{summary.stack}/{pack.name}/"},
        "invocations": [{"executionSuccessful": True}],
        "results": [_result(v, index[v.policy], resources, stack_urn, base, with_source)
                    for v in pack.violations],
        "properties": {"mode": summary.mode, "source": summary.source},
    }
    if with_source:
        run["originalUriBaseIds"] = {SRCROOT: {"uri": base.resolve().as_uri() + "/"}}
    return run


def to_sarif_log(summary: RunSummary, base: Path) -> dict[str, Any]:
    return {"$schema": SARIF_SCHEMA_URI, "version": SARIF_VERSION,
            "runs": [_run(pack, summary, base) for pack in summary.result.packs]}


def to_sarif(summary: RunSummary, base: Path) -> str:
    return json.dumps(to_sarif_log(summary, base), indent=2)

