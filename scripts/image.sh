#!/usr/bin/env bash
# Build the service image: bash scripts/image.sh [TAG]   (make image; TAG default banknote-api:local)
#
# Ensures a Docker engine and a base image first (see the two ensure-* scripts), then builds
# with the host's network (nothing here may use Docker's bridge). The trained artifact must be
# in artifacts/model/ (`make artifact`). Environment overrides:
#   BASE_IMAGE  base for both stages (default: python:3.11-slim, else the local stand-in)
#   SOURCE_URL  org.opencontainers.image.source (default: derived from the git remote "origin")
set -euo pipefail

readonly TAG="${1:-banknote-api:local}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
readonly ROOT
readonly METADATA="$ROOT/artifacts/model/metadata.json"

die() { echo "image: $*" >&2; exit 1; }

[[ -f "$METADATA" ]] || die "no trained artifact at artifacts/model/ (run: make artifact)"
model_version=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["model_version"])' "$METADATA") \
    || die "cannot read model_version from $METADATA"
model_name=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["contract"]["name"])' "$METADATA") \
    || die "cannot read the model's name (contract.name) from $METADATA; retrain it (make train)"

revision=$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)

# The source label should be a browsable URL: turn git@host:owner/repo.git into https form.
source_url="${SOURCE_URL:-}"
if [[ -z "$source_url" ]]; then
    source_url=$(git -C "$ROOT" remote get-url origin 2>/dev/null || echo unknown)
    source_url=$(sed -E -e 's#^git@([^:]+):#https://\1/#' -e 's#\.git$##' <<<"$source_url")
fi

bash "$ROOT/scripts/ensure-docker.sh" >&2
base_image=$(bash "$ROOT/scripts/ensure-base-image.sh")

echo "image: building $TAG from $base_image (model $model_name $model_version, revision ${revision:0:12})" >&2
docker build --network host \
    --build-arg "BASE_IMAGE=$base_image" \
    --build-arg "REVISION=$revision" \
    --build-arg "MODEL_VERSION=$model_version" \
    --build-arg "MODEL_NAME=$model_name" \
    --build-arg "SOURCE_URL=$source_url" \
    --tag "$TAG" \
    "$ROOT"
echo "image: built $TAG" >&2
