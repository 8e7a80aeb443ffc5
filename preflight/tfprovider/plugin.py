"""Starting a Terraform provider binary and talking tfplugin5 to it over gRPC (go-plugin's handshake).

Wire layer, Terraform names only. go-plugin's contract, as Terraform itself runs providers:
- the child gets TF_PLUGIN_MAGIC_COOKIE (the value in hashicorp/terraform internal/plugin/serve.go) and
  PLUGIN_PROTOCOL_VERSIONS=5, and answers with one stdout line
  `CORE-VERSION|APP-VERSION|NETWORK|ADDRESS|PROTOCOL[|SERVER-CERT]`, here `1|5|unix|/tmp/plugin…|grpc|`;
- PLUGIN_CLIENT_CERT is never set, so the provider serves plaintext gRPC on a unix socket (AutoMTLS off): the socket
  lives in a private temporary directory of this process, which is what protects it, as with Terraform's own
  non-AutoMTLS mode. A handshake that announces a server certificate is refused, since this client has no
  matching client certificate to present;
- stderr carries the provider's logs (hclog); it is drained on a thread into a bounded buffer (and a file when asked)
  so a chatty provider can never block, and its tail is attached to startup failures.

The child's environment is built from scratch: no AWS_* variables, no proxies, no shared config files, so nothing
but the provider configuration the caller passes decides where requests go.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import grpc

from preflight.tfprovider import tfplugin5_pb2 as pb
from preflight.tfprovider import tfplugin5_pb2_grpc as pb_grpc

MAGIC_COOKIE_KEY = "TF_PLUGIN_MAGIC_COOKIE"
MAGIC_COOKIE_VALUE = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"
PROTOCOL_VERSION = 5
# Terraform core announces its version to providers; the provider's user agent and a few version gates read it.
TERRAFORM_VERSION = "1.11.4"
# The AWS provider's schema is tens of megabytes; Terraform raises gRPC's limits the same way.
_MAX_MESSAGE = 256 << 20
_STDERR_TAIL = 400

DEFAULT_PROVIDER_ADDRESS = "registry.terraform.io/hashicorp/aws"
DEFAULT_PROVIDER_VERSION = "5.100.0"
DEFAULT_BINARY = Path(
    "/opt/tf-plugins/registry.terraform.io/hashicorp/aws/5.100.0/linux_amd64/terraform-provider-aws_v5.100.0_x5")
BINARY_ENV = "PREFLIGHT_TF_PROVIDER_AWS"


class PluginError(Exception):
    """The provider binary could not be found, started, or spoken to."""


@dataclass(frozen=True)
class Diagnostic:
    severity: str  # "error" | "warning"
    summary: str
    detail: str
    path: tuple  # Terraform attribute path: names (str) and element keys (str or int)

    def text(self) -> str:
        return f"{self.summary}: {self.detail}" if self.detail and self.detail != self.summary else self.summary


class DiagnosticsError(Exception):
    """A provider call returned error diagnostics."""

    def __init__(self, rpc: str, diagnostics: Sequence[Diagnostic]) -> None:
        self.rpc = rpc
        self.diagnostics = tuple(diagnostics)
        errors = [d for d in self.diagnostics if d.severity == "error"]
        super().__init__(f"{rpc}: " + "; ".join(d.text() for d in errors))


def _diagnostics(rpc: str, items: Iterable[Any], warnings: list[Diagnostic]) -> None:
    converted = []
    for d in items:
        steps = []
        for step in d.attribute.steps:
            which = step.WhichOneof("selector")
            steps.append(getattr(step, which) if which else "?")
        severity = {pb.Diagnostic.ERROR: "error", pb.Diagnostic.WARNING: "warning"}.get(d.severity, "error")
        converted.append(Diagnostic(severity, d.summary, d.detail, tuple(steps)))
    warnings.extend(d for d in converted if d.severity == "warning")
    if any(d.severity == "error" for d in converted):
        raise DiagnosticsError(rpc, converted)


# ------------------------------------------------------------------------------------------------ discovery

_CLI_CONFIG_DIRS = re.compile(r'^\s*(?:plugin_cache_dir\s*=|path\s*=)\s*"([^"]+)"', re.MULTILINE)


def _cli_config_dirs(home: Path) -> list[Path]:
    """`plugin_cache_dir` and filesystem-mirror `path` settings from Terraform's CLI configuration file."""
    config = Path(os.environ.get("TF_CLI_CONFIG_FILE") or home / ".terraformrc")
    try:
        text = config.read_text()
    except OSError:
        return []
    return [Path(os.path.expanduser(match)) for match in _CLI_CONFIG_DIRS.findall(text)]


def _default_plugin_dirs() -> list[Path]:
    """Where Terraform looks for providers on Linux: the CLI config's plugin cache and mirror directories."""
    home = Path.home()
    dirs: list[Path] = []
    if os.environ.get("TF_PLUGIN_CACHE_DIR"):
        dirs.append(Path(os.environ["TF_PLUGIN_CACHE_DIR"]))
    dirs += _cli_config_dirs(home)
    dirs += [home / ".terraform.d" / "plugin-cache", home / ".terraform.d" / "plugins",
             home / ".local" / "share" / "terraform" / "plugins", Path("/usr/local/share/terraform/plugins"),
             Path("/usr/share/terraform/plugins"), Path("/opt/tf-plugins")]
    xdg = os.environ.get("XDG_DATA_DIRS")
    if xdg:
        dirs += [Path(d) / "terraform" / "plugins" for d in xdg.split(":") if d]
    return dirs


def find_binary(explicit: Path | str | None = None, *, version: str = DEFAULT_PROVIDER_VERSION,
                search_dirs: Sequence[Path] | None = None) -> Path:
    """The provider binary: `explicit`, else $PREFLIGHT_TF_PROVIDER_AWS, else the first Terraform plugin
    cache/mirror directory holding registry.terraform.io/hashicorp/aws/<version>/linux_amd64/. Raises
    PluginError saying where it looked and how to get the provider."""
    if explicit is None and os.environ.get(BINARY_ENV):
        explicit = os.environ[BINARY_ENV]
    if explicit is not None:
        path = Path(explicit)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise PluginError(f"provider binary {path} does not exist or is not executable")
        return path
    looked = []
    for base in (_default_plugin_dirs() if search_dirs is None else search_dirs):
        platform_dir = base / DEFAULT_PROVIDER_ADDRESS / version / "linux_amd64"
        looked.append(str(platform_dir))
        if platform_dir.is_dir():
            for candidate in sorted(platform_dir.glob("terraform-provider-aws*")):
                if candidate.is_file() and os.access(candidate, os.X_OK):
                    return candidate
    raise PluginError(
        f"terraform-provider-aws {version} not found (looked in {', '.join(looked)}; set {BINARY_ENV} to the "
        f"binary's path). Get it with `terraform providers mirror DIR` on a configuration requiring "
        f"hashicorp/aws = {version}, or from a Terraform plugin cache (TF_PLUGIN_CACHE_DIR).")


# ------------------------------------------------------------------------------------------------ handshake

def parse_handshake(line: str) -> str:
    """The unix socket address from go-plugin's handshake line; PluginError for anything else."""
    parts = line.strip().split("|")
    if len(parts) < 5:
        raise PluginError(f"provider sent no go-plugin handshake, got {line.strip()!r}")
    core, app, network, address, protocol = parts[:5]
    if core != "1":
        raise PluginError(f"provider speaks go-plugin core protocol {core}, this client speaks 1")
    if app != str(PROTOCOL_VERSION):
        raise PluginError(f"provider chose plugin protocol {app}, this client speaks tfplugin{PROTOCOL_VERSION}")
    if protocol != "grpc":
        raise PluginError(f"provider offers {protocol!r}, this client speaks grpc")
    if len(parts) > 5 and parts[5]:
        raise PluginError("provider requires TLS (it announced a server certificate), but no client certificate "
                          "was offered; PLUGIN_CLIENT_CERT must not be set for it")
    if network != "unix":
        raise PluginError(f"provider listens on {network} {address}; only a unix socket is accepted")
    return address


def child_environment(socket_dir: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(socket_dir),
        "TMPDIR": str(socket_dir),
        MAGIC_COOKIE_KEY: MAGIC_COOKIE_VALUE,
        "PLUGIN_PROTOCOL_VERSIONS": str(PROTOCOL_VERSION),
        # No shared config or credentials file may point the provider anywhere.
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        "CHECKPOINT_DISABLE": "1",
    }
    env.update(extra or {})
    return env


class PluginProcess:
    """One running provider: the child process, its gRPC channel and its captured stderr."""

    def __init__(self, binary: Path, *, log_path: Path | None = None, log_level: str = "WARN",
                 start_timeout: float = 60.0) -> None:
        self.binary = Path(binary)
        self._stderr: collections.deque[str] = collections.deque(maxlen=_STDERR_TAIL)
        self._log_file = open(log_path, "a", encoding="utf-8") if log_path else None  # noqa: SIM115
        self._socket_dir = Path(tempfile.mkdtemp(prefix="preflight-tf-"))
        started = time.monotonic()
        env = child_environment(self._socket_dir, {"TF_LOG_PROVIDER": log_level, "TF_LOG": log_level})
        try:
            self.process = subprocess.Popen([str(self.binary)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                            stderr=subprocess.PIPE, env=env, cwd=self._socket_dir,
                                            start_new_session=True)
        except OSError as exc:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
            raise PluginError(f"cannot start provider {self.binary}: {exc}") from exc
        self._threads = [threading.Thread(target=self._drain_stderr, daemon=True)]
        self._threads[0].start()
        try:
            address = self._handshake(start_timeout)
            self.channel = grpc.insecure_channel(f"unix:{address}", options=[
                ("grpc.max_receive_message_length", _MAX_MESSAGE),
                ("grpc.max_send_message_length", _MAX_MESSAGE)])
            grpc.channel_ready_future(self.channel).result(timeout=start_timeout)
        except BaseException:
            self._kill()
            raise
        # After the handshake go-plugin sends the child's own stdout over gRPC; drain the pipe regardless.
        drain = threading.Thread(target=self._drain_stdout, daemon=True)
        drain.start()
        self._threads.append(drain)
        self.stub = pb_grpc.ProviderStub(self.channel)
        self.start_seconds = time.monotonic() - started

    def _handshake(self, timeout: float) -> str:
        result: list[str] = []
        reader = threading.Thread(target=lambda: result.append(self.process.stdout.readline().decode(errors="replace")),
                                  daemon=True)
        reader.start()
        reader.join(timeout)
        if not result:
            raise PluginError(f"provider {self.binary} sent no handshake within {timeout:g}s{self._tail_note()}")
        if not result[0]:
            self.process.wait(timeout=5)
            # Its stderr ends with it: let the drain read the last lines, which say why, before they are quoted.
            self._threads[0].join(timeout=5)
            raise PluginError(f"provider {self.binary} exited with status {self.process.returncode} before its "
                              f"handshake{self._tail_note()}")
        return parse_handshake(result[0])

    def _drain_stderr(self) -> None:
        for raw in iter(self.process.stderr.readline, b""):
            line = raw.decode(errors="replace").rstrip("\n")
            self._stderr.append(line)
            if self._log_file is not None:
                self._log_file.write(line + "\n")
                self._log_file.flush()

    def _drain_stdout(self) -> None:
        for raw in iter(self.process.stdout.readline, b""):
            self._stderr.append("stdout: " + raw.decode(errors="replace").rstrip("\n"))

    def stderr_tail(self, lines: int = 20) -> list[str]:
        return list(self._stderr)[-lines:]

    def log_errors(self, lines: int = 5) -> list[str]:
        """The provider's last error-level log messages (hclog JSON lines), for error reports."""
        found = []
        for line in self._stderr:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and record.get("@level") == "error":
                found.append(str(record.get("@message", "")))
        return found[-lines:]

    def _tail_note(self) -> str:
        tail = self.stderr_tail()
        return (":\n  " + "\n  ".join(tail)) if tail else ""

    def close(self, timeout: float = 10.0) -> None:
        """Ask the provider to stop, then shut go-plugin down; kill it if it does not exit in time."""
        if self.process.poll() is None:
            try:
                self.stub.Stop(pb.Stop.Request(), timeout=timeout)
            except grpc.RpcError:
                pass
            try:
                shutdown = self.channel.unary_unary("/plugin.GRPCController/Shutdown",
                                                    request_serializer=lambda _: b"",
                                                    response_deserializer=lambda _: None)
                shutdown(None, timeout=timeout)
            except grpc.RpcError:
                pass
        self.channel.close()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._kill()
        self._cleanup()

    def _kill(self) -> None:
        # The provider runs in its own session, so anything it started goes with it. Only while it is unreaped
        # is its pid surely still its own.
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self._cleanup()

    def _cleanup(self) -> None:
        for thread in self._threads:
            thread.join(timeout=2)
        if self._log_file is not None and not self._log_file.closed:
            self._log_file.close()
        shutil.rmtree(self._socket_dir, ignore_errors=True)


# ------------------------------------------------------------------------------------------------ RPCs

@dataclass(frozen=True)
class PlanResult:
    planned_state: bytes  # msgpack
    requires_replace: tuple[tuple, ...]
    planned_private: bytes


class ProviderRPC:
    """tfplugin5 calls with DynamicValues as msgpack bytes; error diagnostics raise DiagnosticsError, warnings
    accumulate in `warnings`. Every call carries a deadline so a provider stuck retrying cannot hang the run."""

    def __init__(self, plugin: PluginProcess, *, timeout: float = 300.0) -> None:
        self.plugin = plugin
        self.stub = plugin.stub
        self.timeout = timeout
        self.warnings: list[Diagnostic] = []
        self.calls: collections.Counter[str] = collections.Counter()
        self.seconds: collections.Counter[str] = collections.Counter()

    def _call(self, name: str, request: Any) -> Any:
        started = time.monotonic()
        try:
            return getattr(self.stub, name)(request, timeout=self.timeout)
        except grpc.RpcError as exc:
            status = exc.code() if hasattr(exc, "code") else None
            details = exc.details() if hasattr(exc, "details") else str(exc)
            logs = self.plugin.log_errors()
            note = ("; provider log: " + " | ".join(logs)) if logs else ""
            if self.plugin.process.poll() is not None:
                note += (f"; the provider exited with status {self.plugin.process.returncode}:\n  "
                         + "\n  ".join(self.plugin.stderr_tail()))
            raise PluginError(f"{name} failed ({status}): {details}{note}") from exc
        finally:
            self.calls[name] += 1
            self.seconds[name] += time.monotonic() - started

    def get_schema(self) -> Any:
        response = self._call("GetSchema", pb.GetProviderSchema.Request())
        _diagnostics("GetProviderSchema", response.diagnostics, self.warnings)
        return response

    def prepare_provider_config(self, config: bytes) -> bytes:
        response = self._call("PrepareProviderConfig",
                              pb.PrepareProviderConfig.Request(config=pb.DynamicValue(msgpack=config)))
        _diagnostics("PrepareProviderConfig", response.diagnostics, self.warnings)
        return response.prepared_config.msgpack or config

    def configure(self, config: bytes) -> None:
        response = self._call("Configure", pb.Configure.Request(terraform_version=TERRAFORM_VERSION,
                                                                config=pb.DynamicValue(msgpack=config)))
        _diagnostics("Configure", response.diagnostics, self.warnings)

    def validate_resource(self, type_name: str, config: bytes) -> None:
        response = self._call("ValidateResourceTypeConfig", pb.ValidateResourceTypeConfig.Request(
            type_name=type_name, config=pb.DynamicValue(msgpack=config)))
        _diagnostics("ValidateResourceTypeConfig", response.diagnostics, self.warnings)

    def validate_data_source(self, type_name: str, config: bytes) -> None:
        response = self._call("ValidateDataSourceConfig", pb.ValidateDataSourceConfig.Request(
            type_name=type_name, config=pb.DynamicValue(msgpack=config)))
        _diagnostics("ValidateDataSourceConfig", response.diagnostics, self.warnings)

    def upgrade_resource_state(self, type_name: str, version: int, state_json: bytes) -> bytes:
        response = self._call("UpgradeResourceState", pb.UpgradeResourceState.Request(
            type_name=type_name, version=version, raw_state=pb.RawState(json=state_json)))
        _diagnostics("UpgradeResourceState", response.diagnostics, self.warnings)
        return response.upgraded_state.msgpack

    def plan(self, type_name: str, prior: bytes, proposed: bytes, config: bytes,
             prior_private: bytes = b"") -> PlanResult:
        response = self._call("PlanResourceChange", pb.PlanResourceChange.Request(
            type_name=type_name, prior_state=pb.DynamicValue(msgpack=prior),
            proposed_new_state=pb.DynamicValue(msgpack=proposed), config=pb.DynamicValue(msgpack=config),
            prior_private=prior_private))
        _diagnostics("PlanResourceChange", response.diagnostics, self.warnings)
        replace = tuple(tuple(getattr(s, s.WhichOneof("selector")) for s in p.steps) for p in response.requires_replace)
        return PlanResult(response.planned_state.msgpack, replace, response.planned_private)

    def apply(self, type_name: str, prior: bytes, planned: bytes, config: bytes,
              planned_private: bytes = b"") -> tuple[bytes, bytes]:
        response = self._call("ApplyResourceChange", pb.ApplyResourceChange.Request(
            type_name=type_name, prior_state=pb.DynamicValue(msgpack=prior),
            planned_state=pb.DynamicValue(msgpack=planned), config=pb.DynamicValue(msgpack=config),
            planned_private=planned_private))
        _diagnostics("ApplyResourceChange", response.diagnostics, self.warnings)
        return response.new_state.msgpack, response.private

    def read_resource(self, type_name: str, state: bytes, private: bytes = b"") -> tuple[bytes, bytes]:
        response = self._call("ReadResource", pb.ReadResource.Request(
            type_name=type_name, current_state=pb.DynamicValue(msgpack=state), private=private))
        _diagnostics("ReadResource", response.diagnostics, self.warnings)
        return response.new_state.msgpack, response.private

    def read_data_source(self, type_name: str, config: bytes) -> bytes:
        response = self._call("ReadDataSource", pb.ReadDataSource.Request(
            type_name=type_name, config=pb.DynamicValue(msgpack=config)))
        _diagnostics("ReadDataSource", response.diagnostics, self.warnings)
        return response.state.msgpack
