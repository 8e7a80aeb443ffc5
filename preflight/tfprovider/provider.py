"""The Provider: Pulumi-shaped resource operations carried out by terraform-provider-aws.

Joins the wire (plugin.py, codec.py) and the mapping (bridge.py, archive.py, awsconfig.py); the engine that calls it
lives elsewhere. Each operation is the tfplugin5 sequence Terraform core runs for it:
- check:  autonaming, then ValidateResourceTypeConfig;
- plan:   PlanResourceChange with the proposed new state built as Terraform core builds it (config values, prior
          values for computed attributes the config leaves null);
- create: plan, then ApplyResourceChange of the planned state;
- read:   UpgradeResourceState (the stored state as JSON, at the schema's version), then ReadResource;
- delete: PlanResourceChange to null (the provider asks for it: plan_destroy), then ApplyResourceChange to null;
- invoke: ValidateDataSourceConfig, then ReadDataSource.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

import msgpack

from preflight.tfprovider import archive, awsconfig, bridge, codec
from preflight.tfprovider.plugin import DiagnosticsError, PluginError, PluginProcess, ProviderRPC, find_binary
from preflight.tfprovider.schema import Block, Schema, schema_from_proto


class ProviderError(Exception):
    """The provider (or the mapping to it) refused an operation. `resource` names the resource (its Pulumi name,
    or the token for invokes and provider-wide failures); `message` says what was wrong, from the provider's
    diagnostics where there were some, with the property in Pulumi's spelling."""

    def __init__(self, resource: str, message: str, *, diagnostics: tuple = ()) -> None:
        super().__init__(f"{resource}: {message}")
        self.resource = resource
        self.message = message
        self.diagnostics = diagnostics


# Autonamed property per Terraform type where its maximum length is not the bridge's default of 255
# (the AWS API limits; pulumi-aws declares the same).
_AUTONAME_MAX = {
    "aws_s3_bucket": 63, "aws_lambda_function": 64, "aws_iam_role": 64, "aws_cloudwatch_event_rule": 64,
    "aws_iam_role_policy": 128, "aws_cloudtrail": 128, "aws_organizations_policy": 128, "aws_sns_topic": 256,
    "aws_cloudwatch_log_group": 512, "aws_cloudwatch_log_metric_filter": 512, "aws_kms_alias": 256,
    "aws_cloudformation_stack_set": 128, "aws_sqs_queue": 80,
}
# Terraform types whose autonamed property is not `name` (by its Pulumi name).
_AUTONAME_PROPERTY = {"aws_s3_bucket": "bucket"}
# Terraform types whose autoname pulumi-aws prefixes (a KMS alias must start with alias/).
_AUTONAME_PREFIX = {"aws_kms_alias": "alias/"}
_RANDOM_HEX = 7
_BRIDGE_KEYS = frozenset({"__defaults", "__meta"})


def _packed_null() -> bytes:
    return msgpack.packb(None)


class Provider:
    """terraform-provider-aws as a Pulumi resource provider. Use as a context manager (it owns a child process)."""

    def __init__(self, aws_config: Mapping[str, Any], binary: Path | None = None, *,
                 root: Path | None = None, tokens: Iterable[str] = (), log_path: Path | None = None,
                 timeout: float = 300.0) -> None:
        """Start the plugin, read its schema, check the configuration against the loopback rule, then
        PrepareProviderConfig and Configure. `aws_config` holds the stack's aws:* keys without the prefix, in Pulumi
        shapes. `root` is where relative asset paths resolve (default: the working directory). `tokens`, when
        given, are the resource and invoke tokens the program will use: their services must all have endpoints,
        or this refuses to start."""
        self.root = Path(root) if root is not None else Path.cwd()
        self._zips = Path(tempfile.mkdtemp(prefix="preflight-tf-zips-"))
        self._private: dict[tuple[str, str], bytes] = {}
        self._schemas: dict[tuple[str, str], Schema] = {}
        self.timings: dict[str, float] = {}
        # The provider's warning diagnostics (deprecations, ignored settings), as (resource, message).
        self.warnings: list[tuple[str, str]] = []
        self._plugin: PluginProcess | None = None
        try:
            self._plugin = PluginProcess(find_binary(binary), log_path=log_path)
            self.timings["start"] = self._plugin.start_seconds
            self._rpc = ProviderRPC(self._plugin, timeout=timeout)
            started = time.monotonic()
            self._schema_pb = self._rpc.get_schema()
            self.timings["schema"] = time.monotonic() - started
            self.provider_schema = schema_from_proto(self._schema_pb.provider)
            self.plan_destroy = self._schema_pb.server_capabilities.plan_destroy
            try:
                self.settings = awsconfig.from_stack_config(aws_config, self.provider_schema.block)
                self.settings.check_services(self.settings.startup_services(), "the provider's own setup")
                for token in tokens:
                    self.require_endpoints(token)
            except awsconfig.ConfigError as exc:
                raise ProviderError("provider", str(exc)) from None
            started = time.monotonic()
            block = self.provider_schema.block
            with self._reporting("provider", block, "provider"):
                config = codec.pack_block(block, self.settings.config)
                self._rpc.configure(self._rpc.prepare_provider_config(config))
            self.timings["configure"] = time.monotonic() - started
        except BaseException:
            self.close()
            raise

    # -------------------------------------------------------------------------------- lifecycle

    def __enter__(self) -> "Provider":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._plugin is not None:
            self._plugin.close()
            self._plugin = None
        shutil.rmtree(self._zips, ignore_errors=True)

    @property
    def rpc_seconds(self) -> Mapping[str, float]:
        """Seconds spent in each RPC so far (for benchmarks)."""
        return dict(self._rpc.seconds)

    @property
    def rpc_calls(self) -> Mapping[str, int]:
        return dict(self._rpc.calls)

    def stderr_tail(self, lines: int = 20) -> list[str]:
        return self._plugin.stderr_tail(lines) if self._plugin else []

    # -------------------------------------------------------------------------------- schema lookups

    def _schema(self, kind: str, tf_type: str, what: str) -> Schema:
        key = (kind, tf_type)
        if key not in self._schemas:
            table = self._schema_pb.resource_schemas if kind == "resource" else self._schema_pb.data_source_schemas
            if tf_type not in table:
                raise ProviderError(what, f"terraform-provider-aws has no {kind} {tf_type}")
            self._schemas[key] = schema_from_proto(table[tf_type])
        return self._schemas[key]

    def resource_schema(self, token: str) -> tuple[str, Schema]:
        """The Terraform type a resource token maps to, and its schema."""
        try:
            tf_type = bridge.resource_type(token)
        except bridge.BridgeError as exc:
            raise ProviderError(token, str(exc)) from None
        return tf_type, self._schema("resource", tf_type, token)

    def _resource(self, token: str, name: str) -> tuple[str, Schema]:
        try:
            tf_type = bridge.resource_type(token)
        except bridge.BridgeError as exc:
            raise ProviderError(name, str(exc)) from None
        schema = self._schema("resource", tf_type, name)
        self._guard(tf_type, name)
        return tf_type, schema

    def require_endpoints(self, token: str) -> None:
        """Raise ConfigError unless every service the resource or invoke `token` calls has an endpoint."""
        try:
            if "/get" in token:
                tf_type = bridge.data_source_type(token)
                data = True
            else:
                tf_type = bridge.resource_type(token)
                data = False
        except bridge.BridgeError as exc:
            raise awsconfig.ConfigError(str(exc)) from None
        services = awsconfig.services_for(tf_type, self.settings.endpoint_keys, data_source=data)
        self.settings.check_services(services, f"{token} ({tf_type})")

    def _guard(self, tf_type: str, what: str, data_source: bool = False) -> None:
        try:
            services = awsconfig.services_for(tf_type, self.settings.endpoint_keys, data_source=data_source)
            self.settings.check_services(services, tf_type)
        except awsconfig.ConfigError as exc:
            raise ProviderError(what, str(exc)) from None

    # -------------------------------------------------------------------------------- mapping helpers

    def _error(self, name: str, block: Block, owner: str, exc: DiagnosticsError) -> ProviderError:
        errors = [d for d in exc.diagnostics if d.severity == "error"]
        parts = []
        for d in errors:
            where = bridge.pulumi_path(block, owner, d.path) if d.path else ""
            parts.append((f"{where}: " if where else "") + d.text())
        return ProviderError(name, f"{exc.rpc}: " + "; ".join(parts), diagnostics=exc.diagnostics)

    @contextlib.contextmanager
    def _reporting(self, name: str, block: Block, owner: str) -> Iterator[None]:
        """Every failure inside becomes a ProviderError naming `name`: diagnostics with Pulumi property paths,
        and protocol or process failures as they are."""
        seen = len(self._rpc.warnings)
        try:
            yield
            self.warnings.extend((name, d.text()) for d in self._rpc.warnings[seen:])
        except DiagnosticsError as exc:
            raise self._error(name, block, owner, exc) from None
        except (PluginError, codec.EncodeError, bridge.BridgeError, archive.ArchiveError) as exc:
            raise ProviderError(name, str(exc)) from None

    def _to_tf(self, tf_type: str, schema: Schema, name: str, props: Mapping[str, Any]) -> dict[str, Any]:
        # The bridge's own bookkeeping keys (checked inputs' __defaults, state's __meta) are not properties.
        props = {k: v for k, v in props.items() if k not in _BRIDGE_KEYS}
        # An archive property (the Lambda's `code`) reaches the provider as the path of a zip: `filename`.
        code_field = bridge.PROPERTY_EXCEPTIONS.get((tf_type, "filename"))
        archive_value = props.pop(code_field, None) if code_field else None
        with self._reporting(name, schema.block, tf_type):
            tf = bridge.to_tf(schema.block, props, tf_type) or {}
            if archive_value is None:
                return tf
            if bridge.is_unknown(archive_value):
                tf["filename"] = codec.UNKNOWN_VALUE
                return tf
            if not archive.is_archive(archive_value):
                raise bridge.BridgeError(code_field, f"expected an archive (pulumi.AssetArchive or "
                                                     f"pulumi.FileArchive), got {type(archive_value).__name__}")
            try:
                path, digest = archive.write_zip(archive_value, self.root, self._zips)
            except archive.ArchiveError as exc:
                raise bridge.BridgeError(code_field, str(exc)) from None
            tf["filename"] = str(path)
            if tf.get("source_code_hash") is None and "source_code_hash" in schema.block.attributes:
                tf["source_code_hash"] = digest
        return tf

    def _to_pulumi(self, tf_type: str, schema: Schema, state: Any, inputs: Mapping[str, Any] | None) -> Any:
        out = bridge.to_pulumi(schema.block, state, tf_type)
        if out is None:
            return None
        # The archive is what the program gave; the provider only saw a temporary zip's path.
        if "code" in out and tf_type == "aws_lambda_function":
            out["code"] = (inputs or {}).get("code", out["code"])
        return out

    def _unpack(self, schema: Schema, data: bytes) -> Any:
        return codec.unpack_block(schema.block, data) if data else None

    # -------------------------------------------------------------------------------- operations

    def check(self, token: str, name: str, inputs: dict) -> dict:
        """Autoname, then let the provider validate the configuration. Returns the checked Pulumi inputs."""
        tf_type, schema = self._resource(token, name)
        checked = dict(inputs)
        prop = _AUTONAME_PROPERTY.get(tf_type, "name")
        table = bridge.fields(schema.block, tf_type, top=True)
        field = table.get(prop)
        if (field is not None and field.kind == "attribute" and checked.get(prop) is None
                and checked.get(prop + "Prefix") is None):
            attr = schema.block.attributes[field.tf]
            if attr.type == "string" and (attr.optional or attr.required):
                prefix = _AUTONAME_PREFIX.get(tf_type, "")
                checked[prop] = prefix + autoname(name, _AUTONAME_MAX.get(tf_type, 255) - len(prefix),
                                                  lower=tf_type == "aws_s3_bucket")
        config = self._to_tf(tf_type, schema, name, checked)
        with self._reporting(name, schema.block, tf_type):
            self._rpc.validate_resource(tf_type, codec.pack_block(schema.block, config))
        return checked

    def _plan(self, tf_type: str, schema: Schema, name: str, config: Any, prior: Any, private: bytes):
        proposed = proposed_new(schema.block, prior, config)
        with self._reporting(name, schema.block, tf_type):
            return self._rpc.plan(tf_type, codec.pack_block(schema.block, prior),
                                  codec.pack_block(schema.block, proposed), codec.pack_block(schema.block, config),
                                  private)

    def plan(self, token: str, name: str, inputs: dict, prior: dict | None = None) -> dict:
        """The provider's planned state for `inputs` (over `prior`, the current Pulumi-shaped state, if any),
        Pulumi-shaped, with values known only after apply as UNKNOWN."""
        tf_type, schema = self._resource(token, name)
        config = self._to_tf(tf_type, schema, name, inputs)
        prior_tf = self._state_to_tf(tf_type, schema, name, prior) if prior else None
        private = self._private.get((tf_type, prior_tf["id"]), b"") if prior_tf and prior_tf.get("id") else b""
        result = self._plan(tf_type, schema, name, config, prior_tf, private)
        planned = self._unpack(schema, result.planned_state)
        return self._to_pulumi(tf_type, schema, planned, inputs)

    def create(self, token: str, name: str, inputs: dict) -> tuple[str, dict]:
        """Plan and apply a new resource; returns its id and its Pulumi-shaped outputs (the provider's state)."""
        tf_type, schema = self._resource(token, name)
        config = self._to_tf(tf_type, schema, name, inputs)
        if codec.contains_unknown(config):
            raise ProviderError(name, "cannot create a resource whose inputs are not all known")
        result = self._plan(tf_type, schema, name, config, None, b"")
        with self._reporting(name, schema.block, tf_type):
            new_state, private = self._rpc.apply(tf_type, _packed_null(), result.planned_state,
                                                 codec.pack_block(schema.block, config), result.planned_private)
        state = self._unpack(schema, new_state)
        if not state or not state.get("id"):
            raise ProviderError(name, f"ApplyResourceChange returned no id for the new {tf_type}")
        if codec.contains_unknown(state):
            raise ProviderError(name, f"ApplyResourceChange left values unknown in the new {tf_type}")
        self._private[(tf_type, state["id"])] = private
        return state["id"], self._to_pulumi(tf_type, schema, state, inputs)

    def _state_to_tf(self, tf_type: str, schema: Schema, name: str, state: Mapping[str, Any]) -> dict[str, Any]:
        props = {k: v for k, v in state.items() if k != "id"}
        tf = self._to_tf(tf_type, schema, name, props)
        tf["id"] = state.get("id")
        return tf

    def read(self, token: str, id: str, state: dict) -> dict | None:
        """Refresh one resource from AWS: its Pulumi-shaped state, or None when it no longer exists."""
        tf_type, schema = self._resource(token, id)
        tf = self._state_to_tf(tf_type, schema, id, {**state, "id": id})
        with self._reporting(id, schema.block, tf_type):
            upgraded = self._rpc.upgrade_resource_state(tf_type, schema.version, codec.json_block(schema.block, tf))
            new_state, private = self._rpc.read_resource(tf_type, upgraded, self._private.get((tf_type, id), b""))
        decoded = self._unpack(schema, new_state)
        if decoded is None:
            self._private.pop((tf_type, id), None)
            return None
        self._private[(tf_type, id)] = private
        return self._to_pulumi(tf_type, schema, decoded, state)

    def delete(self, token: str, id: str, state: dict) -> None:
        """Destroy one resource: plan to null (when the provider asks for it), then apply to null."""
        tf_type, schema = self._resource(token, id)
        prior = self._state_to_tf(tf_type, schema, id, {**state, "id": id})
        private = self._private.get((tf_type, id), b"")
        with self._reporting(id, schema.block, tf_type):
            packed_prior = codec.pack_block(schema.block, prior)
            if self.plan_destroy:
                result = self._rpc.plan(tf_type, packed_prior, _packed_null(), _packed_null(), private)
                private = result.planned_private or private
            self._rpc.apply(tf_type, packed_prior, _packed_null(), _packed_null(), private)
        self._private.pop((tf_type, id), None)

    def invoke(self, token: str, args: dict) -> dict:
        """A data-source read for an invoke such as aws:index/getCallerIdentity:getCallerIdentity."""
        try:
            tf_type = bridge.data_source_type(token)
        except bridge.BridgeError as exc:
            raise ProviderError(token, str(exc)) from None
        schema = self._schema("data source", tf_type, token)
        self._guard(tf_type, token, data_source=True)
        with self._reporting(token, schema.block, tf_type):
            config = bridge.to_tf(schema.block, args or {}, tf_type) or {}
            packed = codec.pack_block(schema.block, config)
            self._rpc.validate_data_source(tf_type, packed)
            state = self._rpc.read_data_source(tf_type, packed)
        decoded = self._unpack(schema, state)
        if decoded is None or codec.contains_unknown(decoded):
            raise ProviderError(token, f"ReadDataSource returned no complete result for {tf_type}")
        return bridge.to_pulumi(schema.block, decoded, tf_type)


def autoname(name: str, max_length: int, *, lower: bool = False) -> str:
    """Pulumi's autonaming: the logical name, '-', 7 random hex digits. A name too long for that is an error,
    as with the bridge, rather than a silent truncation."""
    base = name.lower() if lower else name
    if len(base) + 1 + _RANDOM_HEX > max_length:
        raise ProviderError(name, f"the name plus a random suffix is longer than the maximum of {max_length} "
                                  f"characters; set the name explicitly")
    return f"{base}-{secrets.token_hex(4)[:_RANDOM_HEX]}"


def proposed_new(block: Block, prior: Any, config: Any) -> Any:
    """Terraform core's proposed new state: the config, with the prior value of every computed attribute the
    config leaves null (so an unchanged computed value does not read as a change)."""
    if config is None or config is codec.UNKNOWN_VALUE:
        return config
    if not isinstance(prior, dict):
        prior = {}
    out: dict[str, Any] = {}
    for name, attr in block.attributes.items():
        value = config.get(name)
        if value is None and attr.computed:
            value = prior.get(name)
        out[name] = value
    for name, nested in block.blocks.items():
        value = config.get(name)
        before = prior.get(name)
        if nested.nesting in ("single", "group") and isinstance(value, dict):
            out[name] = proposed_new(nested.block, before if isinstance(before, dict) else None, value)
        elif nested.nesting == "list" and isinstance(value, list):
            before = before if isinstance(before, list) else []
            out[name] = [proposed_new(nested.block, before[i] if i < len(before) else None, v)
                         for i, v in enumerate(value)]
        elif nested.nesting == "map" and isinstance(value, dict):
            before = before if isinstance(before, dict) else {}
            out[name] = {k: proposed_new(nested.block, before.get(k), v) for k, v in value.items()}
        elif nested.nesting == "set" and isinstance(value, list):
            out[name] = [proposed_new(nested.block, _matching_prior(nested.block, before, v), v) for v in value]
        else:
            out[name] = value
    return out


def _matching_prior(block: Block, prior: Any, element: Any) -> Any:
    """The prior set element a config element stands for (set elements have no identity but their values): the
    first one agreeing with it on every value the config decides, i.e. all but computed values it leaves null."""
    if not isinstance(prior, list) or not isinstance(element, dict):
        return None

    def agrees(candidate: dict) -> bool:
        for n, attr in block.attributes.items():
            if attr.computed and element.get(n) is None:
                continue
            if element.get(n) != candidate.get(n):
                return False
        return all(element.get(n) in (None, [], {}) or element.get(n) == candidate.get(n) for n in block.blocks)

    return next((c for c in prior if isinstance(c, dict) and agrees(c)), None)



__all__ = ["Provider", "ProviderError", "autoname", "proposed_new"]
