"""`python -m audit`: run the root access key audit (CIS 1.4, Security Hub IAM.4) from the command line.

Ctrl-C exits 130 at once. If an organization audit was under way, what it found is printed, with every account
it did not finish as ERROR, so that an interrupted run never reads as PASS.
"""

import gc
import io
import json
import sys

from audit.cli import EXIT_ERROR, build_parser, main, render_text, warn

EXIT_INTERRUPTED = 130


def _interrupted(exc: KeyboardInterrupt, argv: list[str]) -> int:
    audit = getattr(exc, "audit", None)  # audit.org.AuditInterrupted
    warn("python -m audit: interrupted")
    if audit is None:
        return EXIT_INTERRUPTED
    from audit.runner import RunResult

    run = RunResult(
        accounts=audit.accounts,
        errors=(*audit.errors, f"the audit was interrupted (Ctrl-C); {exc.not_audited} account(s) were not audited"),
    )
    args, _ = build_parser().parse_known_args(argv)
    text = io.StringIO()
    if args.format == "json":
        json.dump(run.to_dict(), text, indent=2)
        text.write("\n")
    else:
        render_text(run, text)
    try:
        sys.stdout.write(text.getvalue())
        sys.stdout.flush()
    except (OSError, ValueError):
        pass  # the exit status still says it: 130
    return EXIT_INTERRUPTED


try:
    code = main()
except KeyboardInterrupt as interrupt:
    code = _interrupted(interrupt, sys.argv[1:])
except Exception as exc:  # noqa: BLE001 - Python's own exit status for a crash is 1, which reads as FAIL
    warn(f"python -m audit: error: unexpected {type(exc).__name__}: {exc}")
    code = EXIT_ERROR
# The verdict is written. The interpreter's teardown would now run the garbage collector over every object still
# alive, botocore's endpoint data and service models among them (millions), about 60 ms on each run; frozen, they
# are left for the process's exit to free. Exit handlers and flushes run as before.
gc.freeze()
sys.exit(code)
