"""Regenerates `tfplugin5_pb2.py` and `tfplugin5_pb2_grpc.py` from `tfplugin5.proto` with grpcio-tools.

The generated modules are committed, so running the provider client needs only grpcio and protobuf; grpcio-tools
is a development dependency, and tests/preflight/tfprovider/test_protogen.py fails when the committed modules
differ from what this produces (a proto edit without regeneration, or a grpcio-tools bump).

    python -m preflight.tfprovider.protogen            # rewrite the committed modules
    python -m preflight.tfprovider.protogen OUT_DIR    # write them under OUT_DIR instead (the test does this)
"""

from __future__ import annotations

import sys
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
# The proto is compiled relative to the repository root, so the generated gRPC module imports its message
# module as `preflight.tfprovider.tfplugin5_pb2` rather than as a top-level `tfplugin5_pb2`.
REPO_ROOT = PACKAGE_DIR.parent.parent
PROTO = PACKAGE_DIR.relative_to(REPO_ROOT) / "tfplugin5.proto"
GENERATED = ("tfplugin5_pb2.py", "tfplugin5_pb2_grpc.py")


def generate(out_root: Path) -> list[Path]:
    """Compile the proto into `out_root/preflight/tfprovider/`; returns the generated files."""
    import importlib.resources

    from grpc_tools import protoc

    include = importlib.resources.files("grpc_tools") / "_proto"
    out_root.mkdir(parents=True, exist_ok=True)
    status = protoc.main([
        "grpc_tools.protoc", f"-I{REPO_ROOT}", f"-I{include}",
        f"--python_out={out_root}", f"--grpc_python_out={out_root}", str(REPO_ROOT / PROTO),
    ])
    if status != 0:
        raise RuntimeError(f"protoc failed on {PROTO} with status {status}")
    return [out_root / PROTO.parent / name for name in GENERATED]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out_root = Path(args[0]) if args else REPO_ROOT
    for path in generate(out_root):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
