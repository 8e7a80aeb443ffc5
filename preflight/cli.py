"""`python -m preflight`: an offline `pulumi preview --policy-pack`, or a policy check of a stack export.

Serves every control (SCP prevention, CIS 1.4 / Security Hub IAM.4 / CloudWatch.1 detection, the audit schedule):
it is the PR check that needs no cloud credentials, and the way to re-check a deployed stack.

Exit status: 0 no mandatory violation, 1 at least one mandatory violation, 2 usage or internal error (including a
pack that fails to start or crashes, and under --provider-check a resource terraform-provider-aws refuses -- a check
that did not run never passes).
"""

from __future__ import annotations

import argparse
import re
import sys
import traceback
from importlib import metadata
from pathlib import Path
from typing import Sequence

from preflight.analyzer import AnalysisSession, PolicyPackSpec, StackContext, analyze
from preflight.config import Project, load_project, parse_overrides, resolve_config
from preflight.errors import PreflightError
from preflight.export import read_export, write_export
from preflight.model import RecordedResource
from preflight.render import RunSummary, to_json, to_text
from preflight.sarif import to_sarif

EXIT_PASS, EXIT_MANDATORY, EXIT_ERROR = 0, 1, 2
DEFAULT_STACK = "dev"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m preflight",
        description="Run the Pulumi program under the SDK's mock engine and drive the policy packs over the real "
                    "analyzer protocol, as `pulumi preview --policy-pack` does, with no CLI, provider or cloud.",
        epilog="exit status: 0 no mandatory violation, 1 at least one mandatory violation, 2 usage or internal "
               "error (no verdict: bad input, a program or policy pack that fails)")
    parser.add_argument("-C", "--cwd", default=".", metavar="DIR",
                        help="the project directory (as the CLI's --cwd); relative paths are resolved from it")
    parser.add_argument("--policy-pack", action="append", metavar="DIR", dest="policy_packs",
                        help="a policy pack directory, repeatable (default: policypack)")
    parser.add_argument("--policy-config", "--policy-pack-config", action="append", metavar="FILE",
                        dest="policy_configs",
                        help="a policy config JSON file in the --policy-pack-config format; repeatable, matched to "
                             "--policy-pack by position")
    parser.add_argument("-s", "--stack", default=None, metavar="NAME", help=f"stack name (default {DEFAULT_STACK})")
    parser.add_argument("-c", "--config", action="append", default=[], metavar="KEY=VALUE",
                        help="a config value; a bare KEY gets the project namespace; repeatable")
    parser.add_argument("--format", choices=("text", "json", "sarif"), default="text",
                        help='text: resource tree and policy results; json: {"resources": N, "violations": '
                             '[{"policy", "enforcement", "urn", "message"}]}; sarif: SARIF 2.1.0, one run per pack')
    parser.add_argument("--output", metavar="FILE",
                        help="write the --format rendering to FILE and print the text report to stdout "
                             "(e.g. --format sarif --output preflight.sarif)")
    parser.add_argument("--export-state", metavar="FILE",
                        help="also write the resources in `pulumi stack export` format (version 3)")
    parser.add_argument("--stack-export", metavar="FILE",
                        help="skip the program: analyze the resources of a `pulumi stack export` file")
    parser.add_argument("--provider-check", action="store_true",
                        help="check and plan every resource with terraform-provider-aws (its validation, defaults "
                             "and computed values, unknowns where only an apply knows them); a resource the "
                             "provider refuses is an error naming it (exit 2)")
    parser.add_argument("--provider-binary", metavar="PATH",
                        help="the terraform-provider-aws binary for --provider-check (default: "
                             "$PREFLIGHT_TF_PROVIDER_AWS, then Terraform's plugin cache and mirror directories)")
    parser.add_argument("--endpoint-url", metavar="URL",
                        help="with --provider-check: a loopback moto or LocalStack URL that the provider's "
                             "data-source reads (getCallerIdentity, getOrganization ...) go to; without it they "
                             "answer from the mock engine's organization and no request is made")
    return parser


def _pack_specs(base: Path, packs: Sequence[str] | None, configs: Sequence[str] | None) -> list[PolicyPackSpec]:
    pack_dirs = [base / p for p in (packs or ["policypack"])]
    config_files = [base / c for c in (configs or [])]
    if config_files and len(config_files) != len(pack_dirs):
        # The CLI's rule: one --policy-pack-config per --policy-pack, or none.
        raise PreflightError(
            f"{len(config_files)} --policy-config file(s) for {len(pack_dirs)} --policy-pack(s); give one per pack "
            f"in the same order, or none")
    for config in config_files:
        if not config.is_file():
            raise PreflightError(f"--policy-config {config} does not exist")
    return [PolicyPackSpec(path=d, config_file=config_files[i] if config_files else None)
            for i, d in enumerate(pack_dirs)]


def _engine_version() -> str:
    return "v" + metadata.version("pulumi")


def _run_program(base: Path, stack: str, config: dict[str, str]) -> list[RecordedResource]:
    try:
        from preflight import engine  # imported late: it loads the program's dependencies (pulumi_aws)
    except ImportError as exc:
        raise PreflightError(f"the mock engine (preflight/engine.py) cannot be imported: {exc}") from exc
    try:
        resources = engine.run_program(base, stack, config, preview=True)
    except PreflightError:
        raise
    except Exception as exc:  # noqa: BLE001 -- any program failure is a failed check, reported with its cause
        # The mock engine's ProgramError already says what failed; any other exception is named by its type.
        program_error = getattr(engine, "ProgramError", ())
        detail = str(exc) if isinstance(exc, program_error) else f"{type(exc).__name__}: {exc}"
        raise PreflightError(f"the program failed under the mock engine: {detail}") from exc
    if not resources:
        raise PreflightError("the program registered no resources; nothing to check")
    return list(resources)


def _run_program_with_provider(base: Path, stack: str, config: dict[str, str], binary: str | None,
                                endpoint_url: str | None) -> list[RecordedResource]:
    try:
        from preflight import engine
        from preflight.provider_engine import provider_preview
        from preflight.tfprovider import PluginError, ProviderError
    except ImportError as exc:
        raise PreflightError(f"the provider engine cannot be imported: {exc}") from exc
    try:
        run = provider_preview(base, stack, config, binary=Path(binary) if binary else None,
                               endpoint_url=endpoint_url)
    except (PluginError, ProviderError) as exc:
        raise PreflightError(f"terraform-provider-aws could not be used: {exc}") from exc
    except engine.ProgramError as exc:
        raise PreflightError(f"the program failed under the provider engine: {exc.message}") from exc
    if run.errors:
        # `pulumi preview` fails on a resource its provider refuses; no verdict on a plan that cannot be applied.
        raise PreflightError(f"terraform-provider-aws refused {len(run.errors)} resource(s):\n  "
                             + "\n  ".join(run.errors))
    if not run.resources:
        raise PreflightError("the program registered no resources; nothing to check")
    return list(run.resources)


# The CLI's rule for stack names; a name it would refuse must not get a verdict here (it would also end up in URNs).
_STACK_NAME_RE = re.compile(r"[A-Za-z0-9_.-]{1,100}")


def run(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.stack is not None and not _STACK_NAME_RE.fullmatch(args.stack):
        raise PreflightError(
            f"--stack {args.stack!r} is not a valid stack name; expected 1 to 100 letters, digits, '-', '_' or '.' "
            f"(the stack's own name, without an organization or project prefix)")
    if (args.provider_binary or args.endpoint_url) and not args.provider_check:
        raise PreflightError("--provider-binary and --endpoint-url need --provider-check")
    if args.provider_check and args.stack_export:
        raise PreflightError("--provider-check plans the program's resources; a --stack-export has no program to run")
    if args.endpoint_url:
        from preflight.tfprovider.awsconfig import is_loopback_url

        if not is_loopback_url(args.endpoint_url):
            raise PreflightError(f"--endpoint-url {args.endpoint_url!r} is not a loopback http(s) URL; no request "
                                 f"may leave this machine")
    base = Path(args.cwd)
    if not base.is_dir():
        raise PreflightError(f"--cwd {base} is not a directory")
    specs = _pack_specs(base, args.policy_packs, args.policy_configs)
    if args.stack_export:
        export_path = base / args.stack_export
        loaded = read_export(export_path)
        if not loaded.resources:
            raise PreflightError(f"{export_path} holds no resources; nothing to check")
        if args.stack is not None and args.stack != loaded.stack:
            raise PreflightError(f"--stack {args.stack} does not match the stack {loaded.stack!r} in {export_path}")
        project_file = base / "Pulumi.yaml"
        project = load_project(base) if project_file.is_file() else None
        if project is not None and project.name == loaded.project:
            config = resolve_config(project, loaded.stack, args.config)
            values, secret_keys, tags = dict(config.values), config.secret_keys, project.tags()
        else:
            values = parse_overrides_for(loaded.project, args.config)
            secret_keys, tags = (), {"pulumi:project": loaded.project}
        resources = list(loaded.resources)
        if args.export_state:
            write_export(base / args.export_state, resources, engine_version=_engine_version())
        ctx = StackContext(project=loaded.project, stack=loaded.stack, config=values, secret_keys=secret_keys,
                           dry_run=True, tags=tags)
        result = analyze(specs, resources, ctx, mode="state", options=dict(loaded.options))
        summary = RunSummary(mode="state", project=loaded.project, stack=loaded.stack, source=str(export_path),
                             resources=resources, result=result)
    else:
        project = load_project(base)
        stack = args.stack or DEFAULT_STACK
        config = resolve_config(project, stack, args.config)
        ctx = StackContext(project=project.name, stack=stack, config=dict(config.values),
                           secret_keys=config.secret_keys, dry_run=True, tags=project.tags())
        # As the engine does, the packs start before the program runs; here they boot while it runs.
        with AnalysisSession(specs, ctx) as session:
            if args.provider_check:
                resources = _run_program_with_provider(base, stack, dict(config.values), args.provider_binary,
                                                       args.endpoint_url)
            else:
                resources = _run_program(base, stack, dict(config.values))
            if args.export_state:
                write_export(base / args.export_state, resources, engine_version=_engine_version())
            result = session.analyze(resources, mode="preview")
        summary = RunSummary(mode="preview", project=project.name, stack=stack, source="program",
                             resources=resources, result=result)
    rendered = {"json": lambda: to_json(summary), "sarif": lambda: to_sarif(summary, base)}.get(
        args.format, lambda: to_text(summary))()
    if args.output:
        output = base / args.output
        try:
            output.write_text(rendered + "\n", encoding="utf-8")
        except OSError as exc:
            raise PreflightError(f"--output {output} cannot be written: {exc.strerror or exc}") from exc
        print(to_text(summary))
    else:
        print(rendered)
    return EXIT_MANDATORY if result.mandatory else EXIT_PASS


def parse_overrides_for(project_name: str, pairs: Sequence[str]) -> dict[str, str]:
    """--config for an export whose project has no Pulumi.yaml here: only the namespace is known."""
    return parse_overrides(Project(name=project_name, runtime="python", description="", directory=Path(".")), pairs)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return run(argv)
    except PreflightError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return EXIT_ERROR
    except Exception:  # noqa: BLE001 -- an unexpected failure is an internal error, never a pass
        print("internal error: preflight failed unexpectedly; no verdict was reached\n" + traceback.format_exc(),
              file=sys.stderr)
        return EXIT_ERROR
