"""The program host with terraform-provider-aws carrying out the resources: a provider-checked preview, or an `up`.

Serves every control (the SCP, CIS 1.4 / Security Hub IAM.4 / CloudWatch.1 detection, the audit): pulumi-aws is this
provider behind Pulumi's bridge, so the validation and the planned state the pack judges here, and the AWS calls the
rehearsal makes, are the provider's own (terraform-provider-aws 5.100.0 here; pulumi-aws 7 wraps the 6.x line).

`ProviderMonitor` is the mock engine's `RecordingMonitor` with the provider behind RegisterResource:
- preview: Check (autonaming + ValidateResourceTypeConfig), then PlanResourceChange with the unknowns the program
  still holds. The record's inputs are the checked inputs plus the known planned values the program left out (the
  provider's defaults, as the bridge's Check applies them); its outputs are the planned state, computed values
  UNKNOWN. A provider error is kept (naming the resource) and the program goes on, so one preview reports every
  refused resource, as `pulumi preview` reports every failed step;
- up: Check, then PlanResourceChange + ApplyResourceChange; the program sees the provider's real outputs, and the
  first error stops the deployment (what was created so far stays listed for the destroy).
RegisterResource returns only when the provider is done, and the SDK awaits a dependency's registration before it
registers a dependent, so creation runs in dependency order. Invokes are answered by the mock world (preview) or by
the provider's data sources (up). Explicit provider resources and ReadResource are refused, never skipped.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from preflight.engine import RecordingMonitor, _json_to_struct, _struct_to_json, _Registration
from preflight.model import UNKNOWN, RecordedResource

_PROVIDER_TYPE_PREFIX = "pulumi:providers:"

# Every AWS service the program's resources and invokes call (the provider's endpoint keys). The provider refuses a
# service missing here before sending it anything, so a new resource type cannot quietly reach a public host.
PROGRAM_SERVICES = ("cloudformation", "cloudtrail", "cloudwatch", "events", "iam", "kms", "lambda", "logs",
                    "organizations", "s3", "sns", "sqs", "sts")


def provider_aws_config(stack_config: Mapping[str, str], endpoint_url: str, *,
                        request_account_id: bool) -> dict[str, Any]:
    """The provider configuration from the stack's aws:* keys, pointed at `endpoint_url` for every service the
    stack file does not route itself (a stack file made for `pulumi up` against moto keeps its own endpoints)."""
    aws: dict[str, Any] = {k.removeprefix("aws:"): v for k, v in stack_config.items() if k.startswith("aws:")}
    aws.setdefault("endpoints", [{service: endpoint_url for service in PROGRAM_SERVICES}])
    aws.setdefault("skipCredentialsValidation", "true")
    aws.setdefault("skipRequestingAccountId", "false" if request_account_id else "true")
    aws.setdefault("s3UsePathStyle", "true")
    # An API the emulator lacks fails in seconds, not after the SDK's default backoff.
    aws.setdefault("maxRetries", "1")
    return aws


@contextlib.contextmanager
def refusing_endpoint() -> Iterator[str]:
    """A loopback URL on which every connection is refused: a bound port nobody listens on, held for the duration.
    A provider-checked preview plans without calling AWS; should any call slip through, it fails here."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


# Invoke results whose pulumi-aws 7 shape (the 6.x provider line) differs from what provider 5.100.0 returns: the
# program is written against pulumi-aws 7. Kept here, at the engine, until the bridge has a table for data sources.
_INVOKE_DRIFT: Mapping[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    # 6.x added `region` to aws_region and deprecated `name`; pulumi-aws 7 programs read `region`.
    "aws:index/getRegion:getRegion": lambda r: {**r, "region": r.get("region") or r.get("name")},
}


# Top-level properties pulumi-aws 7 (the 6.x line) renamed from what provider 5.100.0 calls them: Pulumi name ->
# the 5.x provider's Pulumi-shaped name. 6.0 gave every resource a `region` argument, so resources that already had
# one renamed theirs.
_PROPERTY_DRIFT: Mapping[str, Mapping[str, str]] = {
    "aws:cloudformation/stackSetInstance:StackSetInstance": {"stackSetInstanceRegion": "region"},
}


def _rename(value: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, Any]:
    return {names.get(k, k): v for k, v in value.items()}


def provider_state(record: RecordedResource) -> dict[str, Any]:
    """A created resource's recorded outputs in the names the provider reads back and deletes by."""
    return _rename(record.outputs, _PROPERTY_DRIFT.get(record.type, {}))


def _contains_unknown(value: Any) -> bool:
    if value == UNKNOWN:
        return True
    if isinstance(value, dict):
        return any(_contains_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(_contains_unknown(v) for v in value)
    return False


def _drop_nulls(value: Any) -> Any:
    """Pulumi state leaves out a property the provider left null; the pack reads absent and null alike."""
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


def _with_defaults(checked: Mapping[str, Any], planned: Mapping[str, Any]) -> dict[str, Any]:
    """Checked inputs plus the provider's defaults: known planned values for properties the program left out."""
    out = dict(checked)
    for key, value in planned.items():
        if key in out or key == "id" or value is None or value in ("", [], {}) or _contains_unknown(value):
            continue
        out[key] = value
    return out


@dataclass(frozen=True)
class ProviderStep:
    """One resource the provider handled: what the bench and the rehearsal's table report."""

    urn: str
    type: str
    operation: str  # "plan" | "create"
    seconds: float
    error: str | None = None


class ProviderMonitor(RecordingMonitor):
    """A RecordingMonitor whose custom resources are checked, planned (and in an up, created) by the provider.

    `provider` is a `preflight.tfprovider.Provider` (or anything with its check/plan/create/invoke methods).
    `on_created`, when given, is called with each created record at once, so a caller can destroy what exists
    even when the program fails half way. `parallel` bounds the provider operations running at once.
    """

    def __init__(self, provider: Any, project: str, stack: str, preview: bool, region: str, *,
                 world: Any = None, invoke_via_provider: bool | None = None,
                 on_created: Callable[[RecordedResource], None] | None = None, parallel: int = 1) -> None:
        if world is None:
            super().__init__(project, stack, preview, region)
        else:
            super().__init__(project, stack, preview, region, world)  # type: ignore[call-arg]
        self.provider = provider
        # An up must read the real account and organization; a preview may answer from the mock world.
        self.invoke_via_provider = (not preview) if invoke_via_provider is None else invoke_via_provider
        self.on_created = on_created
        self.errors: list[str] = []
        self.steps: list[ProviderStep] = []
        if parallel < 1:
            raise ValueError(f"parallel must be 1 or more, got {parallel}")
        # At most `parallel` provider operations at once (as `pulumi up --parallel`); the SDK already holds each
        # registration back until its dependencies are registered, so any value keeps dependency order.
        self._provider_lock = threading.BoundedSemaphore(parallel)

    def _fail(self, message: str) -> None:
        with self._lock:
            self.errors.append(message)

    def RegisterResource(self, request: Any) -> Any:
        from pulumi.runtime.proto import resource_pb2

        if not request.custom:
            return super().RegisterResource(request)
        if request.type.startswith(_PROVIDER_TYPE_PREFIX):
            # An explicit provider would need its own plugin configured from its inputs; not emulated.
            raise NotImplementedError(f"preflight's provider engine does not emulate explicit provider resources "
                                      f"({request.type} {request.name!r}); use the default provider")
        urn = self.make_urn(request.parent, request.type, request.name)
        provider_ref = request.provider or self._default_provider(request.type, request.version)
        inputs = _struct_to_json(request.object)
        operation = "plan" if self.preview else "create"
        rid: str | None = None
        started = time.monotonic()
        try:
            to_provider = _PROPERTY_DRIFT.get(request.type, {})
            to_pulumi = {v: k for k, v in to_provider.items()}
            with self._provider_lock:
                started = time.monotonic()  # the provider's time, not the wait for a free slot
                checked = self.provider.check(request.type, request.name, _rename(inputs, to_provider))
                if self.preview:
                    planned = _drop_nulls(self.provider.plan(request.type, request.name, checked))
                    record_inputs = _rename(_with_defaults(checked, planned), to_pulumi)
                    outputs = _rename({k: v for k, v in planned.items() if k != "id"}, to_pulumi)
                else:
                    rid, created = self.provider.create(request.type, request.name, checked)
                    record_inputs = _rename(checked, to_pulumi)
                    outputs = _rename({k: v for k, v in _drop_nulls(created).items() if k != "id"}, to_pulumi)
        except Exception as exc:  # noqa: BLE001 - every provider failure names the resource; none passes silently
            message = f"{request.type} {request.name!r} ({urn}): {getattr(exc, 'message', None) or exc}"
            self.steps.append(ProviderStep(urn, request.type, operation, time.monotonic() - started, message))
            if not self.preview:
                raise ProviderResourceError(message) from exc
            self._fail(message)
            # The program goes on with the inputs it gave and unknown outputs, so every refusal gets reported.
            record_inputs, outputs = dict(inputs), dict(inputs)
        else:
            self.steps.append(ProviderStep(urn, request.type, operation, time.monotonic() - started))

        record = _Registration(
            urn=urn, type=request.type, name=request.name, custom=True, id=rid, parent=request.parent or None,
            inputs=record_inputs, outputs=outputs, dependencies=tuple(request.dependencies),
            property_dependencies={k: tuple(v.urns) for k, v in request.propertyDependencies.items()},
            provider=provider_ref,
        )
        with self._lock:
            self._records[urn] = record
        if rid is not None and self.on_created is not None:
            self.on_created(record.freeze())
        return resource_pb2.RegisterResourceResponse(urn=urn, id=rid or "", object=_json_to_struct(outputs))

    def Invoke(self, request: Any) -> Any:
        from pulumi.runtime.proto import resource_pb2

        if not self.invoke_via_provider:
            return super().Invoke(request)
        with self._provider_lock:
            result = self.provider.invoke(request.tok, _struct_to_json(request.args))
        drift = _INVOKE_DRIFT.get(request.tok)
        if drift is not None:
            result = drift(result)
        return resource_pb2.ResourceInvokeResponse(**{"return": _json_to_struct(_drop_nulls(result))})


class ProviderResourceError(RuntimeError):
    """The provider refused or failed to create a resource during an up; the message names it."""


def destroy_order(resources: Sequence[RecordedResource]) -> list[RecordedResource]:
    """Created resources in an order safe to delete: every dependent before what it depends on (Pulumi's rule),
    otherwise latest created first."""
    created = [r for r in resources if r.custom and r.id and not r.type.startswith(_PROVIDER_TYPE_PREFIX)]
    index = {r.urn: i for i, r in enumerate(created)}
    dependents: dict[str, set[str]] = {r.urn: set() for r in created}
    for r in created:
        for dep in {*r.dependencies, *(u for urns in r.property_dependencies.values() for u in urns)}:
            if dep in dependents and dep != r.urn:
                dependents[dep].add(r.urn)
    order: list[RecordedResource] = []
    done: set[str] = set()
    remaining = sorted(created, key=lambda r: -index[r.urn])
    while remaining:
        ready = next((r for r in remaining if dependents[r.urn] <= done), None)
        if ready is None:  # a cycle cannot come from a program; delete in reverse creation order anyway
            ready = remaining[0]
        order.append(ready)
        done.add(ready.urn)
        remaining.remove(ready)
    return order


@dataclass(frozen=True)
class ProviderRun:
    """What a provider-backed run of the program produced."""

    resources: list[RecordedResource]
    steps: list[ProviderStep]
    errors: list[str] = field(default_factory=list)
    log: list[tuple[str, str]] = field(default_factory=list)


def provider_preview(project_dir: Path, stack: str, config: Mapping[str, str], *, binary: Path | None = None,
                     endpoint_url: str | None = None) -> ProviderRun:
    """Run the program as `pulumi preview` with every custom resource checked and planned by the provider.

    Invokes answer from the mock world unless `endpoint_url` (a moto or LocalStack server) is given, in which case
    they are the provider's data-source reads there. Raises ProgramError (engine) when the program itself fails;
    provider refusals are in `errors`, one per resource.
    """
    from preflight import engine
    from preflight.tfprovider import Provider

    with contextlib.ExitStack() as stack_:
        url = endpoint_url or stack_.enter_context(refusing_endpoint())
        _, defaults = engine.project_config_defaults(Path(project_dir))
        aws = provider_aws_config({**defaults, **config}, url, request_account_id=endpoint_url is not None)
        provider = stack_.enter_context(Provider(aws, binary, root=Path(project_dir).resolve()))
        monitors: list[ProviderMonitor] = []

        def factory(project: str, stack_name: str, preview: bool, region: str, *rest: Any) -> ProviderMonitor:
            monitor = ProviderMonitor(provider, project, stack_name, preview, region, world=rest[0] if rest else None,
                                      invoke_via_provider=endpoint_url is not None)
            monitors.append(monitor)
            return monitor

        log: list[tuple[str, str]] = []
        resources = engine.run_program(project_dir, stack, config, preview=True, log=log, monitor_factory=factory)
        return ProviderRun(resources=resources, steps=list(monitors[0].steps), errors=list(monitors[0].errors),
                           log=log)


__all__ = ["PROGRAM_SERVICES", "provider_state", "ProviderMonitor", "ProviderResourceError", "ProviderRun", "ProviderStep",
           "destroy_order", "provider_aws_config", "provider_preview", "refusing_endpoint"]
