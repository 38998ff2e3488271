#!/usr/bin/env bash
# Regenerates the locked requirement files from pyproject.toml. No index URL is written.
set -euo pipefail
cd "$(dirname "$0")/.."
uv=${UV:-.venv/bin/uv}
common=(--python-version 3.11 --python-platform x86_64-manylinux_2_28 --generate-hashes --quiet
        --custom-compile-command "make lock")
# Everything a developer and CI install.
"$uv" pip compile pyproject.toml "${common[@]}" --all-extras -o requirements/dev.txt
# What the container image installs: the serving group, constrained to the same versions.
"$uv" pip compile pyproject.toml "${common[@]}" --extra serve -c requirements/dev.txt \
  -o requirements/serve.txt
