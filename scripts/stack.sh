#!/usr/bin/env bash
# Your own Azure stack of the app: bash scripts/stack.sh up|down NAME
# (make stack-up STACK=NAME / make stack-down STACK=NAME)
#
#   up    create the stack if needed (defaults from Pulumi.yaml, the Key Vault secrets provider,
#         location from AZURE_LOCATION when set), deploy, and print the URL. With IMAGE set to
#         <registry>/<repository>@sha256:<digest> (make stack-up STACK=NAME IMAGE=...) it deploys
#         that image as it is, building nothing (a model version this stack deployed before;
#         scripts/acr_image.py resolve finds one); without IMAGE it builds from the artifact.
#   down  destroy everything the stack created, then remove the stack.
#
# Needs the pulumi CLI, `az login` (the Azure provider and the state backend use that login),
# PULUMI_BACKEND_URL and PULUMI_SECRETS_PROVIDER from the bootstrap outputs, and .venv (make
# venv). Without IMAGE the trained artifact must exist (make artifact) and building the image
# needs a Docker engine. The stacks CI deploys (dev, prod, pr and pr-<n>) are refused here.
#
# Selecting and creating go through scripts/pulumi_stack.py, as in CI, so a stack created on one
# machine keeps its Key Vault secrets provider when used from another clone, where
# Pulumi.<name>.yaml does not exist (see that script for why).
set -euo pipefail

die() { echo "stack: $*" >&2; exit 2; }

readonly action="${1:-}"
readonly name="${2:-}"

[[ "$action" == up || "$action" == down ]] \
    || die "usage: bash scripts/stack.sh up|down NAME (make stack-up STACK=NAME)"
[[ -n "$name" ]] || die "no stack name: make stack-$action STACK=<name>"
[[ "$name" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$ ]] \
    || die "invalid stack name '$name': use letters, digits, '-', '_' and '.'"
case "$name" in
    dev | prod | pr | pr-[0-9]*) die "stack '$name' is deployed by CI; choose a name of your own" ;;
esac

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
readonly ROOT
cd "$ROOT"

command -v pulumi >/dev/null 2>&1 \
    || die "the pulumi CLI is not installed (see https://www.pulumi.com/docs/install/)"
[[ -n "${PULUMI_BACKEND_URL:-}" ]] \
    || die "PULUMI_BACKEND_URL is not set: export it from the bootstrap outputs (and run az login)"
[[ -n "${PULUMI_SECRETS_PROVIDER:-}" ]] \
    || die "PULUMI_SECRETS_PROVIDER is not set: export it from the bootstrap outputs"
# Take the secrets manager from the stack's state when Pulumi.<name>.yaml lacks it.
export PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER=true

stack_py() { "$ROOT/.venv/bin/python" "$ROOT/scripts/pulumi_stack.py" "$@" || exit 1; }

if [[ "$action" == up ]]; then
    stack_py prepare --create "$name"
    if [[ -n "${AZURE_LOCATION:-}" ]]; then
        pulumi config set location "$AZURE_LOCATION" --stack "$name"
    fi
    # The stack's config file keeps what is set, so an image pinned by an earlier IMAGE=... is
    # removed again when this run asks for none: a plain `make stack-up` always builds.
    if [[ -n "${IMAGE:-}" ]]; then
        pulumi config set image "$IMAGE" --stack "$name"
    else
        pulumi config rm image --stack "$name" >/dev/null 2>&1 || true
    fi
    # The commit goes into the image's revision label and the resources' git-commit tag.
    GIT_COMMIT="$(git rev-parse HEAD 2>/dev/null || true)"
    export GIT_COMMIT
    pulumi up --yes --stack "$name"
    echo "stack $name is up: $(pulumi stack output url --stack "$name")"
else
    stack_py destroy "$name"
    echo "stack $name destroyed and removed"
fi
