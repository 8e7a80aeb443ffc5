"""A local moto server that behaves like AWS in time, for the root access key audit's benchmark and demo.

The audit (CIS 1.4, Security Hub IAM.4, Prowler iam_no_root_access_key) spends its time waiting: on network
round trips and on IAM generating the credential report. Plain moto answers in about a millisecond and has the
report ready at once, so on moto the audit's wall time is moto's CPU and concurrency shows nothing. This server
adds the two waits back:

- every API call is held for a fixed delay (default 50 ms) before moto sees it;
- after an account first asks for its credential report, GenerateCredentialReport answers INPROGRESS and
  GetCredentialReport fails with ReportInProgress (HTTP 404, as IAM does) for a window (default 2 s);
- ListAccounts pages by 20 accounts, AWS's largest page (moto's default is 100), so that listing a large
  organization takes as many calls, each with its delay, as it does against AWS.

Both are done in a WSGI middleware around moto's own application, so moto's code is not patched and the
in-process `mock_aws` used by other tests is unaffected (`forget_reports` only clears moto's per-account
"a report exists" flag, so that each benchmark run pays for a new report). The middleware also counts every
call by account and action, which is how the benchmark reports API calls per account.

`create_organization` builds an organization with N ACTIVE member accounts, each holding the audit role, so
`sts:AssumeRole` into it works and later calls land in that account (moto maps the assumed-role keys to it).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import boto3
from botocore.config import Config
from moto.core import DEFAULT_ACCOUNT_ID
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.server import ThreadedMotoServer

__all__ = [
    "AUDIT_ROLE_NAME",
    "CallRecord",
    "SimulatedOrganization",
    "SlowMotoServer",
    "Timing",
    "client",
    "add_members",
    "create_organization",
]

# The role the audit assumes in each member account (the program's auditOrgRoleName); any name works in moto.
AUDIT_ROLE_NAME = "RootKeyAuditRole"
# The role AWS Organizations creates in every account made with CreateAccount; the setup acts through it,
# as an administrator would.
ORG_ACCESS_ROLE_NAME = "OrganizationAccountAccessRole"
DEFAULT_REGION = "us-east-1"
_IAM_XMLNS = "https://iam.amazonaws.com/doc/2010-05-08/"
# organizations:ListAccounts' MaxResults is 1..20 in AWS's API model; AWS's page without MaxResults is no larger.
AWS_LIST_ACCOUNTS_PAGE = 20
# ASCII classes, and \Z rather than $ (which also matches before a trailing newline).
_ACCESS_KEY = re.compile(r"Credential=([A-Za-z0-9+/=]+)/[0-9]{8}/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request", re.ASCII)
_ROLE_ARN_ACCOUNT = re.compile(r"arn:aws[a-z-]*:iam::([0-9]{12}):role/", re.ASCII)
_CBOR_OPERATION = re.compile(r"/operation/([A-Za-z0-9]+)\Z", re.ASCII)


@dataclass(frozen=True)
class Timing:
    """How slow the server is. Both values can be 0 (plain moto, plus call counting)."""

    call_delay_s: float = 0.05
    report_window_s: float = 2.0

    def __post_init__(self) -> None:
        for name in ("call_delay_s", "report_window_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 600:
                raise ValueError(f"Timing.{name} must be a number of seconds from 0 to 600, got {value!r}")


@dataclass(frozen=True)
class CallRecord:
    """One API call as the server saw it.

    `account_id` is the caller's account as moto resolves it; `subject_account_id` is the account the call is
    about: the target account for sts:AssumeRole, else the caller's account. Per-account figures use the latter,
    so an account's AssumeRole counts towards the account being audited, not the management account.
    """

    account_id: str
    subject_account_id: str
    service: str
    action: str
    status: int
    started: float  # time.monotonic() when the request arrived, before the delay
    finished: float  # time.monotonic() when moto's answer was ready


def _request_account(environ: Mapping[str, Any], access_key: str | None) -> str:
    # Same order as moto's BaseResponse.get_current_account, so the in-progress window is keyed by the very
    # account whose report moto builds.
    if "MOTO_ACCOUNT_ID" in os.environ:
        return os.environ["MOTO_ACCOUNT_ID"]
    header = environ.get("HTTP_X_MOTO_ACCOUNT_ID")
    if header:
        return str(header)
    if access_key is None:
        return DEFAULT_ACCOUNT_ID
    from moto.iam.models import get_account_id_from

    return get_account_id_from(access_key)


def _action(environ: Mapping[str, Any], form: Mapping[str, list[str]]) -> str:
    """The API operation name for the protocols the audit uses: query (IAM, STS, SNS), JSON (Organizations),
    RPCv2 CBOR (CloudWatch); REST protocols (Security Hub) are named by method and path."""
    if "Action" in form:
        return form["Action"][0]
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return str(target).rpartition(".")[2]
    path = str(environ.get("PATH_INFO", ""))
    match = _CBOR_OPERATION.search(path)
    if match:
        return match.group(1)
    return f"{environ.get('REQUEST_METHOD', '?')} {path}"


def _xml_response(start_response: Callable[..., Any], status: str, body: str) -> list[bytes]:
    data = body.encode("utf-8")
    start_response(status, [("Content-Type", "text/xml"), ("Content-Length", str(len(data)))])
    return [data]


def _report_in_progress(start_response: Callable[..., Any]) -> list[bytes]:
    # IAM's CredentialReportNotReadyException: code ReportInProgress, HTTP 404 (botocore's IAM model).
    return _xml_response(
        start_response,
        "404 Not Found",
        f'<ErrorResponse xmlns="{_IAM_XMLNS}"><Error><Type>Sender</Type><Code>ReportInProgress</Code>'
        "<Message>The credential report is still being generated.</Message></Error>"
        f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>",
    )


def _generation_in_progress(start_response: Callable[..., Any]) -> list[bytes]:
    return _xml_response(
        start_response,
        "200 OK",
        f'<GenerateCredentialReportResponse xmlns="{_IAM_XMLNS}"><GenerateCredentialReportResult>'
        "<State>INPROGRESS</State></GenerateCredentialReportResult>"
        f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>"
        "</GenerateCredentialReportResponse>",
    )


def offline_child_env(pythonpath: str) -> dict[str, str]:
    """The environment for a child process (the audit CLI) that talks only to this server: fake credentials, and
    none of the machine's AWS variables, profiles or config files, so nothing can reach a real account."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        PYTHONPATH=pythonpath,
    )
    return env


@dataclass
class _State:
    timing: Timing
    lock: threading.Lock = field(default_factory=threading.Lock)
    # account id -> time.monotonic() of the account's first GenerateCredentialReport
    report_requested: dict[str, float] = field(default_factory=dict)
    calls: list[CallRecord] = field(default_factory=list)
    delays_paused: int = 0


class _SlowMiddleware:
    """WSGI middleware: delay, credential-report window and call log in front of moto's application."""

    def __init__(self, app: Callable[..., Any], state: _State) -> None:
        self._app = app
        self._state = state

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO", ""))
        if path.startswith("/moto-api"):
            # moto's own control plane (reset, state) is not an AWS API: no delay, not counted.
            return self._app(environ, start_response)
        started = time.monotonic()
        form = self._form(environ)
        auth = _ACCESS_KEY.search(str(environ.get("HTTP_AUTHORIZATION", "")))
        access_key = auth.group(1) if auth else None
        service = auth.group(3) if auth else "unknown"
        action = _action(environ, form)
        account = _request_account(environ, access_key)
        subject = account
        if action == "AssumeRole":
            match = _ROLE_ARN_ACCOUNT.match(form.get("RoleArn", [""])[0])
            subject = match.group(1) if match else account

        with self._state.lock:
            timing = self._state.timing
            paused = self._state.delays_paused > 0
        delay = 0.0 if paused else timing.call_delay_s
        if delay:
            # time.sleep releases the GIL: concurrent requests wait side by side, as AWS latency does.
            time.sleep(delay)

        status_holder: list[str] = []

        def recording_start_response(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
            status_holder.append(status)
            return start_response(status, headers, *args)

        body: Iterable[bytes]
        intercepted = self._report_window(service, action, account, timing, paused)
        if intercepted == "generate":
            body = _generation_in_progress(recording_start_response)
        elif intercepted == "get":
            body = _report_in_progress(recording_start_response)
        else:
            body = self._app(environ, recording_start_response)
        # Moto's answer is fully built by now (Flask returns a list), so `finished` is when the reply leaves.
        status = int(status_holder[0].split(" ", 1)[0]) if status_holder else 0
        record = CallRecord(account, subject, service, action, status, started, time.monotonic())
        with self._state.lock:
            self._state.calls.append(record)
        return body

    @staticmethod
    def _form(environ: dict[str, Any]) -> dict[str, list[str]]:
        """The query-protocol parameters; the body is read and put back so that moto reads it again."""
        form: dict[str, list[str]] = parse_qs(str(environ.get("QUERY_STRING", "")))
        if not str(environ.get("CONTENT_TYPE", "")).startswith("application/x-www-form-urlencoded"):
            return form
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return form
        raw = environ["wsgi.input"].read(length) if length > 0 else b""
        environ["wsgi.input"] = io.BytesIO(raw)
        for key, values in parse_qs(raw.decode("utf-8", errors="replace")).items():
            form.setdefault(key, []).extend(values)
        return form

    def _report_window(self, service: str, action: str, account: str, timing: Timing, paused: bool) -> str | None:
        """Which in-progress answer to give instead of moto's, if any."""
        if service != "iam" or action not in ("GenerateCredentialReport", "GetCredentialReport"):
            return None
        now = time.monotonic()
        with self._state.lock:
            requested = self._state.report_requested.get(account)
            if action == "GenerateCredentialReport" and requested is None:
                # The first request starts the generation; moto records it and answers STARTED. A report
                # generated while delays are paused is ready at once, and stays so afterwards.
                self._state.report_requested[account] = float("-inf") if paused else now
                return None
        if paused or requested is None or now - requested >= timing.report_window_s:
            # Before any request moto answers ReportNotPresent, as IAM does; after the window, the report.
            return None
        return "generate" if action == "GenerateCredentialReport" else "get"


# waitress worker threads: each request holds one through its delay, so this bounds the requests the server
# overlaps (the audit's --workers is at most 64; the rest is for the setup's and tests' own clients).
SERVER_THREADS = 96


class SlowMotoServer(ThreadedMotoServer):
    """moto's ThreadedMotoServer on 127.0.0.1 (a free port by default), with AWS-like timing.

    Served by waitress rather than moto's werkzeug development server, which closes the connection after every
    answer (and then waits 10 ms for a stray body): every call would be a new TCP connection and a new server
    thread, a cost AWS's keep-alive endpoints do not have and that would sit on each call's path. waitress keeps
    HTTP/1.1 connections open, reads each request whole before the application sees it, and runs requests on a
    pool of threads, so concurrent audit workers overlap their waits as they would against AWS.
    """

    def __init__(self, timing: Timing = Timing(), *, ip_address: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(ip_address=ip_address, port=port, verbose=False)
        self._state = _State(timing=timing)
        self._moto_page: int | None = None
        self._waitress: Any = None

    def start(self) -> None:
        from moto.organizations.utils import PAGINATION_MODEL

        # moto reads its pagination model at each call; put back on stop().
        self._moto_page = PAGINATION_MODEL["list_accounts"]["limit_default"]
        PAGINATION_MODEL["list_accounts"]["limit_default"] = AWS_LIST_ACCOUNTS_PAGE
        super().start()

    def stop(self) -> None:
        from moto.organizations.utils import PAGINATION_MODEL

        self._server_ready_event.clear()
        server = self._waitress
        if server is not None:
            # waitress's loop runs while its socket map holds a dispatcher (the listener, the trigger, each
            # connection): closing them all ends it.
            for dispatcher in list(server._map.values()):
                dispatcher.close()
            server.task_dispatcher.shutdown()
            self._waitress = None
        if self._thread is not None:
            self._thread.join()
        if self._moto_page is not None:
            PAGINATION_MODEL["list_accounts"]["limit_default"] = self._moto_page
            self._moto_page = None

    def get_host_and_port(self) -> tuple[str, int]:
        assert self._waitress is not None, "Make sure to call start() first"
        return str(self._waitress.effective_host), int(self._waitress.effective_port)

    # ThreadedMotoServer builds its WSGI app and server inside this method, on its own thread.
    def _server_entry(self) -> None:
        from waitress.server import create_server

        app = _SlowMiddleware(DomainDispatcherApplication(create_backend_app), self._state)
        self._waitress = create_server(
            app,
            host=self._ip_address,
            port=self._port,
            threads=SERVER_THREADS,
            connection_limit=1000,
            asyncore_use_poll=True,  # select() stops at 1,024 descriptors
            ident="slow-moto",
        )
        self._server_ready_event.set()
        self._waitress.run()

    @property
    def endpoint_url(self) -> str:
        host, port = self.get_host_and_port()
        return f"http://{host}:{port}"

    @property
    def timing(self) -> Timing:
        with self._state.lock:
            return self._state.timing

    @timing.setter
    def timing(self, timing: Timing) -> None:
        with self._state.lock:
            self._state.timing = timing

    @contextmanager
    def delays_paused(self) -> Iterator[None]:
        """Serve at moto's own speed (no delay, no report window) while setting up the simulated organization."""
        with self._state.lock:
            self._state.delays_paused += 1
        try:
            yield
        finally:
            with self._state.lock:
                self._state.delays_paused -= 1

    def calls(self) -> tuple[CallRecord, ...]:
        with self._state.lock:
            return tuple(self._state.calls)

    def clear_calls(self) -> None:
        with self._state.lock:
            self._state.calls.clear()

    def forget_reports(self) -> None:
        """Drop every account's credential report, as if AWS's 4-hour reuse period had passed: the next
        GenerateCredentialReport answers STARTED and opens a new in-progress window, so that repeated
        benchmark runs each pay for report generation."""
        from moto.iam.models import iam_backends

        with self._state.lock:
            self._state.report_requested.clear()
            for partitions in list(iam_backends.values()):
                for backend in list(partitions.values()):
                    # moto's own "a report exists" flag (IAMBackend.credential_report)
                    backend.credential_report = None

    def reset(self) -> None:
        """Reset all of moto's state (through moto's own /moto-api/reset) and this server's."""
        import urllib.request

        with urllib.request.urlopen(urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")):
            pass
        with self._state.lock:
            self._state.report_requested.clear()
            self._state.calls.clear()


def client(service: str, endpoint_url: str, credentials: Mapping[str, str] | None = None, **config: Any) -> Any:
    """A boto3 client for the local server with dummy credentials unless `credentials` (from AssumeRole) given."""
    creds = credentials or {"AccessKeyId": "testing", "SecretAccessKey": "testing"}
    return boto3.client(
        service,
        region_name=DEFAULT_REGION,
        endpoint_url=endpoint_url,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds.get("SessionToken"),
        config=Config(retries={"mode": "standard", "max_attempts": 1}, **config),
    )


@dataclass(frozen=True)
class SimulatedOrganization:
    management_account_id: str
    member_account_ids: tuple[str, ...]
    role_name: str

    @property
    def account_ids(self) -> tuple[str, ...]:
        """Every account ListAccounts returns: the management account first, then the members."""
        return (self.management_account_id, *self.member_account_ids)


def _audit_role_trust(management_account_id: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{management_account_id}:root"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )


# What the audit needs in a member account: the two credential report actions, nothing else.
_AUDIT_ROLE_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["iam:GenerateCredentialReport", "iam:GetCredentialReport"],
                "Resource": "*",
            }
        ],
    }
)


def _create_audit_role(iam: Any, role_name: str, management_account_id: str) -> None:
    iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=_audit_role_trust(management_account_id))
    iam.put_role_policy(RoleName=role_name, PolicyName="credential-report", PolicyDocument=_AUDIT_ROLE_POLICY)


def create_organization(
    endpoint_url: str,
    members: int,
    *,
    role_name: str = AUDIT_ROLE_NAME,
    root_credentials: Mapping[int, Any] | None = None,
) -> SimulatedOrganization:
    """Create an organization (feature set ALL) with `members` member accounts, through the AWS APIs.

    Each member is created with organizations:CreateAccount (moto makes it ACTIVE at once), then the audit role
    is created in it through OrganizationAccountAccessRole, as an administrator would. The management account
    gets the role too, because ListAccounts returns it and an org audit covers it.

    `root_credentials` maps a member's index (0-based, in creation order) to a `simulate.moto_root.RootCredentials`
    for that account's root row; every other account has a clean root row once moto_root is installed.
    """
    org = client("organizations", endpoint_url)
    management = org.create_organization(FeatureSet="ALL")["Organization"]["MasterAccountId"]
    _create_audit_role(client("iam", endpoint_url), role_name, management)
    created = SimulatedOrganization(management, (), role_name)
    return add_members(endpoint_url, created, members, root_credentials=root_credentials)


def add_members(
    endpoint_url: str,
    organization: SimulatedOrganization,
    members: int,
    *,
    root_credentials: Mapping[int, Any] | None = None,
    threads: int = 4,
) -> SimulatedOrganization:
    """`organization` with `members` more member accounts, each with the audit role; `root_credentials` indexes
    the new members (0-based). Accounts are made on a few threads: the server is threaded, as AWS is."""
    from concurrent.futures import ThreadPoolExecutor

    if isinstance(members, bool) or not isinstance(members, int) or not 0 <= members <= 5000:
        raise ValueError(f"members must be an integer from 0 to 5000, got {members!r}")
    for index in root_credentials or {}:
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < members:
            raise ValueError(f"root_credentials index {index!r} is outside 0..{members - 1}")
    first = len(organization.member_account_ids)
    org = client("organizations", endpoint_url, max_pool_connections=threads)
    sts = client("sts", endpoint_url, max_pool_connections=threads)

    def create(index: int) -> str:
        name = f"member-{index:04d}"
        status = org.create_account(AccountName=name, Email=f"{name}@example.com")
        state = status["CreateAccountStatus"]
        if state["State"] != "SUCCEEDED":
            # Real AWS creates accounts asynchronously; moto does it at once. Do not build on a half-made org.
            raise RuntimeError(f"CreateAccount for {name} ended {state['State']}, expected SUCCEEDED")
        account_id = str(state["AccountId"])
        creds = sts.assume_role(
            RoleArn=f"arn:aws:iam::{account_id}:role/{ORG_ACCESS_ROLE_NAME}", RoleSessionName="simulate-setup"
        )["Credentials"]
        _create_audit_role(client("iam", endpoint_url, creds), organization.role_name, organization.management_account_id)
        return account_id

    with ThreadPoolExecutor(max_workers=threads) as pool:
        member_ids = list(pool.map(create, range(first, first + members)))

    if root_credentials:
        from simulate import moto_root

        moto_root.install()
        for index, creds_for_root in root_credentials.items():
            moto_root.set_root_credentials(member_ids[index], creds_for_root)
    return SimulatedOrganization(
        organization.management_account_id, (*organization.member_account_ids, *member_ids), organization.role_name
    )


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m simulate.slow_moto",
        description="Serve a simulated organization on a local moto server with AWS-like timing, until Ctrl-C.",
    )
    parser.add_argument("--accounts", type=int, default=10, help="member accounts (default 10)")
    parser.add_argument("--delay-ms", type=float, default=50.0, help="delay on every API call (default 50)")
    parser.add_argument("--report-window-s", type=float, default=2.0, help="credential report in progress (default 2)")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--role-name", default=AUDIT_ROLE_NAME)
    args = parser.parse_args(argv)
    try:
        timing = Timing(args.delay_ms / 1000.0, args.report_window_s)
    except ValueError as exc:
        parser.error(str(exc))
    from simulate import moto_root, moto_scale

    moto_root.install()
    moto_scale.install()  # a large --accounts would otherwise make moto's every request slower
    server = SlowMotoServer(timing, port=args.port)
    server.start()
    try:
        with server.delays_paused():
            org = create_organization(server.endpoint_url, args.accounts, role_name=args.role_name)
        print(f"{server.endpoint_url}: organization of {len(org.account_ids)} accounts, role {org.role_name}")
        print(
            "try: AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing python -m audit --org "
            f"--role-name {org.role_name} --endpoint-url {server.endpoint_url}"
        )
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
