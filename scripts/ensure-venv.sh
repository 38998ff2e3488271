#!/usr/bin/env bash
# Make sure DIR (default .venv) is a virtualenv with pip, of a Python this project has locks for
# (make venv, make venv-run).
#
#   PYTHON_BASE=python3 bash scripts/ensure-venv.sh [DIR]
#
# The Makefile then installs the lock of that Python into it. The supported Pythons are the ones
# with a lock, requirements/dev-3.X.txt (scripts/lock.sh makes them; pyproject.toml's
# requires-python agrees). What a fresh machine lacks is said in one line on stderr, exit code 1:
# - no python3 at all;
# - a python3 without a lock (e.g. 3.10 or 3.14): use PYTHON_BASE to pick another;
# - no python3-venv: on Debian and Ubuntu `python3 -m venv` then fails ("ensurepip is not
#   available") and leaves a half-made venv without pip, which is removed so the next run
#   starts clean.
# Safe to run any number of times: a venv of the same Python whose pip answers is left alone; a
# venv of another Python (PYTHON_BASE changed) is made anew.
set -euo pipefail

readonly venv="${1:-.venv}"
readonly python="${PYTHON_BASE:-python3}"
readonly locks="$(dirname "$0")/../requirements"

say() { echo "make venv: $*" >&2; exit 1; }

py_version() { "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null; }

supported=()
for lock in "$locks"/dev-3.*.txt; do
    [[ -e $lock ]] && supported+=("$(basename "$lock" .txt | cut -d- -f2)")
done
[[ ${#supported[@]} -gt 0 ]] || say "no lock in $locks (requirements/dev-3.X.txt): run from a full clone"
readonly listed="${supported[*]}"

command -v "$python" >/dev/null 2>&1 \
    || say "$python not found: install Python ${listed// /, } (Debian: apt-get install python3 python3-venv)"
version=$(py_version "$python") && [[ -n $version ]] \
    || say "$python does not run: install Python ${listed// /, } (or make ... PYTHON_BASE=python3.X)"
[[ " $listed " == *" $version "* ]] \
    || say "$python is Python $version; this project has locks for ${listed// /, } (make ... PYTHON_BASE=python3.X)"

if "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
    [[ "$(py_version "$venv/bin/python")" == "$version" ]] && exit 0
    echo "make venv: $venv is of another Python; making it anew with $python ($version)" >&2
fi

rm -rf "$venv"
if ! output=$("$python" -m venv "$venv" 2>&1); then
    rm -rf "$venv"
    if grep -q ensurepip <<<"$output"; then
        say "'$python -m venv' failed: python3-venv is missing (apt-get install python3-venv)"
    fi
    say "'$python -m venv' failed: $(tail -n 1 <<<"$output")"
fi
