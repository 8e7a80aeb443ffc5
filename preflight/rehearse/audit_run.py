"""Run the deployed audit function as deployed: its uploaded zip, its environment, its role, against the moto account.

Serves the audit control (CIS 1.4, Security Hub IAM.4, Prowler iam_no_root_access_key). moto cannot run Lambda
without Docker, so the zip moto stored for the function is unpacked and its handler is called in a separate
interpreter that sees only that zip and the Python runtime's boto3 (`-I`: no PYTHONPATH, no working directory), with
the function's environment variables and the temporary credentials of its execution role (sts:AssumeRole, as
Lambda does). Every request that interpreter sends is checked to be loopback before it leaves.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from typing import Any

from preflight.rehearse.world import REGION, World

# Runs inside the separate interpreter. Refuses any request whose URL is not loopback (and records every URL), then
# calls the handler the function is configured with and prints the outcome as one JSON line.
_RUNNER = r"""
import importlib, ipaddress, json, sys, urllib.parse
sys.path.insert(0, sys.argv[1])
import botocore.httpsession

urls = []
_send = botocore.httpsession.URLLib3Session.send

def _loopback(url):
    host = urllib.parse.urlparse(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False

def send(self, request):
    urls.append(request.url)
    if not _loopback(request.url):
        raise RuntimeError("refused a request off loopback: " + request.url)
    return _send(self, request)

botocore.httpsession.URLLib3Session.send = send
module_name, _, function_name = sys.argv[2].rpartition(".")
module = importlib.import_module(module_name)
outcome = {"module_file": module.__file__}
try:
    outcome["result"] = getattr(module, function_name)({}, None)
except Exception as exc:
    outcome["error"] = f"{type(exc).__name__}: {exc}"
    outcome["summary"] = getattr(exc, "summary", None)
outcome["urls"] = urls
print("AUDIT-OUTCOME " + json.dumps(outcome, default=str))
"""


@dataclass(frozen=True)
class AuditOutcome:
    status: str            # the summary's status (PASS, FAIL, WARN, ERROR), or "NOT RUN"
    findings: list[str]    # the per-account messages
    error: str | None      # the handler's exception, or why it could not run
    urls: list[str]
    module_file: str = ""


def stored_zip(function_name: str, account_id: str, region: str = REGION) -> bytes:
    """The zip moto stored at CreateFunction (moto's get_function points Code.Location at a public S3 host name,
    which is off loopback, so the in-process server's own copy is read instead)."""
    from moto.awslambda.models import lambda_backends

    return lambda_backends[account_id][region].get_function(function_name).code_bytes


def run_deployed_function(world: World, function_name: str, code: bytes, *, timeout: float = 120.0) -> AuditOutcome:
    lam = world.client("lambda")
    config = lam.get_function_configuration(FunctionName=function_name)
    creds = world.client("sts").assume_role(RoleArn=config["Role"], RoleSessionName=function_name)["Credentials"]
    with tempfile.TemporaryDirectory(prefix="rehearse-lambda-") as tmp:
        with zipfile.ZipFile(io.BytesIO(code)) as archive:
            archive.extractall(tmp)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            **config.get("Environment", {}).get("Variables", {}),
            "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": creds["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
            "AWS_SESSION_TOKEN": creds["SessionToken"],
            # Lambda's runtime reaches AWS through its endpoints; here every service is the moto server.
            "AWS_ENDPOINT_URL": world.endpoint_url,
            "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "AWS_LAMBDA_FUNCTION_NAME": function_name,
        }
        proc = subprocess.run([sys.executable, "-I", "-c", _RUNNER, tmp, config["Handler"]], env=env, cwd=tmp,
                              capture_output=True, text=True, timeout=timeout, check=False)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("AUDIT-OUTCOME ")), None)
    if line is None:
        return AuditOutcome("NOT RUN", [], f"the handler did not report (exit {proc.returncode}): "
                            f"{proc.stderr.strip()[-800:]}", [])
    outcome: dict[str, Any] = json.loads(line.removeprefix("AUDIT-OUTCOME "))
    summary = outcome.get("result") or outcome.get("summary") or {}
    findings = [a.get("message", "") for a in summary.get("accounts", [])]
    return AuditOutcome(status=summary.get("status", "NOT RUN"), findings=findings, error=outcome.get("error"),
                        urls=outcome.get("urls", []), module_file=outcome.get("module_file", ""))


__all__ = ["AuditOutcome", "run_deployed_function", "stored_zip"]
