"""The pack inside pulumi_policy's own analyzer servicer (in process): unknown values stay mandatory violations instead
of the SDK's "can't run policy during preview" advisory, policy config reaches the validators, and guard-only stacks
are reported not applicable. The full engine protocol (a pack subprocess over gRPC) is covered in tests/preflight."""

from __future__ import annotations

from typing import Any, Mapping

import pytest
from google.protobuf import struct_pb2
from pulumi.runtime import proto
from pulumi_policy import EnforcementLevel
from pulumi_policy.policy import _PolicyAnalyzerServicer
from rootkey_pack import sdk_cache
from rootkey_pack.pack import PACK_NAME, POLICIES

from tests.policypack import stackkit as k


def servicer() -> _PolicyAnalyzerServicer:
    sdk_cache.install()  # as policypack/__main__.py does, so these tests run the pack as deployed
    return _PolicyAnalyzerServicer(PACK_NAME, "0.1.0", POLICIES, EnforcementLevel.MANDATORY)


def _struct(props: Mapping[str, Any]) -> struct_pb2.Struct:
    out = struct_pb2.Struct()
    out.update(dict(props))
    return out


def stack_request(specs: Mapping[str, k.Spec]) -> Any:
    resources = []
    for name, spec in specs.items():
        prop_deps = {
            prop: proto.AnalyzerPropertyDependencies(urns=[k.urn_of(specs, t) for t in targets if t in specs])
            for prop, targets in spec.links.items()
        }
        resources.append(proto.AnalyzerResource(
            type=spec.type, properties=_struct(spec.props), urn=k.urn_of(specs, name), name=spec.name,
            parent=k.urn_of(specs, spec.parent) if spec.parent else "",
            dependencies=sorted({k.urn_of(specs, t) for ts in spec.links.values() for t in ts if t in specs}),
            propertyDependencies=prop_deps,
        ))
    return proto.AnalyzeStackRequest(resources=resources)


def configure(srv: _PolicyAnalyzerServicer, config: Mapping[str, Mapping[str, Any]]) -> None:
    request = proto.ConfigureAnalyzerRequest()
    for policy, props in config.items():
        request.policyConfig[policy].CopyFrom(proto.PolicyConfig(enforcementLevel=proto.MANDATORY, properties=_struct(props)))
    srv.Configure(request, None)


def diagnostics(response: Any) -> list[tuple[str, int, str]]:
    return [(d.policyName, d.enforcementLevel, d.message.split("\n", 1)[1]) for d in response.diagnostics]


@pytest.fixture(autouse=True)
def _no_stack_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PULUMI_STACK", "PULUMI_PROJECT", "PULUMI_DRY_RUN"):
        monkeypatch.delenv(name, raising=False)


def test_servicer_baseline_stack_has_no_diagnostics() -> None:
    response = servicer().AnalyzeStack(stack_request(k.baseline()), None)
    assert diagnostics(response) == []
    assert list(response.not_applicable) == []


def test_servicer_unknown_scp_content_stays_mandatory() -> None:
    specs = k.baseline()
    specs["deny-root-access-keys-scp"].props["content"] = k.UNKNOWN
    found = diagnostics(servicer().AnalyzeStack(stack_request(specs), None))
    assert [(name, level) for name, level, _ in found] == [("root-access-key-creation-denied", proto.MANDATORY)]
    assert found[0][2].startswith(f"{k.urn('deny-root-access-keys-scp')} has content unknown during preview")
    assert not any("can't run policy" in message for _, _, message in found)


def test_servicer_unknown_value_relaxed_by_config() -> None:
    specs = k.baseline()
    specs["deny-root-access-keys-scp"].props["content"] = k.UNKNOWN
    srv = servicer()
    configure(srv, {"root-access-key-creation-denied": {"allowUnknownValues": True}})
    assert diagnostics(srv.AnalyzeStack(stack_request(specs), None)) == []


def test_servicer_guard_only_stack_not_applicable() -> None:
    specs = k.baseline()
    del specs["deny-root-access-keys-scp"]
    srv = servicer()
    configure(srv, {"root-access-key-creation-denied": {"stacks": ["security"]}})
    response = srv.AnalyzeStack(stack_request(specs), None)
    assert diagnostics(response) == []
    assert [(n.policy_name, n.reason) for n in response.not_applicable] == [
        ("root-access-key-creation-denied", "stack 'dev' is not in this policy's 'stacks' config, so it only gets the guards")]


def test_servicer_analyze_guard_reports_with_resource_urn() -> None:
    urn = "urn:pulumi:other::proj::aws:cloudtrail/trail:Trail::org-trail"
    request = proto.AnalyzeRequest(type="aws:cloudtrail/trail:Trail", urn=urn, name="org-trail",
                                   properties=_struct({"name": "org-trail", "isMultiRegionTrail": True, "enableLogging": False,
                                                       "cloudWatchLogsGroupArn": k.UNKNOWN, "cloudWatchLogsRoleArn": k.UNKNOWN}))
    response = servicer().Analyze(request, None)
    assert [(d.policyName, d.enforcementLevel, d.urn) for d in response.diagnostics] == [
        ("trail-keeps-logging-multi-region", proto.MANDATORY, urn)]


def test_servicer_converts_each_resource_at_most_once_per_request(monkeypatch: pytest.MonkeyPatch) -> None:
    srv = servicer()
    real = sdk_cache._REAL["deserialize_properties"]
    converted: list[Any] = []

    def counting(props: Any, *args: Any) -> Any:
        converted.append(props)
        return real(props, *args)

    monkeypatch.setitem(sdk_cache._REAL, "deserialize_properties", counting)
    specs = k.baseline()
    stack_policies = sum(1 for p in POLICIES if p.__class__.__name__ == "StackValidationPolicy")
    assert diagnostics(srv.AnalyzeStack(stack_request(specs), None)) == []
    # Without the cache: every resource once per stack policy; with it, only resources a policy reads, once.
    assert 0 < len(converted) <= len(specs) < len(specs) * stack_policies


def test_servicer_memo_ends_with_the_request() -> None:
    srv = servicer()
    srv.AnalyzeStack(stack_request(k.baseline()), None)
    assert sdk_cache._tables() is None


def test_servicer_stack_view_shared_within_a_request_only() -> None:
    from rootkey_pack.values import StackView

    args = k.stack_args(k.baseline())
    with sdk_cache.request_scope():
        inside = StackView.build(args.resources, types=("aws:sns/topic:Topic",))
        assert StackView.build(args.resources, types=("aws:sns/topic:Topic",)) is inside
        assert StackView.build(args.resources, types=("aws:kms/key:Key",)) is not inside
    assert StackView.build(args.resources, types=("aws:sns/topic:Topic",)) is not inside
