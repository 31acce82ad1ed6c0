#!/usr/bin/env bash
# The device check: build, test and benchmark hayate on a GPU host in one prepared command.
#
#   bash scripts/device-check.sh bundle   On a machine with Node and node_modules: compile the
#                                         TypeScript and pack what the GPU host lacks into .bundle/
#                                         (a compressed Node binary, the run-time and build-time
#                                         node_modules, dist/).
#   bash scripts/device-check.sh remote   On the GPU host, from the repository root with .bundle/
#                                         present: build the addon for sm_90 from source, run the
#                                         tests, the benchmarks and the PyTorch peers, print the
#                                         comparison table last and append it to bench/RESULTS.md.
#
# The GPU host has nvcc, CMake, ninja and Python with PyTorch but no Node.js, no npm and no package
# registry, hence the bundle. HY_DEVICE_CHECK_ALLOW_CPU=1 lets `remote` go on where CUDA is not
# available, to dry-run it on a CPU machine; its figures are then CPU ones. HY_LOG_DIR=<folder>
# also receives the logs and the table, whatever the outcome.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

readonly BUNDLE=.bundle
readonly MAX_BUNDLE_BYTES=$((60 * 1024 * 1024))
# Packages needed on the GPU host beyond package.json's dependencies: the test runner and the
# benchmark library. TypeScript is not among them: dist/ travels already compiled.
readonly EXTRA_MODULES=(uvu tinybench)

die() {
  echo "device-check: $*" >&2
  exit 1
}

# Prints the folders under node_modules that hold the dependency closure of package.json's
# dependencies and EXTRA_MODULES, resolved as Node resolves them (nearest node_modules first).
module_closure() {
  node - "${EXTRA_MODULES[@]}" <<'EOF'
const fs = require('node:fs');
const path = require('node:path');

const root = process.cwd();
const readPkg = (dir) => JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));

// The folder `name` resolves to when required from the package in `fromDir`.
function resolve(name, fromDir) {
  for (let dir = fromDir; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', name);
    if (fs.existsSync(path.join(candidate, 'package.json'))) return candidate;
    if (dir === root || dir === path.dirname(dir)) return undefined;
  }
}

const seen = new Set();
const queue = [...Object.keys(readPkg(root).dependencies ?? {}), ...process.argv.slice(2)].map((name) => [name, root, false]);
while (queue.length > 0) {
  const [name, from, optional] = queue.shift();
  const dir = resolve(name, from);
  if (dir === undefined) {
    if (optional) continue;
    console.error(`device-check: ${name} (needed by ${path.relative(root, from) || 'package.json'}) is not installed`);
    process.exit(1);
  }
  if (seen.has(dir)) continue;
  seen.add(dir);
  const pkg = readPkg(dir);
  for (const dep of Object.keys(pkg.dependencies ?? {})) queue.push([dep, dir, false]);
  for (const dep of Object.keys(pkg.optionalDependencies ?? {})) queue.push([dep, dir, true]);
}
// A folder nested inside another one already travels with it.
const dirs = [...seen].sort();
for (const d of dirs) {
  if (!dirs.some((outer) => d.startsWith(outer + path.sep))) console.log(path.relative(root, d));
}
EOF
}

# The commit the sources are at, "-dirty" when tracked files differ from it. bench/RESULTS.md does
# not count: every remote run appends to it.
source_state() {
  local state
  state=$(git rev-parse --short HEAD 2>/dev/null) || {
    echo unknown
    return
  }
  git diff --quiet HEAD -- . ':(exclude)bench/RESULTS.md' || state+=-dirty
  echo "$state"
}

bundle() {
  command -v node >/dev/null || die "bundle needs Node.js on PATH"
  [[ -d node_modules ]] || die "bundle needs node_modules: run npm ci first"

  echo "compiling TypeScript into dist/"
  rm -rf dist # a stale compiled benchmark or test would otherwise travel and run
  npx tsc -p .

  local closure modules
  closure=$(module_closure)
  mapfile -t modules <<<"$closure"
  rm -rf "$BUNDLE"
  mkdir -p "$BUNDLE"
  xz -T0 -c "$(readlink -f "$(command -v node)")" >"$BUNDLE/node.xz"
  tar -cJf "$BUNDLE/node_modules.tar.xz" "${modules[@]}"
  tar -cJf "$BUNDLE/dist.tar.xz" dist
  # dist/ was compiled from this commit; `remote` warns when the checkout there is another one.
  source_state >"$BUNDLE/commit"

  local bytes
  bytes=$(du -cb "$BUNDLE"/* | tail -n 1 | cut -f 1)
  echo "modules: ${modules[*]}"
  echo "bundle: $BUNDLE/ is $(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1048576 }') MiB (node $(node --version), built from $(cat "$BUNDLE/commit"))"
  ((bytes <= MAX_BUNDLE_BYTES)) || die "the bundle exceeds $((MAX_BUNDLE_BYTES / 1024 / 1024)) MiB"
}

# Seconds the next step may run: its cap, or what is left of the run's 5 minutes if less. Past
# the deadline a step gets 1 second, so it fails as timed out and the run still reports.
step_timeout() {
  local left=$((DEADLINE - SECONDS))
  ((left > 0)) || {
    echo "device-check: out of time before: $2" >&2
    left=1
  }
  echo $(($1 < left ? $1 : left))
}

# On exit, whatever the cause: drop the unpacked Node.js and copy the logs to $HY_LOG_DIR when it is set.
finish() {
  rm -rf "$TMP"
  if [[ -n ${HY_LOG_DIR:-} ]]; then mkdir -p "$HY_LOG_DIR" && cp -r "$LOGS/." "$HY_LOG_DIR/"; fi
}

remote() {
  [[ -f $BUNDLE/node.xz ]] || die "no $BUNDLE/: run 'bash scripts/device-check.sh bundle' on a machine with Node.js first"
  DEADLINE=$((SECONDS + 290))
  LOGS=$BUNDLE/logs
  rm -rf "$LOGS"
  mkdir -p "$LOGS"
  TMP=$(mktemp -d)
  trap finish EXIT
  local logs=$LOGS # short for the many paths below

  echo "== unpacking Node.js, node_modules and dist/"
  xz -dc "$BUNDLE/node.xz" >"$TMP/node"
  chmod +x "$TMP/node"
  export PATH="$TMP:$PATH"
  # This replaces the checkout's own node_modules/ and dist/, if it has any.
  rm -rf node_modules dist
  timeout "$(step_timeout 60 unpack)" tar -xJf "$BUNDLE/node_modules.tar.xz"
  timeout "$(step_timeout 30 unpack)" tar -xJf "$BUNDLE/dist.tar.xz"
  local head built
  head=$(source_state)
  built=$(cat "$BUNDLE/commit")
  echo "node $(node --version); dist/ built from $built, checkout at $head"
  [[ $head == "$built" ]] || echo "device-check: warning: dist/ was compiled from $built, not from this checkout ($head)" >&2

  echo "== building the addon from source for sm_90"
  rm -rf build
  # npm (and so npx) does not travel; running cmake-js's bin with node is what npx would do.
  CUDAARCHS=90 timeout "$(step_timeout 150 build)" node node_modules/cmake-js/bin/cmake-js compile 2>&1 |
    tee "$logs/build.log" || die "the build failed (see $logs/build.log)"
  grep -q 'hayate: CUDA build' "$logs/build.log" || die "the addon was not built with CUDA (see $logs/build.log)"
  echo "CUDA build: $(grep -o 'hayate: CUDA build.*' "$logs/build.log")"

  local card
  # shellcheck disable=SC2016 # ${...} below is a JavaScript template literal
  card=$(timeout "$(step_timeout 30 info)" node -e '
    const cuda = require("./dist/lib/index").info().cuda;
    console.error(JSON.stringify(cuda));
    console.log(cuda.available ? cuda.device.name : `cpu (no CUDA: ${cuda.reason})`);
    process.exitCode = cuda.available ? 0 : 3;
  ' 2> >(tee "$logs/info.json" >&2)) || {
    [[ ${HY_DEVICE_CHECK_ALLOW_CPU:-0} == 1 ]] || die "hayate.info().cuda.available is false: CUDA is not usable here (see above)"
    echo "device-check: CUDA unavailable; going on because HY_DEVICE_CHECK_ALLOW_CPU=1 (CPU figures)" >&2
  }
  echo "card: $card"

  # A failing step below is remembered, not fatal: the later steps still run, the exit status says.
  local failed=()
  echo "== tests"
  timeout "$(step_timeout 90 tests)" node dist/test/run.js 2>&1 | tee "$logs/test.log" || failed+=(tests)

  echo "== benchmarks"
  HY_BENCH_JSON="$logs/bench.json" timeout "$(step_timeout 90 benchmarks)" node dist/bench/run.js 2>&1 |
    tee "$logs/bench.log" || failed+=(benchmarks)

  local peer name peer_json=()
  for peer in bench/peers/*.py; do
    name=$(basename "$peer" .py)
    [[ $name == _* ]] && continue # shared helpers, not a peer
    echo "== PyTorch peer: $name"
    # stdout holds the JSON rows; notices and errors go to stderr.
    timeout "$(step_timeout 60 "peer $name")" python3 "$peer" >"$logs/peer-$name.json" 2> >(tee "$logs/peer-$name.log" >&2) ||
      failed+=("peer $name")
    peer_json+=("$logs/peer-$name.json")
  done

  [[ -f $logs/bench.json ]] || die "no benchmark rows to compare (failed: ${failed[*]})"
  timeout "$(step_timeout 20 table)" node dist/bench/compare.js "$logs/bench.json" "${peer_json[@]}" >"$logs/table.md"
  # The first recorded run replaces bench/RESULTS.md's placeholder line.
  sed -i '/^No GPU run has been recorded yet\.$/d' bench/RESULTS.md
  {
    echo
    echo "## $(date -u '+%Y-%m-%d %H:%M UTC') · $(git rev-parse --short HEAD 2>/dev/null || echo unknown) · $card"
    echo
    cat "$logs/table.md"
  } >>bench/RESULTS.md

  ((${#failed[@]} == 0)) || echo "device-check: FAILED: ${failed[*]} (logs in $logs)" >&2
  echo
  cat "$logs/table.md"
  ((${#failed[@]} == 0))
}

case "${1:-}" in
  bundle) bundle ;;
  remote) remote ;;
  *) die "usage: bash scripts/device-check.sh bundle|remote" ;;
esac
