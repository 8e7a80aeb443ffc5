"""`python -m audit`: the root access key audit (CIS 1.4, Security Hub IAM.4) from a terminal or a pipeline.

Exit status: 0 PASS or WARN, 1 FAIL, 2 ERROR or bad usage. `--format json` prints {"status", "accounts", ...}
on stdout; logs go to stderr. The exit status says the verdict whatever happens to the output: a reader that
closes the pipe early (`| head`) is not an error and gets no traceback, characters the terminal's encoding lacks
are escaped, and output that cannot be written at all (a full disk, a closed stdout) is exit 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO
from urllib.parse import urlsplit

from audit.report import (
    MAX_REPORT_BYTES,
    Status,
    bounded_int,
    error_result,
    is_account_id,
    one_line,
    remediation_steps,
    shown,
    verdict,
)
from audit.org import DEFAULT_WORKERS, MAX_WORKERS
from audit.runner import (
    DEFAULT_REPORT_AGE_HOURS,
    MAX_REPORT_AGE_HOURS,
    MIN_REPORT_AGE_HOURS,
    AuditConfig,
    RunResult,
)

EXIT_OK = 0
EXIT_FAIL = 1
EXIT_ERROR = 2
_EXIT = {Status.PASS: EXIT_OK, Status.WARN: EXIT_OK, Status.FAIL: EXIT_FAIL, Status.ERROR: EXIT_ERROR}


def _bounded_int(low: int, high: int) -> Any:
    def parse(text: str) -> int:
        value = bounded_int(text, low, high)
        if value == "not an integer":
            raise argparse.ArgumentTypeError(f"{shown(text)} is not an integer ({low}..{high})")
        if isinstance(value, str):
            raise argparse.ArgumentTypeError(f"{text if len(text) <= 64 else shown(text)} is out of range ({low}..{high})")
        return value

    return parse


def _one_of(*allowed: str) -> Any:
    # Our own message: argparse's wording for `choices` differs between Python versions.
    def parse(text: str) -> str:
        if text not in allowed:
            raise argparse.ArgumentTypeError(f"{text!r} is not one of {', '.join(allowed)}")
        return text

    return parse


def _text(text: str) -> str:
    # An empty value is never "not given": `--credential-report "$UNSET"` must not fall back to a live audit of
    # whatever account the credentials reach, nor `--endpoint-url ""` to AWS's public endpoint.
    if not text.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is empty; give a value or leave the option out")
    return text


def _account_id(text: str) -> str:
    if not is_account_id(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not an AWS account id (12 digits 0-9)")
    return text


def warn(message: str) -> None:
    """Write a diagnostic line to stderr, best effort: a stderr that is closed, full or cannot encode it must not
    turn the verdict's exit status into an uncaught exception's 1, which reads as FAIL."""
    try:
        if sys.stderr is not None:  # None when started with 2>&-; print(file=None) would write to stdout
            print(message, file=sys.stderr)
            return
    except Exception:  # noqa: BLE001 - OSError (closed, full), UnicodeError (PYTHONIOENCODING=undefined), ...
        pass
    try:
        os.write(2, (message + "\n").encode("ascii", "backslashreplace"))
    except OSError:
        pass
    if sys.stderr is not None:
        _discard_pending(sys.stderr)  # what print left buffered would fail again at exit, and exit 120


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # argparse prints the usage with print_usage(sys.stderr), which falls back to stdout when stderr is closed
        # (None): a usage error must never land in the output a pipeline reads.
        warn(self.format_usage().rstrip("\n"))
        warn(f"{self.prog}: error: {message}")
        self.exit(2)

    def _print_message(self, message: str, file: Any = None) -> None:
        # argparse swallows only OSError here: an encoding error would escape parser.error's exit 2 as a crash.
        if not message:
            return
        if file is None or file is sys.stderr:
            warn(message.rstrip("\n"))
            return
        try:
            file.write(message)
        except Exception:  # noqa: BLE001 - help text to a closed pipe: nothing to report, exit as argparse does
            pass


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m audit",
        description="Audit AWS root user access keys (CIS 1.4, Security Hub IAM.4) from the IAM credential report.",
        epilog="Exit status: 0 PASS or WARN, 1 FAIL, 2 ERROR or bad usage.",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--org", action="store_true", help="audit every ACTIVE account of the organization")
    source.add_argument(
        "--credential-report",
        metavar="FILE",
        type=_text,
        help="judge a saved report offline ('-' = stdin): the output of "
        "`aws iam get-credential-report --query Content --output text | base64 --decode`",
    )
    parser.add_argument("--role-name", metavar="NAME", type=_text, help="with --org: the role assumed in each member account")
    parser.add_argument("--endpoint-url", metavar="URL", type=_text, help="an AWS-compatible endpoint, e.g. a local moto server")
    parser.add_argument("--region", type=_text, help="AWS region for the API calls (default: the session's, else us-east-1)")
    parser.add_argument("--profile", type=_text, help="AWS named profile")
    parser.add_argument(
        "--account-id",
        type=_account_id,
        metavar="ID",
        help="with --credential-report: the account the report must be of; a report of another account is ERROR",
    )
    parser.add_argument(
        "--format",
        type=_one_of("text", "json", "ocsf", "csv"),
        default="text",
        help="text (default), json, ocsf (OCSF 1.5.0 Detection Findings, as Prowler's json-ocsf) or csv (Prowler's "
        "columns, ';'-separated); one finding or row per account",
    )
    parser.add_argument(
        "--output", metavar="FILE", type=_text, help="write the --format rendering to FILE and print the text report to stdout"
    )
    parser.add_argument(
        "--workers",
        type=_bounded_int(1, MAX_WORKERS),
        help=f"with --org: API calls in flight (1..{MAX_WORKERS}, default {DEFAULT_WORKERS})",
    )
    parser.add_argument(
        "--max-age-hours",
        type=_bounded_int(MIN_REPORT_AGE_HOURS, MAX_REPORT_AGE_HOURS),
        help=f"a credential report older than this is ERROR (default {DEFAULT_REPORT_AGE_HOURS}; AWS caches reports for "
        "up to 4 h)",
    )
    parser.add_argument(
        "--remediate", action="store_true", help="with --org: delete member root keys via sts:AssumeRoot"
    )
    parser.add_argument("--dry-run", action="store_true", help="with --remediate: only show what would be deleted")
    parser.add_argument("--metric-namespace", type=_text, help="publish CloudWatch metrics to this namespace")
    parser.add_argument("--sns-topic-arn", type=_text, help="publish alerts to this SNS topic")
    parser.add_argument("--security-hub", action="store_true", help="import ASFF findings into Security Hub")
    parser.add_argument("--no-progress", action="store_true", help="never show a progress bar")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    return parser


def _read_report(path: str) -> bytes:
    """The report's bytes, at most one more than a report can hold, so /dev/zero or a runaway pipe is judged
    too large rather than read until memory runs out; OSError if the path cannot be read (a usage error: there
    is nothing to judge)."""
    limit = MAX_REPORT_BYTES + 1
    if path != "-":
        with open(path, "rb") as stream:
            return stream.read(limit)
    if sys.stdin is None:  # started with stdin closed (`<&-`)
        raise OSError("stdin is closed")
    return sys.stdin.buffer.read(limit)


def _offline(content: bytes, account_id: str | None) -> RunResult:
    return RunResult(accounts=(verdict(content, expected_account_id=account_id),))


def render_text(run: RunResult, out: TextIO) -> None:
    for result in run.accounts:
        out.write(one_line(result.message.rstrip(".")) + ".\n")
        for action in result.remediation:
            out.write(f"  remediation: {one_line(action)}\n")
        for number, step in enumerate(remediation_steps(result), start=1):
            out.write(f"  {number}. {one_line(step)}\n")
    for error in run.errors:
        out.write(f"Error: {one_line(error)}\n")
    for note in run.notes:
        out.write(f"Note: {one_line(note)}\n")
    counts = ", ".join(
        f"{sum(1 for r in run.accounts if r.status is status)} {status.value}" for status in Status
    )
    out.write(f"Overall: {run.status.value} ({len(run.accounts)} account(s): {counts}).\n")


def main(argv: Sequence[str] | None = None, *, session: Any = None, stdout: TextIO | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    offline = args.credential_report is not None
    if args.role_name is not None and not args.org:
        parser.error("--role-name needs --org")
    if args.org and args.role_name is None:
        parser.error("--org needs --role-name NAME (the role assumed in every member account)")
    if args.dry_run and not args.remediate:
        parser.error("--dry-run needs --remediate")
    if args.remediate and not args.org:
        parser.error("--remediate needs --org: sts:AssumeRoot reaches member accounts, never the calling account")
    if args.account_id is not None and not offline:
        parser.error("--account-id needs --credential-report (online, the account is the one the credentials reach)")
    aws_options = (args.metric_namespace, args.sns_topic_arn, args.endpoint_url, args.region, args.profile)
    if offline and (args.remediate or args.security_hub or any(value is not None for value in aws_options)):
        parser.error("--credential-report judges a file offline; it takes no AWS options")
    # Each of these would be silently ignored offline, and a check asked for but not made must not read as made:
    # a saved file has no generation time to hold against --max-age-hours.
    online_only = {"--max-age-hours": args.max_age_hours, "--workers": args.workers, "--no-progress": args.no_progress or None}
    given = [option for option, value in online_only.items() if value is not None]
    if offline and given:
        parser.error(f"--credential-report judges a file offline; not with {', '.join(given)}, which only an online audit uses")
    max_age_hours = DEFAULT_REPORT_AGE_HOURS if args.max_age_hours is None else args.max_age_hours
    workers = DEFAULT_WORKERS if args.workers is None else args.workers
    if args.endpoint_url is not None:
        problem = _endpoint_problem(args.endpoint_url)
        if problem:
            parser.error(f"argument --endpoint-url: {args.endpoint_url!r} {problem}")
    if args.output == "-":
        # --credential-report - is stdin, but --output - would be a file named "-"; stdout already has the text.
        parser.error("argument --output: '-' is not a file; give a path, or leave --output out and use --format alone for stdout")
    if offline and args.output is not None and args.credential_report != "-" and _same_file(args.output, args.credential_report):
        parser.error(f"argument --output: {args.output!r} is the --credential-report file; writing there would overwrite the report")
    content = b""
    if offline:
        try:
            content = _read_report(args.credential_report)
        except OSError as exc:
            parser.error(f"argument --credential-report: cannot read {args.credential_report!r}: {exc.strerror or exc}")
        except MemoryError:
            parser.error(f"argument --credential-report: not enough memory to read {args.credential_report!r}")
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(levelname)s %(name)s: %(message)s",
    )

    if offline:
        run = _guarded(lambda: _offline(content, args.account_id))
    else:
        try:
            config = AuditConfig(
                org_role_name=args.role_name or "",
                max_report_age_hours=max_age_hours,
                workers=workers,
                remediate=args.remediate,
                dry_run=args.dry_run,
                metric_namespace=args.metric_namespace or "",
                sns_topic_arn=args.sns_topic_arn or "",
                security_hub=args.security_hub,
                progress=False if args.no_progress else None,
            )
        except ValueError as exc:
            parser.error(str(exc))
        run = _guarded(lambda: _run_online(config, args, session))

    rendered = _render(run, args.format, run.region or "us-east-1")
    code = _EXIT[run.status]
    out = stdout if stdout is not None else sys.stdout
    if args.output:
        try:
            Path(args.output).write_text(rendered, encoding="utf-8")
        except OSError as exc:
            # The verdict did not reach its reader: no verdict at all, whatever the accounts say.
            warn(f"python -m audit: error: --output {args.output} cannot be written: {exc.strerror or exc}")
            return EXIT_ERROR
        rendered = _render(run, "text", run.region or "us-east-1")
    if not _emit(rendered, out):
        return EXIT_ERROR  # the verdict never reached its reader: that run did not do its job
    return code


def _emit(text: str, out: TextIO | None) -> bool:
    """Write the output; False only if it could not be delivered.

    A reader that closed the pipe (`| head -c 10`) took what it wanted, so that is silent and not a failure.
    Characters the stream's encoding cannot carry (PYTHONIOENCODING=ascii) are written as backslash escapes."""
    if out is None:  # stdout was closed (`>&-`)
        warn("python -m audit: error: cannot write the output: stdout is closed")
        return False
    encoding = getattr(out, "encoding", None) or "utf-8"
    try:
        out.write(text.encode(encoding, "backslashreplace").decode(encoding))
        out.flush()
    except BrokenPipeError:
        _discard_pending(out)
        return True
    except (OSError, ValueError) as exc:  # ValueError: the stream was closed
        _discard_pending(out)
        warn(f"python -m audit: error: cannot write the output: {exc}")
        return False
    return True


def _discard_pending(out: TextIO) -> None:
    # What is still buffered would fail again when the interpreter flushes at exit, which prints a traceback
    # and overrides the exit status; point the descriptor at /dev/null so that flush succeeds silently.
    try:
        descriptor = out.fileno()
    except (OSError, ValueError):
        return
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, descriptor)
    finally:
        os.close(null)


def _same_file(first: str, second: str) -> bool:
    try:
        return os.path.samefile(first, second)
    except OSError:  # one of them does not exist (yet): compare where they would be
        return os.path.realpath(first) == os.path.realpath(second)


def _render(run: RunResult, fmt: str, region: str) -> str:
    if fmt in ("ocsf", "csv"):
        from datetime import datetime, timezone

        from audit.formats import Where, findings_of, to_csv, to_ocsf

        render = to_ocsf if fmt == "ocsf" else to_csv
        text = render(findings_of(run), Where(region=region), datetime.now(timezone.utc))
        return text if text.endswith("\n") else text + "\n"
    if fmt == "json":
        return json.dumps(run.to_dict(), indent=2, sort_keys=False) + "\n"
    buffer = io.StringIO()
    render_text(run, buffer)
    return buffer.getvalue()


def _endpoint_problem(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "is not an http:// or https:// URL with a host"
    return None


def _guarded(run: Callable[[], RunResult]) -> RunResult:
    try:
        return run()
    except Exception as exc:  # noqa: BLE001 - a crash must exit 2 (ERROR), not 1, which reads as a plain FAIL
        logging.getLogger("audit").exception("the audit run failed unexpectedly")
        return RunResult(
            accounts=(error_result(None, f"the audit run failed unexpectedly: {type(exc).__name__}: {exc}"),)
        )


def _run_online(config: AuditConfig, args: argparse.Namespace, session: Any) -> RunResult:
    import boto3
    from botocore.exceptions import BotoCoreError

    from audit.aws import Clients, client_config
    from audit.runner import run_audit

    try:
        session = session or boto3.session.Session(profile_name=args.profile)
    except BotoCoreError as exc:
        return RunResult(accounts=(error_result(None, f"cannot create an AWS session: {exc}"),))
    clients = Clients(
        session,
        region=args.region,
        endpoint_url=args.endpoint_url,
        config=client_config(max_pool_connections=max(10, config.workers)),
    )
    return dataclasses.replace(run_audit(config, clients), region=clients.region)
