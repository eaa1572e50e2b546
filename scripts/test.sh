#!/usr/bin/env bash
# The README's test command: installs what is missing, then configures, builds and runs the whole
# test suite with a CMake preset (default "dev": g++, Debug, warnings as errors).
#   scripts/test.sh [preset]      presets: dev clang asan-ubsan tsan release
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake --workflow --preset "${1:-dev}"
