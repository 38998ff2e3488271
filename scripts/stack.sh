#!/usr/bin/env bash
# Your own Azure stack of the app: bash scripts/stack.sh up|down NAME
# (make stack-up STACK=NAME / make stack-down STACK=NAME)
#
#   up    create the stack if needed (defaults from Pulumi.yaml; the Key Vault secrets provider
#         when PULUMI_SECRETS_PROVIDER is set; location from AZURE_LOCATION when set), deploy,
#         and print the URL.
#   down  destroy everything the stack created, then remove the stack.
#
# Needs the pulumi CLI, `az login` (the Azure provider and the state backend use that login),
# and a Pulumi backend: PULUMI_BACKEND_URL from the bootstrap outputs (or a prior
# `pulumi login`). The trained artifact must exist (make artifact); building the image needs a
# Docker engine. `dev` and `pr-<n>` belong to CI and are refused here.
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
    dev | pr-[0-9]*) die "stack '$name' is deployed by CI; choose a name of your own" ;;
esac

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
readonly ROOT
cd "$ROOT"

command -v pulumi >/dev/null 2>&1 \
    || die "the pulumi CLI is not installed (see https://www.pulumi.com/docs/install/)"
pulumi whoami >/dev/null 2>&1 \
    || die "no Pulumi backend: export PULUMI_BACKEND_URL=<bootstrap output> (and run az login)"

if [[ "$action" == up ]]; then
    create=()
    if [[ -n "${PULUMI_SECRETS_PROVIDER:-}" ]]; then
        create=(--secrets-provider "$PULUMI_SECRETS_PROVIDER")
    fi
    pulumi stack select --create "${create[@]}" "$name"
    if [[ -n "${AZURE_LOCATION:-}" ]]; then
        pulumi config set location "$AZURE_LOCATION" --stack "$name"
    fi
    # The commit goes into the image's revision label and the resources' git-commit tag.
    GIT_COMMIT="$(git rev-parse HEAD 2>/dev/null || true)"
    export GIT_COMMIT
    pulumi up --yes --stack "$name"
    echo "stack $name is up: $(pulumi stack output url --stack "$name")"
else
    pulumi stack select "$name" >/dev/null 2>&1 || die "no stack named '$name' in this backend"
    pulumi destroy --yes --stack "$name"
    pulumi stack rm --yes "$name"
    echo "stack $name destroyed and removed"
fi
