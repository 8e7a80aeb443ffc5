"""The provider-backed program host (preflight.provider_engine) and the rehearsal's loopback guards.

The unit cases use a fake provider; the --provider-check cases need terraform-provider-aws and are skipped, with
the reason in the summary, when its binary is absent.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from preflight import cli
from preflight.model import RecordedResource
from preflight.provider_engine import destroy_order, provider_aws_config, refusing_endpoint
from preflight.rehearse.world import EgressRefused, EgressTrap, RequestLog, World

ROOT = Path(__file__).resolve().parents[2]
BROKEN = Path(__file__).resolve().parent / "fixtures" / "provider_broken"
NOOP_PACK = ROOT / "bench" / "noop_pack"


def _provider_binary_reason() -> str | None:
    try:
        from preflight.tfprovider import PluginError, find_binary
    except ImportError as exc:  # pragma: no cover - the client is part of the tree
        return f"preflight.tfprovider cannot be imported: {exc}"
    try:
        find_binary()
    except PluginError as exc:
        return f"terraform-provider-aws binary absent: {exc}"
    return None


needs_provider = pytest.mark.skipif(_provider_binary_reason() is not None, reason=_provider_binary_reason() or "")


def _record(name: str, deps: tuple[str, ...] = (), prop_deps: dict | None = None, id: str | None = "id") -> RecordedResource:
    return RecordedResource(urn=f"urn:pulumi:s::p::aws:x/y:Y::{name}", type="aws:x/y:Y", name=name, custom=True,
                            id=id, parent=None, inputs={}, outputs={},
                            dependencies=tuple(f"urn:pulumi:s::p::aws:x/y:Y::{d}" for d in deps),
                            property_dependencies={k: tuple(f"urn:pulumi:s::p::aws:x/y:Y::{d}" for d in v)
                                                   for k, v in (prop_deps or {}).items()})


@pytest.mark.parametrize(("created", "expected"), [
    # created in dependency order: the last created goes first
    ([_record("a"), _record("b", ("a",)), _record("c", ("b",))], ["c", "b", "a"]),
    # a dependency through a property only still orders the delete
    ([_record("a"), _record("b", prop_deps={"x": ("a",)})], ["b", "a"]),
    # created out of order (parallel creates): the dependent still goes first
    ([_record("b", ("a",)), _record("a"), _record("c")], ["c", "b", "a"]),
    # a resource that never got an id (failed create) is not deleted
    ([_record("a"), _record("b", ("a",), id=None)], ["a"]),
])
def test_destroy_order_dependents_first(created, expected):
    assert [r.name for r in destroy_order(created)] == expected


def test_provider_aws_config_every_service_on_the_endpoint():
    aws = provider_aws_config({"aws:region": "eu-west-1"}, "http://127.0.0.1:5000", request_account_id=False)
    assert aws["region"] == "eu-west-1"
    assert set(aws["endpoints"][0].values()) == {"http://127.0.0.1:5000"}
    assert {"sts", "iam", "organizations", "lambda", "logs", "events"} <= set(aws["endpoints"][0])
    assert (aws["skipCredentialsValidation"], aws["skipRequestingAccountId"]) == ("true", "true")


def test_provider_aws_config_stack_endpoints_win():
    stack = {"aws:endpoints": '[{"sts": "http://127.0.0.1:9"}]'}
    assert provider_aws_config(stack, "http://127.0.0.1:5000", request_account_id=True)["endpoints"] == stack["aws:endpoints"]


def test_refusing_endpoint_refuses_connections():
    with refusing_endpoint() as url:
        with pytest.raises(OSError):
            urllib.request.urlopen(url, timeout=5)


def test_egress_trap_records_a_request_for_a_public_host():
    with EgressTrap() as trap:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": trap.url}))
        with pytest.raises(urllib.error.HTTPError) as err:
            opener.open("http://sts.amazonaws.com/", timeout=5)
    assert err.value.code == 403
    assert trap.hits == ["GET http://sts.amazonaws.com/ HTTP/1.1"]


def test_guarded_client_refuses_a_public_endpoint_before_sending():
    world = World("https://sts.amazonaws.com", RequestLog())
    with pytest.raises(EgressRefused, match=r"^refused a request to https://sts\.amazonaws\.com/: only loopback"):
        world.client("sts").get_caller_identity()
    assert world.log.urls == [] and world.log.refused == ["https://sts.amazonaws.com/"]


@pytest.mark.parametrize("argv, message", [
    (["--provider-binary", "/x"], "error: --provider-binary and --endpoint-url need --provider-check\n"),
    (["--provider-check", "--endpoint-url", "https://sts.amazonaws.com"],
     "error: --endpoint-url 'https://sts.amazonaws.com' is not a loopback http(s) URL; no request may leave this "
     "machine\n"),
    (["--provider-check", "--stack-export", "x.json"],
     "error: --provider-check plans the program's resources; a --stack-export has no program to run\n"),
])
def test_cli_provider_options_refused(argv, message, capsys):
    assert cli.main(argv) == cli.EXIT_ERROR
    assert capsys.readouterr().err == message


@needs_provider
def test_provider_check_validation_error_names_the_resource(capsys):
    code = cli.main(["-C", str(BROKEN), "--provider-check", "--policy-pack", str(NOOP_PACK)])
    err = capsys.readouterr().err.splitlines()
    assert code == cli.EXIT_ERROR
    assert err[0] == "error: terraform-provider-aws refused 2 resource(s):"
    log_group = ("  aws:cloudwatch/logGroup:LogGroup 'broken-logs' (urn:pulumi:dev::provider-broken::"
                 "aws:cloudwatch/logGroup:LogGroup::broken-logs): ValidateResourceTypeConfig: retentionInDays: ")
    alarm = ("  aws:cloudwatch/metricAlarm:MetricAlarm 'broken-alarm' (urn:pulumi:dev::provider-broken::"
             "aws:cloudwatch/metricAlarm:MetricAlarm::broken-alarm): ValidateResourceTypeConfig: comparisonOperator: ")
    assert sorted(line.split("expected", 1)[0] for line in err[1:]) == [log_group, alarm]
    assert err[1].endswith("got 42") and err[2].endswith("got BiggerThan")


@needs_provider
def test_provider_check_default_program_passes_with_provider_defaults(tmp_path, capsys):
    export = tmp_path / "plan.json"
    code = cli.main(["-C", str(ROOT), "--provider-check", "--format", "json", "--export-state", str(export)])
    out = json.loads(capsys.readouterr().out)
    assert code == cli.EXIT_PASS
    assert [v["enforcement"] for v in out["violations"]] == ["advisory"]
    resources = json.loads(export.read_text())["deployment"]["resources"]
    topic = next(r for r in resources if r["type"] == "aws:sns/topic:Topic")
    trail = next(r for r in resources if r["type"] == "aws:cloudtrail/trail:Trail")
    # A provider default the program does not set, and a computed value left unknown for the apply.
    assert (topic["inputs"]["fifoTopic"], topic["inputs"]["contentBasedDeduplication"]) == (False, False)
    assert trail["outputs"]["arn"] == "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


class _FakeProvider:
    """Stands in for preflight.tfprovider.Provider: refuses one type, plans the rest with one default."""

    def __init__(self, refuse: str) -> None:
        self.refuse = refuse
        self.calls: list[tuple[str, str, str]] = []

    def check(self, token, name, inputs):
        self.calls.append(("check", token, name))
        if token == self.refuse:
            from preflight.tfprovider import ProviderError

            raise ProviderError(name, "ValidateResourceTypeConfig: retentionInDays: expected one of [1 3 5], got 42")
        return dict(inputs)

    def plan(self, token, name, inputs, prior=None):
        self.calls.append(("plan", token, name))
        return {**inputs, "id": "04da6b54-80e4-46f7-96ec-b56ff0331ba9", "arn": "04da6b54-80e4-46f7-96ec-b56ff0331ba9",
                "defaulted": False, "unset": None}


def test_provider_monitor_preview_refusal_named_and_others_planned():
    from preflight import engine
    from preflight.provider_engine import ProviderMonitor

    fake = _FakeProvider(refuse="aws:cloudwatch/logGroup:LogGroup")
    monitors = []

    def factory(*args):
        monitors.append(ProviderMonitor(fake, *args[:4], world=args[4] if len(args) > 4 else None))
        return monitors[0]

    records = engine.run_program(BROKEN, "dev", {}, preview=True, monitor_factory=factory)
    assert monitors[0].errors == [
        "aws:cloudwatch/logGroup:LogGroup 'broken-logs' (urn:pulumi:dev::provider-broken::aws:cloudwatch/logGroup:"
        "LogGroup::broken-logs): ValidateResourceTypeConfig: retentionInDays: expected one of [1 3 5], got 42"]
    topic = next(r for r in records if r.name == "fine-topic")
    # A known planned value the program left out is a provider default; unknowns and nulls are not inputs.
    assert topic.inputs == {"name": "fine-topic", "defaulted": False}
    assert topic.outputs == {"name": "fine-topic", "arn": "04da6b54-80e4-46f7-96ec-b56ff0331ba9", "defaulted": False}
    assert [c[0] for c in fake.calls if c[2] == "fine-topic"] == ["check", "plan"]
