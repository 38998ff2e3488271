#!/usr/bin/env bash
# Make sure DIR (default .venv) is a virtualenv of Python 3.11 with pip in it (make venv).
#
#   PYTHON_BASE=python3 bash scripts/ensure-venv.sh [DIR]
#
# The Makefile then installs the lock into it. What a fresh machine lacks is said in one line on
# stderr, with exit code 1:
# - no python3 at all;
# - a python3 other than 3.11 (the lock is made for 3.11: pyproject.toml's requires-python);
# - no python3-venv: on Debian and Ubuntu `python3 -m venv` then fails ("ensurepip is not
#   available") and leaves a half-made venv without pip, which is removed so the next run
#   starts clean.
# Safe to run any number of times: a venv whose pip answers is left alone.
set -euo pipefail

readonly venv="${1:-.venv}"
readonly python="${PYTHON_BASE:-python3}"

say() { echo "make venv: $*" >&2; exit 1; }

if "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
    exit 0
fi

command -v "$python" >/dev/null 2>&1 \
    || say "$python not found: install Python 3.11 (Debian 12: apt-get install python3 python3-venv)"
version=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null) \
    || say "$python does not run: install Python 3.11 (or make ... PYTHON_BASE=python3.11)"
[[ "$version" == 3.11 ]] \
    || say "$python is Python $version; this project needs 3.11 (make ... PYTHON_BASE=python3.11)"

rm -rf "$venv"
if ! output=$("$python" -m venv "$venv" 2>&1); then
    rm -rf "$venv"
    if grep -q ensurepip <<<"$output"; then
        say "'$python -m venv' failed: python3-venv is missing (apt-get install python3-venv)"
    fi
    say "'$python -m venv' failed: $(tail -n 1 <<<"$output")"
fi
