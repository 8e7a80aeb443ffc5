"""Benchmark: the policy pack's time on large stack exports, against a no-op pack, over the real analyzer protocol.

Serves every control by keeping the PR check cheap enough to run on every change, also for org-wide packs applied to
big stacks: the guardrail policies must cost little more than the protocol itself (goal: real / no-op <= 1.25) and
scale linearly with the number of resources.

Each stack export holds the default program's guardrail resources (deployed values, from the mock engine in update
mode) plus synthetic resources: mostly unrelated types, and some of the types the pack judges (alarms, roles, log
groups, functions) that are unrelated to the guardrails. Both packs get the same files through preflight's driver
(process start, Handshake, ConfigureStack, GetAnalyzerInfo, Configure, one Analyze per resource, AnalyzeStack,
shutdown); runs are interleaved and the median of --repeats is reported. The compared time is start + Analyze +
AnalyzeStack; the shutdown phase is printed but not compared.

Two baselines run on the same SDK: the no-op pack with one trivial resource policy (the goal's baseline), and the same
pack shaped like the real one (as many trivial resource and stack policies), because pulumi-policy deserializes every
resource again for each stack policy; the second ratio isolates the cost of the real pack's own code.

    .venv/bin/python bench/pack_bench.py [--sizes 1000 10000] [--repeats 3] [--pack policypack]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from preflight.analyzer import PolicyPackSpec, StackContext, analyze  # noqa: E402
from preflight.config import load_project, resolve_config  # noqa: E402
from preflight.export import read_export, write_export  # noqa: E402
from preflight.model import RecordedResource  # noqa: E402

STACK = "bench"
OUT = ROOT / "bench" / "out"


def _filler(index: int, project: str, stack_urn: str, provider: str) -> RecordedResource:
    """One synthetic resource; every tenth is of a type the pack judges but unrelated to the guardrails."""
    kind = index % 10
    name = f"app-{index:05d}"
    tags = {"team": f"team-{index % 7}", "env": STACK}
    props: dict[str, Any]
    if kind == 0:
        type_ = "aws:cloudwatch/metricAlarm:MetricAlarm"
        props = {"name": name, "namespace": "AWS/EC2", "metricName": "CPUUtilization", "statistic": "Average",
                 "comparisonOperator": "GreaterThanThreshold", "threshold": 80, "period": 300,
                 "evaluationPeriods": 3, "alarmActions": [], "actionsEnabled": True, "tags": tags}
    elif kind == 1:
        type_ = "aws:s3/bucket:Bucket"
        props = {"bucket": name, "forceDestroy": False, "tags": tags}
    elif kind == 2:
        type_ = "aws:ec2/instance:Instance"
        props = {"ami": "ami-0abcdef1234567890", "instanceType": "t3.micro", "subnetId": f"subnet-{index:08x}",
                 "tags": tags}
    elif kind == 3:
        type_ = "aws:iam/user:User"
        props = {"name": name, "path": "/apps/", "tags": tags}
    elif kind == 4:
        type_ = "aws:dynamodb/table:Table"
        props = {"name": name, "hashKey": "pk", "billingMode": "PAY_PER_REQUEST",
                 "attributes": [{"name": "pk", "type": "S"}], "tags": tags}
    elif kind == 5:
        type_ = "aws:sqs/queue:Queue"
        props = {"name": name, "visibilityTimeoutSeconds": 30, "tags": tags}
    elif kind == 6:
        type_ = "aws:ec2/securityGroup:SecurityGroup"
        props = {"name": name, "description": "app", "ingress": [
            {"protocol": "tcp", "fromPort": 443, "toPort": 443, "cidrBlocks": ["10.0.0.0/8"]}], "tags": tags}
    elif kind == 7:
        type_ = "aws:route53/record:Record"
        props = {"name": f"{name}.example.com", "type": "CNAME", "ttl": 300, "records": ["lb.example.com"],
                 "zoneId": "Z0123456789ABCDEFGHIJ"}
    elif kind == 8:
        type_ = "aws:cloudwatch/logGroup:LogGroup"
        props = {"name": f"/apps/{name}", "retentionInDays": 30, "tags": tags}
    else:
        type_ = "aws:iam/role:Role"
        props = {"name": name, "assumeRolePolicy": '{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
                 '"Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}', "tags": tags}
    urn = f"urn:pulumi:{STACK}::{project}::{type_}::{name}"
    outputs = {**props, "arn": f"arn:aws:service:us-east-1:111122223333:{name}"}
    return RecordedResource(urn=urn, type=type_, name=name, custom=True, id=f"{name}-id", parent=stack_urn,
                            inputs=props, outputs=outputs, provider=provider)


def build_exports(sizes: list[int]) -> tuple[str, dict[int, Path]]:
    from preflight.engine import run_program

    project = load_project(ROOT)
    config = resolve_config(project, STACK, [])
    guardrails = run_program(ROOT, STACK, config.values, preview=False)
    stack_urn = next(r.urn for r in guardrails if r.type == "pulumi:pulumi:Stack")
    provider = next(r.provider for r in guardrails if r.provider)
    OUT.mkdir(parents=True, exist_ok=True)
    paths = {}
    for size in sizes:
        fillers = [_filler(i, project.name, stack_urn, provider) for i in range(max(0, size - len(guardrails)))]
        path = OUT / f"stack-{size}.json"
        write_export(path, [*guardrails, *fillers], engine_version="3.272.0")
        paths[size] = path
    return project.name, paths


def _time_once(pack: Path, resources: list[RecordedResource], options: dict[str, Any], ctx: StackContext,
               shape: tuple[int, int] | None = None) -> tuple[float, dict[str, float]]:
    # The pack process inherits this environment, as the engine passes its own to the packs it starts.
    os.environ["NOOP_RESOURCE_POLICIES"], os.environ["NOOP_STACK_POLICIES"] = map(str, shape or (1, 0))
    result = analyze([PolicyPackSpec(pack)], resources, ctx, mode="state", options=options)
    timings = dict(result.timings)
    # Shutdown is left out of the compared time: it is preflight stopping the process (SIGINT, then SIGKILL after a
    # grace period), identical for every pack, and under load it has sat out the whole grace period for both packs
    # alike. It stays visible in the phase columns.
    return sum(timings[p] for p in ("start", "analyze", "analyze_stack")), timings


def _phases(runs: list[tuple[float, dict[str, float]]]) -> str:
    phases = ("start", "analyze", "analyze_stack", "shutdown")
    return "/".join(f"{statistics.median(t[p] for _, t in runs):.2f}" for p in phases)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pack", type=Path, default=ROOT / "policypack")
    parser.add_argument("--baseline-pack", type=Path, default=ROOT / "bench" / "noop_pack")
    args = parser.parse_args()

    project, paths = build_exports(args.sizes)
    ctx = StackContext(project=project, stack=STACK, config=resolve_config(load_project(ROOT), STACK, []).values)
    first = read_export(paths[min(paths)])
    probe = analyze([PolicyPackSpec(args.pack)], list(first.resources), ctx, mode="state", options=dict(first.options))
    kinds = [p.kind for pack in probe.packs for p in pack.policies]
    shape = (kinds.count("resource"), kinds.count("stack"))
    print(f"pack:     {args.pack} ({shape[0]} resource policies, {shape[1]} stack policies)")
    print(f"baseline: {args.baseline_pack}: 'no-op' = 1 trivial resource policy; 'shaped' = {shape[0]} trivial "
          f"resource + {shape[1]} trivial stack policies")
    print(f"repeats:  {args.repeats} (median reported); phases = start / Analyze calls / AnalyzeStack / shutdown\n")
    print(f"{'resources':>9}  {'pack s':>7}  {'no-op s':>7}  {'ratio':>5}  {'shaped s':>8}  {'ratio':>5}  "
          f"{'pack phases s':<24}  {'no-op phases s':<24}  violations")
    medians: dict[tuple[str, int], float] = {}
    for size, path in paths.items():
        loaded = read_export(path)
        resources, options = list(loaded.resources), dict(loaded.options)
        runs: dict[str, list[tuple[float, dict[str, float]]]] = {"pack": [], "noop": [], "shaped": []}
        for _ in range(args.repeats):
            runs["noop"].append(_time_once(args.baseline_pack, resources, options, ctx))
            runs["shaped"].append(_time_once(args.baseline_pack, resources, options, ctx, shape))
            runs["pack"].append(_time_once(args.pack, resources, options, ctx))
        verdict = analyze([PolicyPackSpec(args.pack)], resources, ctx, mode="state", options=options)
        for name in runs:
            medians[(name, size)] = statistics.median(t for t, _ in runs[name])
        pack_s, noop_s, shaped_s = (medians[(n, size)] for n in ("pack", "noop", "shaped"))
        print(f"{len(resources):>9}  {pack_s:>7.2f}  {noop_s:>7.2f}  {pack_s / noop_s:>5.2f}  {shaped_s:>8.2f}  "
              f"{pack_s / shaped_s:>5.2f}  {_phases(runs['pack']):<24}  {_phases(runs['noop']):<24}  "
              f"{len(verdict.violations)} ({len(verdict.mandatory)} mandatory)")
    if len(paths) >= 2:
        small, large = min(paths), max(paths)
        print(f"\nscaling {small} -> {large} resources (x{large / small:g}):")
        for name in ("pack", "noop", "shaped"):
            t_small, t_large = medians[(name, small)], medians[(name, large)]
            marginal_ms = (t_large - t_small) / (large - small) * 1000
            print(f"  {name:<6} time x{t_large / t_small:.2f}; marginal {marginal_ms:.3f} ms/resource")
    worst = max(medians[("pack", s)] / medians[("noop", s)] for s in paths)
    print(f"\ngoal real/no-op <= 1.25: {'met' if worst <= 1.25 else 'NOT met'} (worst ratio {worst:.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
