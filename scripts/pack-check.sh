#!/usr/bin/env bash
# The package a user installs must install. Packs this checkout with `npm pack`, installs the
# tarball into a fresh project in a temporary folder as a user would (`npm install <tarball>`: its
# install script compiles the addon from the shipped sources, with CUDA where nvcc is found), then
# runs tensor operations through the installed package from CommonJS `require` and from an ES
# module `import` (named and default), checking the values.
#
# Also checked: the tarball holds LICENSE, the ES module entry and its types, and source maps that
# carry their sources; the install prints a few "hayate: ..." lines, not CMake's output; where the
# addon has CUDA and the machine no NVIDIA driver, info().cuda.reason is "no NVIDIA driver found";
# the tarball installed with --ignore-scripts (no addon) throws one error naming `npm rebuild hayate`;
# and a strict TypeScript consumer (skipLibCheck false, `types: []`: no @types/node) compiles
# against the installed types under module node16 and nodenext, ESM and CommonJS, with this
# checkout's TypeScript (node_modules/.bin/tsc).
#
# Dependencies come from the npm registry (or npm's cache); nothing else may be downloaded at
# install: the install runs with a HOME of its own, where cmake-js would keep any headers it
# fetched, and that folder must stay empty. Also checked: no test program is built by the install,
# and where nvcc is on PATH (and HAYATE_CPU_ONLY is not set) the addon was compiled with CUDA.
#
#   bash scripts/pack-check.sh            HY_PACK_KEEP=1 keeps the temporary folder for a look
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$(pwd)
tsc="$repo/node_modules/.bin/tsc"

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
tar -tzf "$tarball" >"$work/files.txt"
for f in LICENSE package.json scripts/install.js dist/lib/index.js dist/lib/index.d.ts dist/lib/index.mjs dist/lib/index.d.mts; do
  grep -qx "package/$f" "$work/files.txt" || die "the tarball lacks $f"
done

echo "== npm install <tarball> in a fresh project"
app="$work/app"
mkdir -p "$app" "$work/home"
cat >"$app/package.json" <<'EOF'
{ "name": "hayate-pack-check", "version": "1.0.0", "private": true }
EOF
start=$SECONDS
# --foreground-scripts: npm shows the install script's own output, to check what a user sees.
(cd "$app" && HOME="$work/home" npm_config_cache="$npm_cache" npm_config_userconfig="$npm_userconfig" npm install --no-audit --no-fund --prefer-offline --foreground-scripts "$tarball") \
  >"$work/install.log" 2>&1 || { tail -60 "$work/install.log"; die "installing the tarball failed (log above)"; }
echo "installed and built in $((SECONDS - start)) s; the install printed:"
grep '^hayate: ' "$work/install.log" | sed 's/^/  /' || true
stage_lines=$(grep -c '^hayate: ' "$work/install.log" || true)
{ [ "$stage_lines" -ge 2 ] && [ "$stage_lines" -le 6 ]; } || { cat "$work/install.log"; die "the install printed $stage_lines 'hayate:' lines (expected 2 to 6)"; }
if grep -E '^-- |^\[ *[0-9]+/[0-9]+\]|^\[ *[0-9]+%\]' "$work/install.log" >/dev/null; then
  cat "$work/install.log"
  die "the install printed CMake's or the compiler's output"
fi
if [ -n "$(ls -A "$work/home" 2>/dev/null | grep -v '^\.npm$' || true)" ]; then
  ls -la "$work/home"
  die "the install wrote to HOME (a download outside the npm registry?)"
fi
pkg="$app/node_modules/hayate"
[ -f "$pkg/build/Release/hayate.node" ] || die "the install did not build build/Release/hayate.node"
[ -s "$pkg/build/install.log" ] || die "the install kept no build/install.log"
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
import * as ns from 'hayate';
import hy, { tensor, matmul, info } from 'hayate';
import { createRequire } from 'node:module';
import run from './checks.js';

if (typeof tensor !== 'function' || typeof matmul !== 'function' || typeof info !== 'function') {
  throw new Error('import: named exports tensor, matmul and info are missing');
}
const cjs = createRequire(import.meta.url)('hayate');
if (hy !== cjs) throw new Error('import: the default export is not the module require() gives');
const names = (o) => Object.keys(o).filter((k) => k !== 'default' && k !== '__esModule').sort().join(',');
if (names(ns) !== names(cjs)) throw new Error(`import: named exports differ from require's: ${names(ns)} vs ${names(cjs)}`);
console.log(await run(hy, 'import (default)', process.argv[2] === '1'));
console.log(await run(ns, 'import (named)', process.argv[2] === '1'));
EOF

echo "== tensor operations through the installed package"
(cd "$app" && node main.cjs "$expect_cuda") || die "the installed package fails from require"
(cd "$app" && node main.mjs "$expect_cuda") || die "the installed package fails from import"
(cd "$app" && node --input-type=module -e "import hy, { tensor } from 'hayate'; if (hy.sum(tensor([1, 2, 3])).item() !== 6 || hy.tensor !== tensor) process.exit(1)") \
  || die "import hy, { tensor } from 'hayate' fails"
(cd "$app" && node -e "const { tensor } = require('hayate'); if (require('hayate').sum(tensor([1, 2, 3])).item() !== 6 || require('hayate/package.json').name !== 'hayate') process.exit(1)") \
  || die "require('hayate') or require('hayate/package.json') fails"

# Where the addon has CUDA and the machine no NVIDIA driver (no kernel module, no device node, no
# libcuda.so.1), the reason says so in plain words.
cat >"$app/reason.js" <<'EOF'
const fs = require('fs');
const c = require('hayate').info().cuda;
const libDirs = [...(process.env.LD_LIBRARY_PATH || '').split(':').filter(Boolean), '/usr/lib/wsl/lib', '/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/lib64', '/lib'];
const driver = fs.existsSync('/proc/driver/nvidia/version') || fs.readdirSync('/dev').some((f) => /^nvidia(\d+|ctl)$/.test(f)) || libDirs.some((d) => fs.existsSync(`${d}/libcuda.so.1`));
if (c.compiled && !c.available && !driver && c.reason !== 'no NVIDIA driver found') {
  console.error(`cuda.reason on a machine without an NVIDIA driver: ${c.reason}`);
  process.exit(1);
}
console.log(`cuda: ${c.available ? 'available' : `not used (${c.reason})`}`);
EOF
(cd "$app" && node reason.js) || die "a CUDA build on a machine without an NVIDIA driver does not say 'no NVIDIA driver found'"

echo "== source maps carry their sources"
cat >"$app/maps.js" <<'EOF'
const fs = require('fs');
const path = require('path');
const walk = (d) => fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(d, e.name)) : [path.join(d, e.name)]));
const maps = walk('node_modules/hayate/dist/lib').filter((f) => f.endsWith('.map'));
const bad = maps.filter((m) => {
  const j = JSON.parse(fs.readFileSync(m, 'utf8'));
  return !j.sourcesContent || j.sourcesContent.length !== j.sources.length || j.sourcesContent.some((c) => typeof c !== 'string');
});
if (maps.length === 0 || bad.length > 0) {
  console.error(`source maps without their sources: ${bad.join(', ') || '(no maps at all)'}`);
  process.exit(1);
}
console.log(`${maps.length} source maps, each with its sources`);
EOF
(cd "$app" && node maps.js) || die "the package's source maps point at sources it does not ship"

echo "== npm install --ignore-scripts <tarball>: no addon, one clear error"
bare="$work/bare"
mkdir -p "$bare"
cat >"$bare/package.json" <<'EOF'
{ "name": "hayate-pack-check-bare", "version": "1.0.0", "private": true }
EOF
(cd "$bare" && HOME="$work/home" npm_config_cache="$npm_cache" npm_config_userconfig="$npm_userconfig" npm install --no-audit --no-fund --prefer-offline --ignore-scripts "$tarball") \
  >"$work/install-bare.log" 2>&1 || { tail -30 "$work/install-bare.log"; die "installing the tarball with --ignore-scripts failed"; }
[ ! -e "$bare/node_modules/hayate/build" ] || die "--ignore-scripts still built the addon"
for how in require import; do
  if [ "$how" = require ]; then flags=(-e "require('hayate')"); else flags=(--input-type=module -e "import 'hayate'"); fi
  if (cd "$bare" && node "${flags[@]}") >"$work/bare-$how.txt" 2>&1; then die "$how of a package without its addon did not fail"; fi
  { grep -q 'npm rebuild hayate' "$work/bare-$how.txt" && grep -q 'CMake' "$work/bare-$how.txt" && ! grep -q 'Tried:' "$work/bare-$how.txt"; } \
    || { cat "$work/bare-$how.txt"; die "$how of a package without its addon: not the one clear error"; }
done
grep -m1 -o 'Error: hayate: .*' "$work/bare-require.txt" | cut -c1-120 | sed 's/$/.../'

echo "== a strict TypeScript consumer: skipLibCheck false, types [] (no @types/node)"
[ -x "$tsc" ] || die "no TypeScript in this checkout ($tsc): run npm install"
cat >"$app/consumer.mts" <<'EOF'
import hy, { tensor, Tensor, type DType, type Device, type Info } from 'hayate';

const t: Tensor = tensor([1, 2, 3, 4], { shape: [2, 2] });
const u: Tensor = hy.matmul(t, hy.ones([2, 2]));
const dtype: DType = u.dtype;
const device: Device = u.device;
const i: Info = hy.info();
const total: number = hy.sum(u).item();
const model = new hy.nn.Linear(2, 1);
const out: Tensor = model.forward(t);
export { dtype, device, i, total, out };
EOF
cat >"$app/consumer.cts" <<'EOF'
import hy = require('hayate');
import { tensor, type Tensor } from 'hayate';

const t: Tensor = tensor([1, 2, 3]);
const values: Promise<hy.ReadData> = hy.add(t, hy.ones([3])).data(); // Float32Array, Int32Array or (bool) Uint8Array
export = values;
EOF
cat >"$app/tsconfig.json" <<'EOF'
{
  "compilerOptions": {
    "target": "ES2022",
    "lib": ["ES2022", "ESNext.Disposable"],
    "module": "nodenext",
    "moduleResolution": "nodenext",
    "types": [],
    "skipLibCheck": false,
    "strict": true,
    "noEmit": true
  },
  "files": ["consumer.mts", "consumer.cts"]
}
EOF
for mode in nodenext node16; do
  (cd "$app" && "$tsc" -p tsconfig.json --module "$mode" --moduleResolution "$mode") >"$work/tsc-$mode.txt" 2>&1 \
    || { cat "$work/tsc-$mode.txt"; die "the installed types do not compile in a strict consumer without @types/node (module $mode)"; }
  echo "module $mode: the ESM and CommonJS consumers compile"
done

echo "pack-check: the packed tarball installs, builds its addon and runs from require and import; its types compile strictly"
