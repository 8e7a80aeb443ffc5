"""The committed gRPC modules are exactly what grpcio-tools makes from the committed proto."""

from __future__ import annotations

from pathlib import Path

from preflight.tfprovider import protogen


def test_generated_modules_match_the_proto(tmp_path: Path):
    for fresh in protogen.generate(tmp_path):
        committed = protogen.PACKAGE_DIR / fresh.name
        assert committed.read_text() == fresh.read_text(), (
            f"{committed.name} is stale: run `python -m preflight.tfprovider.protogen`")


def test_proto_declares_the_rpcs_the_client_calls():
    from preflight.tfprovider import tfplugin5_pb2 as pb

    service = pb.DESCRIPTOR.services_by_name["Provider"]
    assert service.full_name == "tfplugin5.Provider"
    assert sorted(service.methods_by_name) == sorted([
        "GetSchema", "PrepareProviderConfig", "ValidateResourceTypeConfig", "ValidateDataSourceConfig",
        "UpgradeResourceState", "Configure", "ReadResource", "PlanResourceChange", "ApplyResourceChange",
        "ReadDataSource", "Stop"])
