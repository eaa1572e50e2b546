#!/usr/bin/env bash
# Runs every libFuzzer target in fuzz/ for SECONDS (default 30), JOBS at a time (default 2),
# each from its committed corpus (fuzz/corpus/<target>, copied: the committed one is not
# changed), with ASan + UBSan. Prints executions per target; fails on any crash, invariant trip
# or timeout and keeps the input under build/fuzz/artifacts/.
#   scripts/fuzz.sh 30          # CI
#   scripts/fuzz.sh 960         # the long tier (scripts/soak)
#   FUZZ_MERGE=1 scripts/fuzz.sh 300   # also merge new coverage back into fuzz/corpus
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
jobs=${2:-2}
targets=(fuzz_breaker fuzz_rate_limiter fuzz_bulkhead_retry fuzz_window_diff fuzz_config)

cmake --preset fuzz >/dev/null
cmake --build --preset fuzz
ctest --preset fuzz  # every committed input still passes

bin=build/fuzz/fuzz
work=build/fuzz/work
artifacts=build/fuzz/artifacts
rm -rf "$work"
mkdir -p "$work" "$artifacts"
export ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:detect_leaks=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

run_one() {
  local t=$1
  mkdir -p "$work/$t"
  cp fuzz/corpus/"$t"/* "$work/$t/"
  if "$bin/$t" -max_total_time="$seconds" -max_len=4096 -timeout=5 -rss_limit_mb=1024 \
      -print_final_stats=1 -artifact_prefix="$artifacts/$t-" "$work/$t" >"$work/$t.log" 2>&1; then
    local execs
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/$t.log" | grep -o '[0-9]*$')
    printf '%-22s %4ss %10s executions, 0 crashes\n' "$t" "$seconds" "$execs"
  else
    printf '%-22s FAILED:\n' "$t"
    grep -E 'resil fuzz|ERROR|SUMMARY|runtime error|Test unit written' "$work/$t.log" | head -20
    return 1
  fi
}
export -f run_one
export seconds bin work artifacts

status=0
printf '%s\n' "${targets[@]}" | xargs -P "$jobs" -I{} bash -c 'run_one {}' || status=1

if [ "${FUZZ_MERGE:-0}" = 1 ]; then
  for t in "${targets[@]}"; do
    "$bin/$t" -merge=1 fuzz/corpus/"$t" "$work/$t" >/dev/null 2>&1
    echo "$t: $(ls fuzz/corpus/"$t" | wc -l) inputs in the corpus"
  done
fi
exit $status
