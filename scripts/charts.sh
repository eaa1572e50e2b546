#!/usr/bin/env bash
# Regenerates the delivery simulation's charts and report shown in the docs: runs the default
# simulation (every scenario, seed 42, 100 users, 240 s) through scripts/demo.sh, then copies each
# scenario's SVG to docs/images/delivery-<scenario>.svg and the report to docs/delivery-report.txt.
# The run is deterministic: on an unchanged tree this reproduces the committed files exactly.
#   scripts/charts.sh [extra delivery flags]
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
scripts/demo.sh --out "$out" "$@" | sed "s|$out|delivery-out|" > "$out/report.txt"
mkdir -p docs/images
for svg in "$out"/*.svg; do
  cp "$svg" "docs/images/delivery-$(basename "$svg")"
done
cp "$out/report.txt" docs/delivery-report.txt
echo "wrote docs/delivery-report.txt and $(ls "$out"/*.svg | wc -l) charts in docs/images/"
