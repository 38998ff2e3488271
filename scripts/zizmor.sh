#!/usr/bin/env bash
# Audits the GitHub Actions workflows, composite actions and dependabot.yml with zizmor.
#
#   bash scripts/zizmor.sh [zizmor options]
#
# Fails on any finding at or above medium severity. Offline: GitHub cannot be reached from the
# build machines, so the audits that ask GitHub (impostor commits, known-vulnerable actions, ref
# and version comment mismatches) are left to zizmor runs that have a token. zizmor is the locked
# one in .venv (requirements/dev.txt).
set -euo pipefail
cd "$(dirname "$0")/.."

zizmor=${ZIZMOR:-.venv/bin/zizmor}
if [[ ! -x "$zizmor" ]]; then
  echo "zizmor.sh: $zizmor not found: run 'make venv' first" >&2
  exit 2
fi

exec "$zizmor" --offline --strict-collection --min-severity medium --quiet --no-progress --color never \
  "$@" .github
