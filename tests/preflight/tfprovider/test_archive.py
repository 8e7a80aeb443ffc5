"""The Lambda `code` archive -> a deterministic zip and its base64 SHA-256."""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from pathlib import Path

import pulumi
import pytest

from preflight.tfprovider import archive
from preflight.tfprovider.bridge import ARCHIVE_SIG, ASSET_SIG, SIG_KEY


def _names(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


@pytest.fixture()
def package(tmp_path: Path) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "handler.py").write_text("def handler(e, c):\n    return 1\n")
    (tmp_path / "pkg" / "report.py").write_text("X = 1\n")
    return tmp_path


def test_zip_bytes_wire_and_sdk_archives_give_the_same_bytes(package: Path):
    wire = {SIG_KEY: ARCHIVE_SIG, "assets": {
        "audit/report.py": {SIG_KEY: ASSET_SIG, "path": "pkg/report.py"},
        "audit/handler.py": {SIG_KEY: ASSET_SIG, "path": "pkg/handler.py"}}}
    sdk = pulumi.AssetArchive({"audit/handler.py": pulumi.FileAsset("pkg/handler.py"),
                               "audit/report.py": pulumi.FileAsset("pkg/report.py")})
    assert archive.zip_bytes(wire, package) == archive.zip_bytes(sdk, package)
    assert _names(archive.zip_bytes(sdk, package)) == {
        "audit/handler.py": b"def handler(e, c):\n    return 1\n", "audit/report.py": b"X = 1\n"}


@pytest.mark.parametrize("value, expected", [
    (pulumi.FileArchive("pkg"), {"handler.py", "report.py"}),
    (pulumi.AssetArchive({"lib": pulumi.FileArchive("pkg"), "x.txt": pulumi.StringAsset("x")}),
     {"lib/handler.py", "lib/report.py", "x.txt"}),
])
def test_zip_bytes_directories_and_nesting(package: Path, value, expected):
    assert set(_names(archive.zip_bytes(value, package))) == expected


def test_write_zip_returns_lambda_style_hash(package: Path, tmp_path: Path):
    out = tmp_path / "out"
    out.mkdir()
    path, digest = archive.write_zip(pulumi.FileArchive("pkg"), package, out)
    assert digest == base64.b64encode(hashlib.sha256(path.read_bytes()).digest()).decode()


@pytest.mark.parametrize("value, message", [
    (pulumi.AssetArchive({"a.py": pulumi.RemoteAsset("https://example.com/a.py")}),
     "remote asset 'https://example.com/a.py' is not supported (only local files)"),
    (pulumi.AssetArchive({"a.py": pulumi.FileAsset("missing.py")}), "asset file {root}/missing.py does not exist"),
    (pulumi.AssetArchive({}), "the archive is empty"),
    (pulumi.FileArchive("pkg/handler.py"), "archive path {root}/pkg/handler.py is neither a directory nor a zip file"),
])
def test_zip_bytes_bad_archive_is_an_error(package: Path, value, message):
    with pytest.raises(archive.ArchiveError) as info:
        archive.zip_bytes(value, package)
    assert str(info.value) == message.format(root=package)
