#!/usr/bin/env bash
# Model-checks model/half_open.pml (the circuit breaker's half-open admission and transitions,
# one Promela statement per atomic operation of the C++ code) with Spin:
#   P=1: exhaustive safety (probes <= P, reserved <= P, no invalid end state) and liveness
#        ([] half_open -> <> !half_open under weak fairness, probes completing);
#   P=2: with MODEL_FULL=1 (the long tier, scripts/soak): exhaustive safety (about 15 million
#        states and several minutes, too long for CI) and liveness.
# Needs spin and a C compiler. Fails if any check reports an error.
set -euo pipefail
cd "$(dirname "$0")/.."
work=build/model
mkdir -p "$work"
cp model/half_open.pml "$work/"
cd "$work"

check() {  # name, spin defines, cc defines, pan options
  local name=$1 sdefs=$2 cdefs=$3 opts=$4
  spin -a $sdefs half_open.pml >/dev/null
  # shellcheck disable=SC2086
  cc -O2 $cdefs -o "pan_$name" pan.c
  local out
  out=$(./"pan_$name" $opts 2>&1) || true
  local states errors secs
  states=$(grep -o '[0-9.e+]* states, stored' <<<"$out" | head -1 | cut -d' ' -f1)
  errors=$(grep -o 'errors: [0-9]*' <<<"$out" | grep -o '[0-9]*')
  secs=$(grep -o 'elapsed time [0-9.]*' <<<"$out" | grep -o '[0-9.]*$')
  printf '%-32s %12s states  %6ss  errors: %s\n' "$name" "$states" "$secs" "${errors:-?}"
  if [ "${errors:-1}" != 0 ] || grep -q 'max search depth too small' <<<"$out"; then
    echo "$out" | tail -30
    return 1
  fi
}

check "safety P=1 (exhaustive)" "-DP=1" "-DSAFETY -DCOLLAPSE" "-m10000000"
check "liveness P=1 (weak fairness)" "-DP=1 -DLIVENESS" "-DCOLLAPSE -DNFAIR=3" \
  "-a -f -m10000000 -N leaves_half_open"
if [ "${MODEL_FULL:-0}" = 1 ]; then
  check "safety P=2 (exhaustive)" "-DP=2" "-DSAFETY -DCOLLAPSE" "-m100000000"
  check "liveness P=2 (weak fairness)" "-DP=2 -DLIVENESS" "-DCOLLAPSE -DNFAIR=3" \
    "-a -f -m100000000 -N leaves_half_open"
fi
