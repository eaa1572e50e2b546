#!/usr/bin/env bash
# Seconds to compile a translation unit that includes only <resil/resil.hpp> with g++ -O0
# (budget: 1.5 s, DESIGN.md section 5). Informational, not a gate.
#   scripts/compile-time.sh           the umbrella header, best of 5 (what CI prints)
#   scripts/compile-time.sh --each    also every public header alone and an empty TU, as a
#                                     markdown table (bench/run puts it in bench/README.md)
# Each figure is the best of N runs (RESIL_COMPILE_RUNS, default 5) of wall time, and of the
# compiler's own CPU time (user + system), which other processes on the machine disturb less.
set -euo pipefail
cd "$(dirname "$0")/.."
each=false
[ "${1:-}" = "--each" ] && each=true
runs=${RESIL_COMPILE_RUNS:-5}
cxx=${CXX:-g++}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Prints "<best wall ms> <best cpu ms>" for a TU made of the given source text.
measure() {
  printf '%b' "$1" >"$tmp/tu.cpp"
  local best_wall="" best_cpu="" i start wall user sys cpu
  for ((i = 0; i < runs; ++i)); do
    start=$(date +%s%N)
    TIMEFORMAT='%3U %3S'
    { time "$cxx" -std=c++20 -O0 -Iinclude -c "$tmp/tu.cpp" -o "$tmp/tu.o"; } 2>"$tmp/time"
    wall=$((($(date +%s%N) - start) / 1000000))
    read -r user sys <"$tmp/time"
    cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%d", (u + s) * 1000 }')
    if [ -z "$best_wall" ] || [ "$wall" -lt "$best_wall" ]; then best_wall=$wall; fi
    if [ -z "$best_cpu" ] || [ "$cpu" -lt "$best_cpu" ]; then best_cpu=$cpu; fi
  done
  echo "$best_wall $best_cpu"
}

if ! $each; then
  read -r wall cpu < <(measure '#include <resil/resil.hpp>\nint main() {}\n')
  echo "compile time of <resil/resil.hpp> ($cxx -O0, best of $runs): ${wall} ms" \
    "(CPU ${cpu} ms; budget 1500 ms)"
  exit 0
fi

secs() { awk -v ms="$1" 'BEGIN { printf "%.2f", ms / 1000 }'; }
echo "| translation unit (\`$cxx -std=c++20 -O0 -c\`) | wall s, best of $runs | CPU s, best of $runs |"
echo "|---|---:|---:|"
read -r wall cpu < <(measure 'int main() {}\n')
echo "| empty (the compiler's start-up) | $(secs "$wall") | $(secs "$cpu") |"
read -r wall cpu < <(measure '#include <resil/resil.hpp>\nint main() {}\n')
echo "| \`#include <resil/resil.hpp>\` (budget 1.5 s) | **$(secs "$wall")** | **$(secs "$cpu")** |"
for h in include/resil/*.hpp; do
  name=${h#include/}
  [ "$name" = resil/resil.hpp ] && continue
  read -r wall cpu < <(measure "#include <$name>\nint main() {}\n")
  echo "| \`#include <$name>\` | $(secs "$wall") | $(secs "$cpu") |"
done
