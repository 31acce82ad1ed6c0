#!/usr/bin/env bash
# The device check: build, test, sanitize and benchmark hayate on a GPU host in one prepared command.
#
#   bash scripts/device-check.sh bundle   On a machine with Node and node_modules: compile the
#                                         TypeScript and pack what the GPU host lacks into .bundle/
#                                         (a compressed Node binary, the run-time and build-time
#                                         node_modules, dist/).
#   bash scripts/device-check.sh remote   On the GPU host, from the repository root with .bundle/
#                                         present, in timed steps: unpack; build the addon for sm_90
#                                         with -lineinfo; check CUDA; run the CUDA cases of the suite
#                                         (HY_BACKENDS=cuda); run the benchmarks and the PyTorch peers
#                                         and put them side by side; then compute-sanitizer's memcheck
#                                         and racecheck over short CUDA subsets of the suite. Prints
#                                         every step's measured time and appends the table, with how
#                                         each step went, to bench/RESULTS.md.
#
# The GPU host has nvcc, CMake, ninja, compute-sanitizer and Python with PyTorch but no Node.js, no npm
# and no package registry, hence the bundle. HY_DEVICE_CHECK_ALLOW_CPU=1 lets `remote` go on where
# CUDA is not available, to dry-run it on a CPU machine: the CPU cases stand in for the CUDA ones, the
# figures are CPU ones and bench/RESULTS.md is left alone. HY_LOG_DIR=<folder> receives everything the
# run writes (logs, bench.json, the peers' rows, table.md, RESULTS-section.md, steps.tsv) as it goes;
# without it they go to .bundle/logs/.
set -euo pipefail

# HY_LOG_DIR may be relative to where the script was started.
if [[ -n ${HY_LOG_DIR:-} ]]; then
  mkdir -p "$HY_LOG_DIR"
  HY_LOG_DIR=$(cd "$HY_LOG_DIR" && pwd)
fi

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
  local t0=$SECONDS
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
  echo "bundle: $BUNDLE/ is $(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1048576 }') MiB (node $(node --version), built from $(cat "$BUNDLE/commit")), made in $((SECONDS - t0)) s"
  ((bytes <= MAX_BUNDLE_BYTES)) || die "the bundle exceeds $((MAX_BUNDLE_BYTES / 1024 / 1024)) MiB"
}

# Each step's cap in seconds is twice what it needs: its longest time in five dry runs of
# 2026-12-01 on a 2-core machine without a GPU (HY_DEVICE_CHECK_ALLOW_CPU=1; README.md, "Device
# check", lists them), plus, where a step does work on a GPU host that a dry run cannot do, an
# estimate of that work, named below; 10 s at least. A GPU host has more cores, so the CPU-bound
# parts (unpack, build, the float64 oracles of the tests) take less there. Every step prints its
# measured time, so the first GPU run replaces the estimates with figures.
readonly CAP_UNPACK=10     # dry runs 1.7-2.4 s
readonly CAP_BUILD=120     # dry runs 37-55 s: nvcc for sm_90 on 2 cores
readonly CAP_INFO=10       # dry runs 0.1 s
readonly CAP_TESTS=35      # dry runs 14-16 s: the cpu cases standing in for the cuda ones, same oracles
# The benchmarks and the peers measure the GPU rows alone there (HY_BENCH_DEVICES=cuda; CI and a
# dry run measure the CPU rows). Estimated for the CUDA rows: copy 12 cases x 1.5 s of tinybench
# time and warm-up (18 s), GELU 16 timings x 0.4 s (7 s), GEMM 14 cases x 0.35 s (5 s), the data
# loader (5 s), and the other kernel families' 70 cases x about 0.6 s (42 s): 77 s, rounded up;
# plus convolution's ~620 short rows (every CUDA implementation of 3 directions at 20 shapes and 2
# dtypes, 15 ms of samples each) at about 30 ms a row with setup and the autotuner's trials (20 s);
# plus the optimizer steps over ResNet-50's parameter set: 16 rows x (0.3 s + 0.2 s of setup) (8 s).
readonly CAP_BENCH=180
# All peers in one Python process (bench/peers/all.py): import torch and start CUDA once (12 s
# estimated), then the same cases as the benchmarks at about 0.3 s a case (35 s); plus conv.py's
# 122 cases at about 0.15 s each, cuDNN's benchmark search of each new shape included (18 s); plus
# optim.py's 8 CUDA rows over ResNet-50's parameter set at about 1 s each with setup (8 s).
readonly CAP_PEERS=120
readonly CAP_TABLE=10      # dry runs 0.1 s
# The seed's table on the GPU, estimated: 9 measured rows of 20,000 samples (313 steps at about 3 ms,
# 1 s) plus model set-up, the autotuner's trials and a warm-up (2 s) a row; the peer the same, with
# torch's import and DataLoader workers starting (5 s).
readonly CAP_TIPS=60
readonly CAP_TIPS_PEER=70
# dry runs 5.4-6.3 s and 4.5-6.0 s for the subsets alone + 30 s estimated for compute-sanitizer's
# start and the instrumentation of each kernel at its first launch, less the margin the conv rows took
readonly CAP_MEMCHECK=60
readonly CAP_RACECHECK=60
# The whole run: the sum of the caps, so that no step is starved by an earlier one that kept to its cap.
readonly RUN_CAP=$((CAP_UNPACK + CAP_BUILD + CAP_INFO + CAP_TESTS + CAP_BENCH + CAP_PEERS + CAP_TABLE + CAP_MEMCHECK + CAP_RACECHECK + CAP_TIPS + CAP_TIPS_PEER))

# The compute-sanitizer passes: memcheck over the CUDA cases of the suites that launch every kernel
# family, racecheck over those of the suites that launch the kernels using shared memory (GEMM tiles,
# softmax and cross-entropy rows, batch-norm statistics, sum reductions, the optimizers' norm blocks). HY_TEST takes a comma list.
readonly MEMCHECK_SUITES=tensor,random,ops,gemm,linalg,nn,optimizers,grad-scaler
readonly RACECHECK_SUITES=gemm.test,nn.test,ops.test,conv.test,optimizers.test

# Seconds the next step may run: its cap, or what is left of the run's RUN_CAP if less. Past the
# deadline a step gets 1 second, so it fails as timed out and the run still reports.
step_timeout() {
  local left=$((DEADLINE - SECONDS))
  ((left > 0)) || {
    echo "device-check: out of time before: $2" >&2
    left=1
  }
  echo $(($1 < left ? $1 : left))
}

# Milliseconds since the epoch.
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# step <name> <cap> <log> <command...>: runs the command under its cap with stdout and stderr shown
# and written to <log>, prints the measured time, and records "name, outcome, seconds, cap" in
# steps.tsv. Returns the command's status (124 when the cap ended it).
step() {
  local name=$1 cap=$2 log=$3
  shift 3
  local limit t0 status seconds outcome
  limit=$(step_timeout "$cap" "$name")
  echo "== $name (cap ${cap} s)"
  t0=$(now_ms)
  set +e
  timeout -k 5 "$limit" "$@" 2>&1 | tee "$log"
  status=${PIPESTATUS[0]}
  set -e
  seconds=$(awk -v ms=$(($(now_ms) - t0)) 'BEGIN { printf "%.1f", ms / 1000 }')
  case $status in
    0) outcome=ok ;;
    124 | 137) outcome="TIMED OUT after ${limit} s" ;;
    *) outcome="FAILED (exit $status)" ;;
  esac
  echo "== $name: $outcome in $seconds s (cap $cap s)"
  printf '%s\t%s\t%s\t%s\n' "$name" "$outcome" "$seconds" "$cap" >>"$LOGS/steps.tsv"
  return "$status"
}

# Records a step that did not run, with the reason.
skip_step() {
  echo "== $1: skipped: $2"
  printf '%s\t%s\t-\t%s\n' "$1" "skipped: $2" "$3" >>"$LOGS/steps.tsv"
}

# The compute-sanitizer binary: on PATH, next to nvcc, or in the toolkit's usual places.
find_sanitizer() {
  local nvcc candidates=()
  command -v compute-sanitizer && return
  nvcc=$(command -v nvcc) && candidates+=("$(dirname "$(readlink -f "$nvcc")")")
  candidates+=("${CUDA_HOME:-/usr/local/cuda}/bin" "${CUDA_HOME:-/usr/local/cuda}/compute-sanitizer" /usr/local/cuda/bin /usr/local/cuda/compute-sanitizer)
  local dir
  for dir in "${candidates[@]}"; do
    [[ -x $dir/compute-sanitizer ]] && {
      echo "$dir/compute-sanitizer"
      return
    }
  done
  return 1
}

# On exit, whatever the cause: drop the unpacked Node.js.
finish() {
  rm -rf "$TMP"
}

remote() {
  [[ -f $BUNDLE/node.xz ]] || die "no $BUNDLE/: run 'bash scripts/device-check.sh bundle' on a machine with Node.js first"
  DEADLINE=$((SECONDS + RUN_CAP))
  # Every log, the table and the RESULTS.md section are written straight into HY_LOG_DIR when it is
  # set, as each step goes, so they come back in one piece even from a run that was cut short.
  if [[ -n ${HY_LOG_DIR:-} ]]; then
    LOGS=$HY_LOG_DIR
  else
    LOGS=$BUNDLE/logs
    rm -rf "$LOGS"
  fi
  mkdir -p "$LOGS"
  rm -f "$LOGS/steps.tsv"
  TMP=$(mktemp -d)
  trap finish EXIT
  local logs=$LOGS # short for the many paths below
  local dry=0
  echo "device-check: run cap $RUN_CAP s; logs in $logs"

  export PATH="$TMP:$PATH"
  # This replaces the checkout's own node_modules/ and dist/, if it has any.
  rm -rf node_modules dist
  step unpack "$CAP_UNPACK" "$logs/unpack.log" bash -c 'xz -dc "$1" >"$2" && chmod +x "$2" && tar -xJf "$3" && tar -xJf "$4"' _ \
    "$BUNDLE/node.xz" "$TMP/node" "$BUNDLE/node_modules.tar.xz" "$BUNDLE/dist.tar.xz" || die "unpacking the bundle failed"
  local head built
  head=$(source_state)
  built=$(cat "$BUNDLE/commit")
  echo "node $(node --version); dist/ built from $built, checkout at $head"
  [[ $head == "$built" ]] || echo "device-check: warning: dist/ was compiled from $built, not from this checkout ($head)" >&2

  # One build serves every step: -lineinfo adds line tables for compute-sanitizer's reports and
  # leaves the machine code as it is (every kernel of cuda/ compiles to the same sm_90 code with and
  # without it, nvcc 13.0), so the benchmarks measure the kernels a user gets.
  rm -rf build
  # npm (and so npx) does not travel; running cmake-js's bin with node is what npx would do.
  step "build (sm_90, -lineinfo)" "$CAP_BUILD" "$logs/build.log" \
    env CUDAARCHS=90 node node_modules/cmake-js/bin/cmake-js compile --CDCMAKE_CUDA_FLAGS=-lineinfo ||
    die "the build failed (see $logs/build.log)"
  grep -q 'hayate: CUDA build' "$logs/build.log" || die "the addon was not built with CUDA (see $logs/build.log)"
  grep -q -- '-lineinfo' build/CMakeCache.txt || die "CMAKE_CUDA_FLAGS=-lineinfo did not reach CMake (see build/CMakeCache.txt)"
  echo "CUDA build: $(grep -o 'hayate: CUDA build.*' "$logs/build.log"), CUDA flags: $(grep -o '^CMAKE_CUDA_FLAGS:[A-Z]*=.*' build/CMakeCache.txt | cut -d= -f2-)"

  # info.json keeps what hayate reports about CUDA; card.txt the card's name, or why there is none.
  # shellcheck disable=SC2016 # ${...} below is a JavaScript template literal
  step info "$CAP_INFO" "$logs/info.log" node -e '
    const fs = require("fs");
    const cuda = require("./dist/lib/index").info().cuda;
    fs.writeFileSync(process.argv[1] + "/info.json", JSON.stringify(cuda) + "\n");
    fs.writeFileSync(process.argv[1] + "/card.txt", cuda.available ? cuda.device.name : `cpu (no CUDA: ${cuda.reason})`);
    console.log(JSON.stringify(cuda));
  ' "$logs" || die "hayate does not load (see $logs/info.log)"
  local card
  card=$(cat "$logs/card.txt")
  if ! grep -q '"available":true' "$logs/info.json"; then
    [[ ${HY_DEVICE_CHECK_ALLOW_CPU:-0} == 1 ]] || die "hayate.info().cuda.available is false: CUDA is not usable here (see above)"
    echo "device-check: CUDA unavailable; going on because HY_DEVICE_CHECK_ALLOW_CPU=1 (a dry run: CPU figures)" >&2
    dry=1
  fi
  echo "card: $card"

  # The device check runs the CUDA cases alone: the CPU half of the suite is CI's. A dry run has no
  # CUDA cases to run, so the CPU cases stand in for them: the same cases on the same float64 oracles.
  local backend=cuda
  if ((dry)); then
    backend=cpu
    echo "device-check: dry run: HY_BACKENDS=cpu stands in for HY_BACKENDS=cuda in the test and sanitizer steps" >&2
  fi

  # A failing step below is remembered, not fatal: the later steps still run, the exit status says.
  local failed=()
  step tests "$CAP_TESTS" "$logs/test.log" env HY_BACKENDS=$backend node dist/test/run.js || failed+=(tests)

  step benchmarks "$CAP_BENCH" "$logs/bench.log" env HY_BENCH_DEVICES=$backend HY_BENCH_JSON="$logs/bench.json" node dist/bench/run.js ||
    failed+=(benchmarks)

  # stdout holds the JSON rows of every peer; notices and errors go to the step's log.
  local peer_json=("$logs/peers.json")
  step peers "$CAP_PEERS" "$logs/peers.log" env HY_BENCH_DEVICES=$backend bash -c 'python3 bench/peers/all.py >"$1"' _ "$logs/peers.json" ||
    failed+=(peers)

  if [[ -f $logs/bench.json ]]; then
    # stdout is the table; the pairing summary and any unreadable row go to stderr, into the log.
    step table "$CAP_TABLE" "$logs/table.log" bash -c 'out=$1 && shift && node dist/bench/compare.js "$@" >"$out"' _ \
      "$logs/table.md" "$logs/bench.json" "${peer_json[@]}" || failed+=(table)
  else
    skip_step table "no benchmark rows to compare" "$CAP_TABLE"
    failed+=(table)
  fi

  local sanitizer
  if sanitizer=$(find_sanitizer); then
    echo "compute-sanitizer: $sanitizer ($("$sanitizer" --version | grep -o 'Version.*' | head -n 1))"
    # --error-exitcode makes a reported error fail the step even where every test passed: exit 86
    # is compute-sanitizer's finding, 1 a failed test.
    step "memcheck ($MEMCHECK_SUITES)" "$CAP_MEMCHECK" "$logs/memcheck.log" \
      env HY_BACKENDS=$backend HY_TEST=$MEMCHECK_SUITES "$sanitizer" --tool memcheck --error-exitcode 86 node dist/test/run.js ||
      failed+=(memcheck)
    step "racecheck ($RACECHECK_SUITES)" "$CAP_RACECHECK" "$logs/racecheck.log" \
      env HY_BACKENDS=$backend HY_TEST=$RACECHECK_SUITES "$sanitizer" --tool racecheck --error-exitcode 86 node dist/test/run.js ||
      failed+=(racecheck)
  else
    # The subsets still run, alone, so that their selection is checked and their time measured.
    skip_step "memcheck ($MEMCHECK_SUITES)" "compute-sanitizer not found" "$CAP_MEMCHECK"
    step "memcheck's subset without compute-sanitizer" "$CAP_MEMCHECK" "$logs/memcheck.log" \
      env HY_BACKENDS=$backend HY_TEST=$MEMCHECK_SUITES node dist/test/run.js || failed+=("memcheck's subset")
    skip_step "racecheck ($RACECHECK_SUITES)" "compute-sanitizer not found" "$CAP_RACECHECK"
    step "racecheck's subset without compute-sanitizer" "$CAP_RACECHECK" "$logs/racecheck.log" \
      env HY_BACKENDS=$backend HY_TEST=$RACECHECK_SUITES node dist/test/run.js || failed+=("racecheck's subset")
  fi

  # The seed's table (bench/tips.ts: one MnistNet epoch per tip) beside its PyTorch peer, last so that a
  # run short of time loses it first. Rows of 20,000 samples scaled to 60,000 (1,024 on a dry run's CPU).
  local tips_samples=20000
  ((dry)) && tips_samples=1024
  step "tips peer" "$CAP_TIPS_PEER" "$logs/tips-peer.log" \
    bash -c 'python3 bench/peers/tips.py --samples "$2" --device "$3" >"$1"' _ "$logs/tips-peer.jsonl" "$tips_samples" "$backend" ||
    failed+=("tips peer")
  step tips "$CAP_TIPS" "$logs/tips.log" \
    bash -c 'peer=(); [[ -s $5 ]] && peer=(--peer "$5"); node dist/bench/tips.js --samples "$2" --device "$3" --svg "$4" "${peer[@]}" >"$1"' _ \
    "$logs/tips.md" "$tips_samples" "$backend" "$logs/tips.svg" "$logs/tips-peer.jsonl" || failed+=(tips)

  # The section for bench/RESULTS.md: heading, comparison table, and how every step went.
  local section=$logs/RESULTS-section.md
  {
    echo
    echo "## $(date -u '+%Y-%m-%d %H:%M UTC') · $(git rev-parse --short HEAD 2>/dev/null || echo unknown) · $card"
    echo
    if [[ -f $logs/table.md ]]; then cat "$logs/table.md"; fi
    if [[ -f $logs/tips.md ]]; then cat "$logs/tips.md"; fi
    echo
    echo "Steps: $(awk -F '\t' '{ printf "%s%s %s (%s s)", (NR > 1 ? "; " : ""), $1, $2, $3 }' "$logs/steps.tsv")."
    # Lines that may be absent (a step cut short, no compute-sanitizer) are simply left out.
    { grep -hE '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$logs/test.log" || true; } | tail -n 1 | sed "s/^/Tests (HY_BACKENDS=$backend): /"
    { grep -hE '(ERROR|RACECHECK) SUMMARY' "$logs/memcheck.log" "$logs/racecheck.log" 2>/dev/null || true; } | sed 's/^========= /compute-sanitizer: /'
  } >"$section"
  if ((dry)); then
    echo "device-check: dry run: bench/RESULTS.md is for GPU runs and stays as it is; the section is in $section"
  else
    # The first recorded run replaces bench/RESULTS.md's placeholder line.
    sed -i '/^No GPU run has been recorded yet\.$/d' bench/RESULTS.md
    cat "$section" >>bench/RESULTS.md
  fi

  echo
  echo "== steps (name, outcome, seconds, cap)"
  column -t -s $'\t' "$logs/steps.tsv" 2>/dev/null || cat "$logs/steps.tsv"
  ((${#failed[@]} == 0)) || echo "device-check: FAILED: ${failed[*]} (logs in $logs)" >&2
  echo
  cat "$section"
  ((${#failed[@]} == 0))
}

case "${1:-}" in
  bundle) bundle ;;
  remote) remote ;;
  *) die "usage: bash scripts/device-check.sh bundle|remote" ;;
esac
