#!/usr/bin/env bash
# Static checks, run by `make lint` (and so by `make test`): Python, Dockerfile, workflows, docs.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.venv/bin

step() { printf '\n== %s\n' "$*"; }

step "ruff check";          "$bin/ruff" check .
step "ruff format --check"; "$bin/ruff" format --check .
step "mypy (strict: contract, model, api, infra)"; "$bin/mypy"
step "hadolint Dockerfile"; "$bin/hadolint" Dockerfile
step "actionlint";          bash scripts/actionlint.sh
step "zizmor";              bash scripts/zizmor.sh
step "mkdocs build --strict (docs site: links and anchors)"; make --no-print-directory docs
