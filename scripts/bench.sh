#!/usr/bin/env bash
# `make bench`: the service's speed, measured side by side in one run and printed as ratios.
#   1. one-row model call (ONNX Runtime vs sklearn) and parity on every dataset row
#   2. /predict/batch with 10,000 notes: end to end, and parse+validate vs the model call
#   2b. the standard protocols vs the service's own routes: v2 binary infer and /invocations of
#      the same 10,000 rows vs /predict/batch, one-row v2 JSON infer vs /predict under wrk
#   3. POST /predict under wrk: this service (and two variants) vs the reference app vs a
#      bare FastAPI app
#   4. offline batch scoring: peak memory at 100k vs 1M rows
#   5. capacity of one worker: req/s at p99 < 50 ms (docs/deploy/prod.md#capacity)
#   6. the container image: size added over its base, docker run to /ready
# Figures are reported, not asserted in tests: the machines are shared and noisy.
# Environment: BENCH_ROUNDS (8), BENCH_SECONDS (2) per wrk run of step 3,
# BENCH_CAPACITY_SECONDS (5) per load step of step 5, MODEL_DIR (artifacts/model).
set -euo pipefail
cd "$(dirname "$0")/.."

py=.venv/bin/python
model_dir=${MODEL_DIR:-artifacts/model}

[[ -x $py ]] || { echo "bench: no .venv (run: make venv)" >&2; exit 1; }
[[ -f $model_dir/metadata.json ]] || { echo "bench: no model in $model_dir (run: make train)" >&2; exit 1; }

if ! command -v wrk >/dev/null; then
    [[ -r /etc/debian_version && $(id -u) -eq 0 ]] \
        || { echo "bench: wrk is missing; install it (Debian: apt-get install wrk)" >&2; exit 1; }
    echo "bench: installing wrk"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends wrk >/dev/null
fi

echo "== bench on $(nproc) cores, $(date -u +%Y-%m-%dT%H:%M:%SZ), model $(
    "$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["model_version"])' \
        "$model_dir/metadata.json")"
echo
"$py" -m bench.model_call --model-dir "$model_dir"
echo
"$py" -m bench.batch --model-dir "$model_dir"
echo
"$py" -m bench.protocols --model-dir "$model_dir" --duration "${BENCH_SECONDS:-2}"
echo
"$py" -m bench.http_bench --model-dir "$model_dir" \
    --rounds "${BENCH_ROUNDS:-8}" --duration "${BENCH_SECONDS:-2}"
echo
"$py" bench/batch_memory.py --model "$model_dir"
echo
"$py" -m bench.capacity --model-dir "$model_dir" --duration "${BENCH_CAPACITY_SECONDS:-5}"
echo
# The image: size added over its base and start-to-ready time. image.sh starts an engine and
# builds a base where needed (see docs/development.md#offline-or-behind-a-proxy); BENCH_SKIP_CONTAINER=1 skips it.
if [[ ${BENCH_SKIP_CONTAINER:-0} == 1 ]]; then
    echo "container benchmark skipped (BENCH_SKIP_CONTAINER=1)"
else
    bash scripts/image.sh banknote-api:local >/dev/null
    "$py" bench/container_bench.py --image banknote-api:local --json bench/results/container.json
fi
