#!/usr/bin/env bash
# The README's main command: installs what is missing, builds the delivery simulation and runs it.
# Arguments are passed to the simulation (try --help).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
if [ ! -x build/dev/examples/delivery/delivery ]; then
  echo "building the delivery simulation (the first time takes a minute or two)..." >&2
fi
cmake --preset dev >/dev/null
cmake --build --preset dev --target delivery >/dev/null
exec build/dev/examples/delivery/delivery "$@"
