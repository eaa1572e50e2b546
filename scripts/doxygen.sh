#!/usr/bin/env bash
# Builds the API reference from the public headers' doc comments (docs/Doxyfile) into
# build/doxygen/html, and fails if Doxygen reports any warning (an undocumented public entity,
# a broken command, ...). Usage: scripts/doxygen.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v doxygen >/dev/null || { echo "doxygen not found: run scripts/deps.sh" >&2; exit 1; }
rm -rf build/doxygen
mkdir -p build/doxygen
doxygen docs/Doxyfile
log=build/doxygen/warnings.log
if [ -s "$log" ]; then
  echo "doxygen: $(grep -c 'warning:' "$log") warning(s):" >&2
  sed "s|$(pwd)/||" "$log" >&2
  exit 1
fi
echo "doxygen: no warnings; open build/doxygen/html/index.html"
