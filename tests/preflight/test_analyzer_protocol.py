"""Protocol tests of preflight.analyzer against a fixture pack started as the engine starts it.

Serves every control: these prove that what the pack sees (inputs vs outputs, unknowns, secrets, parents, property
dependencies, providers, stack config and tags, policy config) and what preflight reports back (levels, URNs,
messages, failures) match the engine, independently of the real program and pack.
"""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

import pytest
from pulumi.runtime.proto import analyzer_pb2

from preflight.analyzer import (
    EngineServer,
    PolicyPackError,
    PolicyPackProcess,
    PolicyPackSpec,
    StackContext,
    Violation,
    _violation,
    analyze,
    load_pack_manifest,
    pack_interpreter,
)
from preflight.errors import PreflightError
from preflight.model import UNKNOWN, RecordedResource
from tests.preflight import fixture_stack as fx

PACKS = Path(__file__).parent / "fixtures" / "packs"
FIXTURE_PACK = PolicyPackSpec(PACKS / "fixture_pack")
CTX = StackContext(project=fx.PROJECT, stack=fx.STACK, tags={"pulumi:project": fx.PROJECT})


def _verdicts(violations: tuple[Violation, ...]) -> list[tuple[str, str, str, str]]:
    return [(v.policy, v.enforcement, v.urn, v.message) for v in violations]


def test_analyze_compliant_baseline_no_violations() -> None:
    result = analyze([FIXTURE_PACK], fx.baseline(), CTX)

    assert result.violations == ()
    assert result.resources_analyzed == 7
    pack = result.packs[0]
    assert (pack.name, pack.version) == ("fixture-pack", "1.2.3")
    # The pack declares seven policies and gets every one configured, schema defaults filled in.
    assert pack.config == {
        "fixture-alarm-period": {"enforcementLevel": "mandatory", "maxPeriodSeconds": 300},
        "fixture-content-known": {"enforcementLevel": "mandatory"},
        "fixture-explode": {"enforcementLevel": "mandatory"},
        "fixture-identity": {"enforcementLevel": "advisory"},
        "fixture-scp-attached": {"enforcementLevel": "mandatory"},
        "fixture-trail-logging": {"enforcementLevel": "advisory"},
        "fixture-trail-multi-region": {"enforcementLevel": "advisory"},
    }
    # pulumi_policy 1.21 does not implement Handshake; the engine tolerates UNIMPLEMENTED and so does preflight.
    assert pack.handshake_implemented is False


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        pytest.param(
            {"alarm_period": 600},
            [("fixture-alarm-period", "mandatory", fx.ALARM_URN, "alarm has period 600 s; expected at most 300 s.")],
            id="resource-policy-sees-inputs"),
        pytest.param(
            {"multi_region": False},
            [("fixture-trail-multi-region", "advisory", fx.TRAIL_URN,
              "trail is not multi-region; expected isMultiRegionTrail true.")],
            id="advisory-level-kept"),
        pytest.param(
            {"attached": False},
            [("fixture-scp-attached", "mandatory", fx.SCP_URN,
              "guardrails-scp is attached to nothing; expected a PolicyAttachment whose policyId depends on it.")],
            id="stack-policy-urn-from-diagnostic"),
        pytest.param(
            {"scp_content": UNKNOWN},
            # The SDK turns an unknown value into an advisory diagnostic and names its own version (0.0.1).
            [("fixture-content-known", "advisory", fx.SCP_URN,
              "can't run policy 'fixture-content-known' from policy pack 'fixture-pack@v0.0.1' during preview: "
              "string value at .content can't be known during preview")],
            id="unknown-sentinel-reaches-pack-as-unknown"),
    ],
)
def test_analyze_one_change_expected_violation(change: dict[str, object], expected: list[tuple[str, ...]]) -> None:
    result = analyze([FIXTURE_PACK], fx.baseline(**change), CTX)  # type: ignore[arg-type]

    assert _verdicts(result.violations) == expected


def test_analyze_stack_context_reaches_pack() -> None:
    ctx = StackContext(project=fx.PROJECT, stack=fx.STACK, config={"fixture:reportIdentity": "true"},
                       tags={"pulumi:project": fx.PROJECT})

    result = analyze([FIXTURE_PACK], fx.baseline(), ctx)

    # PULUMI_CONFIG / PULUMI_PROJECT / PULUMI_STACK / PULUMI_DRY_RUN at start, tags through ConfigureStack, the
    # provider resolved from the "<urn>::<id>" reference, and every resource (the provider too) in AnalyzeStack.
    assert _verdicts(result.violations) == [(
        "fixture-identity", "advisory", "",
        f"project={fx.PROJECT} stack={fx.STACK} dry_run=True tag={fx.PROJECT} provider={fx.PROVIDER_URN} "
        f"resources=7")]


def test_analyze_state_mode_skips_providers() -> None:
    ctx = StackContext(project=fx.PROJECT, stack=fx.STACK, config={"fixture:reportIdentity": "true"})

    result = analyze([FIXTURE_PACK], fx.baseline(), ctx, mode="state")

    assert result.resources_analyzed == 6
    assert [v.message.rsplit(" ", 1)[-1] for v in result.violations] == ["resources=6"]


def _write(tmp_path: Path, config: object) -> Path:
    path = tmp_path / "policy-config.json"
    path.write_text(json.dumps(config) if not isinstance(config, str) else config, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        pytest.param({"fixture-alarm-period": "advisory"},
                     [("fixture-alarm-period", "advisory", fx.ALARM_URN,
                       "alarm has period 600 s; expected at most 300 s.")], id="level-string-downgrades"),
        pytest.param({"fixture-alarm-period": {"maxPeriodSeconds": 900}}, [], id="property-overrides-default"),
        pytest.param({"fixture-alarm-period": {"enforcementLevel": "disabled"}}, [], id="disabled-does-not-run"),
        pytest.param({"all": "disabled"}, [], id="all-disables-every-policy"),
        pytest.param({"all": "advisory", "fixture-alarm-period": "mandatory"},
                     [("fixture-alarm-period", "mandatory", fx.ALARM_URN,
                       "alarm has period 600 s; expected at most 300 s.")], id="policy-entry-beats-all"),
        pytest.param({"fixture-alarm-period": "remediate"},
                     [("fixture-alarm-period", "mandatory", fx.ALARM_URN,
                       "alarm has period 600 s; expected at most 300 s.")], id="remediate-reported-mandatory"),
    ],
)
def test_analyze_policy_config_applied(tmp_path: Path, config: object, expected: list[tuple[str, ...]]) -> None:
    spec = PolicyPackSpec(FIXTURE_PACK.path, _write(tmp_path, config))

    result = analyze([spec], fx.baseline(alarm_period=600), CTX)

    assert _verdicts(result.violations) == expected


@pytest.mark.parametrize(
    ("config", "message"),
    [
        pytest.param({"fixture-alarm-period": {"maxPeriodSeconds": 5}},
                     "validating policy config {file} for pack 'fixture-pack':\n"
                     "  fixture-alarm-period: maxPeriodSeconds: 5 is less than the minimum of 10",
                     id="schema-minimum"),
        pytest.param({"fixture-alarm-period": {"maxPeriodSeconds": "300"}},
                     "validating policy config {file} for pack 'fixture-pack':\n"
                     "  fixture-alarm-period: maxPeriodSeconds: '300' is not of type 'integer'",
                     id="schema-type"),
        pytest.param({"fixture-alarm-perod": "advisory"},
                     "policy config {file}: 'fixture-alarm-perod' is not a policy of pack 'fixture-pack'; its "
                     "policies are: fixture-alarm-period, fixture-content-known, fixture-explode, fixture-identity, "
                     "fixture-scp-attached, fixture-trail-logging, fixture-trail-multi-region", id="unknown-policy"),
        pytest.param({"fixture-alarm-period": "warn"},
                     "policy config {file}: 'fixture-alarm-period' has enforcement level 'warn'; allowed: advisory, "
                     "mandatory, remediate, disabled", id="bad-level"),
        pytest.param({"fixture-alarm-period": 3},
                     "policy config {file}: 'fixture-alarm-period' is 3; it must be an enforcement level string or "
                     "an object", id="bad-entry"),
        pytest.param("{not json", "policy config {file} is not valid JSON: Expecting property name enclosed in "
                     "double quotes: line 1 column 2 (char 1)", id="not-json"),
    ],
)
def test_analyze_bad_policy_config_error(tmp_path: Path, config: object, message: str) -> None:
    path = _write(tmp_path, config)

    with pytest.raises(PreflightError) as excinfo:
        analyze([PolicyPackSpec(FIXTURE_PACK.path, path)], fx.baseline(), CTX)

    assert str(excinfo.value) == message.format(file=path)


def test_analyze_logging_off_advisory_violation() -> None:
    result = analyze([FIXTURE_PACK], fx.baseline(logging=False), CTX)

    assert _verdicts(result.violations) == [
        ("fixture-trail-logging", "advisory", fx.TRAIL_URN, "trail has logging off; expected enableLogging true.")]
    assert result.packs[0].remediations == ()


def test_analyze_remediate_level_inputs_remediated_before_analyze(tmp_path: Path) -> None:
    spec = PolicyPackSpec(FIXTURE_PACK.path, _write(tmp_path, {"fixture-trail-logging": "remediate"}))

    result = analyze([spec], fx.baseline(logging=False), CTX)

    # As in the engine: Remediate rewrites the inputs, and Analyze then judges the remediated resource.
    assert result.violations == ()
    assert [(r.policy, r.urn, r.properties) for r in result.packs[0].remediations] == [
        ("fixture-trail-logging", fx.TRAIL_URN, {"isMultiRegionTrail": True, "enableLogging": True})]


def test_analyze_policy_raises_error() -> None:
    urn = f"urn:pulumi:{fx.STACK}::{fx.PROJECT}::fixture:index:Explode::boom"
    resources = [*fx.baseline(), RecordedResource(urn=urn, type="fixture:index:Explode", name="boom", custom=True,
                                                 id=None, parent=fx.STACK_URN, inputs={}, outputs={})]

    with pytest.raises(PolicyPackError) as excinfo:
        analyze([FIXTURE_PACK], resources, CTX)

    # A policy that raises is a failed check, never a pass: the engine fails the preview the same way.
    assert str(excinfo.value).splitlines()[0] == (
        f"policy pack {FIXTURE_PACK.path.resolve()} failed Analyze of {urn}: UNKNOWN: Exception calling application: "
        f"policy bug on boom")


def test_analyze_pack_crash_mid_run_error() -> None:
    with pytest.raises(PolicyPackError) as excinfo:
        analyze([PolicyPackSpec(PACKS / "crash_pack")], fx.baseline(), CTX)

    assert str(excinfo.value) == (
        f"policy pack {(PACKS / 'crash_pack').resolve()} crashed during Analyze of {fx.TRAIL_URN} (exit status 3)\n"
        f"  pack stderr:\n    crash-pack: giving up on {fx.TRAIL_URN}")


def test_analyze_pack_fails_to_start_error() -> None:
    with pytest.raises(PolicyPackError) as excinfo:
        analyze([PolicyPackSpec(PACKS / "broken_pack")], fx.baseline(), CTX)

    first, *rest = str(excinfo.value).splitlines()
    assert first == f"policy pack {(PACKS / 'broken_pack').resolve()} exited before printing its port (exit status 1)"
    assert rest[-1].strip() == "ModuleNotFoundError: No module named 'rootkey_pack_that_does_not_exist'"


def test_analyze_pack_dies_after_port_error() -> None:
    with pytest.raises(PolicyPackError) as excinfo:
        analyze([PolicyPackSpec(PACKS / "port_then_exit_pack")], fx.baseline(), CTX)

    assert str(excinfo.value) == (
        f"policy pack {(PACKS / 'port_then_exit_pack').resolve()} exited after printing port 1 (exit status 4)")


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        pytest.param(None, "failed to load Pulumi policy project located at '{dir}': {dir}/PulumiPolicy.yaml does "
                           "not exist", id="no-manifest"),
        pytest.param("runtime: nodejs\n", "{dir}/PulumiPolicy.yaml: runtime 'nodejs' is not supported by preflight; "
                                          "only 'python' packs can be run", id="nodejs"),
        pytest.param("version: 1.0.0\n", "{dir}/PulumiPolicy.yaml: 'runtime' is required (for this pack: python)",
                     id="no-runtime"),
        pytest.param("runtime: [python\n", None, id="bad-yaml"),
    ],
)
def test_analyze_bad_pack_manifest_error(tmp_path: Path, manifest: str | None, message: str | None) -> None:
    pack = tmp_path / "pack"
    pack.mkdir()
    if manifest is not None:
        (pack / "PulumiPolicy.yaml").write_text(manifest, encoding="utf-8")

    with pytest.raises(PolicyPackError) as excinfo:
        analyze([PolicyPackSpec(pack)], fx.baseline(), CTX)

    if message is None:
        assert str(excinfo.value).startswith(f"{pack}/PulumiPolicy.yaml is not valid YAML: ")
    else:
        assert str(excinfo.value) == message.format(dir=pack)


def test_analyze_missing_pack_dir_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyPackError) as excinfo:
        analyze([PolicyPackSpec(tmp_path / "nope")], fx.baseline(), CTX)

    assert str(excinfo.value) == f"policy pack directory {tmp_path / 'nope'} does not exist"


def test_analyze_two_packs_both_report() -> None:
    result = analyze([FIXTURE_PACK, FIXTURE_PACK], fx.baseline(multi_region=False), CTX)

    assert [(v.pack, v.policy) for v in result.violations] == [
        ("fixture-pack", "fixture-trail-multi-region"), ("fixture-pack", "fixture-trail-multi-region")]


@pytest.mark.parametrize("venv_exists", [True, False], ids=["venv-present", "venv-absent"])
def test_pack_interpreter_virtualenv_option_used_when_present(tmp_path: Path, venv_exists: bool) -> None:
    (tmp_path / "PulumiPolicy.yaml").write_text(
        "runtime:\n  name: python\n  options:\n    virtualenv: venv\n", encoding="utf-8")
    python = tmp_path / "venv" / "bin" / "python"
    if venv_exists:
        python.parent.mkdir(parents=True)
        python.symlink_to(sys.executable)

    chosen = pack_interpreter(tmp_path, load_pack_manifest(tmp_path))

    # Like the pulumi-analyzer-policy-python shim when the virtualenv exists; otherwise preflight's own
    # interpreter (the CLI would create the virtualenv first).
    assert chosen == (str(python) if venv_exists else sys.executable)


def test_pack_interpreter_relative_executable_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # `PATH=.venv/bin:$PATH python -m preflight` gives a relative sys.executable; the pack starts in its own directory.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "executable", "venv/bin/python")
    (tmp_path / "PulumiPolicy.yaml").write_text("runtime: python\n", encoding="utf-8")

    assert pack_interpreter(tmp_path, load_pack_manifest(tmp_path)) == str(tmp_path / "venv" / "bin" / "python")


def _pack_run_with_sigint_ignored() -> PolicyPackProcess:
    """The fixture pack started, connected and stopped while this process ignores SIGINT, as a background job does."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with EngineServer(fx.STACK_URN) as engine:
            pack = PolicyPackProcess(FIXTURE_PACK, engine, CTX)
            pack.spawn()
            pack.connect()
            pack.close()
    finally:
        signal.signal(signal.SIGINT, previous)
    return pack


def test_pack_process_sigint_ignored_by_parent_pack_still_stops_on_sigint() -> None:
    # CI steps and nohup start background jobs with SIGINT ignored; the pack must still stop on the SIGINT that
    # ends the SDK's server loop (exit 0), not sit out the grace period and be killed.
    pack = _pack_run_with_sigint_ignored()
    assert pack._proc is not None and pack._proc.returncode == 0


def test_pack_process_started_without_a_preexec_hook_when_sigint_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    # A preexec hook makes subprocess fork in full, and in a process with gRPC channels (the engine's server here)
    # gRPC's fork handlers restart a poller in the child whose descriptor close_fds then closes: the pack aborted
    # before exec (exit -6, "epoll_wait error: Bad file descriptor") in about one CI run in two under `nohup`.
    import subprocess

    import preflight.analyzer as analyzer

    hooks: list[object] = []
    popen = subprocess.Popen

    def recording_popen(*args: object, **kwargs: object) -> subprocess.Popen[bytes]:
        hooks.append(kwargs.get("preexec_fn"))
        return popen(*args, **kwargs)  # type: ignore[call-overload, no-any-return]

    monkeypatch.setattr(analyzer.subprocess, "Popen", recording_popen)
    _pack_run_with_sigint_ignored()
    assert hooks == [None]


class _RecordingStub:
    """Records every RPC a pack receives, in order, and forwards it."""

    def __init__(self, stub: object, calls: list[str]) -> None:
        self._stub, self._calls = stub, calls

    def __getattr__(self, name: str) -> object:
        method = getattr(self._stub, name)

        def recorded(*args: object, **kwargs: object) -> object:
            self._calls.append(name)
            return method(*args, **kwargs)
        return recorded


def test_analyze_engine_call_order_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real_connect = PolicyPackProcess.connect

    def connect(self: PolicyPackProcess, *args: object, **kwargs: object) -> object:
        out = real_connect(self, *args, **kwargs)  # type: ignore[arg-type]
        self.stub = _RecordingStub(self.stub, calls)  # type: ignore[assignment]
        return out

    monkeypatch.setattr(PolicyPackProcess, "connect", connect)

    result = analyze([FIXTURE_PACK], fx.baseline(), CTX)

    # As the engine: Handshake, ConfigureStack, GetAnalyzerInfo, Configure, then per resource the remediation pass
    # and Analyze, then AnalyzeStack.
    assert [c for c in calls if c != "Remediate"] == (
        ["Handshake", "ConfigureStack", "GetAnalyzerInfo", "Configure"]
        + ["Analyze"] * result.resources_analyzed + ["AnalyzeStack"])
    assert calls.index("Configure") < calls.index("Remediate") < calls.index("AnalyzeStack")


@pytest.mark.parametrize(("level", "expected"), [
    pytest.param(analyzer_pb2.ADVISORY, "advisory", id="advisory"),
    pytest.param(analyzer_pb2.MANDATORY, "mandatory", id="mandatory"),
    pytest.param(analyzer_pb2.REMEDIATE, "mandatory", id="remediate-as-engine"),
    pytest.param(97, "mandatory", id="unknown-level-fails-closed"),
])
def test_violation_enforcement_level_mapped(level: int, expected: str) -> None:
    diag = analyzer_pb2.AnalyzeDiagnostic(policyName="p", message="m", enforcementLevel=level)  # type: ignore[arg-type]

    assert _violation(diag, fx.TRAIL_URN, "pack", "1.0.0").enforcement == expected
