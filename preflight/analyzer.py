"""Drive Python policy packs over the real analyzer gRPC protocol, the way the Pulumi engine does.

Serves every guardrail (SCP prevention, CIS 1.4 / Security Hub IAM.4 detection, the credential-report audit): the
pack's verdicts are only worth something if they are reached through the same process start, the same RPC order and
the same value encoding as `pulumi preview --policy-pack`. The engine code this mirrors is pulumi/pulumi
`sdk/go/common/resource/plugin/analyzer_plugin.go` (NewPolicyAnalyzer, Analyze, AnalyzeStack, Configure),
`pkg/resource/analyzer/config.go` (policy config parsing and reconciliation), `pkg/resource/deploy/step_generator.go`
(Analyze per registered resource, AnalyzeResources for the stack) and `pkg/engine/policy_check.go` (`pulumi policy
check`: inputs to Analyze, outputs to AnalyzeStack, providers and pending deletes skipped).

The protocol, in order:
1. start `python -u -m pulumi.policy <engine address> .` (through `-c`, see _PACK_MAIN) in the pack directory with
   PULUMI_CONFIG, PULUMI_PROJECT, PULUMI_STACK, PULUMI_ORGANIZATION and PULUMI_DRY_RUN set, and read the pack's port
   from the first stdout line;
2. Handshake (UNIMPLEMENTED tolerated), ConfigureStack (UNIMPLEMENTED tolerated), GetAnalyzerInfo, Configure with
   the reconciled policy config;
3. for each resource, Remediate (UNIMPLEMENTED tolerated; remediated inputs replace the program's) and then
   Analyze; then AnalyzeStack with every resource, its parent, dependencies and property dependencies;
4. SIGINT, which the SDK's server loop turns into a clean stop.

Anything that goes wrong on the way (the pack does not start, crashes, answers with an error, or a config is
invalid) raises PolicyPackError: a pack that did not run must never read as a pass.
"""

from __future__ import annotations

import copy
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from concurrent import futures
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import grpc
import jsonschema
import yaml
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc, engine_pb2, engine_pb2_grpc

from preflight.errors import PreflightError
from preflight.model import RecordedResource

# The engine raises gRPC message limits to 400 MiB (rpcutil.GrpcChannelOptions); a 10,000-resource AnalyzeStack
# request is far above the 4 MiB default.
_MAX_MESSAGE_BYTES = 400 * 1024 * 1024
_CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", _MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", _MAX_MESSAGE_BYTES),
]
# Generous bounds: they exist so that a hung pack ends as an internal error instead of hanging CI.
PACK_START_TIMEOUT_S = 120.0
RPC_TIMEOUT_S = 300.0
SHUTDOWN_GRACE_S = 10.0
_STDERR_TAIL_LINES = 40

ENFORCEMENT_LEVELS = ("advisory", "mandatory", "remediate", "disabled")
_LEVEL_FROM_PROTO = {
    analyzer_pb2.ADVISORY: "advisory",
    analyzer_pb2.MANDATORY: "mandatory",
    analyzer_pb2.DISABLED: "disabled",
    analyzer_pb2.REMEDIATE: "remediate",
}
_LEVEL_TO_PROTO = {name: value for value, name in _LEVEL_FROM_PROTO.items()}
_SEVERITY_FROM_PROTO = {
    analyzer_pb2.POLICY_SEVERITY_UNSPECIFIED: "",
    analyzer_pb2.POLICY_SEVERITY_LOW: "low",
    analyzer_pb2.POLICY_SEVERITY_MEDIUM: "medium",
    analyzer_pb2.POLICY_SEVERITY_HIGH: "high",
    analyzer_pb2.POLICY_SEVERITY_CRITICAL: "critical",
}
_LOG_SEVERITY = {
    engine_pb2.DEBUG: "debug",
    engine_pb2.INFO: "info",
    engine_pb2.WARNING: "warning",
    engine_pb2.ERROR: "error",
}

PROVIDER_TYPE_PREFIX = "pulumi:providers:"
# The engine's property-value signatures (sdk/go/common/resource/properties.go).
SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"


# What the pack's interpreter runs: `-m pulumi.policy`, after putting back Ctrl-C. A shell starts background jobs (CI
# steps, nohup) with SIGINT ignored, the pack inherits that, and Python then never turns SIGINT into the
# KeyboardInterrupt that stops the SDK's server loop: every pack would sit out the shutdown grace period and be
# killed. The pack restores it itself, not a preexec hook in this process: a hook forces a full fork, in which
# gRPC's fork handlers (grpcio 1.80 and later) restart a poller whose descriptor close_fds then closes, and the child
# aborts before exec (grpc/grpc#43055).
_PACK_MAIN = (
    "import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "runpy.run_module('pulumi.policy', run_name='__main__', alter_sys=True)"
)


class PolicyPackError(PreflightError):
    """A policy pack could not be started, configured or run to the end."""


@dataclass(frozen=True)
class StackContext:
    """What the engine tells a pack about the stack: environment variables at start, then ConfigureStack."""

    project: str
    stack: str
    # Full keys ("root-key-guardrails:enableScp") to string values, as in PULUMI_CONFIG.
    config: Mapping[str, str] = field(default_factory=dict)
    secret_keys: Sequence[str] = ()
    organization: str = "organization"  # what the CLI uses for DIY backends
    dry_run: bool = True
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ResourceOptions:
    """The resource options the engine passes to analyzers; a `pulumi stack export` file carries them."""

    protect: bool = False
    ignore_changes: tuple[str, ...] = ()
    additional_secret_outputs: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    custom_timeouts: tuple[float, float, float] = (0.0, 0.0, 0.0)  # create, update, delete (seconds)
    delete_before_replace: bool | None = None


@dataclass(frozen=True)
class PolicyPackSpec:
    """One `--policy-pack DIR`, with the `--policy-pack-config FILE` matched to it by position, if any."""

    path: Path
    config_file: Path | None = None


@dataclass(frozen=True)
class PolicyInfo:
    name: str
    description: str
    enforcement: str  # the policy's own default level, before config
    kind: str  # "resource", "stack" or "unknown" (packs built with an SDK older than policy types)
    config_schema: Mapping[str, Any] | None
    severity: str
    # The pack's remediation text, documentation URL and tags (framework controls), as GetAnalyzerInfo sends them.
    remediation: str = ""
    url: str = ""
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Violation:
    policy: str
    # "mandatory" or "advisory" ("remediate" is reported as mandatory, as the engine does).
    enforcement: str
    urn: str
    # The policy's own message. The SDK sends "<description>\n<message>"; the description is kept apart.
    message: str
    description: str
    pack: str
    pack_version: str
    severity: str

    def to_json(self) -> dict[str, str]:
        return {"policy": self.policy, "enforcement": self.enforcement, "urn": self.urn, "message": self.message}


@dataclass(frozen=True)
class Remediation:
    """A policy at level `remediate` rewrote a resource's inputs before Analyze (the engine then uses them)."""

    policy: str
    urn: str
    properties: Mapping[str, Any]


@dataclass(frozen=True)
class LogEntry:
    severity: str  # debug | info | warning | error | stderr | stdout
    message: str
    urn: str = ""


@dataclass(frozen=True)
class PackReport:
    path: Path
    name: str
    version: str
    policies: tuple[PolicyInfo, ...]
    # The reconciled config sent with Configure: policy -> {"enforcementLevel": ..., properties...}.
    config: Mapping[str, Mapping[str, Any]]
    violations: tuple[Violation, ...]
    logs: tuple[LogEntry, ...]
    handshake_implemented: bool
    remediations: tuple[Remediation, ...] = ()


@dataclass(frozen=True)
class AnalysisResult:
    packs: tuple[PackReport, ...]
    resources_analyzed: int  # resources sent to Analyze
    stack_resources: int  # resources sent to AnalyzeStack
    engine_logs: tuple[LogEntry, ...] = ()  # Log calls the packs made to the engine service
    # Wall-clock seconds per phase, for bench/: start+configure, the Analyze calls, AnalyzeStack, shutdown.
    timings: Mapping[str, float] = field(default_factory=dict)

    @property
    def violations(self) -> tuple[Violation, ...]:
        return tuple(v for pack in self.packs for v in pack.violations)

    @property
    def mandatory(self) -> tuple[Violation, ...]:
        return tuple(v for v in self.violations if v.enforcement == "mandatory")


# ---------------------------------------------------------------------------------------------------------------
# The engine side: the Engine service a pack may call back (Log), as the CLI's plugin host serves it.
# ---------------------------------------------------------------------------------------------------------------


class _EngineServicer(engine_pb2_grpc.EngineServicer):
    def __init__(self, root_urn: str) -> None:
        self._root_urn = root_urn
        self._lock = threading.Lock()
        self.logs: list[LogEntry] = []

    def Log(self, request: engine_pb2.LogRequest, context: grpc.ServicerContext) -> empty_pb2.Empty:
        with self._lock:
            self.logs.append(LogEntry(_LOG_SEVERITY.get(request.severity, "info"), request.message, request.urn))
        return empty_pb2.Empty()

    def GetRootResource(self, request: Any, context: grpc.ServicerContext) -> engine_pb2.GetRootResourceResponse:
        return engine_pb2.GetRootResourceResponse(urn=self._root_urn)

    def SetRootResource(self, request: Any, context: grpc.ServicerContext) -> engine_pb2.SetRootResourceResponse:
        return engine_pb2.SetRootResourceResponse()

    def take_logs(self) -> list[LogEntry]:
        with self._lock:
            taken, self.logs = self.logs, []
        return taken


class EngineServer:
    """The Engine gRPC service on a loopback port; its address is what the pack gets as <engine address>."""

    def __init__(self, root_urn: str) -> None:
        self.servicer = _EngineServicer(root_urn)
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), options=_CHANNEL_OPTIONS)
        engine_pb2_grpc.add_EngineServicer_to_server(self.servicer, self._server)
        port = self._server.add_insecure_port("127.0.0.1:0")
        if port == 0:
            raise PolicyPackError("could not bind the engine service to a loopback port")
        self.address = f"127.0.0.1:{port}"

    def __enter__(self) -> EngineServer:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop(grace=None)


# ---------------------------------------------------------------------------------------------------------------
# Starting a pack.
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PackManifest:
    """The parts of PulumiPolicy.yaml the engine reads before starting a pack."""

    runtime: str
    options: Mapping[str, Any]
    version: str
    description: str


def load_pack_manifest(pack_dir: Path) -> PackManifest:
    manifest_path = pack_dir / "PulumiPolicy.yaml"
    if not pack_dir.is_dir():
        raise PolicyPackError(f"policy pack directory {pack_dir} does not exist")
    if not manifest_path.is_file():
        raise PolicyPackError(
            f"failed to load Pulumi policy project located at {str(pack_dir)!r}: {manifest_path} does not exist")
    try:
        raw = yaml.safe_load(manifest_path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise PolicyPackError(f"{manifest_path} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise PolicyPackError(f"{manifest_path} must be a YAML mapping with at least a 'runtime' key")
    runtime = raw.get("runtime")
    options: Mapping[str, Any] = {}
    if isinstance(runtime, dict):
        options = runtime.get("options") or {}
        runtime = runtime.get("name")
    if not isinstance(runtime, str) or not runtime:
        raise PolicyPackError(f"{manifest_path}: 'runtime' is required (for this pack: python)")
    if runtime != "python":
        raise PolicyPackError(
            f"{manifest_path}: runtime {runtime!r} is not supported by preflight; only 'python' packs can be run")
    if not isinstance(options, dict):
        raise PolicyPackError(f"{manifest_path}: 'runtime.options' must be a mapping, got {options!r}")
    version = raw.get("version", "")
    description = raw.get("description", "")
    return PackManifest(runtime, dict(options), str(version or ""), str(description or ""))


def pack_interpreter(pack_dir: Path, manifest: PackManifest) -> str:
    """The Python the `pulumi-analyzer-policy-python` shim would run.

    The shim uses the `virtualenv` runtime option when set; the CLI creates that virtualenv and installs the pack's
    requirements.txt into it first. Preflight installs nothing: it uses the virtualenv when it exists and otherwise the
    interpreter preflight runs in, which holds the pinned pack requirements.
    """
    venv = manifest.options.get("virtualenv")
    if isinstance(venv, str) and venv:
        candidate = (pack_dir / venv / "bin" / "python")
        if candidate.is_file():
            return str(candidate.absolute())
    # The pack starts in its own directory, so a relative interpreter path (a relative PATH entry) would not resolve.
    return os.path.abspath(sys.executable)


def _pack_env(ctx: StackContext) -> dict[str, str]:
    # constructEnv: the parent environment plus the stack's config and identity, empty values omitted.
    env = dict(os.environ)
    if ctx.config:
        env["PULUMI_CONFIG"] = json.dumps(dict(ctx.config))
    if ctx.organization:
        env["PULUMI_ORGANIZATION"] = ctx.organization
    env["PULUMI_PROJECT"] = ctx.project
    env["PULUMI_STACK"] = ctx.stack
    env["PULUMI_DRY_RUN"] = "true" if ctx.dry_run else "false"
    return env


class PolicyPackProcess:
    """One running pack: the child process, its gRPC channel, and everything it printed."""

    def __init__(self, spec: PolicyPackSpec, engine: EngineServer, ctx: StackContext) -> None:
        self.spec = spec
        self.pack_dir = spec.path.resolve()
        self.manifest = load_pack_manifest(self.pack_dir)
        self._engine = engine
        self._ctx = ctx
        self._proc: subprocess.Popen[bytes] | None = None
        self._channel: grpc.Channel | None = None
        self.stub: analyzer_pb2_grpc.AnalyzerStub | None = None
        self._stderr: deque[str] = deque(maxlen=2000)
        self._stdout_lines: deque[str] = deque(maxlen=2000)
        self._port_queue: queue.Queue[str | None] = queue.Queue(maxsize=1)
        self._threads: list[threading.Thread] = []
        self.handshake_implemented = False

    # -- process ---------------------------------------------------------------------------------------------

    def spawn(self) -> None:
        """Start the process; the port is read later by connect(), so the pack boots while the program runs."""
        python = pack_interpreter(self.pack_dir, self.manifest)
        # The shim runs `python -u -m pulumi.policy <engine> .` with the pack directory as the working directory.
        argv = [python, "-u", "-c", _PACK_MAIN, self._engine.address, "."]
        try:
            self._proc = subprocess.Popen(
                argv, cwd=self.pack_dir, env=_pack_env(self._ctx),
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except OSError as exc:
            raise PolicyPackError(f"policy pack {self.pack_dir} failed to start: {exc}") from exc
        self._threads = [
            threading.Thread(target=self._read_stdout, name="pack-stdout", daemon=True),
            threading.Thread(target=self._read_stderr, name="pack-stderr", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def connect(self) -> None:
        port = self._wait_for_port()
        self._channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=_CHANNEL_OPTIONS)
        ready = grpc.channel_ready_future(self._channel)
        deadline = time.monotonic() + PACK_START_TIMEOUT_S
        while True:
            try:
                ready.result(timeout=0.25)
                break
            except grpc.FutureTimeoutError:
                # Poll the process too: a pack that dies after printing its port must not cost the full timeout.
                if self._proc is not None and self._proc.poll() is not None:
                    raise self.failure(f"exited after printing port {port}") from None
                if time.monotonic() > deadline:
                    raise self.failure(f"did not accept connections on port {port}") from None
        self.stub = analyzer_pb2_grpc.AnalyzerStub(self._channel)

    def _read_stdout(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        first = True
        for raw in self._proc.stdout:
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            if first:
                first = False
                self._port_queue.put(line)
                continue
            self._stdout_lines.append(line)
        if first:
            self._port_queue.put(None)

    def _read_stderr(self) -> None:
        assert self._proc is not None and self._proc.stderr is not None
        for raw in self._proc.stderr:
            self._stderr.append(raw.decode("utf-8", errors="replace").rstrip("\r\n"))

    def _wait_for_port(self) -> int:
        try:
            line = self._port_queue.get(timeout=PACK_START_TIMEOUT_S)
        except queue.Empty as exc:
            raise self.failure(f"did not print its port within {PACK_START_TIMEOUT_S:.0f} s") from exc
        if line is None:
            self._wait_exit(5.0)
            raise self.failure("exited before printing its port")
        try:
            port = int(line.strip())
        except ValueError:
            raise self.failure(f"printed {line!r} where the engine expects its port number") from None
        if not 0 < port < 65536:
            raise self.failure(f"printed port {port}, which is not a TCP port")
        return port

    def _wait_exit(self, timeout: float) -> int | None:
        if self._proc is None:
            return None
        try:
            return self._proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def failure(self, what: str) -> PolicyPackError:
        """An error naming the pack, what went wrong, its exit status if it died, and the tail of its stderr."""
        status = ""
        if self._proc is not None:
            code = self._proc.poll()
            if code is None and what.startswith(("exited", "crashed")):
                code = self._wait_exit(2.0)
            if code is not None:
                status = f" (exit status {code})"
        # Give the stderr reader a moment to drain what the dying process wrote last.
        for thread in self._threads[1:]:
            thread.join(timeout=1.0)
        lines = list(self._stderr)
        while lines and not lines[-1].strip():
            lines.pop()
        tail = lines[-_STDERR_TAIL_LINES:]
        detail = ("\n  pack stderr:\n    " + "\n    ".join(tail)) if tail else ""
        return PolicyPackError(f"policy pack {self.pack_dir} {what}{status}{detail}")

    def rpc_failure(self, call: str, exc: grpc.RpcError) -> PolicyPackError:
        code = exc.code() if hasattr(exc, "code") else None
        details = exc.details() if hasattr(exc, "details") else str(exc)
        if self._proc is not None and self._proc.poll() is None and code == grpc.StatusCode.UNAVAILABLE:
            self._wait_exit(2.0)
        if self._proc is not None and self._proc.poll() is not None:
            return self.failure(f"crashed during {call}")
        name = code.name if code is not None else "ERROR"
        return self.failure(f"failed {call}: {name}: {details}")

    def close(self) -> None:
        """Stop the pack (idempotent): SIGINT, then SIGKILL after a grace period."""
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        proc = self._proc
        if proc is not None and proc.poll() is None:
            # The SDK's serve loop stops its gRPC server on KeyboardInterrupt.
            proc.send_signal(signal.SIGINT)
            if self._wait_exit(SHUTDOWN_GRACE_S) is None:
                proc.kill()
                proc.wait()
        for thread in self._threads:
            thread.join(timeout=5.0)
        if proc is not None:
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()

    def output_logs(self) -> list[LogEntry]:
        return ([LogEntry("stdout", line) for line in self._stdout_lines]
                + [LogEntry("stderr", line) for line in self._stderr])

    def call(self, name: str, request: Any, label: str, *, timeout: float = RPC_TIMEOUT_S) -> Any:
        assert self.stub is not None
        try:
            return getattr(self.stub, name)(request, timeout=timeout)
        except grpc.RpcError as exc:
            raise self.rpc_failure(label, exc) from exc

    def call_tolerating_unimplemented(self, name: str, request: Any) -> bool:
        """Handshake and ConfigureStack: the engine carries on when a pack does not implement them."""
        assert self.stub is not None
        try:
            getattr(self.stub, name)(request, timeout=RPC_TIMEOUT_S)
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.UNIMPLEMENTED:
                return False
            raise self.rpc_failure(name, exc) from exc
        return True


# ---------------------------------------------------------------------------------------------------------------
# Policy config: the --policy-pack-config file format and the engine's reconciliation.
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyConfigEntry:
    enforcement: str | None  # None: not given
    properties: Mapping[str, Any]


def parse_policy_config(text: str, source: str) -> dict[str, PolicyConfigEntry]:
    """Parse a `--policy-pack-config` file: {policy: "level"} or {policy: {"enforcementLevel"?, property...}}."""
    if not text.strip():
        return {}  # the engine accepts an empty file
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PreflightError(f"policy config {source} is not valid JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise PreflightError(f"policy config {source} must be a JSON object mapping policy names to a level or object")
    allowed = ", ".join(ENFORCEMENT_LEVELS)
    result: dict[str, PolicyConfigEntry] = {}
    for policy, value in raw.items():
        if isinstance(value, str):
            if value not in ENFORCEMENT_LEVELS:
                raise PreflightError(
                    f"policy config {source}: {policy!r} has enforcement level {value!r}; allowed: {allowed}")
            result[policy] = PolicyConfigEntry(value, {})
        elif isinstance(value, dict):
            props = dict(value)
            level = props.pop("enforcementLevel", None)
            if level is not None and (not isinstance(level, str) or level not in ENFORCEMENT_LEVELS):
                raise PreflightError(
                    f"policy config {source}: {policy!r} has enforcementLevel {level!r}; allowed: {allowed}")
            if level is None and not props:
                continue  # the engine drops empty entries
            result[policy] = PolicyConfigEntry(level, props)
        else:
            raise PreflightError(
                f"policy config {source}: {policy!r} is {value!r}; it must be an enforcement level string or an object")
    return result


def reconcile_policy_config(
    policies: Sequence[PolicyInfo],
    initial: Mapping[str, PolicyConfigEntry],
    given: Mapping[str, PolicyConfigEntry],
    *,
    pack: str,
    source: str,
) -> dict[str, dict[str, Any]]:
    """The engine's ReconcilePolicyPackConfig: schema defaults, then the pack's initial config, then the file."""
    by_name = {p.name: p for p in policies}
    unknown = sorted(set(given) - set(by_name) - {"all"})
    if unknown:
        # The engine would fail later with 'invalid enforcement level ""'; name the real cause instead.
        raise PreflightError(
            f"policy config {source}: {', '.join(repr(u) for u in unknown)} "
            f"{'is not a policy' if len(unknown) == 1 else 'are not policies'} of pack {pack!r}; "
            f"its policies are: {', '.join(sorted(by_name))}")
    levels: dict[str, str] = {}
    props: dict[str, dict[str, Any]] = {}
    for policy in policies:
        levels[policy.name] = policy.enforcement
        schema_props = (policy.config_schema or {}).get("properties") or {}
        props[policy.name] = {k: copy.deepcopy(v["default"]) for k, v in schema_props.items()
                              if isinstance(v, dict) and "default" in v}
    for layer in (initial, given):
        everything = layer.get("all")
        if everything is not None and everything.enforcement is not None:
            for name in levels:
                levels[name] = everything.enforcement
        for name, entry in layer.items():
            if name == "all" and name not in by_name:
                continue
            if name not in levels:
                continue  # initial config naming a policy the pack does not have: nothing to configure
            if entry.enforcement is not None:
                levels[name] = entry.enforcement
            props[name].update(copy.deepcopy(dict(entry.properties)))
    errors: list[str] = []
    for policy in policies:
        if policy.config_schema is None:
            continue
        schema: dict[str, Any] = {"type": "object"}
        if policy.config_schema.get("properties"):
            schema["properties"] = policy.config_schema["properties"]
        if policy.config_schema.get("required"):
            schema["required"] = list(policy.config_schema["required"])
        validator_cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
        for error in sorted(validator_cls(schema).iter_errors(props[policy.name]), key=lambda e: list(e.path)):
            where = "/".join(str(p) for p in error.path)
            errors.append(f"{policy.name}: {where + ': ' if where else ''}{error.message}")
    if errors:
        raise PreflightError(f"validating policy config {source} for pack {pack!r}:\n  " + "\n  ".join(errors))
    return {name: {"enforcementLevel": levels[name], **props[name]} for name in levels}


# ---------------------------------------------------------------------------------------------------------------
# Marshalling, as MarshalProperties(KeepUnknowns, KeepSecrets, SkipInternalKeys) does.
# ---------------------------------------------------------------------------------------------------------------


def _wire_value(value: Any, skip_internal: bool = True) -> Any:
    if isinstance(value, dict):
        if SIG_KEY in value:
            return value  # secrets, assets, archives and resource references keep their signature objects
        # SkipInternalKeys: "__"-prefixed keys (e.g. "__defaults") are engine bookkeeping, not properties.
        return {k: _wire_value(v, skip_internal) for k, v in value.items()
                if not (skip_internal and k.startswith("__"))}
    if isinstance(value, (list, tuple)):
        return [_wire_value(v, skip_internal) for v in value]
    return value


def _has_internal_keys(value: Any) -> bool:
    if isinstance(value, dict):
        return SIG_KEY not in value and any(k.startswith("__") or _has_internal_keys(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_has_internal_keys(v) for v in value)
    return False


def to_struct(properties: Mapping[str, Any], *, skip_internal: bool = True) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    try:
        struct.update(_wire_value(dict(properties), skip_internal))
    except (TypeError, ValueError) as exc:
        raise PreflightError(f"a property value cannot be sent to the analyzer: {exc}") from exc
    return struct


def urn_name(urn: str) -> str:
    """URN.Name(): everything after the fourth '::'-separated part (names may themselves contain '::')."""
    parts = urn.split("::", 3)
    return parts[3] if len(parts) == 4 else urn


def urn_type(urn: str) -> str:
    """URN.Type(): the last '$'-separated element of the qualified type."""
    parts = urn.split("::", 3)
    return parts[2].rsplit("$", 1)[-1] if len(parts) == 4 else ""


def _options_message(res: RecordedResource, opts: ResourceOptions) -> analyzer_pb2.AnalyzerResourceOptions:
    create, update, delete = opts.custom_timeouts
    return analyzer_pb2.AnalyzerResourceOptions(
        protect=opts.protect,
        ignoreChanges=list(opts.ignore_changes),
        deleteBeforeReplace=bool(opts.delete_before_replace),
        deleteBeforeReplaceDefined=opts.delete_before_replace is not None,
        additionalSecretOutputs=list(opts.additional_secret_outputs),
        aliases=list(opts.aliases),
        customTimeouts=analyzer_pb2.AnalyzerResourceOptions.CustomTimeouts(create=create, update=update, delete=delete),
        parent=res.parent or "",
    )


class _Providers:
    """Resolves "<provider urn>::<id>" references to the provider's inputs, as getProviderResource does."""

    def __init__(self, resources: Iterable[RecordedResource]) -> None:
        self._by_urn = {r.urn: r for r in resources if r.type.startswith(PROVIDER_TYPE_PREFIX)}
        self._cache: dict[str, analyzer_pb2.AnalyzerProviderResource | None] = {}

    def message(self, reference: str | None) -> analyzer_pb2.AnalyzerProviderResource | None:
        if not reference:
            return None
        if reference in self._cache:
            return self._cache[reference]
        urn = reference.rsplit("::", 1)[0] if reference.count("::") >= 4 else reference
        record = self._by_urn.get(urn)
        if record is not None:
            msg = analyzer_pb2.AnalyzerProviderResource(
                urn=record.urn, type=record.type, name=urn_name(record.urn), properties=to_struct(record.inputs))
        elif urn.startswith("urn:pulumi:") and urn_type(urn).startswith(PROVIDER_TYPE_PREFIX):
            # The mock engine records no default provider; the pack still learns which provider it would be.
            msg = analyzer_pb2.AnalyzerProviderResource(
                urn=urn, type=urn_type(urn), name=urn_name(urn), properties=struct_pb2.Struct())
        else:
            raise PreflightError(f"provider reference {reference!r} is not '<provider urn>::<provider id>'")
        self._cache[reference] = msg
        return msg


def _violation(diag: analyzer_pb2.AnalyzeDiagnostic, urn: str, pack: str, version: str) -> Violation:
    # A level this driver does not know (a newer protocol) must not pass silently: count it as blocking.
    level = _LEVEL_FROM_PROTO.get(diag.enforcementLevel, "mandatory")
    if level == "remediate":
        level = "mandatory"  # the engine downgrades a remediate diagnostic to mandatory
    message = diag.message
    prefix = diag.description + "\n"
    if diag.description and message.startswith(prefix):
        message = message[len(prefix):]
    return Violation(
        policy=diag.policyName, enforcement=level, urn=urn, message=message, description=diag.description,
        pack=diag.policyPackName or pack, pack_version=version, severity=_SEVERITY_FROM_PROTO.get(diag.severity, ""))


# ---------------------------------------------------------------------------------------------------------------
# The whole run.
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class _LoadedPack:
    process: PolicyPackProcess
    name: str
    version: str
    policies: tuple[PolicyInfo, ...]
    config: dict[str, dict[str, Any]]
    violations: list[Violation] = field(default_factory=list)
    remediations: list[Remediation] = field(default_factory=list)
    remediate_implemented: bool = True


def _plain(value: Any) -> Any:
    """Struct numbers are doubles; give integral ones back as ints, as Go's JSON encoding prints them."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _policy_infos(info: analyzer_pb2.AnalyzerInfo) -> tuple[PolicyInfo, ...]:
    kinds = {analyzer_pb2.POLICY_TYPE_RESOURCE: "resource", analyzer_pb2.POLICY_TYPE_STACK: "stack"}
    policies = []
    for p in info.policies:
        schema = _plain(json_format.MessageToDict(p.configSchema)) if p.HasField("configSchema") else None
        if schema is not None and info.supportsConfig:
            # GetAnalyzerInfo injects enforcementLevel into every schema of a config-supporting pack.
            props = dict(schema.get("properties") or {})
            props["enforcementLevel"] = {"type": "string", "enum": list(ENFORCEMENT_LEVELS)}
            schema = {**schema, "properties": props}
        policies.append(PolicyInfo(
            name=p.name, description=p.description, enforcement=_LEVEL_FROM_PROTO.get(p.enforcementLevel, "advisory"),
            kind=kinds.get(p.policy_type, "unknown"), config_schema=schema,
            severity=_SEVERITY_FROM_PROTO.get(p.severity, ""), remediation=p.remediation_steps, url=p.url,
            tags=tuple(p.tags)))
    return tuple(sorted(policies, key=lambda p: p.name))


def _initial_config(info: analyzer_pb2.AnalyzerInfo) -> dict[str, PolicyConfigEntry]:
    # As in the engine, an initialConfig entry always carries a level: an unset enum reads as ADVISORY.
    return {name: PolicyConfigEntry(_LEVEL_FROM_PROTO.get(cfg.enforcementLevel, "advisory"),
                                    _plain(json_format.MessageToDict(cfg.properties)))
            for name, cfg in info.initialConfig.items()}


def _configure_pack(process: PolicyPackProcess, engine: EngineServer, ctx: StackContext) -> _LoadedPack:
    """Everything the engine does between starting a pack and its first Analyze call."""
    spec = process.spec
    process.connect()
    root = str(process.pack_dir)
    process.handshake_implemented = process.call_tolerating_unimplemented(
        "Handshake", analyzer_pb2.AnalyzerHandshakeRequest(
            engine_address=engine.address, root_directory=root, program_directory=root))
    process.call_tolerating_unimplemented("ConfigureStack", analyzer_pb2.AnalyzerStackConfigureRequest(
        stack=ctx.stack, project=ctx.project, organization=ctx.organization, dry_run=ctx.dry_run,
        config=dict(ctx.config), config_secret_keys=list(ctx.secret_keys), tags=dict(ctx.tags)))
    info = process.call("GetAnalyzerInfo", empty_pb2.Empty(), "GetAnalyzerInfo")
    name = info.name
    # The version in PulumiPolicy.yaml wins over the one the pack reports (the Python SDK always says 0.0.1).
    version = process.manifest.version or info.version
    policies = _policy_infos(info)
    given: dict[str, PolicyConfigEntry] = {}
    source = str(spec.config_file) if spec.config_file else "(none)"
    if spec.config_file is not None:
        if not info.supportsConfig:
            raise PreflightError(f"policy pack {name!r} does not support config, but {spec.config_file} was given")
        try:
            text = spec.config_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise PreflightError(f"cannot read policy config {spec.config_file}: {exc}") from exc
        given = parse_policy_config(text, source)
    config: dict[str, dict[str, Any]] = {}
    if info.supportsConfig:
        config = reconcile_policy_config(policies, _initial_config(info), given, pack=name, source=source)
        if config:
            request = analyzer_pb2.ConfigureAnalyzerRequest()
            for policy, values in config.items():
                props = {k: v for k, v in values.items() if k != "enforcementLevel"}
                request.policyConfig[policy].CopyFrom(analyzer_pb2.PolicyConfig(
                    enforcementLevel=_LEVEL_TO_PROTO[values["enforcementLevel"]], properties=to_struct(props)))
            process.call("Configure", request, "Configure")
    return _LoadedPack(process, name, version, policies, config)


def _analyzer_resource(res: RecordedResource, properties: Mapping[str, Any], opts: ResourceOptions,
                       providers: _Providers) -> analyzer_pb2.AnalyzerResource:
    msg = analyzer_pb2.AnalyzerResource(
        urn=res.urn, type=res.type, name=urn_name(res.urn), properties=to_struct(properties),
        options=_options_message(res, opts), parent=res.parent or "", dependencies=list(res.dependencies))
    provider = providers.message(res.provider)
    if provider is not None:
        msg.provider.CopyFrom(provider)
    for key, urns in res.property_dependencies.items():
        if urns:  # the engine skips properties without dependencies
            msg.propertyDependencies[key].urns.extend(urns)
    return msg


class AnalysisSession:
    """Policy packs started before the program runs, as the engine loads its analyzers, then driven once.

    Entering starts the engine service and every pack process, and configures them on background threads; the
    caller runs the program meanwhile, then calls analyze(). Leaving always stops every pack it started.
    """

    def __init__(self, packs: Sequence[PolicyPackSpec], ctx: StackContext) -> None:
        if not packs:
            raise PreflightError("no policy pack given")
        self._specs = list(packs)
        self._ctx = ctx
        self._exit = ExitStack()
        self._processes: list[PolicyPackProcess] = []
        self._loads: list[futures.Future[_LoadedPack]] = []
        self._engine: EngineServer | None = None
        self._pool: futures.ThreadPoolExecutor | None = None
        self._entered_at = 0.0

    def __enter__(self) -> AnalysisSession:
        self._entered_at = time.perf_counter()
        ctx = self._ctx
        root_urn = f"urn:pulumi:{ctx.stack}::{ctx.project}::pulumi:pulumi:Stack::{ctx.project}-{ctx.stack}"
        try:
            self._engine = self._exit.enter_context(EngineServer(root_urn))
            for spec in self._specs:
                process = PolicyPackProcess(spec, self._engine, ctx)
                self._processes.append(process)
                process.spawn()
            self._pool = futures.ThreadPoolExecutor(max_workers=len(self._processes), thread_name_prefix="pack")
            self._loads = [self._pool.submit(_configure_pack, p, self._engine, ctx) for p in self._processes]
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _shutdown(self) -> None:
        # Stop the processes first: a configure thread still waiting on a pack then returns at once.
        for process in self._processes:
            process.close()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __exit__(self, *exc: object) -> None:
        try:
            self._shutdown()
        finally:
            self._exit.close()

    @staticmethod
    def _remediate(loaded: Sequence[_LoadedPack], res: RecordedResource,
                   request: analyzer_pb2.AnalyzeRequest) -> None:
        """Remediate as the engine does; transformed inputs replace the request's properties for what follows."""
        props: Mapping[str, Any] = res.inputs
        changed = False
        for pack in loaded:
            if not pack.remediate_implemented:
                continue
            remediate = request
            # Remediate marshals with SkipInternalKeys false: a pack must be able to keep "__" keys it returns.
            if changed or _has_internal_keys(props):
                remediate = analyzer_pb2.AnalyzeRequest()
                remediate.CopyFrom(request)
                remediate.properties.CopyFrom(to_struct(props, skip_internal=False))
            try:
                response = pack.process.stub.Remediate(remediate, timeout=RPC_TIMEOUT_S)  # type: ignore[union-attr]
            except grpc.RpcError as exc:
                if exc.code() == grpc.StatusCode.UNIMPLEMENTED:
                    pack.remediate_implemented = False
                    continue
                raise pack.process.rpc_failure(f"Remediate of {res.urn}", exc) from exc
            for item in response.remediations:
                if item.diagnostic:
                    # A remediation that could not run is shown as an advisory violation on the resource.
                    pack.violations.append(Violation(
                        policy=item.policyName, enforcement="advisory", urn=res.urn, message=item.diagnostic,
                        description=item.description, pack=item.policyPackName or pack.name,
                        pack_version=pack.version, severity=""))
                elif item.HasField("properties"):
                    props = _plain(json_format.MessageToDict(item.properties))
                    changed = True
                    pack.remediations.append(Remediation(policy=item.policyName, urn=res.urn, properties=props))
        if changed:
            request.properties.CopyFrom(to_struct(props))

    def analyze(
        self,
        resources: Sequence[RecordedResource],
        *,
        mode: str = "preview",
        options: Mapping[str, ResourceOptions] | None = None,
    ) -> AnalysisResult:
        """Run every pack over the resources, stop the packs, and return their violations.

        mode "preview": the engine during `pulumi preview` -- every registered resource (stack, components,
        providers) goes to Analyze with its inputs in registration order, and all of them to AnalyzeStack with
        their outputs. mode "state": `pulumi policy check` over a stack export -- providers are skipped in both.
        """
        if mode not in ("preview", "state"):
            raise ValueError(f"mode must be 'preview' or 'state', not {mode!r}")
        assert self._engine is not None, "use AnalysisSession as a context manager"
        options = options or {}
        providers = _Providers(resources)
        selected = [r for r in resources if mode == "preview" or not r.type.startswith(PROVIDER_TYPE_PREFIX)]
        default_opts = ResourceOptions()
        clock = [time.perf_counter()]
        timings: dict[str, float] = {"overlapped_start": clock[0] - self._entered_at}

        def lap(phase: str) -> None:
            now = time.perf_counter()
            timings[phase] = now - clock[0]
            clock[0] = now

        loaded = [load.result() for load in self._loads]
        lap("start")
        for res in selected:
            request = analyzer_pb2.AnalyzeRequest(
                urn=res.urn, type=res.type, name=urn_name(res.urn), properties=to_struct(res.inputs),
                options=_options_message(res, options.get(res.urn, default_opts)))
            provider = providers.message(res.provider)
            if provider is not None:
                request.provider.CopyFrom(provider)
            # The step generator's two passes: every pack's remediations first, then analysis of the result.
            self._remediate(loaded, res, request)
            for pack in loaded:
                response = pack.process.call("Analyze", request, f"Analyze of {res.urn}")
                # For Analyze the engine always reports the URN of the resource it sent.
                pack.violations.extend(_violation(d, res.urn, pack.name, pack.version) for d in response.diagnostics)
        lap("analyze")
        stack_request = analyzer_pb2.AnalyzeStackRequest(resources=[
            _analyzer_resource(r, r.outputs, options.get(r.urn, default_opts), providers) for r in selected])
        for pack in loaded:
            assert pack.process.stub is not None
            try:
                response = pack.process.stub.AnalyzeStack(stack_request, timeout=RPC_TIMEOUT_S)
            except grpc.RpcError as exc:
                if exc.code() == grpc.StatusCode.UNIMPLEMENTED:
                    continue  # the engine skips packs too old to have stack policies
                raise pack.process.rpc_failure("AnalyzeStack", exc) from exc
            # A stack policy names the resource at fault itself; "" means the stack as a whole.
            pack.violations.extend(_violation(d, d.urn, pack.name, pack.version) for d in response.diagnostics)
        lap("analyze_stack")
        # Stop the packs now, so that their logs include anything printed on the way out.
        self._shutdown()
        lap("shutdown")
        reports = tuple(
            PackReport(path=pack.process.pack_dir, name=pack.name, version=pack.version, policies=pack.policies,
                       config=pack.config, violations=tuple(pack.violations), logs=tuple(pack.process.output_logs()),
                       handshake_implemented=pack.process.handshake_implemented,
                       remediations=tuple(pack.remediations))
            for pack in loaded)
        return AnalysisResult(packs=reports, resources_analyzed=len(selected), stack_resources=len(selected),
                              engine_logs=tuple(self._engine.servicer.take_logs()), timings=timings)


def analyze(
    packs: Sequence[PolicyPackSpec],
    resources: Sequence[RecordedResource],
    ctx: StackContext,
    *,
    mode: str = "preview",
    options: Mapping[str, ResourceOptions] | None = None,
) -> AnalysisResult:
    """Start the packs, run them over the resources (see AnalysisSession.analyze) and stop them."""
    with AnalysisSession(packs, ctx) as session:
        return session.analyze(resources, mode=mode, options=options)
