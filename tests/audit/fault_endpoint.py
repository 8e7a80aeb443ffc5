"""A loopback HTTP endpoint for the audit's fault tests (CIS 1.4 / IAM.4): it forwards every request to a moto
server, except the operations told to fail, which get a canned answer instead. This makes the faults botocore's
Stubber cannot: a 200 whose body botocore's parser rejects, or accepts into a shape the audit did not expect."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Canned:
    status: int
    body: bytes
    content_type: str = "text/xml"


def operation(method: str, path: str, headers: dict[str, str], body: bytes) -> str:
    """The API operation of a request, whatever the protocol (query, JSON, CBOR RPC, REST)."""
    target = headers.get("x-amz-target")
    if target:
        return target.rsplit(".", 1)[-1]
    if "/operation/" in path:
        return path.rsplit("/operation/", 1)[-1]
    if headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        action = parse_qs(body.decode("utf-8", "replace")).get("Action")
        if action:
            return action[0]
    return f"{method} {urlsplit(path).path}"


class FaultEndpoint:
    def __init__(self, upstream: str) -> None:
        self.upstream = urlsplit(upstream)
        self.faults: dict[str, Canned] = {}
        self.seen: list[str] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {key.lower(): value for key, value in self.headers.items()}
                name = operation(self.command, self.path, headers, body)
                endpoint.seen.append(name)
                canned = endpoint.faults.get(name)
                if canned is None:
                    status, reply_headers, reply = endpoint._forward(self.command, self.path, headers, body)
                else:
                    status, reply_headers, reply = canned.status, {"content-type": canned.content_type}, canned.body
                self.send_response(status)
                for key, value in reply_headers.items():
                    if key not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                        self.send_header(key, value)
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def _forward(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        connection = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        finally:
            connection.close()


@contextmanager
def fault_endpoint(upstream: str) -> Iterator[FaultEndpoint]:
    endpoint = FaultEndpoint(upstream)
    thread = threading.Thread(target=endpoint.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield endpoint
    finally:
        endpoint.server.shutdown()
        endpoint.server.server_close()
