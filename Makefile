# Two commands: `make run` sets up .venv and opens the app; `make test` sets up .venv and runs the tests.
# Set-up installs the exact, hashed versions in requirements.lock (no dependency resolution), then
# the project itself. `make lock` refreshes the lock (see README, "For developers").
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
UV_VERSION := 0.13.8
LOCK_FLAGS := --universal --python-version 3.11 --generate-hashes --extra test \
	--custom-compile-command "make lock" --quiet

.PHONY: run test bench check lock clean system-deps

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "iwp-trainer needs Python 3.11 or newer; found " + sys.version.split()[0] + ". Run: make PYTHON=python3.11 ...")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes --no-deps --only-binary :all: -r requirements.lock
	$(PY) -m pip install --quiet --no-deps --no-build-isolation --no-index -e .
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/iwp-trainer

# The suite also needs a few Debian packages (system-packages.txt), installed here if missing.
system-deps:
	@scripts/system-deps.sh

test: $(STAMP) system-deps
	$(PY) -m pytest -q

check: $(STAMP)
	$(VENV)/bin/iwp-trainer check --strict

bench: $(STAMP)
	$(PY) bench/run.py

# Refresh requirements.lock from pyproject.toml, keeping current pins unless asked:
#   make lock                     # add what pyproject.toml newly needs, change nothing else
#   make lock UPGRADE=textual     # move one package to its newest allowed version
#   make lock UPGRADE=all         # move everything to its newest allowed version
# then run the tests on the new lock.
lock: $(STAMP)
	$(PY) -m pip install --quiet --target $(VENV)/uv-tool 'uv==$(UV_VERSION)'
	$(VENV)/uv-tool/bin/uv pip compile pyproject.toml requirements-build.in $(LOCK_FLAGS) \
		$(if $(filter all,$(UPGRADE)),--upgrade,$(foreach p,$(UPGRADE),--upgrade-package $(p))) \
		-o requirements.lock
	$(MAKE) test

clean:
	rm -rf $(VENV) build *.egg-info
