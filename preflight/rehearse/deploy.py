"""`pulumi up` and `pulumi destroy` of the unmodified program, with terraform-provider-aws doing the work.

Serves every control's rehearsal: the program's registrations go to the provider (preflight.provider_engine), the
program sees the provider's real outputs, and the destroy deletes every created resource after everything that
depends on it. A resource that fails to create stops the deployment; what was created before stays listed, so the
destroy still cleans it up.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from preflight import engine
from preflight.model import RecordedResource
from preflight.provider_engine import ProviderMonitor, ProviderStep, destroy_order, provider_state


@dataclass
class Deployment:
    resources: list[RecordedResource] = field(default_factory=list)  # every record: stack, components, providers
    created: list[RecordedResource] = field(default_factory=list)    # custom resources, in creation order
    steps: list[ProviderStep] = field(default_factory=list)
    log: list[tuple[str, str]] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0


@dataclass(frozen=True)
class DeleteStep:
    urn: str
    type: str
    seconds: float
    error: str | None = None


def deploy(provider: Any, project_dir: Path, stack: str, config: Mapping[str, str], *,
           parallel: int = 1) -> Deployment:
    """Run the program as `pulumi up` would, creating each resource with the provider."""
    result = Deployment()
    monitors: list[ProviderMonitor] = []

    def factory(project: str, stack_name: str, preview: bool, region: str, *rest: Any) -> ProviderMonitor:
        monitor = ProviderMonitor(provider, project, stack_name, preview, region, world=rest[0] if rest else None,
                                  invoke_via_provider=True, on_created=result.created.append,
                                  parallel=parallel)
        monitors.append(monitor)
        return monitor

    started = time.monotonic()
    try:
        result.resources = engine.run_program(project_dir, stack, config, preview=False, log=result.log,
                                              monitor_factory=factory)
    except engine.ProgramError as exc:
        result.error = exc.message
        result.resources = list(exc.resources)
    result.seconds = time.monotonic() - started
    if monitors:
        result.steps = list(monitors[0].steps)
    # The records hold the final outputs (RegisterResourceOutputs ran after the creates); keep the created ones.
    final = {r.urn: r for r in result.resources}
    result.created = [final.get(r.urn, r) for r in result.created]
    return result


def destroy(provider: Any, created: list[RecordedResource]) -> list[DeleteStep]:
    """Delete every created resource, dependents first. A failed delete is recorded and the rest still run, so one
    stuck resource does not leave the others behind."""
    steps: list[DeleteStep] = []
    for record in destroy_order(created):
        started = time.monotonic()
        try:
            provider.delete(record.type, record.id, provider_state(record))
        except Exception as exc:  # noqa: BLE001 - each failure is reported with the resource it left behind
            steps.append(DeleteStep(record.urn, record.type, time.monotonic() - started,
                                    f"{record.type} {record.name!r} ({record.id}): {getattr(exc, 'message', exc)}"))
        else:
            steps.append(DeleteStep(record.urn, record.type, time.monotonic() - started))
    return steps


__all__ = ["DeleteStep", "Deployment", "deploy", "destroy"]
