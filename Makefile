# The project's commands. The README's two commands are `make run` and `make test`.
# Everything runs from the locked virtualenv in .venv: `make run` installs the run lock (training
# and serving), every other command the dev lock (everything), each for the interpreter's Python.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON_BASE ?= python3
VENV := .venv
PY := $(VENV)/bin/python
ARTIFACT_DIR ?= artifacts/model
IMAGE ?= banknote-api:local
STACK ?=
# For stack-up, an IMAGE you give (command line or environment) is a known image to deploy as it
# is, <registry>/<repository>@sha256:<digest>; the default above is only the tag `make image` builds.
PINNED_IMAGE := $(if $(filter command line environment,$(origin IMAGE)),$(IMAGE),)

# One lock per supported Python (scripts/lock.sh): the one of PYTHON_BASE's version. An
# interpreter without a lock gets one clear line from scripts/ensure-venv.sh, not a make error.
PYTHON_VERSION := $(shell $(PYTHON_BASE) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
DEV_LOCK := requirements/dev-$(PYTHON_VERSION).txt
RUN_LOCK := requirements/run-$(PYTHON_VERSION).txt
PIP_INSTALL := $(PY) -m pip install --quiet --disable-pip-version-check --require-hashes -r

.PHONY: help venv venv-run lock train artifact run serve lint docs test test-fast bench image container-test stack-up stack-down clean

help: ## List the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

# Two stamps, one per lock. The dev lock holds every pin of the run lock (scripts/lock.sh
# constrains one by the other), so installing it satisfies the run stamp too: `make run` after
# `make test` installs nothing, and `make test` after `make run` adds what is missing. A stamp
# is remade when its lock changes. ensure-venv.sh makes the venv (with pip) or says in one line
# what the machine lacks, e.g. Debian's python3-venv or a supported Python.
$(VENV)/.installed-dev: $(wildcard $(DEV_LOCK))
	@PYTHON_BASE=$(PYTHON_BASE) bash scripts/ensure-venv.sh $(VENV)
	$(PIP_INSTALL) $(DEV_LOCK)
	@touch $@ $(VENV)/.installed-run

$(VENV)/.installed-run: $(wildcard $(RUN_LOCK))
	@PYTHON_BASE=$(PYTHON_BASE) bash scripts/ensure-venv.sh $(VENV)
	$(PIP_INSTALL) $(RUN_LOCK)
	@touch $@

venv: $(VENV)/.installed-dev ## Create .venv with every locked dependency (tests, linters, Pulumi)

venv-run: $(VENV)/.installed-run ## Create .venv with what training and serving need only

lock: venv ## Regenerate requirements/*.txt from pyproject.toml
	bash scripts/lock.sh

train: venv-run ## Train, evaluate, gate and write the artifact to artifacts/model/
	$(PY) -m model train --out $(ARTIFACT_DIR)

# Trains only when there is no artifact yet, or one this code cannot serve (an older
# format_version after an upgrade, a damaged file): `python -m contract` says which.
artifact: venv-run ## Train only if there is no usable artifact yet
	@$(PY) -m contract $(ARTIFACT_DIR) >/dev/null || $(MAKE) train

run: artifact ## Main job: train if needed, then serve on http://127.0.0.1:8000
	$(PY) -m api --model-dir $(ARTIFACT_DIR)

serve: run

lint: venv ## ruff, mypy, hadolint, actionlint, zizmor, the docs site
	bash scripts/lint.sh

# --strict turns every warning into a failure: a broken link or anchor between pages, a page
# missing from the nav (mkdocs.yml, `validation`). Not --quiet: it hides the warnings from the
# count, and --strict then passes anything. Nothing is fetched: no web fonts, no plugins that
# download. NO_MKDOCS_2_WARNING silences Material's notice about its successor.
docs: venv ## Build the docs site into site/ (mkdocs build --strict)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir site

test: lint ## The whole test suite (lint included)
	$(PY) -m pytest

# The inner loop: the contract, data, API and tooling tests without the container, browser and
# slow ones, and no lint. The rest of tests/model trains dozens of models (minutes), and
# tests/infra and tests/workflows check the deployment: `make test` runs them, or give a path.
FAST_TESTS := tests/contract tests/model/test_data.py tests/api tests/tooling
test-fast: venv ## Quick tests while you work: contract, data, API; no lint, Docker, browser or slow tests
	$(PY) -m pytest -q -m "not container and not browser and not slow" $(FAST_TESTS)

bench: venv artifact ## Benchmarks; prints ratios measured in one run
	bash scripts/bench.sh

image: artifact ## Build the Docker image (IMAGE, default banknote-api:local)
	bash scripts/image.sh "$(IMAGE)"

container-test: venv artifact ## Build the image and test it for real (engine + browser)
	REQUIRE_CONTAINER_TESTS=1 $(PY) -m pytest tests/container

stack-up: venv $(if $(PINNED_IMAGE),,artifact) ## Create or update your own Azure stack: make stack-up STACK=<name> [IMAGE=<ref@sha256>]
	IMAGE="$(PINNED_IMAGE)" bash scripts/stack.sh up "$(STACK)"

stack-down: venv ## Destroy and remove your own Azure stack: make stack-down STACK=<name>
	bash scripts/stack.sh down "$(STACK)"

clean: ## Remove build outputs (keeps .venv)
	rm -rf artifacts .pytest_cache .mypy_cache .ruff_cache .hypothesis test-artifacts bench/results site
