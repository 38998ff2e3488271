# The project's commands. The README's two commands are `make run` and `make test`.
# Everything runs from the locked virtualenv in .venv, created from requirements/dev.txt.

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

.PHONY: help venv lock train artifact run serve lint test test-fast bench image container-test stack-up stack-down clean

help: ## List the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

# The venv is rebuilt whenever the lock changes. ensure-venv.sh makes it (with pip) or says in
# one line what the machine lacks, e.g. Debian's python3-venv.
$(VENV)/.installed: requirements/dev.txt
	@PYTHON_BASE=$(PYTHON_BASE) bash scripts/ensure-venv.sh $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements/dev.txt
	@touch $@

venv: $(VENV)/.installed ## Create .venv from the locked requirements

lock: $(VENV)/.installed ## Regenerate requirements/*.txt from pyproject.toml
	bash scripts/lock.sh

train: venv ## Train, evaluate, gate and write the artifact to artifacts/model/
	$(PY) -m model train --out $(ARTIFACT_DIR)

# Trains only when there is no artifact yet, or one this code cannot serve (an older
# format_version after an upgrade, a damaged file): `python -m contract` says which.
artifact: venv ## Train only if there is no usable artifact yet
	@$(PY) -m contract $(ARTIFACT_DIR) >/dev/null || $(MAKE) train

run: artifact ## Main job: train if needed, then serve on http://127.0.0.1:8000
	$(PY) -m api --model-dir $(ARTIFACT_DIR)

serve: run

lint: venv ## ruff, mypy, hadolint, actionlint, zizmor
	bash scripts/lint.sh

test: lint ## The whole test suite (lint included)
	$(PY) -m pytest

bench: artifact ## Benchmarks; prints ratios measured in one run
	bash scripts/bench.sh

image: artifact ## Build the Docker image $(IMAGE)
	bash scripts/image.sh "$(IMAGE)"

container-test: artifact ## Build the image and test it for real (engine + browser)
	REQUIRE_CONTAINER_TESTS=1 $(PY) -m pytest tests/container

stack-up: $(if $(PINNED_IMAGE),venv,artifact) ## Create or update your own Azure stack: make stack-up STACK=<name> [IMAGE=<ref@sha256>]
	IMAGE="$(PINNED_IMAGE)" bash scripts/stack.sh up "$(STACK)"

stack-down: venv ## Destroy and remove your own Azure stack: make stack-down STACK=<name>
	bash scripts/stack.sh down "$(STACK)"

clean: ## Remove build outputs (keeps .venv)
	rm -rf artifacts .pytest_cache .mypy_cache .ruff_cache .hypothesis test-artifacts bench/results
