"""Unknown-aware views of the resources the engine sends, shared by every policy.

pulumi_policy hands policies proxies that raise `UnknownValueError` on any value not known during preview, and the
SDK turns an escaped error into an *advisory* "can't run policy during preview". For a guardrail that silently
downgrades a mandatory check, so the pack never lets the error escape: every property is copied once into plain
Python data where an unknown value becomes the `UNKNOWN` marker, and each policy decides what an unknown means.
Links between resources use URNs (propertyDependencies) because ids and ARNs of new resources are unknown at
preview; `StackView.reference` holds the one rule for when a link may stand in for a value (see `Reference`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Optional

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

from .sdk_cache import request_memo, request_value


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


def not_boolean(value: Any) -> bool:
    """Set, known and not a JSON boolean: the string "false", 0, a list. A check written `is False` reads those as
    "not false", so a switch turned off with a string would pass; every such value is a violation instead."""
    return value is not MISSING and value is not None and value is not UNKNOWN and not isinstance(value, bool)


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
            # Every stack policy of a request reads the same resources; copy each one once per request.
            props=request_memo(resource.props, plain),
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


Identifies = Callable[[Any, Res], bool]


def by_props(*props: str) -> Identifies:
    """A matcher: a known value identifies a resource when it equals one of these known properties of it."""

    def identifies(value: Any, target: Res) -> bool:
        if not isinstance(value, str) or not value:
            return False
        return any(isinstance(v, str) and v == value for v in (target.get(p) for p in props))

    return identifies


# Resource types a program may name by an ARN it builds from the resource's known name, so that the ARN is known at
# preview while the resource's own arn output is not: type -> (service, resource part before the name).
_NAME_BUILT_ARNS: Mapping[str, tuple[str, str]] = {
    "aws:sns/topic:Topic": ("sns", ""),
    "aws:lambda/function:Function": ("lambda", "function:"),
    "aws:cloudwatch/eventRule:EventRule": ("events", "rule/"),
    "aws:cloudwatch/logGroup:LogGroup": ("logs", "log-group:"),
    "aws:iam/role:Role": ("iam", "role/"),
}


def _name_built_arn(value: str, target: Res) -> bool:
    """Whether `value` is the ARN `target` will get, judged from its known name while its own arn is unknown.

    The region must be the resource's when that is known; the account cannot be checked at preview, since the pack
    does not know it (in a deployed stack export the arn is known and compared exactly instead)."""
    shape = _NAME_BUILT_ARNS.get(target.type)
    name = target.get("name")
    if shape is None or target.get("arn") is not UNKNOWN or not isinstance(name, str) or not name:
        return False
    service, prefix = shape
    parts = value.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != service:
        return False
    region = target.get("region")
    if isinstance(region, str) and region and parts[3] != region:
        return False
    resource = parts[5]
    if target.type == "aws:iam/role:Role":
        path = target.get("path")
        path = path if isinstance(path, str) and path else "/"
        return resource == f"role{path}{name}"
    if target.type == "aws:cloudwatch/logGroup:LogGroup":
        return resource in (f"{prefix}{name}", f"{prefix}{name}:*")
    return resource == f"{prefix}{name}"


def by_arn(*props: str) -> Identifies:
    """A matcher for properties that hold an ARN (or id): equal to one of the resource's known `props`, or the ARN
    the resource will get, built from its known name while its own arn is unknown (see `_name_built_arn`)."""
    exact = by_props(*props)

    def identifies(value: Any, target: Res) -> bool:
        return exact(value, target) or (isinstance(value, str) and _name_built_arn(value, target))

    return identifies


@dataclass(frozen=True)
class Reference:
    """The parts of one property that can name another resource.

    The rule every policy follows: a known value is judged as a value, and a propertyDependencies link decides
    nothing about it. A link stands in only for an unknown value (at preview, a new resource's id or ARN), and only
    when the engine recorded exactly one resource for the property: a value computed from several resources'
    outputs (Output.all(a.id, b.id).apply(...)) proves nothing about which one it names. In a deployed stack
    export every value is known, so links never decide.
    """

    known: tuple[Any, ...]  # the value, or each known element of a list
    has_unknown: bool  # the value, or some element of it, is unknown
    stand_in: Optional[str]  # the URN an unknown part stands for: the one resource it was computed from
    links: tuple[str, ...]  # every resource the engine recorded for the property, in order


@dataclass(frozen=True)
class Resolution:
    targets: tuple[Res, ...]  # candidates the property refers to (by known value, or by the stand-in link)
    foreign: tuple[Any, ...]  # known values that identify no candidate
    open: bool  # an unknown part that no single link identifies: it could be anything
    stand_in_type: Optional[str]  # type of a stand-in that is not a candidate (the unknown part names that instead)
    reference: Reference


@dataclass(frozen=True)
class StackView:
    """The resources of one AnalyzeStack call, indexed for URN links.

    Only resources of the types a policy reads have their properties copied: stacks can hold thousands of unrelated
    resources (and sdk_cache defers pulumi_policy's conversion to the first read, so the others are never converted).
    """

    resources: tuple[Res, ...]
    stack_name: str
    index: Mapping[str, Res] = field(default_factory=dict)
    skeleton: Mapping[str, tuple[str, str, Optional[str]]] = field(default_factory=dict)  # urn -> (type, name, parent)

    @staticmethod
    def build(resources: Iterable[Any], stack_name: Optional[str] = None, types: Optional[Iterable[str]] = None) -> StackView:
        wanted = frozenset(types) if types is not None else None
        if stack_name is None:
            # Within one AnalyzeStack call every stack policy gets the same resources: build each view once.
            return request_value(("stack-view", wanted), lambda: StackView._build(resources, None, wanted))
        return StackView._build(resources, stack_name, wanted)

    @staticmethod
    def _build(resources: Iterable[Any], stack_name: Optional[str], wanted: Optional[frozenset[str]]) -> StackView:
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

    def type_of(self, urn: str) -> Optional[str]:
        entry = self.skeleton.get(urn)
        return entry[0] if entry is not None else None

    def reference(self, res: Res, prop: str) -> Reference:
        """What `res.prop` is made of, for deciding which resource it refers to (see `Reference`)."""
        value = res.get(prop)
        links = tuple(res.property_dependencies.get(prop, ()))
        items = value if isinstance(value, list) else [value]
        known = tuple(v for v in items if v is not MISSING and v is not None and not contains_unknown(v))
        has_unknown = any(contains_unknown(v) for v in items)
        distinct = tuple(dict.fromkeys(links))
        stand_in = distinct[0] if has_unknown and len(distinct) == 1 else None
        return Reference(known, has_unknown, stand_in, distinct)

    def refers_to(self, res: Res, prop: str, target: Res, identifies: Identifies) -> Optional[bool]:
        """Whether `res.prop` (the value, or any element of a list) refers to `target`.

        True or False when decided; None when an unknown part could be `target` but no single link says so.
        """
        ref = self.reference(res, prop)
        if any(identifies(v, target) for v in ref.known):
            return True
        if not ref.has_unknown:
            return False
        if ref.stand_in is not None:
            return ref.stand_in == target.urn
        # An unknown value computed from other resources only is not this one; from several including it, or
        # from none the engine recorded, it could be.
        return None if (not ref.links or target.urn in ref.links) else False

    def resolve(self, res: Res, prop: str, candidates: Iterable[Res], identifies: Identifies) -> Resolution:
        """The candidates `res.prop` refers to, the known values that identify none of them, and what stays open."""
        ref = self.reference(res, prop)
        pool = list(candidates)
        targets: dict[str, Res] = {}
        foreign: list[Any] = []
        for value in ref.known:
            hits = [c for c in pool if identifies(value, c)]
            for hit in hits:
                targets.setdefault(hit.urn, hit)
            if not hits:
                foreign.append(value)
        stand_in_type: Optional[str] = None
        if ref.stand_in is not None:
            hit = next((c for c in pool if c.urn == ref.stand_in), None)
            if hit is not None:
                targets.setdefault(hit.urn, hit)
            else:
                stand_in_type = self.type_of(ref.stand_in)
        open_ = ref.has_unknown and ref.stand_in is None
        return Resolution(tuple(targets.values()), tuple(foreign), open_, stand_in_type, ref)

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
