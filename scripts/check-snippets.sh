#!/usr/bin/env bash
# Checks that every C++ block in README.md and docs/**/*.md is quoted byte for byte from its
# source in examples/ or docs/snippets/ (or is marked <!-- not-compiled: why -->).
# The same check runs in ctest ("docs: quoted snippets match their sources"), which also compiles
# and runs the sources.
#   scripts/check-snippets.sh            check
#   scripts/check-snippets.sh --update   rewrite the quoted blocks from their sources
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/tools/check_snippets
if [ ! -x "$bin" ] || [ docs/snippets/check_snippets.cpp -nt "$bin" ]; then
  mkdir -p build/tools
  "${CXX:-c++}" -std=c++20 -O1 -o "$bin" docs/snippets/check_snippets.cpp
fi
exec "$bin" . "$@"
