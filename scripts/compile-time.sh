#!/usr/bin/env bash
# Measures how long a translation unit that includes only <resil/resil.hpp> takes to compile
# with g++ -O0 (budget: 1.5 s). Prints the best of five runs; informational, not a gate.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '#include <resil/resil.hpp>\nint main() {}\n' >"$tmp/tu.cpp"
best=""
for _ in 1 2 3 4 5; do
  start=$(date +%s%N)
  g++ -std=c++20 -O0 -Iinclude -c "$tmp/tu.cpp" -o "$tmp/tu.o"
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  if [ -z "$best" ] || [ "$ms" -lt "$best" ]; then best=$ms; fi
done
echo "compile time of <resil/resil.hpp> (g++ -O0, best of 5): ${best} ms (budget 1500 ms)"
