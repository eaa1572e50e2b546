#!/bin/sh
# Runs `promtool check metrics` (Debian's prometheus package) on what the program $1 prints.
# Exits 77, which the ctest entry reports as skipped, when promtool is not installed.
set -eu
if ! command -v promtool >/dev/null 2>&1; then
  echo "promtool not found (apt-get install prometheus): skipped"
  exit 77
fi
exposition=$(mktemp)
trap 'rm -f "$exposition"' EXIT
"$1" >"$exposition"
promtool check metrics <"$exposition"
echo "promtool check metrics: $(grep -c -v '^#' "$exposition") samples accepted"
