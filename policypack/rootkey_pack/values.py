"""Unknown-aware views of the resources the engine sends, shared by every policy.

pulumi_policy hands policies proxies that raise `UnknownValueError` on any value not known during preview, and the
SDK turns an escaped error into an *advisory* "can't run policy during preview". For a guardrail that silently
downgrades a mandatory check, so the pack never lets the error escape: every property is copied once into plain
Python data where an unknown value becomes the `UNKNOWN` marker, and each policy decides what an unknown means.
Links between resources use URNs (dependencies / propertyDependencies) because ids and ARNs of new resources are
unknown at preview.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

from pulumi_policy.proxy import (
    UNKNOWN_ARCHIVE_VALUE,
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_ASSET_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    UnknownValueError,
)


class _Unknown:
    """The single marker for a value the engine does not know yet."""

    _instance: Optional[_Unknown] = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<unknown>"

    def __bool__(self) -> bool:
        # Truthiness of an unknown must never decide a check by accident.
        raise TypeError("the truth value of an unknown value is undefined; test `is UNKNOWN` first")


UNKNOWN = _Unknown()

_SENTINELS = frozenset(
    {
        UNKNOWN_BOOLEAN_VALUE,
        UNKNOWN_NUMBER_VALUE,
        UNKNOWN_STRING_VALUE,
        UNKNOWN_ARRAY_VALUE,
        UNKNOWN_ASSET_VALUE,
        UNKNOWN_ARCHIVE_VALUE,
        UNKNOWN_OBJECT_VALUE,
    }
)


def contains_unknown(value: Any) -> bool:
    if value is UNKNOWN:
        return True
    if isinstance(value, Mapping):
        return any(contains_unknown(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(contains_unknown(v) for v in value)
    return False


def plain(value: Any) -> Any:
    """Copy a (possibly proxied) property value into dicts/lists, with `UNKNOWN` for unknown values."""
    if isinstance(value, str):
        return UNKNOWN if value in _SENTINELS else value
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key in value:
            try:
                item = value[key]
            except UnknownValueError:
                item = UNKNOWN
            out[str(key)] = plain(item)
        return out
    if isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
        items: list[Any] = []
        for index in range(len(value)):
            try:
                item = value[index]
            except UnknownValueError:
                item = UNKNOWN
            items.append(plain(item))
        return items
    return value


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


MISSING = _Missing()


@dataclass(frozen=True)
class Res:
    """One resource as a policy sees it: plain properties plus its URN links."""

    urn: str
    type: str
    name: str
    props: Mapping[str, Any]
    parent: Optional[str] = None
    dependencies: tuple[str, ...] = ()
    property_dependencies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def get(self, key: str, default: Any = MISSING) -> Any:
        return self.props.get(key, default)

    @property
    def label(self) -> str:
        return f"{self.type} '{self.name}'"

    @staticmethod
    def from_policy_resource(resource: Any) -> Res:
        """Build from a pulumi_policy.PolicyResource (AnalyzeStack: outputs, parent and dependency objects)."""
        parent = getattr(resource, "parent", None)
        parent_urn = getattr(resource, "opts", None) and getattr(resource.opts, "parent", None)
        if parent is not None:
            parent_urn = parent.urn
        deps = tuple(d.urn for d in (getattr(resource, "dependencies", None) or []))
        prop_deps = {
            str(k): tuple(d.urn for d in v) for k, v in (getattr(resource, "property_dependencies", None) or {}).items()
        }
        return Res(
            urn=resource.urn,
            type=resource.resource_type,
            name=resource.name,
            props=plain(resource.props),
            parent=parent_urn or None,
            dependencies=deps,
            property_dependencies=prop_deps,
        )

    @staticmethod
    def from_validation_args(args: Any) -> Res:
        """Build from pulumi_policy.ResourceValidationArgs (Analyze: inputs, no dependency information)."""
        opts = getattr(args, "opts", None)
        return Res(
            urn=args.urn,
            type=args.resource_type,
            name=args.name,
            props=plain(args.props),
            parent=(getattr(opts, "parent", None) or None) if opts is not None else None,
        )


@dataclass(frozen=True)
class StackView:
    """The resources of one AnalyzeStack call, indexed for URN links.

    Only resources of the types a policy reads have their properties copied: stacks can hold thousands of unrelated
    resources, and pulumi_policy already deserializes every resource once per policy.
    """

    resources: tuple[Res, ...]
    stack_name: str
    index: Mapping[str, Res] = field(default_factory=dict)
    skeleton: Mapping[str, tuple[str, str, Optional[str]]] = field(default_factory=dict)  # urn -> (type, name, parent)

    @staticmethod
    def build(resources: Iterable[Any], stack_name: Optional[str] = None, types: Optional[Iterable[str]] = None) -> StackView:
        wanted = frozenset(types) if types is not None else None
        views: list[Res] = []
        skeleton: dict[str, tuple[str, str, Optional[str]]] = {}
        for r in resources:
            if isinstance(r, Res):
                view: Optional[Res] = r if wanted is None or r.type in wanted else None
                skeleton[r.urn] = (r.type, r.name, r.parent)
            else:
                parent = getattr(r, "parent", None)
                skeleton[r.urn] = (r.resource_type, r.name, parent.urn if parent is not None else None)
                view = Res.from_policy_resource(r) if wanted is None or r.resource_type in wanted else None
            if view is not None:
                views.append(view)
        if stack_name is None:
            stack_name = current_stack_name(views) or next(
                (n for n in (stack_name_from_urn(u) for u in skeleton) if n), ""
            )
        return StackView(tuple(views), stack_name, {v.urn: v for v in views}, skeleton)

    def by_urn(self, urn: str) -> Optional[Res]:
        return self.index.get(urn)

    def of_type(self, *types: str) -> list[Res]:
        return [r for r in self.resources if r.type in types]

    def linked(self, res: Res, prop: str, *types: str) -> list[Res]:
        """Resources that `res.prop` was computed from, per the engine's propertyDependencies."""
        found: list[Res] = []
        for urn in res.property_dependencies.get(prop, ()):
            target = self.by_urn(urn)
            if target is not None and (not types or target.type in types):
                found.append(target)
        return found

    def link_state(self, res: Res, prop: str, target: Res, known_ids: set[str]) -> Optional[bool]:
        """Whether `res.prop` refers to `target`: True/False, or None when the value is unknown and unlinked.

        An unknown value whose propertyDependencies name other resources refers to one of those, not to `target`.
        """
        linked = res.property_dependencies.get(prop, ())
        if target.urn in linked:
            return True
        value = res.get(prop)
        if value is UNKNOWN or contains_unknown(value):
            return False if linked else None
        if isinstance(value, str):
            return value in known_ids
        if isinstance(value, list):
            return any(isinstance(v, str) and v in known_ids for v in value)
        return False

    def ancestor_types(self, res: Res) -> list[str]:
        chain: list[str] = []
        seen: set[str] = set()
        current = res.parent
        while current and current not in seen and current in self.skeleton:
            seen.add(current)
            kind, _, parent = self.skeleton[current]
            chain.append(kind)
            current = parent
        return chain


def stack_name_from_urn(urn: str) -> Optional[str]:
    # urn:pulumi:<stack>::<project>::<type chain>::<name>
    if not urn.startswith("urn:pulumi:"):
        return None
    rest = urn[len("urn:pulumi:"):]
    stack, sep, _ = rest.partition("::")
    return stack if sep and stack else None


def current_stack_name(resources: Sequence[Res] = ()) -> str:
    """The stack being previewed.

    pulumi_policy's ConfigureStack handler keeps only the stack tags, so the pack reads PULUMI_STACK, which the
    engine sets when it starts the analyzer (and from which pulumi_policy configures pulumi.get_stack()); a URN
    carries the same name and serves when the variable is absent (unit tests, foreign drivers). "" means unknown.
    """
    env = os.environ.get("PULUMI_STACK", "").strip()
    if env:
        return env
    for res in resources:
        name = stack_name_from_urn(res.urn)
        if name:
            return name
    return ""


def current_project_name() -> str:
    return os.environ.get("PULUMI_PROJECT", "").strip()
