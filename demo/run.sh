#!/usr/bin/env bash
# `make demo`: everything runs offline with the pinned venv on PATH (no Pulumi CLI, provider plugin or AWS account).
# 1-2: the policy pack on the default program and on a weakened variant (demo/pack_demo.sh);
# 3: the audit against a local moto server with a simulated root key (demo/audit_demo.py).
set -euo pipefail
cd "$(dirname "$0")/.."

bash demo/pack_demo.sh

printf '\n=== 3. Audit against a local moto server with a simulated root access key\n'
python demo/audit_demo.py
