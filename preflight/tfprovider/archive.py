"""Pulumi assets and archives -> the zip file a Terraform resource reads (the Lambda function's `code`).

Mapping layer. Under Pulumi's bridge, `aws.lambda_.Function(code=pulumi.AssetArchive({...}))` reaches the provider as
`filename` = a zip the bridge wrote, so the provider uploads exactly the archive's contents. Here the same archive,
in the engine's wire encoding (signature objects) or as `pulumi.asset` objects, is written as a zip with fixed
timestamps and modes in sorted order, so the same sources give the same bytes and the same `source_code_hash`
(base64 SHA-256, the encoding Lambda reports as CodeSha256).

Relative paths resolve against `root` (the project directory, where Pulumi runs the program).
"""

from __future__ import annotations

import base64
import hashlib
import io
import urllib.parse
import zipfile
from pathlib import Path
from typing import Any

from preflight.tfprovider.bridge import ARCHIVE_SIG, ASSET_SIG, SIG_KEY

_EPOCH = (1980, 1, 1, 0, 0, 0)


class ArchiveError(ValueError):
    pass


def _wire(value: Any) -> Any:
    """pulumi.asset objects -> their wire encoding; wire-encoded values pass through."""
    try:
        from pulumi import asset as pa
    except ImportError:  # pragma: no cover - pulumi is a project dependency
        return value
    if isinstance(value, pa.FileAsset):
        return {SIG_KEY: ASSET_SIG, "path": str(value.path)}
    if isinstance(value, pa.StringAsset):
        return {SIG_KEY: ASSET_SIG, "text": value.text}
    if isinstance(value, pa.RemoteAsset):
        return {SIG_KEY: ASSET_SIG, "uri": value.uri}
    if isinstance(value, pa.AssetArchive):
        return {SIG_KEY: ARCHIVE_SIG, "assets": {k: _wire(v) for k, v in value.assets.items()}}
    if isinstance(value, pa.FileArchive):
        return {SIG_KEY: ARCHIVE_SIG, "path": str(value.path)}
    if isinstance(value, pa.RemoteArchive):
        return {SIG_KEY: ARCHIVE_SIG, "uri": value.uri}
    return value


def is_archive(value: Any) -> bool:
    value = _wire(value)
    return isinstance(value, dict) and value.get(SIG_KEY) == ARCHIVE_SIG


def _local_path(entry: dict, root: Path) -> Path:
    if "path" in entry:
        path = Path(entry["path"])
    elif "uri" in entry:
        parsed = urllib.parse.urlparse(entry["uri"])
        if parsed.scheme != "file":
            # A remote archive would be fetched from outside loopback: refused.
            raise ArchiveError(f"remote asset {entry['uri']!r} is not supported (only local files)")
        path = Path(urllib.parse.unquote(parsed.path))
    else:
        raise ArchiveError(f"asset or archive without path, uri or text: {sorted(entry)}")
    return path if path.is_absolute() else root / path


def _add(zf: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=_EPOCH)
    info.external_attr = 0o644 << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, data)


def _collect(value: Any, root: Path, prefix: str, out: dict[str, bytes]) -> None:
    value = _wire(value)
    if not isinstance(value, dict) or value.get(SIG_KEY) not in (ASSET_SIG, ARCHIVE_SIG):
        raise ArchiveError(f"expected an asset or archive at {prefix or '/'}, got {type(value).__name__}")
    if value[SIG_KEY] == ASSET_SIG:
        if "text" in value:
            out[prefix] = value["text"].encode()
        else:
            path = _local_path(value, root)
            if not path.is_file():
                raise ArchiveError(f"asset file {path} does not exist")
            out[prefix] = path.read_bytes()
        return
    if "assets" in value:
        for name, member in value["assets"].items():
            _collect(member, root, f"{prefix}/{name}".lstrip("/") if prefix else name, out)
        return
    path = _local_path(value, root)
    if path.is_dir():
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            out[f"{prefix}/{file.relative_to(path).as_posix()}".lstrip("/")] = file.read_bytes()
    elif path.is_file() and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if not info.is_dir():
                    out[f"{prefix}/{info.filename}".lstrip("/")] = zf.read(info)
    else:
        raise ArchiveError(f"archive path {path} is neither a directory nor a zip file")


def zip_bytes(archive: Any, root: Path) -> bytes:
    """The archive as deterministic zip bytes."""
    files: dict[str, bytes] = {}
    _collect(archive, root, "", files)
    if not files:
        raise ArchiveError("the archive is empty")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name in sorted(files):
            _add(zf, name, files[name])
    return buffer.getvalue()


def write_zip(archive: Any, root: Path, out_dir: Path) -> tuple[Path, str]:
    """Write the archive's zip under `out_dir` (named by content); returns (path, base64 SHA-256)."""
    data = zip_bytes(archive, root)
    digest = hashlib.sha256(data).digest()
    path = out_dir / f"{digest.hex()[:16]}.zip"
    if not path.exists():
        path.write_bytes(data)
    return path, base64.b64encode(digest).decode()
