"""The audit Lambda's code archive is the real `audit/` package, importable as Lambda imports the handler."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pulumi
import pytest

from components.audit import HANDLER, audit_archive
from tests.components.support import PROJECT_DIR, Registered

# The engine's wire signatures for archives and assets (sdk/go/common/resource/properties.go).
SIG = "4dabf18193072939515e22adb298388d"
ARCHIVE_SIG = "0def7320c3a5731c473e5ecbe6d01bc7"
ASSET_SIG = "c44067f5952c0a294b673a41bacd8c17"


def _zip_from_record(code: dict, dest: Path) -> Path:
    """Build the zip Lambda would receive from the recorded archive (paths relative to the project)."""
    assert code[SIG] == ARCHIVE_SIG
    with zipfile.ZipFile(dest, "w") as zf:
        for name, asset in sorted(code["assets"].items()):
            assert asset[SIG] == ASSET_SIG
            zf.write(PROJECT_DIR / asset["path"], name)
    return dest


def test_archive_recorded_code_contains_the_real_handler(baseline: Registered, tmp_path: Path) -> None:
    code = baseline.one("aws:lambda/function:Function").inputs["code"]
    assert "audit/handler.py" in code["assets"]
    assert code["assets"]["audit/handler.py"]["path"] == "audit/handler.py"
    assert not any("__pycache__" in name or name.endswith(".pyc") for name in code["assets"])
    # Every source file of the package ships, so a handler import never misses a sibling module.
    shipped = {name.removeprefix("audit/") for name in code["assets"]}
    on_disk = {p.relative_to(PROJECT_DIR / "audit").as_posix() for p in (PROJECT_DIR / "audit").rglob("*.py")
               if "__pycache__" not in p.parts}
    assert on_disk <= shipped


def test_archive_zip_imports_handler_like_lambda(baseline: Registered, tmp_path: Path) -> None:
    bundle = _zip_from_record(baseline.one("aws:lambda/function:Function").inputs["code"], tmp_path / "code.zip")
    module, attr = HANDLER.rsplit(".", 1)
    # A clean interpreter with only the zip (and the venv's boto3, as Lambda's runtime bundles it) on the path.
    probe = (
        "import importlib, sys; sys.path.insert(0, sys.argv[1]); "
        f"m = importlib.import_module({module!r}); "
        f"assert callable(getattr(m, {attr!r})); print(m.__file__)"
    )
    result = subprocess.run([sys.executable, "-I", "-c", probe, str(bundle)], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(bundle / "audit" / "handler.py")


def test_archive_missing_handler_stops_before_registering(tmp_path: Path) -> None:
    (tmp_path / "cli.py").write_text("")
    with pytest.raises(pulumi.RunError) as err:
        audit_archive(tmp_path)
    assert str(err.value) == f"{tmp_path / 'handler.py'} is missing: the audit Lambda would have no handler"
