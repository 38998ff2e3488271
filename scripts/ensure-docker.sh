#!/usr/bin/env bash
# Make sure a Docker engine answers `docker info`.
# On a Debian machine without one, install Debian's docker.io and start dockerd in the
# background with the default bridge disabled: containers here use `--network host` only,
# and nothing may touch Docker's 172.x bridge network. Safe to run any number of times.
set -euo pipefail

readonly LOG_FILE="${DOCKERD_LOG:-/tmp/dockerd.log}"
readonly WAIT_SECONDS="${DOCKERD_WAIT_SECONDS:-60}"

die() { echo "ensure-docker: $*" >&2; exit 1; }

engine_answers() { docker info >/dev/null 2>&1; }

if command -v docker >/dev/null 2>&1 && engine_answers; then
    echo "ensure-docker: engine is up"
    exit 0
fi

[[ -r /etc/debian_version ]] || die "no Docker engine answers and this is not Debian; start one yourself"
[[ $(id -u) -eq 0 ]] || die "no Docker engine answers; installing one needs root"

if ! command -v dockerd >/dev/null 2>&1; then
    echo "ensure-docker: installing docker.io"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends docker.io >/dev/null
fi

# dockerd may already be starting (a parallel caller or a previous run); start only if absent.
if ! pgrep -x dockerd >/dev/null 2>&1; then
    echo "ensure-docker: starting dockerd (log: $LOG_FILE)"
    # setsid: the daemon outlives this script and the caller's process group.
    setsid dockerd --bridge=none >"$LOG_FILE" 2>&1 </dev/null &
fi

for _ in $(seq "$WAIT_SECONDS"); do
    if engine_answers; then
        echo "ensure-docker: engine is up"
        exit 0
    fi
    sleep 1
done
tail -n 20 "$LOG_FILE" >&2 || true
die "dockerd did not answer within ${WAIT_SECONDS}s (see $LOG_FILE)"
