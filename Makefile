# One venv holds the program, the pack, the audit CLI and the test tools; it is rebuilt when a pin changes.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIN_FILES := requirements.txt requirements-dev.txt policypack/requirements.txt constraints.txt

.PHONY: venv test demo bench rehearse clean

$(VENV)/.installed: $(PIN_FILES)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	touch $@

venv: $(VENV)/.installed

test: venv
	$(PY) -m pytest -n 2 -q

demo: venv
	PATH="$(abspath $(VENV))/bin:$$PATH" bash demo/run.sh

bench: venv
	$(PY) bench/pack_bench.py
	$(PY) bench/preflight_bench.py
	$(PY) bench/audit_org_bench.py

# `pulumi up` -> verify -> `pulumi destroy` through terraform-provider-aws against moto on 127.0.0.1.
# Flags: make rehearse REHEARSE_FLAGS="--keep" (or --endpoint-url URL, --variant NAME, --provider-binary PATH).
rehearse: venv
	$(PY) -m preflight.rehearse $(REHEARSE_FLAGS)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
