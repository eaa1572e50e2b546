#!/usr/bin/env bash
# Mutation check: applies each hand-written mutant below to a temporary copy of include/, builds
# the quickest test that should notice it (one test file), runs it, and reports KILLED (the test
# failed) or SURVIVED. Every mutant must be killed; the script fails otherwise. Each test is also
# run once unmutated first (it must pass). Usage: scripts/mutants.sh [mutant-id ...]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${MUTANT_DIR:-$root/build/mutants}
cxx=${CXX:-g++}
mkdir -p "$work"
flags=(-std=c++20 -O0 -g0 -w -pthread -I"$root/tests")

# id # file under include/resil # code to find (exactly once, \n for a newline) # replacement #
# test file # test filter
mutants=(
  "half-open-admits-one-more#detail/circuit_breaker_impl.hpp#word::field(p, word::reserved_at) < options_.half_open_calls#word::field(p, word::reserved_at) <= options_.half_open_calls#tests/simulation/simulation_test.cpp#[simulation][circuit_breaker]"
  "probe-slot-not-given-back#detail/circuit_breaker_impl.hpp#word::with_payload(w, p - word::one(0))#word::with_payload(w, p)#tests/simulation/simulation_test.cpp#[simulation][circuit_breaker]"
  "no-generation-check-closed#detail/circuit_breaker_impl.hpp#if (word::id(w) != t.id_) return;  // admitted in an earlier generation: not counted#;#tests/simulation/simulation_test.cpp#[simulation][circuit_breaker]"
  "no-generation-check-probe#detail/circuit_breaker_impl.hpp#if (word::id(w) != t.id_) return;  // the half-open state it probed has ended#;#tests/simulation/simulation_test.cpp#[simulation][circuit_breaker]"
  "open-until-inclusive#detail/circuit_breaker_impl.hpp#if (now < until) return reject#if (now <= until) return reject#tests/simulation/simulation_test.cpp#[simulation][circuit_breaker]"
  "last-probe-off-by-one#detail/circuit_breaker_impl.hpp#if (word::field(p, word::recorded_at) < n) return;#if (word::field(p, word::recorded_at) <= n) return;#tests/simulation/simulation_test.cpp#[simulation][circuit_breaker]"
  "rate-threshold-strict#circuit_breaker.hpp#if (t.failure_rate() >= options_.failure_rate_threshold)#if (t.failure_rate() > options_.failure_rate_threshold)#tests/simulation/simulation_test.cpp#[simulation][circuit_breaker]"
  "transition-without-new-generation#detail/circuit_breaker_impl.hpp#const std::uint64_t gen = word::gen(w) + 1;#const std::uint64_t gen = word::gen(w);#tests/simulation/simulation_test.cpp#[simulation][circuit_breaker]"
  "non-saturating-add#core/time.hpp#if (__builtin_add_overflow(a, b, &r)) {#if (__builtin_add_overflow(a, b, &r) && false) {#tests/bad_input_test.cpp#[bad_input]"
  "bulkhead-admits-one-more#bulkhead.hpp#while (waiters_of(s) == 0 && used_of(s) < max_.load(std::memory_order_relaxed)) {#while (waiters_of(s) == 0 && used_of(s) <= max_.load(std::memory_order_relaxed)) {#tests/simulation/simulation_test.cpp#[simulation][bulkhead]"
  "bulkhead-release-dropped#bulkhead.hpp#  void release(const permit_token& /*unused*/) noexcept {\n    release_slot();#  void release(const permit_token& /*unused*/) noexcept {\n    (void)0;#tests/simulation/simulation_test.cpp#[simulation][bulkhead]"
  "gcra-tolerance-off-by-one#detail/gcra.hpp#if (tat - now.lo > p.tolerance - cost) return gcra_refused;#if (tat - now.lo > p.tolerance - cost + 1) return gcra_refused;#tests/rate_limiter_test.cpp#[rate_limiter]"
  "gcra-no-cost#detail/gcra.hpp#const std::int64_t next = (tat > now.hi ? tat : now.hi) + cost;#const std::int64_t next = (tat > now.hi ? tat : now.hi);#tests/simulation/simulation_test.cpp#[simulation][rate_limiter]"
  "end-of-time-retry-after#rate_limiter.hpp#if (ready == std::numeric_limits<std::int64_t>::max() && ready != t) return nanoseconds::max();#if (ready == std::numeric_limits<std::int64_t>::max()) return nanoseconds::max();#tests/rate_limiter_test.cpp#[rate_limiter]"
  "window-eviction-not-subtracted#core/sliding_window.hpp#          subtract(f, w & count_mask);\n          w = t | (w & ver_mask);#          w = t | (w & ver_mask);#tests/core/sliding_window_test.cpp#[sliding_window]"
  "window-alias-kept#core/sliding_window.hpp#if (whole) drop_alias(#if (false) drop_alias(#tests/core/sliding_window_test.cpp#[sliding_window]"
  "time-window-in-window-inclusive#core/sliding_window.hpp#static_cast<std::uint64_t>(h) - static_cast<std::uint64_t>(j) < buckets_;#static_cast<std::uint64_t>(h) - static_cast<std::uint64_t>(j) <= buckets_;#tests/core/sliding_window_test.cpp#[sliding_window]"
  "retry-one-attempt-too-many#retry.hpp#if (attempt >= max_attempts) return stop_on(#if (attempt > max_attempts) return stop_on(#tests/retry_test.cpp#[retry]"
  "budget-unclamped#retry_budget.hpp#const std::int64_t next = std::min(t + ratio_milli_, max_milli_);#const std::int64_t next = t + ratio_milli_;#tests/retry_budget_test.cpp#[retry_budget]"
  "backoff-cap-ignored#backoff.hpp#if (multiplier_ == 1.0 || base_.count() == 0) return clamp(base_);#if (multiplier_ == 1.0 || base_.count() == 0) return base_;#tests/backoff_test.cpp#[backoff]"
)

if [ ! -f "$work/catch_main.o" ]; then
  "$cxx" "${flags[@]}" -c "$root/tests/support/catch_main.cpp" -o "$work/catch_main.o"
fi

# build <include dir> <test file> <binary>
build() { "$cxx" "${flags[@]}" -I"$1" "$root/$2" "$work/catch_main.o" -o "$3"; }

selected=("$@")
declare -A baseline_ok=()
killed=0
survived=0
broken=0
printf '%-36s %-44s %s\n' "mutant" "test" "result"
for m in "${mutants[@]}"; do
  IFS='#' read -r id file from to test filter <<<"$m"
  if [ ${#selected[@]} -gt 0 ] && [[ ! " ${selected[*]} " =~ " ${id} " ]]; then continue; fi
  key="$test $filter"
  if [ -z "${baseline_ok[$key]:-}" ]; then
    build "$root/include" "$test" "$work/baseline" 2>"$work/baseline.log" &&
      timeout 600 "$work/baseline" "$filter" >"$work/baseline.out" 2>&1 ||
      { echo "baseline $test $filter FAILED (see $work/baseline.*)"; exit 1; }
    baseline_ok[$key]=1
  fi
  rm -rf "$work/src" && mkdir -p "$work/src" && cp -r "$root/include" "$work/src/"
  if ! FROM="$from" TO="$to" python3 - "$work/src/include/resil/$file" <<'PY'
import os, sys
p = sys.argv[1]
s = open(p).read()
frm = os.environ["FROM"].replace("\\n", "\n")
to = os.environ["TO"].replace("\\n", "\n")
n = s.count(frm)
if n != 1:
    sys.exit(f"{n} matches")
open(p, "w").write(s.replace(frm, to))
PY
  then
    printf '%-36s %-44s %s\n' "$id" "$(basename "$test") $filter" "NOT APPLIED (code changed?)"
    broken=$((broken + 1))
    continue
  fi
  if ! build "$work/src/include" "$test" "$work/mutant" 2>"$work/$id.build.log"; then
    printf '%-36s %-44s %s\n' "$id" "$(basename "$test") $filter" "KILLED (does not compile)"
    killed=$((killed + 1))
    continue
  fi
  if timeout 600 "$work/mutant" "$filter" >"$work/$id.log" 2>&1; then
    printf '%-36s %-44s %s\n' "$id" "$(basename "$test") $filter" "SURVIVED"
    survived=$((survived + 1))
  else
    printf '%-36s %-44s %s\n' "$id" "$(basename "$test") $filter" "KILLED"
    killed=$((killed + 1))
  fi
done
echo "killed ${killed}, survived ${survived}, not applied ${broken}"
[ "$survived" -eq 0 ] && [ "$broken" -eq 0 ]
