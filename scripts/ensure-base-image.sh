#!/usr/bin/env bash
# Make sure a base image for the Dockerfile exists and print its name on stdout (last line).
#
#   bash scripts/ensure-base-image.sh            -> python:3.11-slim, or the local stand-in
#   BASE_IMAGE=my/python:3.11 bash scripts/...   -> that image (present or pullable), no fallback
#   bash scripts/ensure-base-image.sh --stand-in -> the local stand-in, always: a fresh Debian 12
#                                                   with python3 (the newcomer test's machine)
#   bash scripts/ensure-base-image.sh --stand-in trixie
#                                                -> the same from Debian 13 (python3 is 3.13): the
#                                                   newcomer test's other machine
#
# Where Docker Hub cannot be reached (offline, or only a package proxy), build a stand-in from
# Debian packages with mmdebstrap: Debian bookworm's python3 is 3.11 too. No mirror argument is
# passed, so mmdebstrap uses Debian's default and whatever proxy apt is configured with; no host
# name is written into the repository. The stand-in gets the host's CA bundle because downloads
# here go through a TLS-intercepting proxy whose CA only the host trusts (as in many company
# networks). That CA goes into this local stand-in only, never into the production base.
# Safe to run any number of times: an existing stand-in is reused, the rootfs tarball is cached.
set -euo pipefail

log() { echo "ensure-base-image: $*" >&2; }
die() { log "$*"; exit 1; }

# The Debian release of the stand-in: bookworm (Debian 12, Python 3.11, as python:3.11-slim) or
# trixie (Debian 13, Python 3.13; only for the newcomer test, never a base for the Dockerfile).
suite=bookworm
case "${1:-}" in
    "") stand_in_only=false ;;
    --stand-in) stand_in_only=true; suite=${2:-bookworm} ;;
    *) die "usage: bash scripts/ensure-base-image.sh [--stand-in [bookworm|trixie]]" ;;
esac
case "$suite" in
    bookworm) python_version=3.11 ;;
    trixie) python_version=3.13 ;;
    *) die "usage: bash scripts/ensure-base-image.sh [--stand-in [bookworm|trixie]]" ;;
esac

readonly UPSTREAM_BASE="python:3.11-slim"
readonly STANDIN_TAG="${STANDIN_TAG:-banknote-base:$suite}"
readonly HOST_CA=/etc/ssl/certs/ca-certificates.crt
readonly CACHE_DIR="${BASE_CACHE_DIR:-$(cd "$(dirname "$0")/.." && pwd)/.cache/base}"
readonly TARBALL="$CACHE_DIR/$suite-python3.tar"
readonly PARTIAL="$CACHE_DIR/$suite-python3.partial.tar"
readonly PULL_TIMEOUT="${PULL_TIMEOUT:-120}"

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

try_pull() { timeout "$PULL_TIMEOUT" docker pull --quiet "$1" >/dev/null 2>&1; }

# An explicitly chosen base is used as given: failing loudly beats silently building another.
if [[ "$stand_in_only" == false && -n "${BASE_IMAGE:-}" ]]; then
    have_image "$BASE_IMAGE" || try_pull "$BASE_IMAGE" || die "base image $BASE_IMAGE is neither present nor pullable"
    echo "$BASE_IMAGE"
    exit 0
fi

if [[ "$stand_in_only" == false ]]; then
    if have_image "$UPSTREAM_BASE" || try_pull "$UPSTREAM_BASE"; then
        echo "$UPSTREAM_BASE"
        exit 0
    fi
    log "$UPSTREAM_BASE cannot be pulled; using the local stand-in $STANDIN_TAG"
fi

[[ -r "$HOST_CA" ]] || die "host CA bundle $HOST_CA is missing"
ca_sha=$(sha256sum "$HOST_CA" | cut -d' ' -f1)

# Reuse the stand-in unless the host's CA bundle changed since it was made.
if have_image "$STANDIN_TAG"; then
    built_with=$(docker image inspect --format '{{ index .Config.Labels "local.host-ca.sha256" }}' "$STANDIN_TAG")
    if [[ "$built_with" == "$ca_sha" ]]; then
        echo "$STANDIN_TAG"
        exit 0
    fi
    log "host CA bundle changed; rebuilding $STANDIN_TAG"
fi

if ! command -v mmdebstrap >/dev/null 2>&1; then
    [[ -r /etc/debian_version && $(id -u) -eq 0 ]] || die "mmdebstrap is missing (apt-get install mmdebstrap)"
    log "installing mmdebstrap"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends mmdebstrap >/dev/null
fi

# The tarball is pure Debian (no CA): it stays valid when the CA changes.
if [[ ! -f "$TARBALL" ]]; then
    mkdir -p "$CACHE_DIR"
    log "building a Debian $suite rootfs with python3 (about 30 s)"
    # Write to a temporary name so an interrupted run never leaves a truncated cache.
    rm -rf "$PARTIAL"
    mmdebstrap --quiet --format=tar --variant=apt --include=python3,python3-venv,ca-certificates \
        "$suite" "$PARTIAL" </dev/null >&2
    mv "$PARTIAL" "$TARBALL"
fi

# Import the rootfs with the host CA bundle swapped in, as one layer.
workdir=$(mktemp -d)
trap 'rm -rf "$workdir"' EXIT
cp "$TARBALL" "$workdir/rootfs.tar"
mkdir -p "$workdir/add/etc/ssl/certs"
cp "$HOST_CA" "$workdir/add/etc/ssl/certs/ca-certificates.crt"
# docker import rejects duplicate paths, so the Debian bundle is removed before appending.
tar --delete --file "$workdir/rootfs.tar" ./etc/ssl/certs/ca-certificates.crt
tar --append --file "$workdir/rootfs.tar" --owner=0 --group=0 --mode=0644 \
    -C "$workdir/add" ./etc/ssl/certs/ca-certificates.crt

docker import \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]' \
    --change "LABEL local.host-ca.sha256=$ca_sha" \
    --change "LABEL org.opencontainers.image.description=\"Local stand-in: Debian $suite python3 ($python_version) with the host CA bundle\"" \
    "$workdir/rootfs.tar" "$STANDIN_TAG" >/dev/null
log "imported $STANDIN_TAG"
echo "$STANDIN_TAG"
