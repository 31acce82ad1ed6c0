#!/usr/bin/env bash
# The emulated-device suite: builds the emulated addon when its sources changed (cmake-js compile
# is incremental), runs the emulator's self-tests, then the whole test suite on the emulated
# device under two thread orders (forward; then reverse for the CUDA cases), so a missing barrier
# or a race between threads changes a result and fails a test.
#   bash scripts/test-emu.sh        # npm run test:emu
#   bash scripts/test-emu.sh asan   # npm run test:asan: the same under AddressSanitizer
# HY_TEST=<substring> filters the suite as it does for npm test. Ends with one
# "N passed, N failed, N skipped" line summed over every run.
set -uo pipefail
cd "$(dirname "$0")/.."

flavour=${1:-emu}
log=$(mktemp -d)
export HAYATE_CUDA_EMULATOR=1
case "$flavour" in
  emu)
    build=build-emu
    npm run --silent build:emu || { echo "test:emu: building the emulated addon failed"; echo "0 passed, 1 failed, 0 skipped"; exit 1; }
    orders=("forward" "reverse")
    ;;
  asan)
    build=build-asan
    npm run --silent build:asan || { echo "test:asan: building the ASan emulated addon failed"; echo "0 passed, 1 failed, 0 skipped"; exit 1; }
    export HAYATE_EMULATOR_ASAN=1
    asan_lib=$(g++ -print-file-name=libasan.so)
    [ -f "$asan_lib" ] || { echo "test:asan: the compiler's libasan.so was not found"; echo "0 passed, 1 failed, 0 skipped"; exit 1; }
    # Node itself is not built with ASan: preload the runtime; node's own allocations are not
    # leaks of ours.
    export ASAN_OPTIONS="detect_leaks=0:abort_on_error=0:halt_on_error=1:detect_odr_violation=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
    orders=("shuffle:1")
    ;;
  *) echo "usage: test-emu.sh [asan]"; exit 2 ;;
esac

[ -d dist/test ] || npm run --silent build:ts || exit 1

status=0
cap=${HY_EMU_TIMEOUT:-900}
echo "== emulator self-tests ($build)"
timeout -k 10 120 "./$build/hayate_emulator_selftest" 2>"$log/selftest.stderr" | tee "$log/selftest.txt"
[ "${PIPESTATUS[0]}" -eq 0 ] || { status=1; cat "$log/selftest.stderr"; }

run=0
for order in "${orders[@]}"; do
  run=$((run + 1))
  backends=""
  # The first order runs everything; later orders rerun only the CUDA cases.
  [ "$run" -gt 1 ] && backends=cuda
  echo "== suite on the emulated device, thread order $order${backends:+ (HY_BACKENDS=$backends)}"
  # A kernel that never finishes (a spin-wait the emulator cannot schedule) must fail the run, not
  # hold CI: each run is capped at HY_EMU_TIMEOUT seconds (900, about three times the slowest
  # measured run: the ASan suite, 277 s on 2 cores, which grows with every test added).
  started=$SECONDS
  if [ "$flavour" = asan ]; then
    HY_EMU_ORDER=$order HY_BACKENDS=$backends LD_PRELOAD="$asan_lib" timeout -k 10 "$cap" node dist/test/run.js 2>&1 | tee "$log/suite-$run.txt"
  else
    HY_EMU_ORDER=$order HY_BACKENDS=$backends timeout -k 10 "$cap" node dist/test/run.js 2>&1 | tee "$log/suite-$run.txt"
  fi
  rc=${PIPESTATUS[0]}
  echo "test-emu: order $order took $((SECONDS - started)) s of its ${cap} s cap"
  [ "$rc" -ne 124 ] && [ "$rc" -ne 137 ] || echo "test-emu: the suite did not finish within ${cap} s (order $order)"
  [ "$rc" -eq 0 ] || status=1
  if grep -q "ERROR: AddressSanitizer" "$log/suite-$run.txt"; then status=1; fi
done

p=0; f=0; s=0
for file in "$log"/selftest.txt "$log"/suite-*.txt; do
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$file" | tail -1)
  if [ -z "$line" ]; then f=$((f + 1)); continue; fi
  read -r lp _ lf _ ls _ <<<"$line"
  p=$((p + lp)); f=$((f + lf)); s=$((s + ls))
done
[ "$status" -eq 0 ] || [ "$f" -gt 0 ] || f=1
echo "$p passed, $f failed, $s skipped"
[ "$f" -eq 0 ]
