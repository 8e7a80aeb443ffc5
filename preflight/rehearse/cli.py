"""`python -m preflight.rehearse` (`make rehearse`): `pulumi up`, verify and `pulumi destroy` through the real provider.

Serves every control (SCP prevention; CIS 1.4 / Security Hub IAM.4 / CloudWatch.1 detection; the audit). Against a
moto server on 127.0.0.1 (with the credential report's root row and IAM's organization features) or a given loopback
endpoint, it creates an organization with member accounts, then for each program variant: deploys the unmodified
program with terraform-provider-aws, reads every control back with boto3, writes the deployed state as a
`pulumi stack export` and runs `python -m preflight --stack-export` on it, runs the deployed audit function as
deployed (a seeded root key must FAIL, no key must PASS), destroys everything dependents first, and checks that
nothing is left. One table per variant; exit status 0 only when every step of every variant passed.

Exit status: 0 all passed, 1 a step failed (deploy, a read-back, the export check, the audit, the destroy, a request
off loopback), 2 the rehearsal could not start (no provider binary, bad arguments).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Sequence

from preflight import engine
from preflight.export import write_export
from preflight.model import RecordedResource
from preflight.provider_engine import provider_aws_config, provider_state
from preflight.rehearse.audit_run import AuditOutcome, run_deployed_function, stored_zip
from preflight.rehearse.deploy import DeleteStep, Deployment, deploy, destroy
from preflight.rehearse.verify import Check, remaining, verify
from preflight.rehearse.world import (MANAGEMENT_ACCOUNT_ID, EgressTrap, RequestLog, World, create_organization,
                                      moto_server)

EXIT_PASS, EXIT_FAIL, EXIT_ERROR = 0, 1, 2
PROJECT = "root-key-guardrails"

# The program variants rehearsed, each its own stack: config overrides in the CLI's string form.
VARIANTS: dict[str, tuple[str, dict[str, str]]] = {
    # The defaults, plus one subscriber so the alert path ends somewhere.
    "default": ("rehearsal", {f"{PROJECT}:alarmEmails": '["secops@example.com"]'}),
    # The organization rollout: centralized root access, the audit reading every member account through a role the
    # member StackSet deploys, and member-account events forwarded to a central bus.
    "organization": ("rehearsal-org", {
        f"{PROJECT}:alarmEmails": '["secops@example.com"]',
        f"{PROJECT}:enableCentralizedRootAccess": "true",
        f"{PROJECT}:auditOrgRoleName": "RootKeyAuditReader",
        f"{PROJECT}:orgEventForwarding": "true",
    }),
}


@dataclass
class VariantReport:
    name: str
    stack: str
    deployment: Deployment
    checks: list[Check] = field(default_factory=list)
    deletes: list[DeleteStep] = field(default_factory=list)
    left: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    export_path: Path | None = None
    audit: list[tuple[str, AuditOutcome]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


def _control(record: RecordedResource, by_urn: dict[str, RecordedResource]) -> str:
    """The top-level component a resource belongs to, by its type's module (prevention, detection, audit ...)."""
    current, top = record, None
    while current.parent and current.parent in by_urn and by_urn[current.parent].type != "pulumi:pulumi:Stack":
        current = by_urn[current.parent]
        top = current
    if top is None:
        return "stack"
    parts = top.type.split(":")
    return parts[1] if len(parts) == 3 else top.type


def _export_check(report: VariantReport, project_dir: Path, config: dict[str, str], state_dir: Path) -> None:
    path = state_dir / f"{report.stack}.stack-export.json"
    write_export(path, report.deployment.resources, engine_version="v" + metadata.version("pulumi"))
    report.export_path = path
    overrides = [arg for key, value in config.items() if key.startswith(f"{PROJECT}:")
                 for arg in ("-c", f"{key}={value}")]
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "preflight", "-C", str(project_dir), "--stack-export", str(path),
                           "--format", "json", *overrides], capture_output=True, text=True, check=False, timeout=600)
    report.seconds["export check"] = time.monotonic() - started
    try:
        verdict = json.loads(proc.stdout)
    except json.JSONDecodeError:
        report.failures.append(f"preflight --stack-export gave no verdict (exit {proc.returncode}): "
                               f"{proc.stderr.strip()[-600:]}")
        return
    mandatory = [v for v in verdict.get("violations", []) if v.get("enforcement") == "mandatory"]
    if proc.returncode != 0 or mandatory:
        report.failures.append(f"preflight --stack-export on the deployed state: exit {proc.returncode}, "
                               f"{len(mandatory)} mandatory violation(s): "
                               + "; ".join(v.get("message", "") for v in mandatory[:5]))
    report.checks.append(Check(f"{path}", "deployed state passes the pack (--stack-export)",
                               proc.returncode == 0 and not mandatory,
                               f"{len(mandatory)} mandatory violation(s), exit {proc.returncode}"))


def _audit_check(report: VariantReport, world: World, in_process: bool) -> None:
    functions = [r for r in report.deployment.created if r.type == "aws:lambda/function:Function"]
    if not functions:
        return
    if not in_process:
        # The seeded root key and the stored zip live in this process's moto; an outside server has neither.
        report.failures.append("the deployed audit function was not run: --endpoint-url points at a server outside "
                               "this process, where no root key can be seeded and the uploaded zip is not readable")
        return
    from simulate import moto_root

    function = functions[0]
    name = function.outputs.get("name") or function.id
    started = time.monotonic()
    code = stored_zip(name, MANAGEMENT_ACCOUNT_ID)
    accounts = [MANAGEMENT_ACCOUNT_ID, *world.member_account_ids]
    seeded = moto_root.RootCredentials(key_1_active=True, key_1_last_rotated="2026-01-05T10:00:00+00:00")
    for account in accounts:
        moto_root.set_root_credentials(account, seeded)
    with_key = run_deployed_function(world, name, code)
    report.audit.append(("seeded active root key", with_key))
    for account in accounts:
        moto_root.set_root_credentials(account, moto_root.RootCredentials())
    without_key = run_deployed_function(world, name, code)
    report.audit.append(("root key deleted", without_key))
    report.seconds["audit runs"] = time.monotonic() - started
    if with_key.status != "FAIL" or not any("access key" in f.lower() for f in with_key.findings):
        report.failures.append(f"the deployed audit with an active root key reported {with_key.status} "
                               f"(expected FAIL with a root access key finding): {with_key.error or with_key.findings}")
    if without_key.status != "PASS":
        report.failures.append(f"the deployed audit after the key was deleted reported {without_key.status} "
                               f"(expected PASS): {without_key.error or without_key.findings}")
    off = [u for outcome in (with_key, without_key) for u in outcome.urls if not u.startswith(world.endpoint_url)]
    if off:
        report.failures.append(f"the audit function sent requests elsewhere than the endpoint: {off[:3]}")


def rehearse_variant(provider: Any, world: World, project_dir: Path, name: str, state_dir: Path, *,
                     keep: bool, in_process: bool, parallel: int = 1) -> VariantReport:
    stack, config = VARIANTS[name]
    deployment = deploy(provider, project_dir, stack, config, parallel=parallel)
    report = VariantReport(name=name, stack=stack, deployment=deployment)
    report.seconds["deploy"] = deployment.seconds
    if deployment.error:
        report.failures.append(f"deploy failed: {deployment.error}")
    else:
        started = time.monotonic()
        for record in deployment.created:
            try:
                state = provider.read(record.type, record.id, provider_state(record))
                report.checks.append(Check(record.urn, "exists (provider read)", state is not None,
                                           "" if state is not None else "not found after create"))
            except Exception as exc:  # noqa: BLE001 - a failed read is a failed check
                report.checks.append(Check(record.urn, "exists (provider read)", False, str(exc)))
        report.checks.extend(verify(world, deployment.created))
        report.seconds["verify"] = time.monotonic() - started
        _export_check(report, project_dir, config, state_dir)
        _audit_check(report, world, in_process)
    for check in report.checks:
        if not check.ok and check.urn != str(report.export_path):
            report.failures.append(f"{check.what} failed for {check.urn}: {check.detail}")
    if not keep:
        started = time.monotonic()
        report.deletes = destroy(provider, deployment.created)
        report.seconds["destroy"] = time.monotonic() - started
        report.failures.extend(d.error for d in report.deletes if d.error)
        report.left = remaining(provider, deployment.created)
        report.failures.extend(f"left after destroy: {item}" for item in report.left)
    return report


def render(report: VariantReport, keep: bool) -> str:
    resources = report.deployment.resources
    by_urn = {r.urn: r for r in resources}
    rows: dict[str, dict[str, float]] = {}
    created_urns = {r.urn for r in report.deployment.created}
    create_seconds = {s.urn: s.seconds for s in report.deployment.steps}
    delete_seconds = {d.urn: d.seconds for d in report.deletes}
    deleted_ok = {d.urn for d in report.deletes if not d.error}
    planned = [r for r in resources if r.custom and not r.type.startswith("pulumi:providers:")]
    for record in planned:
        row = rows.setdefault(_control(record, by_urn), dict.fromkeys(
            ("resources", "created", "checks", "checks_ok", "destroyed", "seconds"), 0.0))
        row["resources"] += 1
        row["created"] += record.urn in created_urns
        row["destroyed"] += record.urn in deleted_ok
        row["seconds"] += create_seconds.get(record.urn, 0.0) + delete_seconds.get(record.urn, 0.0)
    for check in report.checks:
        if check.urn in by_urn:
            row = rows[_control(by_urn[check.urn], by_urn)]
            row["checks"] += 1
            row["checks_ok"] += check.ok
    lines = [f"Rehearsal {report.name!r} (stack {report.stack}):",
             f"  {'control':<14} {'created':>9} {'verified':>10} {'destroyed':>10} {'seconds':>8}"]
    for control, row in sorted(rows.items()):
        destroyed = "kept" if keep else f"{int(row['destroyed'])}/{int(row['resources'])}"
        lines.append(f"  {control:<14} {int(row['created']):>4}/{int(row['resources']):<4} "
                     f"{int(row['checks_ok']):>5}/{int(row['checks']):<4} {destroyed:>10} {row['seconds']:>8.1f}")
    for label, outcome in report.audit:
        lines.append(f"  audit as deployed, {label}: {outcome.status}"
                     + (f" -- {outcome.findings[0]}" if outcome.findings else "")
                     + (f" [{outcome.error}]" if outcome.error and outcome.status != "FAIL" else ""))
    if report.export_path:
        lines.append(f"  stack export: {report.export_path}")
    lines.append("  seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in report.seconds.items()))
    lines.extend(f"  FAILED: {f}" for f in report.failures)
    lines.append(f"  => {'PASS' if not report.failures else 'FAIL'}")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m preflight.rehearse", description=__doc__.splitlines()[0])
    parser.add_argument("-C", "--cwd", default=".", metavar="DIR", help="the project directory")
    parser.add_argument("--endpoint-url", metavar="URL",
                        help="a running moto or LocalStack on loopback (default: start moto on 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0,
                        help="the port of the moto server it starts (default: a free one); with --keep, a fixed "
                             "port lets a stack file for `pulumi up` name it")
    parser.add_argument("--variant", action="append", choices=sorted(VARIANTS), dest="variants",
                        help="rehearse only this variant; repeatable (default: all)")
    parser.add_argument("--keep", action="store_true",
                        help="do not destroy: leave the server running and the state files, until Ctrl-C")
    parser.add_argument("--state-dir", metavar="DIR", help="where the stack exports go (default: a temporary "
                        "directory, removed at the end unless --keep)")
    parser.add_argument("--provider-binary", metavar="PATH", help="the terraform-provider-aws binary")
    parser.add_argument("--parallel", type=int, default=4, metavar="N",
                        help="provider operations at once, as `pulumi up --parallel` (default 4)")
    parser.add_argument("--summary", metavar="FILE", help="also write the outcome as JSON (for tests and CI)")
    return parser


def summary(reports: list[VariantReport], world: World, trap: EgressTrap) -> dict[str, Any]:
    return {
        "endpoint": world.endpoint_url,
        "organization": {"id": world.organization_id, "root": world.root_id,
                         "management": MANAGEMENT_ACCOUNT_ID, "members": list(world.member_account_ids)},
        "variants": [{
            "name": r.name, "stack": r.stack,
            "planned": sum(1 for x in r.deployment.resources if x.custom and not x.type.startswith("pulumi:providers:")),
            "created": len(r.deployment.created),
            "destroyed": sum(1 for d in r.deletes if not d.error),
            "checks": len(r.checks), "checks_failed": [f"{c.what}: {c.urn}: {c.detail}" for c in r.checks if not c.ok],
            "types": sorted({x.type for x in r.deployment.created}),
            "audit": [{"case": label, "status": o.status, "findings": o.findings, "error": o.error,
                       "module_file": o.module_file, "urls": len(o.urls)} for label, o in r.audit],
            "left": r.left, "failures": r.failures, "seconds": r.seconds,
            "steps": [{"urn": s.urn, "type": s.type, "seconds": s.seconds} for s in r.deployment.steps],
        } for r in reports],
        "boto3_hosts": sorted(world.log.hosts()), "boto3_requests": len(world.log.urls),
        "refused": list(world.log.refused), "trap_hits": list(trap.hits),
    }


def run(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    project_dir = Path(args.cwd).resolve()
    variants = args.variants or list(VARIANTS)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    from preflight.tfprovider import PluginError, Provider, ProviderError

    with contextlib.ExitStack() as stack:
        if args.state_dir:
            state_dir = Path(args.state_dir)
            state_dir.mkdir(parents=True, exist_ok=True)
        elif args.keep:
            state_dir = Path(tempfile.mkdtemp(prefix="rehearsal-"))
        else:
            state_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="rehearsal-")))
        try:
            url = stack.enter_context(moto_server(args.endpoint_url, args.port))
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_ERROR
        trap = stack.enter_context(EgressTrap())
        world = World(url, RequestLog())
        started = time.monotonic()
        create_organization(world)
        _, defaults = engine.project_config_defaults(project_dir)
        aws = provider_aws_config(defaults, url, request_account_id=True)
        # A few retries: the shared machine sometimes drops a keep-alive connection to moto mid-response; an API moto
        # lacks still fails within seconds.
        aws["maxRetries"] = "3"
        # Any request for a non-loopback host lands in the trap instead of on the network (see world.py).
        aws["httpProxy"] = aws["httpsProxy"] = trap.url
        try:
            provider = stack.enter_context(Provider(aws, Path(args.provider_binary) if args.provider_binary else None,
                                                    root=project_dir))
        except (PluginError, ProviderError) as exc:
            print(f"error: terraform-provider-aws could not be started: {exc}", file=sys.stderr)
            return EXIT_ERROR
        print(f"moto at {url}; organization {world.organization_id} with members "
              f"{', '.join(world.member_account_ids)}; provider ready in {time.monotonic() - started:.1f}s")
        failed = False
        reports = []
        for name in variants:
            report = rehearse_variant(provider, world, project_dir, name, state_dir, keep=args.keep,
                                      in_process=args.endpoint_url is None, parallel=args.parallel)
            reports.append(report)
            print(render(report, args.keep), flush=True)
            failed = failed or bool(report.failures)
        egress = [*trap.hits, *world.log.refused]
        print(f"loopback: {len(world.log.urls)} boto3 requests, all to {sorted(world.log.hosts()) or '-'}; "
              f"requests for other hosts: {len(egress)}" + (f" {egress[:5]}" if egress else ""))
        failed = failed or bool(egress)
        if args.summary:
            Path(args.summary).write_text(json.dumps(summary(reports, world, trap), indent=2) + "\n", encoding="utf-8")
        if args.keep:
            print(f"kept: moto at {url}, state in {state_dir}; Ctrl-C to stop")
            with contextlib.suppress(KeyboardInterrupt):
                while True:
                    time.sleep(3600)
    return EXIT_FAIL if failed else EXIT_PASS


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return run(argv)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return EXIT_ERROR
