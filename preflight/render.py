"""Text and JSON renderings of a preflight run, in the spirit of `pulumi preview` with a policy pack.

Serves every control: the verdict must be readable by a reviewer (which resource, which policy, why) and by a
machine (JSON with the exact violations), and a blocked run must say so in its last line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Sequence

from preflight.analyzer import PROVIDER_TYPE_PREFIX, AnalysisResult, Violation
from preflight.model import RecordedResource


@dataclass(frozen=True)
class RunSummary:
    mode: str  # "preview" or "state"
    project: str
    stack: str
    source: str  # "program" or the export file
    resources: Sequence[RecordedResource]
    result: AnalysisResult


def _hidden(res: RecordedResource) -> bool:
    # The CLI shows no default provider in the tree and does not count it.
    return res.type.startswith(PROVIDER_TYPE_PREFIX) and res.name.startswith("default")


def shown_resources(resources: Sequence[RecordedResource]) -> list[RecordedResource]:
    return [r for r in resources if not _hidden(r)]


def to_json(summary: RunSummary) -> str:
    document = {
        "resources": len(shown_resources(summary.resources)),
        "violations": [v.to_json() for v in summary.result.violations],
    }
    return json.dumps(document, indent=2)


def _counts(violations: Sequence[Violation]) -> str:
    mandatory = sum(v.enforcement == "mandatory" for v in violations)
    advisory = sum(v.enforcement == "advisory" for v in violations)
    parts = []
    if mandatory:
        parts.append(f"{mandatory} mandatory")
    if advisory:
        parts.append(f"{advisory} advisory")
    return ", ".join(parts)


def _tree_rows(resources: Sequence[RecordedResource]) -> list[tuple[str, RecordedResource]]:
    shown = shown_resources(resources)
    urns = {r.urn for r in shown}
    children: dict[str | None, list[RecordedResource]] = {}
    for res in shown:
        parent = res.parent if res.parent in urns else None
        children.setdefault(parent, []).append(res)
    rows: list[tuple[str, RecordedResource]] = []

    def walk(parent: str | None, prefix: str, is_root: bool) -> None:
        kids = children.get(parent, [])
        for index, res in enumerate(kids):
            last = index == len(kids) - 1
            branch = "" if is_root else ("└─ " if last else "├─ ")
            rows.append((prefix + branch, res))
            walk(res.urn, "" if is_root else prefix + ("   " if last else "│  "), False)

    walk(None, "", True)
    return rows


def to_text(summary: RunSummary) -> str:
    result = summary.result
    by_urn: dict[str, list[Violation]] = {}
    for v in result.violations:
        by_urn.setdefault(v.urn, []).append(v)
    lines: list[str] = []
    if summary.mode == "preview":
        lines.append(f"Previewing update ({summary.stack}) of {summary.project} offline, "
                     f"with the program under the mock engine:")
    else:
        lines.append(f"Checking stack {summary.project}/{summary.stack} from {summary.source}:")
    lines.append("")
    rows = _tree_rows(summary.resources)
    plan = "create" if summary.mode == "preview" else "same"
    symbol = "+" if summary.mode == "preview" else " "
    type_width = max([len(p + r.type) for p, r in rows] + [4])
    name_width = max([len(r.name) for _, r in rows] + [4])
    lines.append(f"     {'Type':<{type_width}}  {'Name':<{name_width}}  {'Plan':<6}  Info")
    for prefix, res in rows:
        info = _counts(by_urn.get(res.urn, []))
        lines.append(f" {symbol}   {prefix + res.type:<{type_width}}  {res.name:<{name_width}}  {plan:<6}  {info}".rstrip())
    lines.append("")
    types = {r.urn: r for r in summary.resources}
    lines.append("Policies:")
    for pack in result.packs:
        mark = "❌" if any(v.enforcement == "mandatory" for v in pack.violations) else (
            "⚠️ " if pack.violations else "✅")
        lines.append(f"    {mark} {pack.name}@v{pack.version} (local: {pack.path})")
        for v in pack.violations:
            res = types.get(v.urn)
            where = f"({res.type}: {res.name})" if res is not None else ("(stack)" if not v.urn else f"({v.urn})")
            lines.append(f"        - [{v.enforcement}]  {v.policy}  {where}")
            texts = [v.description] if v.description else []
            if v.message and v.message != v.description:
                texts.append(v.message)
            lines.extend(f"          {line}" for text in texts for line in text.splitlines())
    logs = [(pack.name, entry) for pack in result.packs for entry in pack.logs]
    logs += [("engine", entry) for entry in result.engine_logs]
    if logs:
        lines.append("")
        lines.append("Diagnostics:")
        for source, entry in logs:
            lines.append(f"    {source} {entry.severity}: {entry.message}")
    lines.append("")
    lines.append("Resources:")
    count = len(shown_resources(summary.resources))
    lines.append(f"    + {count} to create" if summary.mode == "preview" else f"    {count} checked")
    lines.append("")
    mandatory = len(result.mandatory)
    advisory = sum(v.enforcement == "advisory" for v in result.violations)
    if mandatory:
        lines.append(f"FAIL: {mandatory} mandatory and {advisory} advisory policy violation(s); "
                     f"`pulumi preview --policy-pack` would fail.")
    elif advisory:
        lines.append(f"PASS with {advisory} advisory policy violation(s); no mandatory violation.")
    else:
        lines.append("PASS: no policy violation.")
    return "\n".join(lines)
