#!/usr/bin/env bash
# Regenerates the locked requirement files from pyproject.toml (`make lock`). No index URL is
# written (ENVIRONMENT.md: no registry host in the repository), hashes are.
#
#   requirements/dev-3.X.txt   every group: what `make venv`, `make test` and CI install
#   requirements/run-3.X.txt   train + serve only: what `make run` installs (a fraction of dev)
#   requirements/serve.txt     serve only, Python 3.11: what the image installs (its base is
#                              python:3.11-slim)
#
# One lock per supported Python (3.11, 3.12, 3.13: pyproject.toml's requires-python), each
# compiled for that Python whichever one runs this script. 3.11's dev lock is resolved first and
# constrains all the others, so every Python gets the same versions; --only-binary makes the
# resolver take only versions that ship a wheel for that Python, so no lock ever needs a
# compiler on a newcomer's machine.
set -euo pipefail
cd "$(dirname "$0")/.."
uv=${UV:-.venv/bin/uv}
readonly pythons=(3.11 3.12 3.13)
readonly reference=requirements/dev-${pythons[0]}.txt

compile() {  # compile PYTHON OUTPUT [uv pip compile arguments...]
    local python=$1 output=$2
    shift 2
    "$uv" pip compile pyproject.toml --python-version "$python" \
        --python-platform x86_64-manylinux_2_28 --only-binary :all: --generate-hashes --quiet \
        --custom-compile-command "make lock" -o "$output" "$@"
}

compile "${pythons[0]}" "$reference" --all-extras
for python in "${pythons[@]}"; do
    dev=requirements/dev-$python.txt
    [[ $dev == "$reference" ]] || compile "$python" "$dev" --all-extras -c "$reference"
    compile "$python" "requirements/run-$python.txt" --extra train --extra serve -c "$dev"
done
compile "${pythons[0]}" requirements/serve.txt --extra serve -c "$reference"
