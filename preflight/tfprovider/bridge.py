"""Pulumi names and shapes <-> Terraform names and shapes, derived from the provider's schema.

Mapping layer: no gRPC, no msgpack. It follows pulumi/pulumi-terraform-bridge's rules (pkg/tfbridge):
- a type token `aws:<module>/<member>:<Type>` names the Terraform type `aws_<module>_<snake(member)>`, and an invoke
  `aws:<module>/get<Name>:get<Name>` the data source `aws_<module>_<snake(Name)>` (`aws_<snake(Name)>` for `index`);
- property names are the Terraform names in camelCase; a list or set (attribute or block) whose MaxItems is not 1 gets
  a plural name (`event_selector` -> `eventSelectors`, `rule` -> `rules`);
- a nested block with MaxItems 1 (or nesting single/group) is one object, not a one-element list;
- `id` is the resource's id, not an input, and the `timeouts` block is Pulumi's customTimeouts option, not a property;
- map keys (tags, environment variables, dimensions) are data and keep their spelling.
Where pulumi-aws departs from those rules for a resource this project uses, `PROPERTY_EXCEPTIONS` and
`TOKEN_EXCEPTIONS` say so; tests/preflight/tfprovider/test_bridge.py pins them.

A Pulumi property the schema does not know is a `BridgeError` naming the property path, never dropped.
Unknowns (preflight's UNKNOWN string on the Pulumi side) map to `codec.UNKNOWN_VALUE` and back; secrets are unwrapped
(the provider sees plain values, as under Pulumi's bridge); assets and archives are left to the caller
(see `archive.py`), which replaces them before the values get here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

from preflight.model import UNKNOWN
from preflight.tfprovider.codec import UNKNOWN_VALUE
from preflight.tfprovider.schema import Block, NestedBlock

# pulumi/pulumi sdk/go/common/resource/sig: the special keys of the engine's wire encoding.
SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
ASSET_SIG = "c44067f5952c0a294b673a41bacd8c17"
ARCHIVE_SIG = "0def7320c3a5731c473e5ecbe6d01bc7"
RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e"

# Tokens whose Terraform name is not derived by the rule (pulumi-aws provider/resources.go).
TOKEN_EXCEPTIONS: Mapping[str, str] = {
    "aws:cloudtrail/trail:Trail": "aws_cloudtrail",
    # pulumi-aws 6 names of the S3 resources that pulumi-aws 7 renamed to the rule's names.
    "aws:s3/bucketV2:BucketV2": "aws_s3_bucket",
    "aws:s3/bucketVersioningV2:BucketVersioningV2": "aws_s3_bucket_versioning",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2":
        "aws_s3_bucket_server_side_encryption_configuration",
}

# (Terraform type, top-level Terraform name) -> Pulumi name, where pulumi-aws renames a property.
PROPERTY_EXCEPTIONS: Mapping[tuple[str, str], str] = {
    ("aws_cloudwatch_metric_alarm", "alarm_name"): "name",
    ("aws_lambda_function", "function_name"): "name",
    ("aws_lambda_function", "filename"): "code",
    ("aws_lambda_permission", "function_name"): "function",
    ("aws_sns_topic_subscription", "topic_arn"): "topic",
}

# (schema owner, top-level block) flattened although the schema gives no MaxItems 1: pulumi-aws declares these
# provider settings as single objects (`aws:defaultTags: {tags: {...}}`).
FLATTEN_EXCEPTIONS: frozenset[tuple[str, str]] = frozenset({
    ("provider", "default_tags"), ("provider", "ignore_tags"), ("provider", "assume_role"),
    ("provider", "assume_role_with_web_identity"),
})

# Terraform properties Pulumi does not expose as properties.
HIDDEN = frozenset({"timeouts"})


class BridgeError(ValueError):
    """A Pulumi value that has no Terraform counterpart. `path` uses Pulumi names."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.reason = message


# ------------------------------------------------------------------------------------------------ names

def snake(name: str) -> str:
    """camelCase -> snake_case: `cloudWatchLogsRoleArn` -> `cloud_watch_logs_role_arn`, `s3BucketName` ->
    `s3_bucket_name` (digits stay with the word before them, as in Terraform's names)."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def pascal(name: str) -> str:
    c = camel(name)
    return c[:1].upper() + c[1:]


_IRREGULAR_PLURALS = {"child": "children", "person": "people", "index": "indices"}


def plural(name: str) -> str:
    """The bridge's English plural of a snake_case name, on its last word; a name already plural is kept."""
    head, _, last = name.rpartition("_")
    prefix = head + "_" if head else ""
    if last in _IRREGULAR_PLURALS:
        return prefix + _IRREGULAR_PLURALS[last]
    if last.endswith("s") and not last.endswith(("ss", "us", "is")):
        return name
    if re.search(r"[^aeiou]y$", last):
        return prefix + last[:-1] + "ies"
    if last.endswith(("s", "x", "z", "ch", "sh")):
        return prefix + last + "es"
    return prefix + last + "s"


def _split_token(token: str) -> tuple[str, str, str, str]:
    match = re.fullmatch(r"([a-z0-9-]+):([A-Za-z0-9_]+)/([A-Za-z0-9]+):([A-Za-z0-9]+)", token)
    if not match:
        raise BridgeError("", f"{token!r} is not a Pulumi type token (pkg:module/member:Name)")
    return match.groups()  # type: ignore[return-value]


def resource_type(token: str) -> str:
    """`aws:cloudwatch/logGroup:LogGroup` -> `aws_cloudwatch_log_group`."""
    if token in TOKEN_EXCEPTIONS:
        return TOKEN_EXCEPTIONS[token]
    pkg, module, member, name = _split_token(token)
    if member[:1].upper() + member[1:] != name:
        raise BridgeError("", f"{token!r} is not a resource type token (member and type name differ)")
    return f"{pkg}_{module.rstrip('_')}_{snake(member)}"


def data_source_type(token: str) -> str:
    """`aws:index/getCallerIdentity:getCallerIdentity` -> `aws_caller_identity`,
    `aws:organizations/getOrganization:getOrganization` -> `aws_organizations_organization`."""
    pkg, module, member, name = _split_token(token)
    if member != name or not member.startswith("get") or not member[3:4].isupper():
        raise BridgeError("", f"{token!r} is not an invoke token (pkg:module/getName:getName)")
    base = snake(member[3:])
    return f"{pkg}_{base}" if module == "index" else f"{pkg}_{module.rstrip('_')}_{base}"


def resource_token(tf_type: str) -> str:
    """The inverse of `resource_type`: `aws_cloudwatch_log_group` -> `aws:cloudwatch/logGroup:LogGroup`."""
    for token, mapped in TOKEN_EXCEPTIONS.items():
        if mapped == tf_type and not token.split(":")[-1].endswith("V2"):
            return token
    pkg, module, rest = tf_type.split("_", 2)
    return f"{pkg}:{module}/{camel(rest)}:{pascal(rest)}"


# ------------------------------------------------------------------------------------------------ shapes

@dataclass(frozen=True)
class _Field:
    tf: str
    kind: str  # "attribute" | "block"
    flatten: bool = False


def fields(block: Block, owner: str, top: bool) -> dict[str, _Field]:
    """Pulumi name -> Terraform field for one block of `owner`'s schema (the Terraform type, or "provider")."""
    out: dict[str, _Field] = {}
    for name, attr in block.attributes.items():
        if top and name == "id":
            continue
        pname = PROPERTY_EXCEPTIONS.get((owner, name)) if top else None
        if pname is None:
            listy = isinstance(attr.type, list) and attr.type[0] in ("list", "set")
            pname = camel(plural(name) if listy else name)
        out[pname] = _Field(name, "attribute")
    for name, nested in block.blocks.items():
        if name in HIDDEN and top:
            continue
        flatten = _flattened(nested) or (top and (owner, name) in FLATTEN_EXCEPTIONS)
        pname = PROPERTY_EXCEPTIONS.get((owner, name)) if top else None
        if pname is None:
            many = nested.nesting in ("list", "set") and not flatten
            pname = camel(plural(name) if many else name)
        out[pname] = _Field(name, "block", flatten)
    return out


def _flattened(nested: NestedBlock) -> bool:
    return nested.nesting in ("single", "group") or (nested.nesting in ("list", "set") and nested.max_items == 1)


def is_unknown(value: Any) -> bool:
    return value == UNKNOWN or value is UNKNOWN_VALUE


def unwrap(value: Any) -> Any:
    """A secret's plain value (the provider sees secrets in the clear under Pulumi's bridge too)."""
    while isinstance(value, dict) and value.get(SIG_KEY) == SECRET_SIG:
        value = value.get("value")
    return value


def to_tf(block: Block, value: Mapping[str, Any] | None, owner: str, path: str = "", top: bool = True) -> Any:
    """Pulumi-shaped properties of one block -> Terraform-shaped (dict keyed by Terraform names)."""
    value = unwrap(value)
    if value is None:
        return None
    if is_unknown(value):
        return UNKNOWN_VALUE
    if not isinstance(value, Mapping):
        raise BridgeError(path, f"expected an object, got {type(value).__name__}")
    table = fields(block, owner, top)
    out: dict[str, Any] = {}
    for pname, raw in value.items():
        where = f"{path}.{pname}" if path else pname
        field = table.get(pname)
        if field is None:
            raise BridgeError(where, "unknown property (not in the provider's schema)")
        raw = unwrap(raw)
        if field.kind == "attribute":
            out[field.tf] = _value_to_tf(block.attributes[field.tf].type, raw, where)
        else:
            out[field.tf] = _block_to_tf(block.blocks[field.tf], raw, owner, where, field.flatten)
    return out


def _block_to_tf(nested: NestedBlock, raw: Any, owner: str, path: str, flatten: bool) -> Any:
    if raw is None:
        return None
    if is_unknown(raw):
        return UNKNOWN_VALUE
    if nested.nesting in ("single", "group"):
        return to_tf(nested.block, raw, owner, path, top=False)
    if nested.nesting == "map":
        if not isinstance(raw, Mapping):
            raise BridgeError(path, "expected a map of objects")
        return {k: to_tf(nested.block, v, owner, f"{path}.{k}", top=False) for k, v in raw.items()}
    if flatten:
        if isinstance(raw, (list, tuple)):
            raise BridgeError(path, "expected an object (this block takes at most one), got a list")
        return [to_tf(nested.block, raw, owner, path, top=False)]
    if not isinstance(raw, (list, tuple)):
        raise BridgeError(path, "expected a list of objects")
    return [to_tf(nested.block, v, owner, f"{path}[{i}]", top=False) for i, v in enumerate(raw)]


def _value_to_tf(t: Any, raw: Any, path: str) -> Any:
    raw = unwrap(raw)
    if raw is None:
        return None
    if is_unknown(raw):
        return UNKNOWN_VALUE
    if isinstance(raw, Mapping) and SIG_KEY in raw:
        raise BridgeError(path, "an asset, archive or resource reference cannot go to a plain attribute")
    if isinstance(t, list):
        kind = t[0]
        if kind in ("list", "set") and isinstance(raw, (list, tuple)):
            return [_value_to_tf(t[1], v, f"{path}[{i}]") for i, v in enumerate(raw)]
        if kind == "map" and isinstance(raw, Mapping):
            return {k: _value_to_tf(t[1], v, f"{path}.{k}") for k, v in raw.items()}
        if kind == "object" and isinstance(raw, Mapping):
            names = {camel(k): k for k in t[1]}
            out = {}
            for k, v in raw.items():
                if k not in names:
                    raise BridgeError(f"{path}.{k}", "unknown property (not in the provider's schema)")
                out[names[k]] = _value_to_tf(t[1][names[k]], v, f"{path}.{k}")
            return out
        if kind == "tuple" and isinstance(raw, (list, tuple)):
            return [_value_to_tf(sub, v, f"{path}[{i}]") for i, (sub, v) in enumerate(zip(t[1], raw))]
    return raw


def to_pulumi(block: Block, value: Mapping[str, Any] | None, owner: str, top: bool = True) -> Any:
    """Terraform-shaped state of one block -> Pulumi-shaped properties (unknowns as preflight's UNKNOWN)."""
    if value is None:
        return None
    if value is UNKNOWN_VALUE:
        return UNKNOWN
    out: dict[str, Any] = {}
    if top and "id" in block.attributes:
        out["id"] = _value_to_pulumi(block.attributes["id"].type, value.get("id"))
    for pname, field in fields(block, owner, top).items():
        raw = value.get(field.tf)
        if field.kind == "attribute":
            out[pname] = _value_to_pulumi(block.attributes[field.tf].type, raw)
        else:
            out[pname] = _block_to_pulumi(block.blocks[field.tf], raw, owner, field.flatten)
    return out


def _block_to_pulumi(nested: NestedBlock, raw: Any, owner: str, flatten: bool) -> Any:
    if raw is UNKNOWN_VALUE:
        return UNKNOWN
    if raw is None:
        return None
    if nested.nesting in ("single", "group"):
        return to_pulumi(nested.block, raw, owner, top=False)
    if nested.nesting == "map":
        return {k: to_pulumi(nested.block, v, owner, top=False) for k, v in raw.items()}
    if flatten:
        return to_pulumi(nested.block, raw[0], owner, top=False) if raw else None
    return [to_pulumi(nested.block, v, owner, top=False) for v in raw]


def _value_to_pulumi(t: Any, raw: Any) -> Any:
    if raw is UNKNOWN_VALUE:
        return UNKNOWN
    if raw is None:
        return None
    if isinstance(t, list):
        kind = t[0]
        if kind in ("list", "set"):
            return [_value_to_pulumi(t[1], v) for v in raw]
        if kind == "map":
            return {k: _value_to_pulumi(t[1], v) for k, v in raw.items()}
        if kind == "object":
            return {camel(k): _value_to_pulumi(sub, raw.get(k)) for k, sub in t[1].items()}
        if kind == "tuple":
            return [_value_to_pulumi(sub, v) for sub, v in zip(t[1], raw)]
    return raw


def pulumi_path(block: Block, owner: str, tf_path: tuple) -> str:
    """A Terraform attribute path from a diagnostic, in Pulumi names: ("event_selector", 0, "read_write_type") ->
    "eventSelectors[0].readWriteType". Falls back to the Terraform spelling where the schema has no such step."""
    parts: list[str] = []
    current: Block | None = block
    top = True
    flattened_index = False
    for step in tf_path:
        if isinstance(step, int) or current is None:
            if not flattened_index:
                parts.append(f"[{step}]")
            flattened_index = False
            continue
        table = fields(current, owner, top) if current is not None else {}
        match = next((p for p, f in table.items() if f.tf == step), None)
        if match is None:
            parts.append(("." if parts else "") + (step if current is not None else str(step)))
            current = None
            continue
        parts.append(("." if parts else "") + match)
        field = table[match]
        if field.kind == "block":
            nested = current.blocks[step]
            flattened_index = field.flatten
            current = nested.block
        else:
            current = None
        top = False
    return "".join(parts)
