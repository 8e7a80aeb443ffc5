"""Read and write the `pulumi stack export` format (apitype.UntypedDeployment, deployment version 3).

Serves every control after deployment: a PR check proves the program, but the guardrails can be switched off later
by another stack or by hand; analyzing the export of a deployed stack re-checks what is really there. The format
follows pulumi/pulumi `sdk/go/common/apitype/core.go` (DeploymentV3, ResourceV3, ManifestV1) and the secret encoding
of `pulumi stack export --show-secrets` ({<sig>: <secret sig>, "plaintext": "<JSON of the value>"}).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping

from preflight.analyzer import SECRET_SIG, SIG_KEY, ResourceOptions, urn_name
from preflight.errors import PreflightError
from preflight.model import RecordedResource

DEPLOYMENT_VERSION = 3
_URN_PREFIX = "urn:pulumi:"


@dataclass(frozen=True)
class LoadedExport:
    project: str
    stack: str
    resources: tuple[RecordedResource, ...]
    options: Mapping[str, ResourceOptions]
    skipped_pending_deletes: int


def parse_urn(urn: str) -> tuple[str, str, str, str]:
    """(stack, project, qualified type, name), or PreflightError if the string is not a Pulumi URN."""
    # Split as resource.URN does: the name is everything after the third "::" and may contain "::" itself.
    parts = urn.split("::", 3) if isinstance(urn, str) else []
    if len(parts) != 4 or not parts[0].startswith(_URN_PREFIX) or not parts[2] or not parts[1]:
        raise PreflightError(f"{urn!r} is not a Pulumi URN (urn:pulumi:<stack>::<project>::<type>::<name>)")
    return parts[0][len(_URN_PREFIX):], parts[1], parts[2], parts[3]


# -- writing -----------------------------------------------------------------------------------------------------


def _export_value(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get(SIG_KEY) == SECRET_SIG and "value" in value:
            return {SIG_KEY: SECRET_SIG, "plaintext": json.dumps(_export_value(value["value"]))}
        return {k: _export_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_export_value(v) for v in value]
    return value


def to_deployment(resources: Iterable[RecordedResource], *, engine_version: str) -> dict[str, Any]:
    """The UntypedDeployment document for the recorded resources.

    A preview's resources still hold the unknown sentinel where a value is only known after apply; the file is a
    record of the preview (and round-trips through --stack-export), not a state to `pulumi stack import`.
    """
    out = []
    for res in resources:
        entry: dict[str, Any] = {"urn": res.urn, "custom": res.custom}
        if res.id:
            entry["id"] = res.id
        entry["type"] = res.type
        if res.inputs:
            entry["inputs"] = _export_value(dict(res.inputs))
        if res.outputs:
            entry["outputs"] = _export_value(dict(res.outputs))
        if res.parent:
            entry["parent"] = res.parent
        if res.dependencies:
            entry["dependencies"] = list(res.dependencies)
        if res.provider:
            entry["provider"] = res.provider
        if res.property_dependencies:
            entry["propertyDependencies"] = {k: list(v) for k, v in res.property_dependencies.items()}
        out.append(entry)
    version = engine_version if engine_version.startswith("v") else f"v{engine_version}"
    return {
        "version": DEPLOYMENT_VERSION,
        "deployment": {
            "manifest": {
                "time": datetime.now(timezone.utc).isoformat(),
                # deploy.Manifest.NewMagic: the SHA-256 of the engine version, which `stack import` checks.
                "magic": hashlib.sha256(version.encode()).hexdigest(),
                "version": version,
            },
            "resources": out,
        },
    }


def write_export(path: Path, resources: Iterable[RecordedResource], *, engine_version: str) -> None:
    document = to_deployment(resources, engine_version=engine_version)
    try:
        path.write_text(json.dumps(document, indent=4) + "\n", encoding="utf-8")
    except OSError as exc:
        raise PreflightError(f"cannot write --export-state {path}: {exc}") from exc


# -- reading -----------------------------------------------------------------------------------------------------


def _import_value(value: Any, where: str) -> Any:
    if isinstance(value, dict):
        if value.get(SIG_KEY) == SECRET_SIG:
            if "plaintext" in value:
                try:
                    return {SIG_KEY: SECRET_SIG, "value": _import_value(json.loads(value["plaintext"]), where)}
                except (TypeError, json.JSONDecodeError) as exc:
                    raise PreflightError(f"{where}: a secret's plaintext is not JSON: {exc}") from exc
            if "value" in value:
                return {SIG_KEY: SECRET_SIG, "value": _import_value(value["value"], where)}
            raise PreflightError(
                f"{where}: holds an encrypted secret, which preflight cannot decrypt; export the stack with "
                f"`pulumi stack export --show-secrets`")
        return {k: _import_value(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_import_value(v, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def _urn_list(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(u, str) for u in value):
        raise PreflightError(f"{where} must be a list of URNs, got {value!r}")
    for urn in value:
        parse_urn(urn)
    return tuple(value)


def _options(entry: Mapping[str, Any], where: str) -> ResourceOptions:
    timeouts = entry.get("customTimeouts") or {}
    if not isinstance(timeouts, dict):
        raise PreflightError(f"{where}.customTimeouts must be an object, got {timeouts!r}")
    try:
        ct = tuple(float(timeouts.get(k, 0) or 0) for k in ("create", "update", "delete"))
    except (TypeError, ValueError) as exc:
        raise PreflightError(f"{where}.customTimeouts has a non-numeric value: {timeouts!r}") from exc
    return ResourceOptions(
        protect=bool(entry.get("protect", False)),
        ignore_changes=tuple(entry.get("ignoreChanges") or ()),
        additional_secret_outputs=tuple(entry.get("additionalSecretOutputs") or ()),
        aliases=tuple(a if isinstance(a, str) else a.get("urn", "") for a in entry.get("aliases") or ()),
        custom_timeouts=(ct[0], ct[1], ct[2]),
    )


def parse_deployment(document: Any, source: str) -> LoadedExport:
    if not isinstance(document, dict):
        raise PreflightError(f"{source}: expected a `pulumi stack export` JSON object, got {type(document).__name__}")
    version = document.get("version")
    if version != DEPLOYMENT_VERSION:
        raise PreflightError(
            f"{source}: deployment version {version!r} is not supported; expected {DEPLOYMENT_VERSION} "
            f"(the format of `pulumi stack export`)")
    deployment = document.get("deployment")
    if not isinstance(deployment, dict):
        raise PreflightError(f"{source}: 'deployment' must be an object")
    raw_resources = deployment.get("resources")
    if raw_resources is None:
        raw_resources = []
    if not isinstance(raw_resources, list):
        raise PreflightError(f"{source}: deployment.resources must be a list")
    resources: list[RecordedResource] = []
    options: dict[str, ResourceOptions] = {}
    seen: set[str] = set()
    identities: set[tuple[str, str]] = set()
    skipped = 0
    for index, entry in enumerate(raw_resources):
        where = f"{source}: deployment.resources[{index}]"
        if not isinstance(entry, dict):
            raise PreflightError(f"{where} must be an object")
        urn = entry.get("urn")
        if not isinstance(urn, str):
            raise PreflightError(f"{where}.urn is missing or not a string")
        stack, project, qualified, _ = parse_urn(urn)
        type_ = entry.get("type")
        if not isinstance(type_, str) or not type_:
            raise PreflightError(f"{where} ({urn}).type is missing or not a string")
        if qualified.rsplit("$", 1)[-1] != type_:
            raise PreflightError(f"{where}: type {type_!r} does not match the type in its URN {urn}")
        if not isinstance(entry.get("custom", False), bool):
            raise PreflightError(f"{where} ({urn}).custom must be a boolean")
        if entry.get("delete"):
            skipped += 1  # a pending delete is not part of the stack (`pulumi policy check` skips it too)
            continue
        if urn in seen:
            raise PreflightError(f"{where}: URN {urn} appears twice")
        seen.add(urn)
        identities.add((stack, project))
        for key in ("inputs", "outputs"):
            if not isinstance(entry.get(key, {}) or {}, dict):
                raise PreflightError(f"{where} ({urn}).{key} must be an object")
        parent = entry.get("parent") or None
        if parent is not None:
            parse_urn(parent)
        provider = entry.get("provider") or None
        if provider is not None and (not isinstance(provider, str) or provider.count("::") < 4):
            raise PreflightError(f"{where} ({urn}).provider {provider!r} is not '<provider urn>::<provider id>'")
        prop_deps_raw = entry.get("propertyDependencies") or {}
        if not isinstance(prop_deps_raw, dict):
            raise PreflightError(f"{where} ({urn}).propertyDependencies must be an object")
        resource_id = entry.get("id")
        resources.append(RecordedResource(
            urn=urn, type=type_, name=urn_name(urn), custom=bool(entry.get("custom", False)),
            id=str(resource_id) if resource_id not in (None, "") else None, parent=parent,
            inputs=_import_value(entry.get("inputs") or {}, f"{urn} inputs"),
            outputs=_import_value(entry.get("outputs") or {}, f"{urn} outputs"),
            dependencies=_urn_list(entry.get("dependencies"), f"{where}.dependencies"),
            property_dependencies={k: _urn_list(v, f"{where}.propertyDependencies.{k}")
                                   for k, v in prop_deps_raw.items()},
            provider=provider,
        ))
        options[urn] = _options(entry, where)
    if len(identities) > 1:
        raise PreflightError(f"{source}: resources belong to more than one stack: "
                             f"{', '.join(f'{p}/{s}' for s, p in sorted(identities))}")
    stack, project = next(iter(identities)) if identities else ("", "")
    return LoadedExport(project=project, stack=stack, resources=tuple(resources), options=options,
                        skipped_pending_deletes=skipped)


def read_export(path: Path) -> LoadedExport:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PreflightError(f"cannot read --stack-export {path}: {exc}") from exc
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PreflightError(f"{path} is not valid JSON: {exc}") from exc
    return parse_deployment(document, str(path))
