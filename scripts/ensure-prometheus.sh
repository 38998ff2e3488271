#!/usr/bin/env bash
# Make sure Debian's Prometheus server and promtool are installed (tests run them on 127.0.0.1:
# `promtool check/test rules` on the alert rules, and a real Prometheus scraping `python -m api`).
# Debian 12 ships Prometheus 2.42: enough to scrape, evaluate PromQL and unit-test rules. The
# image that ships metrics on Azure is the official one, pinned by digest (infra/). Only the
# binaries are used: the package's own service is never started. Safe to run any number of times.
set -euo pipefail

if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; then
    echo "ensure-prometheus: $(promtool --version 2>&1 | head -n 1)"
    exit 0
fi
[[ -r /etc/debian_version ]] || { echo "ensure-prometheus: install prometheus and promtool yourself (not Debian)" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || { echo "ensure-prometheus: installing prometheus needs root" >&2; exit 1; }

echo "ensure-prometheus: installing prometheus"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# policy-rc.d 101: the package's postinst must not start a server of its own here.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created_policy=1
fi
apt-get install -y -qq --no-install-recommends prometheus >/dev/null
if [[ $created_policy -eq 1 ]]; then rm -f "$policy"; fi
command -v promtool >/dev/null 2>&1 || { echo "ensure-prometheus: installed, but promtool is missing" >&2; exit 1; }
echo "ensure-prometheus: $(promtool --version 2>&1 | head -n 1)"
