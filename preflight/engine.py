"""Runs the Pulumi program under the SDK's mock engine and records every registration as the engine would.

Serves every control (SCP, CIS 1.4 / Security Hub IAM.4 detection, audit) by letting the pack judge the program
offline: `run_program` returns one `RecordedResource` per registered resource (the stack, components, the default
provider and every custom resource) with the inputs the engine would hand to an analyzer.

Where this differs from the real engine, it errs on the side the pack must handle anyway:
- URNs are built as pulumi/pulumi's `Deployment.generateURN` builds them (the parent's full qualified type, the
  root stack left out), not as the SDK's `MockMonitor.make_urn` does (last parent type only, stack included).
- Resources without an explicit provider get the engine's default provider
  `urn:pulumi:<stack>::<project>::pulumi:providers:<pkg>::default_<version>` whose id is unknown in a preview.
- Unless a `monitor_factory` puts the real provider behind the monitor (preflight/provider_engine.py):
  provider `Check` is emulated only for auto-naming: a missing `name` (or S3 `bucket`) gets `<logical>-<7 hex>`,
  known at preview as with the real provider. Other provider defaults are not filled in.
- In a preview, ids and provider-computed outputs (arn, id, keyId ...) of new resources are UNKNOWN; in an update
  they get values shaped like AWS's.
- Values keep the engine's wire encoding: unknowns as `UNKNOWN`, secrets/assets/archives as signature objects
  (asset hashes are not computed).
- Invokes answer from a mock organization (see the constants below) whose trusted access and policy types satisfy
  every prerequisite of the default config and of the org-wide StackSet; `preflight:` config keys change it (a
  missing prerequisite, a delegated administrator as the deployer). An invoke nobody modelled fails the run.

The SDK keeps its runtime state (settings, root stack, config) in context variables, so each run happens in a
fresh `contextvars` context with its own event loop: repeated runs in one process do not see each other.
A run changes the process's working directory to the project (as the CLI runs programs there) and holds a lock,
so runs in one process are serialized; modules the program imports stay in `sys.modules` between runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import hashlib
import json
import os
import runpy
import sys
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import yaml
from google.protobuf import empty_pb2, json_format, struct_pb2

from preflight.model import UNKNOWN, RecordedResource

# Mock identity of the deploying (management) account. Shapes match AWS's, values are documentation examples.
ACCOUNT_ID = "111122223333"
REGION = "us-east-1"
PARTITION = "aws"
ORGANIZATION_ID = "o-a1b2c3d4e5"
ROOT_ID = "r-a1b2"
MEMBER_ACCOUNT_ID = "444455556666"
# A member account registered as delegated administrator (security tooling account).
DELEGATED_ADMIN_ACCOUNT_ID = "555566667777"
# Trusted access the mock organization has enabled: what the default config and the org-wide StackSet need.
SERVICE_ACCESS_PRINCIPALS = (
    "cloudtrail.amazonaws.com",
    "iam.amazonaws.com",
    "member.org.stacksets.cloudformation.amazonaws.com",
)
# Services the delegated administrator account is registered for.
DELEGATED_SERVICES = (
    "cloudtrail.amazonaws.com",
    "iam.amazonaws.com",
    "member.org.stacksets.cloudformation.amazonaws.com",
)

# Config keys of the `preflight:` namespace shape the mock AWS world (the program ignores other namespaces):
# `preflight:organization` is a JSON object merged into getOrganization's result (e.g. a featureSet, the
# awsServiceAccessPrincipals, roots), `preflight:callerAccountId` is the deploying account (e.g. the delegated
# administrator), `preflight:delegatedServices` a JSON list of the service principals getDelegatedServices returns.
MOCK_ORGANIZATION_KEY = "preflight:organization"
MOCK_CALLER_KEY = "preflight:callerAccountId"
MOCK_DELEGATED_SERVICES_KEY = "preflight:delegatedServices"

_STACK_TYPE = "pulumi:pulumi:Stack"

# Property that the provider's Check auto-names when the program leaves it out (pulumi-aws 7.x).
_AUTONAME_PROPERTY: dict[str, str] = {
    "aws:organizations/policy:Policy": "name",
    "aws:cloudtrail/trail:Trail": "name",
    "aws:s3/bucket:Bucket": "bucket",
    "aws:cloudwatch/logGroup:LogGroup": "name",
    "aws:cloudwatch/logMetricFilter:LogMetricFilter": "name",
    "aws:cloudwatch/metricAlarm:MetricAlarm": "name",
    "aws:sns/topic:Topic": "name",
    "aws:cloudwatch/eventRule:EventRule": "name",
    "aws:lambda/function:Function": "name",
    "aws:iam/role:Role": "name",
    "aws:iam/rolePolicy:RolePolicy": "name",
    "aws:sqs/queue:Queue": "name",
    "aws:kms/alias:Alias": "name",
}


class ProgramError(Exception):
    """The program failed. `resources` holds what it registered before failing (the stack at least)."""

    def __init__(self, message: str, resources: list[RecordedResource]) -> None:
        super().__init__(message)
        self.message = message
        self.resources = resources


def _suffix(urn: str) -> str:
    # Deterministic stand-in for the provider's random 7-hex suffix, so repeated runs compare equal.
    return hashlib.sha256(urn.encode()).hexdigest()[:7]


def _fake_id(urn: str, alphabet: str, length: int) -> str:
    digest = hashlib.sha256(("id:" + urn).encode()).digest()
    return "".join(alphabet[b % len(alphabet)] for b in digest[:length])


def _fake_uuid(urn: str) -> str:
    return str(uuid.UUID(bytes=hashlib.sha256(("uuid:" + urn).encode()).digest()[:16], version=4))


def _s(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _computed_outputs(typ: str, urn: str, inputs: Mapping[str, Any], region: str = REGION) -> dict[str, Any]:
    """Provider-computed outputs of a created resource, shaped like AWS's (only used outside preview)."""
    acct, part = ACCOUNT_ID, PARTITION
    name = _s(inputs.get(_AUTONAME_PROPERTY.get(typ, "name")))
    lower = "abcdefghijklmnopqrstuvwxyz0123456789"
    if typ == "aws:organizations/policy:Policy":
        pid = "p-" + _fake_id(urn, lower, 8)
        return {"id": pid, "arn": f"arn:{part}:organizations::{acct}:policy/{ORGANIZATION_ID}/service_control_policy/{pid}"}
    if typ == "aws:organizations/policyAttachment:PolicyAttachment":
        return {"id": f"{_s(inputs.get('targetId'))}:{_s(inputs.get('policyId'))}"}
    if typ == "aws:iam/organizationsFeatures:OrganizationsFeatures":
        return {"id": ORGANIZATION_ID}
    if typ == "aws:cloudtrail/trail:Trail":
        arn = f"arn:{part}:cloudtrail:{region}:{acct}:trail/{name}"
        return {"id": arn, "arn": arn, "homeRegion": region}
    if typ == "aws:s3/bucket:Bucket":
        return {"id": name, "arn": f"arn:{part}:s3:::{name}", "bucketDomainName": f"{name}.s3.amazonaws.com",
                "bucketRegionalDomainName": f"{name}.s3.{region}.amazonaws.com", "region": region}
    if typ.startswith("aws:s3/bucket") and typ != "aws:s3/bucket:Bucket":
        return {"id": _s(inputs.get("bucket"))}
    if typ == "aws:cloudwatch/logGroup:LogGroup":
        return {"id": name, "arn": f"arn:{part}:logs:{region}:{acct}:log-group:{name}"}
    if typ == "aws:cloudwatch/logMetricFilter:LogMetricFilter":
        return {"id": name}
    if typ == "aws:cloudwatch/metricAlarm:MetricAlarm":
        return {"id": name, "arn": f"arn:{part}:cloudwatch:{region}:{acct}:alarm:{name}"}
    if typ == "aws:sns/topic:Topic":
        arn = f"arn:{part}:sns:{region}:{acct}:{name}"
        return {"id": arn, "arn": arn, "owner": acct}
    if typ == "aws:sns/topicPolicy:TopicPolicy":
        return {"id": _s(inputs.get("arn")), "owner": acct}
    if typ == "aws:sns/topicSubscription:TopicSubscription":
        arn = f"{_s(inputs.get('topic'))}:{_fake_uuid(urn)}"
        return {"id": arn, "arn": arn, "ownerId": acct}
    if typ == "aws:kms/key:Key":
        key_id = _fake_uuid(urn)
        return {"id": key_id, "keyId": key_id, "arn": f"arn:{part}:kms:{region}:{acct}:key/{key_id}"}
    if typ == "aws:kms/alias:Alias":
        return {"id": name, "arn": f"arn:{part}:kms:{region}:{acct}:{name}", "targetKeyArn": _s(inputs.get("targetKeyId"))}
    if typ == "aws:cloudwatch/eventRule:EventRule":
        return {"id": name, "arn": f"arn:{part}:events:{region}:{acct}:rule/{name}"}
    if typ == "aws:cloudwatch/eventTarget:EventTarget":
        return {"id": f"{_s(inputs.get('rule'))}-{_s(inputs.get('targetId'))}"}
    if typ == "aws:lambda/function:Function":
        arn = f"arn:{part}:lambda:{region}:{acct}:function:{name}"
        return {"id": name, "arn": arn, "qualifiedArn": f"{arn}:$LATEST", "version": "$LATEST",
                "invokeArn": f"arn:{part}:apigateway:{region}:lambda:path/2015-03-31/functions/{arn}/invocations"}
    if typ == "aws:lambda/permission:Permission":
        return {"id": _s(inputs.get("statementId")) or name}
    if typ == "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig":
        return {"id": _s(inputs.get("functionName"))}
    if typ == "aws:iam/role:Role":
        path = _s(inputs.get("path")) or "/"
        return {"id": name, "arn": f"arn:{part}:iam::{acct}:role{path}{name}",
                "uniqueId": "AROA" + _fake_id(urn, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 17)}
    if typ == "aws:iam/rolePolicy:RolePolicy":
        return {"id": f"{_s(inputs.get('role'))}:{name}"}
    if typ == "aws:sqs/queue:Queue":
        return {"id": f"https://sqs.{region}.amazonaws.com/{acct}/{name}", "url": f"https://sqs.{region}.amazonaws.com/{acct}/{name}",
                "arn": f"arn:{part}:sqs:{region}:{acct}:{name}"}
    if typ.startswith("pulumi:providers:"):
        return {"id": _fake_uuid(urn)}
    return {"id": f"{name or urn.rsplit('::', 1)[-1]}-{_suffix(urn)}"}


@dataclass(frozen=True)
class MockWorld:
    """What the data sources answer: the deploying account and the organization it belongs to."""

    caller_account_id: str = ACCOUNT_ID
    organization: Mapping[str, Any] = field(default_factory=dict)
    delegated_services: tuple[str, ...] = DELEGATED_SERVICES

    @classmethod
    def from_config(cls, config: Mapping[str, str]) -> "MockWorld":
        def load(key: str, kind: type) -> Any:
            try:
                value = json.loads(config[key])
            except json.JSONDecodeError as exc:
                raise ValueError(f"{key} must be JSON: {exc}") from exc
            if not isinstance(value, kind):
                raise ValueError(f"{key} must be a JSON {kind.__name__}")
            return value

        return cls(
            caller_account_id=config.get(MOCK_CALLER_KEY, ACCOUNT_ID),
            organization=load(MOCK_ORGANIZATION_KEY, dict) if MOCK_ORGANIZATION_KEY in config else {},
            delegated_services=tuple(load(MOCK_DELEGATED_SERVICES_KEY, list))
            if MOCK_DELEGATED_SERVICES_KEY in config else DELEGATED_SERVICES,
        )


def _organization(world: MockWorld) -> dict[str, Any]:
    master = f"arn:{PARTITION}:organizations::{ACCOUNT_ID}:account/{ORGANIZATION_ID}/{ACCOUNT_ID}"

    def account(account_id: str, name: str, email: str) -> dict[str, Any]:
        return {"arn": f"arn:{PARTITION}:organizations::{ACCOUNT_ID}:account/{ORGANIZATION_ID}/{account_id}",
                "email": email, "id": account_id, "joinedMethod": "CREATED",
                "joinedTimestamp": "2024-01-15T10:00:00Z", "name": name, "state": "ACTIVE", "status": "ACTIVE"}

    member = account(MEMBER_ACCOUNT_ID, "workload", "workload@example.com")
    security = account(DELEGATED_ADMIN_ACCOUNT_ID, "security", "security@example.com")
    mgmt = account(ACCOUNT_ID, "management", "aws-root@example.com")
    result = {
        "id": ORGANIZATION_ID,
        "arn": f"arn:{PARTITION}:organizations::{ACCOUNT_ID}:organization/{ORGANIZATION_ID}",
        "featureSet": "ALL",
        "masterAccountId": ACCOUNT_ID,
        "masterAccountArn": master,
        "masterAccountEmail": "aws-root@example.com",
        "masterAccountName": "management",
        "awsServiceAccessPrincipals": list(SERVICE_ACCESS_PRINCIPALS),
        "enabledPolicyTypes": ["SERVICE_CONTROL_POLICY"],
        "accounts": [mgmt, member, security],
        "nonMasterAccounts": [member, security],
        "roots": [{
            "id": ROOT_ID,
            "arn": f"arn:{PARTITION}:organizations::{ACCOUNT_ID}:root/{ORGANIZATION_ID}/{ROOT_ID}",
            "name": "Root",
            "policyTypes": [{"status": "ENABLED", "type": "SERVICE_CONTROL_POLICY"}],
        }],
    }
    result.update(world.organization)
    return result


def _invoke_result(token: str, region: str = REGION, world: MockWorld | None = None,
                   args: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Results of the data sources the program calls. Invokes run for real during a preview, so these are known."""
    world = world or MockWorld()
    if token == "aws:organizations/getOrganization:getOrganization":
        return _organization(world)
    if token == "aws:organizations/getDelegatedServices:getDelegatedServices":
        account_id = str((args or {}).get("accountId", ""))
        services = world.delegated_services if account_id == DELEGATED_ADMIN_ACCOUNT_ID else ()
        return {"id": account_id, "accountId": account_id, "delegatedServices": [
            {"delegationEnabledDate": "2024-02-01T10:00:00Z", "servicePrincipal": principal} for principal in services
        ]}
    if token == "aws:index/getCallerIdentity:getCallerIdentity":
        account_id = world.caller_account_id
        return {"accountId": account_id, "arn": f"arn:{PARTITION}:iam::{account_id}:user/deployer",
                "id": account_id, "userId": "AIDAEXAMPLEDEPLOYER01"}
    if token == "aws:index/getRegion:getRegion":
        return {"id": region, "name": region, "region": region, "description": region,
                "endpoint": f"ec2.{region}.amazonaws.com"}
    if token == "aws:index/getPartition:getPartition":
        return {"id": PARTITION, "partition": PARTITION, "dnsSuffix": "amazonaws.com", "reverseDnsPrefix": "com.amazonaws"}
    # Fail closed: an invoke nobody modelled must not quietly return an empty result.
    raise NotImplementedError(f"preflight engine has no mock for invoke {token!r}")


def _to_json(value: Any) -> Any:
    """Integral floats back to ints: protobuf Struct only has doubles, the program wrote ints."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _to_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_json(v) for v in value]
    return value


def _struct_to_json(struct: struct_pb2.Struct) -> dict[str, Any]:
    return _to_json(json_format.MessageToDict(struct))


def _json_to_struct(value: Mapping[str, Any]) -> struct_pb2.Struct:
    out = struct_pb2.Struct()
    out.update(value)
    return out


@dataclass
class _Registration:
    urn: str
    type: str
    name: str
    custom: bool
    id: str | None
    parent: str | None
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    dependencies: tuple[str, ...] = ()
    property_dependencies: dict[str, tuple[str, ...]] = field(default_factory=dict)
    provider: str | None = None
    source_uri: str = ""
    source_line: int = 0

    def freeze(self) -> RecordedResource:
        return RecordedResource(urn=self.urn, type=self.type, name=self.name, custom=self.custom, id=self.id,
                                parent=self.parent, inputs=self.inputs, outputs=self.outputs,
                                dependencies=self.dependencies, property_dependencies=self.property_dependencies,
                                provider=self.provider, source_uri=self.source_uri,
                                source_line=self.source_line)


class RecordingMonitor:
    """A resource monitor speaking the SDK's in-process monitor interface, recording every registration."""

    def __init__(self, project: str, stack: str, preview: bool, region: str = REGION,
                 world: MockWorld | None = None) -> None:
        self.world = world or MockWorld()
        self.project = project
        self.stack = stack
        self.preview = preview
        # The default provider's region, as `aws:region` configures it.
        self.region = region
        self._lock = threading.Lock()
        self._records: dict[str, _Registration] = {}

    def records(self) -> list[RecordedResource]:
        with self._lock:
            return [r.freeze() for r in self._records.values()]

    def make_urn(self, parent: str, typ: str, name: str) -> str:
        qualified = typ
        if parent:
            parent_qualified = parent.split("::")[2]
            if parent_qualified != _STACK_TYPE:
                qualified = f"{parent_qualified}${typ}"
        return f"urn:pulumi:{self.stack}::{self.project}::{qualified}::{name}"

    def _default_provider(self, typ: str, version: str) -> str:
        pkg = typ.split(":", 1)[0]
        name = "default" + ("_" + version.replace(".", "_").replace("-", "_") if version else "")
        urn = f"urn:pulumi:{self.stack}::{self.project}::pulumi:providers:{pkg}::{name}"
        with self._lock:
            record = self._records.get(urn)
            if record is None:
                inputs = {"version": version} if version else {}
                pid = UNKNOWN if self.preview else _computed_outputs(f"pulumi:providers:{pkg}", urn, inputs)["id"]
                record = _Registration(urn=urn, type=f"pulumi:providers:{pkg}", name=name, custom=True,
                                       id=None if pid == UNKNOWN else pid, parent=None, inputs=inputs,
                                       outputs=dict(inputs))
                self._records[urn] = record
        return f"{urn}::{record.id or UNKNOWN}"

    # --- the monitor interface the SDK calls --------------------------------------------------------------

    def SupportsFeature(self, request: Any) -> Any:
        # outputValues stays off, as in the SDK's MockMonitor: inputs then arrive as plain values or UNKNOWN.
        return type("SupportsFeatureResponse", (), {"hasSupport": request.id != "outputValues"})

    def GetDeploymentInfo(self, request: Any) -> Any:
        from pulumi.runtime.proto import resource_pb2

        return resource_pb2.DeploymentInfo(supportedFeatures=[
            resource_pb2.RESOURCE_MONITOR_FEATURE_SECRETS,
            resource_pb2.RESOURCE_MONITOR_FEATURE_RESOURCE_REFERENCES,
            resource_pb2.RESOURCE_MONITOR_FEATURE_ALIAS_SPECS,
            resource_pb2.RESOURCE_MONITOR_FEATURE_DELETED_WITH,
        ])

    def RegisterResource(self, request: Any) -> Any:
        from pulumi.runtime.proto import resource_pb2

        urn = self.make_urn(request.parent, request.type, request.name)
        inputs = _struct_to_json(request.object)
        if request.type == _STACK_TYPE:
            record = _Registration(urn=urn, type=request.type, name=request.name, custom=False, id=None,
                                   parent=None, inputs={}, outputs={})
            with self._lock:
                self._records[urn] = record
            return resource_pb2.RegisterResourceResponse(urn=urn)

        provider: str | None = None
        if request.custom:
            provider = request.provider or self._default_provider(request.type, request.version)
            autoname = _AUTONAME_PROPERTY.get(request.type)
            if autoname and autoname not in inputs:
                generated = f"{request.name}-{_suffix(urn)}"
                inputs[autoname] = generated.lower() if request.type == "aws:s3/bucket:Bucket" else generated

        outputs = dict(inputs)
        rid: str | None
        if request.custom:
            computed = _computed_outputs(request.type, urn, inputs, self.region)
            if self.preview:
                computed = {k: UNKNOWN for k in computed}
            for key, value in computed.items():
                outputs.setdefault(key, value)
            # The id is not an output property; the engine reports it separately.
            outputs.pop("id", None)
            rid = None if computed["id"] == UNKNOWN else computed["id"]
        else:
            rid = None

        record = _Registration(
            urn=urn,
            type=request.type,
            name=request.name,
            custom=bool(request.custom),
            id=rid,
            parent=request.parent or None,
            inputs=inputs,
            outputs=outputs if request.custom else {},
            dependencies=tuple(request.dependencies),
            property_dependencies={k: tuple(v.urns) for k, v in request.propertyDependencies.items()},
            provider=provider,
            source_uri=request.sourcePosition.uri if request.HasField("sourcePosition") else "",
            source_line=request.sourcePosition.line if request.HasField("sourcePosition") else 0,
        )
        with self._lock:
            self._records[urn] = record
        return resource_pb2.RegisterResourceResponse(urn=urn, id=rid or "", object=_json_to_struct(outputs))

    def RegisterResourceOutputs(self, request: Any) -> Any:
        with self._lock:
            record = self._records.get(request.urn)
            if record is not None:
                record.outputs = _struct_to_json(request.outputs)
        return empty_pb2.Empty()

    def ReadResource(self, request: Any) -> Any:
        # The program reads no existing resources; refuse rather than invent state.
        raise NotImplementedError(f"preflight engine does not emulate ReadResource ({request.type})")

    def Invoke(self, request: Any) -> Any:
        from pulumi.runtime.proto import resource_pb2

        result = _invoke_result(request.tok, self.region, self.world, _struct_to_json(request.args))
        return resource_pb2.ResourceInvokeResponse(**{"return": _json_to_struct(result)})

    def Call(self, request: Any) -> Any:
        raise NotImplementedError(f"preflight engine does not emulate method calls ({request.tok})")

    def RegisterPackage(self, request: Any) -> Any:
        from pulumi.runtime.proto import resource_pb2

        return resource_pb2.RegisterPackageResponse(ref="preflight-package")

    def RegisterStackTransform(self, request: Any) -> Any:
        return empty_pb2.Empty()

    def RegisterStackInvokeTransform(self, request: Any) -> Any:
        return empty_pb2.Empty()

    def RegisterResourceHook(self, request: Any) -> Any:
        return empty_pb2.Empty()

    def RegisterErrorHook(self, request: Any) -> Any:
        return empty_pb2.Empty()

    def SignalAndWaitForShutdown(self, request: Any) -> Any:
        return empty_pb2.Empty()


class _Engine:
    """The engine side of the SDK's log stream: warnings and errors are kept for the caller."""

    def __init__(self) -> None:
        self.messages: list[tuple[int, str]] = []

    def Log(self, request: Any) -> Any:
        self.messages.append((request.severity, request.message))
        return empty_pb2.Empty()


def project_config_defaults(project_dir: Path) -> tuple[str, dict[str, str]]:
    """Project name and the `config:` defaults of Pulumi.yaml, encoded as the CLI passes them to the program."""
    with open(project_dir / "Pulumi.yaml", encoding="utf-8") as fh:
        project = yaml.safe_load(fh)
    name = project["name"]
    defaults: dict[str, str] = {}
    for key, spec in (project.get("config") or {}).items():
        if not isinstance(spec, dict) or "default" not in spec:
            continue
        full = key if ":" in key else f"{name}:{key}"
        value = spec["default"]
        if isinstance(value, bool):
            defaults[full] = "true" if value else "false"
        elif isinstance(value, (list, dict)):
            defaults[full] = json.dumps(value)
        else:
            defaults[full] = str(value)
    return name, defaults


@contextlib.contextmanager
def _program_environment(project_dir: Path):
    # The CLI runs the program from the project directory with it on sys.path; assets use relative paths.
    old_cwd = os.getcwd()
    added = str(project_dir) not in sys.path
    if added:
        sys.path.insert(0, str(project_dir))
    os.chdir(project_dir)
    try:
        yield
    finally:
        os.chdir(old_cwd)
        if added:
            with contextlib.suppress(ValueError):
                sys.path.remove(str(project_dir))


_RUN_LOCK = threading.Lock()


def run_program(project_dir: str | Path, stack: str, config: Mapping[str, str], *,
                preview: bool = True, log: list[tuple[str, str]] | None = None,
                monitor_factory: Callable[..., RecordingMonitor] | None = None) -> list[RecordedResource]:
    """Run `<project_dir>/__main__.py` as `pulumi preview` (or `up`) would and return what it registered.

    `config` uses full keys and CLI encodings ("root-key-guardrails:scpTargets" -> '["ou-..."]'); Pulumi.yaml
    defaults fill in keys it does not set, as the CLI does. `aws:region` (default us-east-1) is the mock
    provider's region: getRegion returns it and ARNs use it. Raises `ProgramError` when the program fails.
    `log`, when given, receives the program's log messages as (severity, message), e.g. ("warning", "...").
    `monitor_factory`, when given, builds the monitor instead of `RecordingMonitor` (same arguments), e.g.
    preflight.provider_engine's, which hands the resources to the real provider.
    """
    project_dir = Path(project_dir).resolve()
    project, defaults = project_config_defaults(project_dir)
    merged = {**defaults, **dict(config)}
    for key, value in merged.items():
        if not isinstance(value, str):
            raise TypeError(f"config value for {key!r} must be a string as the CLI passes it, got {type(value).__name__}")

    monitor = (monitor_factory or RecordingMonitor)(project, stack, preview, merged.get("aws:region", REGION),
                                                    MockWorld.from_config(merged))
    engine = _Engine()
    program = project_dir / "__main__.py"

    def run() -> None:
        from pulumi.runtime import config as runtime_config
        from pulumi.runtime import settings
        from pulumi.runtime.stack import run_in_stack

        settings.reset_options(project=project, stack=stack, root_directory=str(project_dir), preview=preview,
                               organization="organization")
        settings.SETTINGS.monitor = monitor
        settings.SETTINGS.engine = engine
        runtime_config.set_all_config(merged, [])
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(run_in_stack(lambda: runpy.run_path(str(program), run_name="__main__")))
        finally:
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
                with contextlib.suppress(BaseException):
                    loop.run_until_complete(task)
            loop.close()

    try:
        with _RUN_LOCK, _program_environment(project_dir):
            try:
                contextvars.copy_context().run(run)
            except Exception as exc:  # noqa: BLE001 - every program failure becomes one ProgramError with the records
                raise ProgramError(str(exc), monitor.records()) from exc
    finally:
        if log is not None:
            log.extend((_SEVERITY_NAMES.get(sev, str(sev)), message) for sev, message in engine.messages)
    errors = [m for sev, m in engine.messages if sev == _ERROR_SEVERITY]
    if errors:
        raise ProgramError("; ".join(errors), monitor.records())
    return monitor.records()


def _severity_names() -> dict[int, str]:
    from pulumi.runtime.proto import engine_pb2

    return {engine_pb2.DEBUG: "debug", engine_pb2.INFO: "info", engine_pb2.WARNING: "warning",
            engine_pb2.ERROR: "error"}


_SEVERITY_NAMES = _severity_names()
_ERROR_SEVERITY = next(sev for sev, name in _SEVERITY_NAMES.items() if name == "error")


def main(argv: list[str] | None = None) -> int:
    """`python -m preflight.engine PROJECT_DIR STACK [--up]`: print the records as JSON (debugging aid)."""
    import argparse
    from dataclasses import asdict

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("project_dir")
    parser.add_argument("stack")
    parser.add_argument("--up", action="store_true", help="emulate `pulumi up` instead of a preview")
    parser.add_argument("--config", default="{}", help="JSON object of full config keys to string values")
    args = parser.parse_args(argv)
    records = run_program(args.project_dir, args.stack, json.loads(args.config), preview=not args.up)
    json.dump([asdict(r) for r in records], sys.stdout, indent=2, default=list)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
