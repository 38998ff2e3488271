#!/usr/bin/env bash
# Make sure Debian's Chromium is at /usr/bin/chromium for the Playwright browser tests.
# Playwright drives this system browser (never `playwright install`, which downloads one).
# Safe to run any number of times.
set -euo pipefail

readonly CHROMIUM=/usr/bin/chromium

if [[ -x "$CHROMIUM" ]]; then
    echo "ensure-chromium: $CHROMIUM is present"
    exit 0
fi
[[ -r /etc/debian_version ]] || { echo "ensure-chromium: install Chromium at $CHROMIUM yourself (not Debian)" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || { echo "ensure-chromium: installing chromium needs root" >&2; exit 1; }

echo "ensure-chromium: installing chromium"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium >/dev/null
[[ -x "$CHROMIUM" ]] || { echo "ensure-chromium: chromium installed but $CHROMIUM is missing" >&2; exit 1; }
echo "ensure-chromium: installed $CHROMIUM"
