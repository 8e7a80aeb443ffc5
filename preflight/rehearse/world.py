"""The rehearsal's AWS: a moto server on loopback (or a given loopback endpoint), an organization, guarded clients.

Serves every control's rehearsal. The loopback rule is enforced twice and proven once:
- every boto3 client made here refuses, before sending, a request whose URL is not loopback, and records the URL;
- the provider gets `aws:httpProxy`/`aws:httpsProxy` pointing at `EgressTrap`, a loopback "proxy" that answers
  nothing and records every host it is asked for. Go's proxy rules never proxy a loopback host, so requests to moto
  go straight there, while any request for another host (a public AWS endpoint, the instance metadata service)
  lands in the trap instead of on the network. An empty trap after the run is the proof that nothing else was asked.
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Iterator

import boto3
from botocore.config import Config

from preflight.tfprovider.awsconfig import is_loopback_url

# moto's default account and the dummy keys the provider and boto3 sign with.
MANAGEMENT_ACCOUNT_ID = "123456789012"
ACCESS_KEY, SECRET_KEY = "test", "test"
REGION = "us-east-1"
MEMBER_ACCOUNTS = (("workload", "workload@example.com"), ("sandbox", "sandbox@example.com"),
                   ("security", "security@example.com"))
# Trusted access the program's organization rollout needs: the organization trail, centralized root access and the
# service-managed StackSet.
SERVICE_PRINCIPALS = ("cloudtrail.amazonaws.com", "iam.amazonaws.com",
                      "member.org.stacksets.cloudformation.amazonaws.com")


class EgressTrap:
    """A loopback TCP listener standing where a proxy would: records the target of each request, answers 403."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        self._lock = threading.Lock()
        trap = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                data = b""
                with contextlib.suppress(OSError):
                    self.request.settimeout(5)
                    while b"\r\n" not in data and len(data) < 8192:
                        chunk = self.request.recv(1024)
                        if not chunk:
                            break
                        data += chunk
                line = data.split(b"\r\n", 1)[0].decode(errors="replace")
                with trap._lock:
                    trap.hits.append(line or "<empty request>")
                with contextlib.suppress(OSError):
                    self.request.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> "EgressTrap":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclass
class RequestLog:
    """Every URL a guarded boto3 client sent to (after the loopback check)."""

    urls: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def hosts(self) -> set[str]:
        return {urllib.parse.urlparse(u).hostname or "" for u in self.urls}


class EgressRefused(RuntimeError):
    """A client was about to send a request off loopback."""


def guard_session(session: Any, log: RequestLog) -> Any:
    def before_send(request: Any, **_: Any) -> None:
        url = request.url
        if not is_loopback_url(url):
            with log._lock:
                log.refused.append(url)
            raise EgressRefused(f"refused a request to {url}: only loopback endpoints are allowed")
        with log._lock:
            log.urls.append(url)

    session.events.register("before-send", before_send)
    return session


@dataclass
class World:
    """Where the rehearsal deploys: the endpoint, the organization, and clients that cannot leave loopback."""

    endpoint_url: str
    log: RequestLog
    organization_id: str = ""
    root_id: str = ""
    member_account_ids: tuple[str, ...] = ()

    def session(self, access_key: str = ACCESS_KEY, secret_key: str = SECRET_KEY,
                token: str | None = None) -> Any:
        session = boto3.session.Session(aws_access_key_id=access_key, aws_secret_access_key=secret_key,
                                        aws_session_token=token, region_name=REGION)
        return guard_session(session, self.log)

    def client(self, service: str, session: Any = None) -> Any:
        return (session or self.session()).client(
            service, endpoint_url=self.endpoint_url,
            config=Config(retries={"max_attempts": 1, "mode": "standard"}, s3={"addressing_style": "path"}))


@contextlib.contextmanager
def moto_server(endpoint_url: str | None = None, port: int = 0) -> Iterator[str]:
    """A ThreadedMotoServer on 127.0.0.1 (a free port) with the root row and the organization features, or the
    given loopback endpoint (moto or LocalStack) as it is."""
    if endpoint_url:
        if not is_loopback_url(endpoint_url):
            raise ValueError(f"--endpoint-url {endpoint_url!r} is not a loopback http(s) URL; no request may leave "
                             f"this machine")
        yield endpoint_url.rstrip("/")
        return
    from moto.server import ThreadedMotoServer

    from simulate import moto_gaps, moto_org_features, moto_root

    moto_root.install()
    moto_org_features.install()
    moto_gaps.install()
    # AssumeRole only into roles that exist, as on AWS: the org-wide audit then reaches a member account only through
    # the role the program's StackSet created there (moto otherwise lets any role ARN be assumed).
    moto_root.require_existing_roles(True)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port or _free_port(), verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
        moto_root.require_existing_roles(False)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def create_organization(world: World) -> None:
    """An all-features organization with member accounts, SCPs enabled on the root and the trusted access the
    program's organization rollout checks for, as a management account would have it."""
    org = world.client("organizations")
    try:
        described = org.describe_organization()["Organization"]
    except org.exceptions.AWSOrganizationsNotInUseException:
        described = org.create_organization(FeatureSet="ALL")["Organization"]
    world.organization_id = described["Id"]
    root = org.list_roots()["Roots"][0]
    world.root_id = root["Id"]
    if not any(p["Type"] == "SERVICE_CONTROL_POLICY" and p["Status"] == "ENABLED" for p in root.get("PolicyTypes", [])):
        org.enable_policy_type(RootId=root["Id"], PolicyType="SERVICE_CONTROL_POLICY")
    existing = {a["Email"]: a["Id"] for a in org.list_accounts()["Accounts"]}
    members = []
    for name, email in MEMBER_ACCOUNTS:
        if email not in existing:
            status = org.create_account(AccountName=name, Email=email)["CreateAccountStatus"]
            existing[email] = status["AccountId"]
        members.append(existing[email])
    world.member_account_ids = tuple(members)
    for principal in SERVICE_PRINCIPALS:
        org.enable_aws_service_access(ServicePrincipal=principal)


__all__ = ["EgressRefused", "EgressTrap", "MANAGEMENT_ACCOUNT_ID", "RequestLog", "World", "create_organization",
           "guard_session", "moto_server"]
