"""One moto server and one terraform-provider-aws process for all of this directory's live tests.

The provider takes seconds to start (PrepareProviderConfig alone is 4-15 s on this machine) and about 300 MB, so
the live modules share a session-wide instance. Without the binary the fixture skips, naming the reason.
"""

from __future__ import annotations

import pytest

from preflight.tfprovider import PluginError, Provider, find_binary

# Every service the live tests touch, except cloudformation (left out to test the loopback guard).
SERVICES = ("sts", "iam", "logs", "cloudwatch", "events", "s3", "sns", "kms", "lambda", "organizations")


@pytest.fixture(scope="session")
def binary():
    try:
        return find_binary()
    except PluginError as exc:
        pytest.skip(f"terraform-provider-aws binary not available: {exc}")


@pytest.fixture(scope="session")
def endpoint():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="session")
def provider(binary, endpoint):
    # Three attempts, as the rehearsal uses: the shared machine sometimes drops a keep-alive connection to moto
    # mid-response (CI once failed on "use of closed network connection"); an API moto lacks still fails in seconds.
    config = {"region": "us-east-1", "endpoints": [{s: endpoint for s in SERVICES}],
              "skipCredentialsValidation": "true", "s3UsePathStyle": True, "maxRetries": "3",
              "defaultTags": {"tags": {"ManagedBy": "preflight"}}}
    with Provider(config, binary) as p:
        yield p
