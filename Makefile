# iam-foundry: the two commands are `make up` (set up + run the main job on LocalStack) and
# `make test` (set up + run every test, LocalStack included). Everything else is a helper.
SHELL := /bin/bash
export PIPENV_VENV_IN_PROJECT := 1
export PIPENV_VERBOSITY := -1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CHECKPOINT_DISABLE := 1
PYTHON := .venv/bin/python
EDITABLE := .venv/.editable
IAM_FOUNDRY := .venv/bin/iam-foundry
PIPENV_VERSION := 2026.10.3

.PHONY: setup up test test-unit snapshots readme validate down bench wheel-check chromium chromium-notice bench-deploy
setup: .venv/.synced $(EDITABLE) node_modules/.installed .venv-checkov/.installed chromium

# Headless Chromium (Debian's package) opens the HTML report in tests/report/test_browser.py. Installed
# only when missing and running as root with apt-get; otherwise that test is skipped, loudly.
CHROMIUM_MISSING := ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1
chromium:
	@if $(CHROMIUM_MISSING); then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
	      || echo "*** WARNING: apt-get install -y chromium failed: the HTML report's browser test will be SKIPPED ***" >&2; \
	  else \
	    echo "*** WARNING: chromium is missing and cannot be installed here (needs root and apt-get): the HTML report's browser test will be SKIPPED ***" >&2; \
	  fi; \
	fi

chromium-notice:
	@if $(CHROMIUM_MISSING); then \
	  echo "*** WARNING: no chromium: tests/report/test_browser.py is SKIPPED (pytest lists the skip reasons at the end) ***" >&2; fi

# Python dependencies from Pipfile.lock (pipenv itself is installed with pip when missing).
.venv/.synced: Pipfile.lock
	@python3 -m pipenv --version >/dev/null 2>&1 || python3 -m pip install --quiet "pipenv==$(PIPENV_VERSION)"
	python3 -m pipenv sync --dev
	@touch $@

# The project itself, editable, so `.venv/bin/iam-foundry` runs this checkout (dependencies come from
# Pipfile.lock above, hence --no-deps).
$(EDITABLE): pyproject.toml .venv/.synced
	$(PYTHON) -m pip install --quiet --no-deps -e .
	@touch $@

# The pinned cdktf CLI, for `npx cdktf synth|deploy|destroy`.
node_modules/.installed: package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

# checkov (policy scanner) in its own virtualenv: its pins clash with the project's.
.venv-checkov/.installed: requirements-checkov.txt
	python3 -m venv .venv-checkov
	.venv-checkov/bin/pip install --quiet -r requirements-checkov.txt
	@touch $@

up: setup
	$(IAM_FOUNDRY) up

# checkov is installed by setup: missing here means a broken .venv-checkov, never a silent skip.
# Tests run on $(TEST_WORKERS) workers (the LocalStack tests use IAM names and state keys of their own).
TEST_WORKERS ?= 3
test: setup chromium-notice
	@.venv-checkov/bin/checkov --version >/dev/null 2>&1 || { echo "make test: checkov does not run from .venv-checkov (broken install): rm -rf .venv-checkov && make setup" >&2; exit 1; }
	IAM_FOUNDRY_REQUIRE_CHECKOV=1 $(PYTHON) -m pytest -n $(TEST_WORKERS)

test-unit: setup chromium-notice
	$(PYTHON) -m pytest -m "not integration"

# Re-record synthesis snapshots after an intended change (review the diff before committing).
snapshots: setup
	$(PYTHON) -m pytest -m "not integration" --snapshot-update

readme: setup  # the README's config reference, from iam_foundry/config/fields.py and backends.py
	$(PYTHON) -c "from pathlib import Path; from iam_foundry.config.reference import readme_with_fields as r; p = Path('README.md'); p.write_text(r(p.read_text()))"

validate: setup
	$(IAM_FOUNDRY) validate

# Destroy the default stacks and stop the LocalStack that `make up` started.
down: setup
	$(IAM_FOUNDRY) destroy --yes
	$(IAM_FOUNDRY) localstack stop

# Build the wheel, install it into a fresh virtualenv and run iam-foundry from another folder.
wheel-check:
	.ci/wheel-check

# Synth speed and scale benchmark (a few minutes; prints a table, writes bench/results.json).
bench: setup
	$(PYTHON) bench/run.py

# up/destroy of 1, 5 and 20 deployments on the running LocalStack (prints a table, writes bench/deploy-results.json).
bench-deploy: setup
	$(PYTHON) bench/deploy.py
