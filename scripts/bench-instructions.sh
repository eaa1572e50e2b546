#!/usr/bin/env bash
# Instructions per call of the key paths, counted by callgrind: deterministic, whatever the
# machine's load (bench/README.md gives them beside the timings). Needs valgrind.
#   scripts/bench-instructions.sh [calls per path, default 100000]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100000}
cmake --preset release >/dev/null
cmake --build --preset release --target resil_instructions
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
valgrind --tool=callgrind --callgrind-out-file="$tmp/cg" build/release/bench/resil_instructions \
  "$n" >/dev/null 2>"$tmp/log" || { cat "$tmp/log" >&2; exit 1; }
# One dump per path: "desc: Trigger: Client Request: <path>" and "summary: <instructions>".
for ((i = 1; ; ++i)); do
  f="$tmp/cg.$i"
  [ -f "$f" ] || break
  awk -v n="$n" '/^desc: Trigger: Client Request:/ { name = $5 }
                 /^summary:/ { if (name != "") printf "%s %.1f\n", name, $2 / n }' "$f"
done | awk 'BEGIN { print "| path | instructions/call | over raw |"; print "|---|---:|---:|" }
            { ir[$1] = $2; names[NR] = $1 }
            END { for (i = 1; i <= NR; i++)
                    printf "| `%s` | %.1f | %+.1f |\n", names[i], ir[names[i]],
                           ir[names[i]] - ir["raw_call"] }'
