#!/usr/bin/env bash
# Builds resil_bench (preset "release") and runs it several times, then prints bench/README.md's
# tables from the medians (scripts/bench_report.py; needs python3).
#   scripts/bench.sh [runs, default 3] [extra resil_bench arguments, e.g. --benchmark_filter=retry]
# Timings need a quiet machine. Before each run the script waits (up to RESIL_BENCH_WAIT seconds,
# default 1800; 0 = do not wait) until the CPUs have been at least 90% idle for 5 seconds, and it
# prints the load average before and after each run.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
shift || true
max_wait=${RESIL_BENCH_WAIT:-1800}

# Percent of all CPUs that were idle over the last second (from /proc/stat).
idle_percent() {
  local a b
  read -r -a a </proc/stat
  sleep 1
  read -r -a b </proc/stat
  local total=0 i
  for i in 1 2 3 4 5 6 7 8; do total=$((total + b[i] - a[i])); done
  echo $(((b[4] + b[5] - a[4] - a[5]) * 100 / (total > 0 ? total : 1)))
}

wait_until_quiet() {
  [ "$max_wait" -gt 0 ] || return 0
  local quiet=0 waited=0
  while [ "$quiet" -lt 5 ] && [ "$waited" -lt "$max_wait" ]; do
    if [ "$(idle_percent)" -ge 90 ]; then quiet=$((quiet + 1)); else quiet=0; fi
    waited=$((waited + 1))
  done
  [ "$quiet" -ge 5 ] || echo "  (machine still busy after ${max_wait}s: measuring anyway)" >&2
}

cmake --preset release >/dev/null
cmake --build --preset release --target resil_bench
out=build/release/bench/results
rm -rf "$out" && mkdir -p "$out"
for i in $(seq "$runs"); do
  wait_until_quiet
  echo "run $i/$runs: load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
  read -r -a before </proc/stat
  t0=$(date +%s%N)
  TIMEFORMAT='%3U %3S'
  { time build/release/bench/resil_bench --benchmark_min_time=0.2 --benchmark_repetitions=3 \
    --benchmark_report_aggregates_only=true --benchmark_out="$out/run-$i.json" \
    --benchmark_out_format=json "$@" >"$out/run-$i.txt" 2>&1; } 2>"$out/time-$i.txt"
  t1=$(date +%s%N)
  read -r -a after </proc/stat
  # CPU time the rest of the machine used during the run: busy time of all CPUs (in 1/100 s)
  # minus the benchmark's own user + system time.
  busy=0
  for k in 1 2 3 6 7 8; do busy=$((busy + after[k] - before[k])); done
  read -r user sys <"$out/time-$i.txt"
  others=$(awk -v b="$busy" -v u="$user" -v s="$sys" -v w=$(((t1 - t0) / 1000000)) \
    'BEGIN { o = (b / 100 - u - s) / (w / 1000) * 100; printf "%d", o < 0 ? 0 : o }')
  echo "  after run $i: load average $(cut -d' ' -f1-3 /proc/loadavg);" \
    "other processes used ${others}% of one CPU during the run" >&2
done
scripts/bench_report.py "$out"/run-*.json
