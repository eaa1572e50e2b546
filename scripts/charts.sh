#!/usr/bin/env bash
# Regenerates the delivery simulation's charts and report shown in the docs: runs the default
# simulation (every scenario, seed 42, 100 users, 240 s) through scripts/demo.sh, then copies each
# scenario's SVG to docs/images/delivery-<scenario>.svg and the report to docs/delivery-report.txt.
# The run is deterministic: on an unchanged tree this reproduces the committed files exactly.
#   scripts/charts.sh           regenerate the files
#   scripts/charts.sh --check   fail (exit 1) if the committed files are not what the program
#                               makes (CI runs this)
set -euo pipefail
cd "$(dirname "$0")/.."
check=false
if [ "${1:-}" = "--check" ]; then
  check=true
  shift
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
scripts/demo.sh --out "$out" "$@" | sed "s|$out|delivery-out|" > "$out/report.txt"
if $check; then
  stale=()
  for svg in "$out"/*.svg; do
    cmp -s "$svg" "docs/images/delivery-$(basename "$svg")" || stale+=("docs/images/delivery-$(basename "$svg")")
  done
  cmp -s "$out/report.txt" docs/delivery-report.txt || stale+=(docs/delivery-report.txt)
  if [ ${#stale[@]} -gt 0 ]; then
    echo "out of date (run scripts/charts.sh and update the numbers in docs/delivery.md): ${stale[*]}" >&2
    exit 1
  fi
  echo "docs/images/delivery-*.svg and docs/delivery-report.txt are up to date"
  exit 0
fi
mkdir -p docs/images
for svg in "$out"/*.svg; do
  cp "$svg" "docs/images/delivery-$(basename "$svg")"
done
cp "$out/report.txt" docs/delivery-report.txt
echo "wrote docs/delivery-report.txt and $(ls "$out"/*.svg | wc -l) charts in docs/images/"
