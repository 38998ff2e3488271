#!/usr/bin/env bash
# Audits the GitHub Actions workflows, composite actions and dependabot.yml with zizmor.
#
#   bash scripts/zizmor.sh [INPUT...]      (default: .github)
#
# Fails on any finding at or above medium severity. Offline: GitHub cannot be reached from the
# build machines, so the audits that ask GitHub (impostor commits, known-vulnerable actions, ref
# and version comment mismatches) are left to zizmor runs that have a token. zizmor is the locked
# one in .venv (requirements/dev-3.X.txt).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

zizmor=${ZIZMOR:-$root/.venv/bin/zizmor}
if [[ ! -x "$zizmor" ]]; then
  echo "zizmor.sh: $zizmor not found: run 'make venv' first" >&2
  exit 2
fi

if (( $# == 0 )); then
  cd "$root"
  set -- .github
fi
# --strict-collection: a file that is not a valid workflow fails instead of being skipped.
exec "$zizmor" --offline --strict-collection --min-severity medium --quiet --no-progress \
  --color never "$@"
