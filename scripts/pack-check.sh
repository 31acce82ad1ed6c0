#!/usr/bin/env bash
# The package a user installs must install. Packs this checkout with `npm pack`, installs the
# tarball into a fresh project in a temporary folder as a user would (`npm install <tarball>`: its
# install script compiles the addon from the shipped sources, with CUDA where nvcc is found), then
# runs tensor operations through the installed package from CommonJS `require` and from an ES
# module `import`, checking the values.
#
# Dependencies come from the npm registry (or npm's cache); nothing else may be downloaded at
# install: the install runs with a HOME of its own, where cmake-js would keep any headers it
# fetched, and that folder must stay empty. Also checked: no test program is built by the install,
# and where nvcc is on PATH (and HAYATE_CPU_ONLY is not set) the addon was compiled with CUDA.
#
#   bash scripts/pack-check.sh            HY_PACK_KEEP=1 keeps the temporary folder for a look
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

work=$(mktemp -d "${TMPDIR:-/tmp}/hayate-pack.XXXXXX")
cleanup() {
  if [ "${HY_PACK_KEEP:-0}" = 1 ]; then echo "pack-check: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
die() {
  echo "pack-check: $*" >&2
  exit 1
}

# The install gets a HOME of its own but keeps npm's cache and the user's npm configuration.
npm_cache=$(npm config get cache)
npm_userconfig=$(npm config get userconfig)

echo "== npm pack"
mkdir -p "$work/pack"
npm pack --pack-destination "$work/pack" >"$work/pack.log" 2>&1 || { cat "$work/pack.log"; die "npm pack failed"; }
tarballs=("$work"/pack/*.tgz)
[ "${#tarballs[@]}" -eq 1 ] && [ -f "${tarballs[0]}" ] || die "npm pack made no single tarball: ${tarballs[*]}"
tarball=${tarballs[0]}
echo "$(basename "$tarball"): $(tar -tzf "$tarball" | wc -l) files, $(du -k "$tarball" | cut -f1) KiB"
if tar -tzf "$tarball" | grep -E '^package/(test|bench|emulator|build|node_modules)/' >/dev/null; then
  die "the tarball ships test, bench, emulator, build or node_modules files"
fi

echo "== npm install <tarball> in a fresh project"
app="$work/app"
mkdir -p "$app" "$work/home"
cat >"$app/package.json" <<'EOF'
{ "name": "hayate-pack-check", "version": "1.0.0", "private": true }
EOF
start=$SECONDS
(cd "$app" && HOME="$work/home" npm_config_cache="$npm_cache" npm_config_userconfig="$npm_userconfig" npm install --no-audit --no-fund --prefer-offline "$tarball") \
  >"$work/install.log" 2>&1 || { tail -60 "$work/install.log"; die "installing the tarball failed (log above)"; }
echo "installed and built in $((SECONDS - start)) s"
if [ -n "$(ls -A "$work/home" 2>/dev/null | grep -v '^\.npm$' || true)" ]; then
  ls -la "$work/home"
  die "the install wrote to HOME (a download outside the npm registry?)"
fi
pkg="$app/node_modules/hayate"
[ -f "$pkg/build/Release/hayate.node" ] || die "the install did not build build/Release/hayate.node"
if find "$pkg/build" -name 'hayate_*_test' | grep . >/dev/null; then die "the install built native test programs"; fi

expect_cuda=0
if command -v nvcc >/dev/null 2>&1 && { [ -z "${HAYATE_CPU_ONLY:-}" ] || [ "${HAYATE_CPU_ONLY}" = 0 ]; }; then expect_cuda=1; fi

# The same checks from both module systems: elementwise add with broadcasting, matmul, a reduction
# and a float16 round trip, on every backend the installed addon offers.
cat >"$app/checks.js" <<'EOF'
'use strict';
module.exports = async function run(hy, how, expectCuda) {
  const info = hy.info();
  if (expectCuda && !info.cuda.compiled) throw new Error(`${how}: nvcc is present but the installed addon has no CUDA`);
  const fail = (what, got, want) => {
    throw new Error(`${how} ${what}: got ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
  };
  const same = (what, got, want) => {
    const g = Array.from(got);
    if (g.length !== want.length || g.some((v, i) => v !== want[i])) fail(what, g, want);
  };
  for (const device of info.backends) {
    const a = hy.tensor([1, 2, 3, 4, 5, 6], { shape: [2, 3], device });
    const b = hy.tensor([10, 20, 30], { device });
    same(`add [${device}]`, await hy.add(a, b).data(), [11, 22, 33, 14, 25, 36]);
    const m = hy.tensor([1, 0, 0, 1, 2, -1], { shape: [3, 2], device });
    same(`matmul [${device}]`, await hy.matmul(a, m).data(), [7, -1, 16, -1]);
    same(`sum [${device}]`, [hy.sum(a).item()], [21]);
    same(`float16 [${device}]`, a.to('float16').dataSync(), [1, 2, 3, 4, 5, 6]);
  }
  return `${how}: ok on ${info.backends.join(', ')} (cuda compiled: ${info.cuda.compiled}${info.cuda.reason ? `, ${info.cuda.reason}` : ''})`;
};
EOF
cat >"$app/main.cjs" <<'EOF'
const hy = require('hayate');
require('./checks.js')(hy, 'require', process.argv[2] === '1').then(console.log, (e) => {
  console.error(e);
  process.exit(1);
});
EOF
cat >"$app/main.mjs" <<'EOF'
import * as hy from 'hayate';
import { tensor, matmul, info } from 'hayate';
import run from './checks.js';

if (typeof tensor !== 'function' || typeof matmul !== 'function' || typeof info !== 'function') {
  throw new Error('import: named exports tensor, matmul and info are missing');
}
console.log(await run(hy, 'import', process.argv[2] === '1'));
EOF

echo "== tensor operations through the installed package"
(cd "$app" && node main.cjs "$expect_cuda") || die "the installed package fails from require"
(cd "$app" && node main.mjs "$expect_cuda") || die "the installed package fails from import"
echo "pack-check: the packed tarball installs, builds its addon and runs from require and import"
