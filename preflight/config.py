"""Stack configuration as the Pulumi CLI assembles it: Pulumi.yaml defaults, Pulumi.<stack>.yaml, then --config.

Serves every control: each guardrail is switched and tuned by config (enableScp, enableDetection, enableAudit,
cisRootUsageAlarm...), so the preview must see exactly the values `pulumi preview` would pass in PULUMI_CONFIG --
and a typo or a mistyped value must stop the run with the key, the value and what is allowed, never fall back to a
default that happens to pass.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

from preflight.errors import PreflightError

_TYPES = ("string", "integer", "boolean", "array")


@dataclass(frozen=True)
class ConfigKeySpec:
    key: str  # full key, "<namespace>:<name>"
    type: str | None
    default: str | None  # already in PULUMI_CONFIG string form
    secret: bool
    items_type: str | None


@dataclass(frozen=True)
class Project:
    name: str
    runtime: str
    description: str
    directory: Path
    keys: Mapping[str, ConfigKeySpec] = field(default_factory=dict)

    def tags(self) -> dict[str, str]:
        """The stack tags the CLI derives from Pulumi.yaml (pulumi:project, pulumi:runtime, pulumi:description)."""
        tags = {"pulumi:project": self.name, "pulumi:runtime": self.runtime}
        if self.description:
            tags["pulumi:description"] = self.description
        return tags


@dataclass(frozen=True)
class StackConfig:
    values: Mapping[str, str]  # full key -> PULUMI_CONFIG string
    secret_keys: tuple[str, ...]


def to_config_string(value: Any) -> str:
    """A YAML / JSON value in the string form programs read from PULUMI_CONFIG (objects as compact JSON)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value, separators=(",", ":"))


def full_key(project: str, key: str) -> str:
    return key if ":" in key else f"{project}:{key}"


def load_project(directory: Path) -> Project:
    path = directory / "Pulumi.yaml"
    if not path.is_file():
        raise PreflightError(f"no Pulumi.yaml in {directory}; run preflight from the project directory or pass -C DIR")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise PreflightError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str) or not raw["name"]:
        raise PreflightError(f"{path} must be a mapping with a non-empty 'name'")
    name: str = raw["name"]
    runtime = raw.get("runtime")
    runtime_name = runtime.get("name") if isinstance(runtime, dict) else runtime
    if not isinstance(runtime_name, str):
        raise PreflightError(f"{path}: 'runtime' is required")
    keys: dict[str, ConfigKeySpec] = {}
    block = raw.get("config") or {}
    if not isinstance(block, dict):
        raise PreflightError(f"{path}: 'config' must be a mapping of key to a value or a {{type, default}} object")
    for key, spec in block.items():
        fk = full_key(name, str(key))
        if isinstance(spec, dict):
            type_ = spec.get("type")
            if type_ is not None and type_ not in _TYPES:
                raise PreflightError(f"{path}: config {key!r} has type {type_!r}; allowed: {', '.join(_TYPES)}")
            items = spec.get("items")
            items_type = items.get("type") if isinstance(items, dict) else None
            if "default" in spec:
                default = to_config_string(spec["default"])
            elif "value" in spec:
                default = to_config_string(spec["value"])
            else:
                default = None
            keys[fk] = ConfigKeySpec(fk, type_, default, bool(spec.get("secret", False)), items_type)
        else:
            keys[fk] = ConfigKeySpec(fk, None, to_config_string(spec), False, None)
    return Project(name=name, runtime=runtime_name, description=str(raw.get("description") or ""),
                   directory=directory, keys=keys)


def _stack_file_values(project: Project, stack: str) -> dict[str, str]:
    path = project.directory / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        return {}
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise PreflightError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise PreflightError(f"{path} must be a YAML mapping")
    if raw.get("environment"):
        # ESC environments are resolved by the Pulumi service; skipping them would silently drop config values.
        raise PreflightError(f"{path} imports ESC environment(s) {raw['environment']!r}, which preflight cannot "
                             f"resolve offline; pass the values with --config KEY=VALUE and remove the import")
    block = raw.get("config") or {}
    if not isinstance(block, dict):
        raise PreflightError(f"{path}: 'config' must be a mapping")
    values: dict[str, str] = {}
    for key, value in block.items():
        key = str(key)
        if ":" not in key:
            raise PreflightError(
                f"{path}: could not parse {key!r} as a configuration key "
                f"(configuration keys should be of the form `<namespace>:<name>`, e.g. {project.name}:{key})")
        if isinstance(value, dict) and "secure" in value:
            raise PreflightError(
                f"{path}: {key} is an encrypted secret, which preflight cannot decrypt offline; "
                f"pass the value with --config {key}=VALUE")
        values[key] = to_config_string(value)
    return values


def parse_overrides(project: Project, pairs: Sequence[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise PreflightError(f"--config {pair!r} must be KEY=VALUE (KEY bare or <namespace>:<name>)")
        values[full_key(project.name, key.strip())] = value
    return values


def _check_value(spec: ConfigKeySpec, value: str) -> None:
    def fail(expected: str) -> PreflightError:
        return PreflightError(f"config {spec.key} = {value!r} is not {expected}")

    if spec.type == "boolean" and value not in ("true", "false"):
        raise fail("a boolean; allowed: true, false")
    if spec.type == "integer":
        try:
            int(value)
        except ValueError:
            raise fail("an integer") from None
    if spec.type == "array":
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = None
        if not isinstance(parsed, list):
            raise fail('a JSON array, e.g. ["a","b"]')
        item_check = {"string": str, "integer": int, "boolean": bool}.get(spec.items_type or "")
        if item_check is not None:
            bad = [item for item in parsed if not isinstance(item, item_check)
                   or (item_check is int and isinstance(item, bool))]
            if bad:
                raise fail(f"an array of {spec.items_type}s (bad items: {bad!r})")


def resolve_config(project: Project, stack: str, overrides: Sequence[str]) -> StackConfig:
    values = {k: spec.default for k, spec in project.keys.items() if spec.default is not None}
    values.update(_stack_file_values(project, stack))
    values.update(parse_overrides(project, overrides))
    if project.keys:
        prefix = f"{project.name}:"
        unknown = sorted(k for k in values if k.startswith(prefix) and k not in project.keys)
        if unknown:
            # The CLI would pass an undeclared key through silently; for a guardrail a typo such as enableSCP must
            # not leave the real switch at its default unnoticed.
            declared = ", ".join(sorted(k[len(prefix):] for k in project.keys if k.startswith(prefix)))
            raise PreflightError(f"config {', '.join(unknown)} is not declared in Pulumi.yaml; declared keys: "
                                 f"{declared}")
    for key, value in values.items():
        spec = project.keys.get(key)
        if spec is not None:
            _check_value(spec, value)
    secret_keys = tuple(sorted(k for k, spec in project.keys.items() if spec.secret and k in values))
    return StackConfig(values=dict(sorted(values.items())), secret_keys=secret_keys)
