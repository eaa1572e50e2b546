// Observability: what a registry, its call counting and its event logs add to a call. Each policy
// is measured hand-made, from a plain registry (must cost the same: no listener), counting calls,
// and counting plus an event log; next to them, the hand-written std::mutex + std::function
// metrics hook a user would add to get the same counters.
// SPDX-License-Identifier: MIT
#include <resil/registry.hpp>

#include <array>
#include <cstdint>
#include <functional>
#include <mutex>

#include "support.hpp"

namespace {

enum class flavour { hand_made, registry, counted, counted_logged };

resil::registry& registry_for(flavour f) {
  static resil::registry plain;
  static resil::registry counted{{.count_calls = true}};
  static resil::registry logged{{.event_log_capacity = 100, .count_calls = true}};
  return f == flavour::registry ? plain : f == flavour::counted ? counted : logged;
}

// One policy per flavour, shared by the threads of a run (static: created once).
template <class Policy, class Make, class Get>
Policy& policy_for(flavour f, Make make, Get get) {
  static Policy hand_made{make()};
  if (f == flavour::hand_made) return hand_made;
  return get(registry_for(f));
}

resil::circuit_breaker& breaker(flavour f) {
  return policy_for<resil::circuit_breaker>(
      f, [] { return resil::circuit_breaker_options{}; },
      [](resil::registry& r) -> resil::circuit_breaker& { return r.circuit_breaker("bench"); });
}
resil::bulkhead& bulkhead(flavour f) {
  return policy_for<resil::bulkhead>(
      f, [] { return resil::bulkhead_options{}; },
      [](resil::registry& r) -> resil::bulkhead& { return r.bulkhead("bench"); });
}
resil::retry& retry(flavour f) {
  return policy_for<resil::retry>(
      f, [] { return resil::retry_options{}; },
      [](resil::registry& r) -> resil::retry& { return r.retry("bench"); });
}
resil::rate_limiter& limiter(flavour f) {
  constexpr resil::rate_limiter_options options{.permits = 1'000'000'000,
                                                .period = std::chrono::seconds{1}};
  return policy_for<resil::rate_limiter>(
      f, [&] { return options; },
      [&](resil::registry& r) -> resil::rate_limiter& {
        return r.rate_limiters.get("bench", options);
      });
}

template <class Policy>
void run(benchmark::State& state, Policy& policy) {
  resil_bench::allocation_report allocs(state);
  int x = 0;
  for (auto _ : state) {
    x = policy.try_execute(resil_bench::work, x).value();
    benchmark::DoNotOptimize(x);
  }
}

void limiter_run(benchmark::State& state, resil::rate_limiter& l) {
  resil_bench::allocation_report allocs(state);
  for (auto _ : state) benchmark::DoNotOptimize(l.try_acquire());
}

// What a user writes to count calls by outcome for /metrics: counters under a mutex, updated by
// a std::function hook around the call.
class mutex_metrics {
 public:
  mutex_metrics()
      : hook_([this](int kind) {
          std::lock_guard lock(mutex_);
          ++counts_[static_cast<std::size_t>(kind)];
        }) {}
  template <class F>
  int call(F f, int x) {
    const int r = f(x);
    hook_(0);
    return r;
  }

 private:
  std::mutex mutex_;
  std::array<std::uint64_t, 4> counts_{};
  std::function<void(int)> hook_;
};

void obs_breaker(benchmark::State& state, flavour f) {
  run(state, breaker(f));
}
void obs_bulkhead(benchmark::State& state, flavour f) {
  run(state, bulkhead(f));
}
void obs_retry(benchmark::State& state, flavour f) {
  run(state, retry(f));
}
void obs_limiter(benchmark::State& state, flavour f) {
  limiter_run(state, limiter(f));
}

BENCHMARK_CAPTURE(obs_breaker, hand_made, flavour::hand_made);
BENCHMARK_CAPTURE(obs_breaker, hand_made, flavour::hand_made)->Threads(2)->UseRealTime();
BENCHMARK_CAPTURE(obs_breaker, registry, flavour::registry);
BENCHMARK_CAPTURE(obs_breaker, registry, flavour::registry)->Threads(2)->UseRealTime();
BENCHMARK_CAPTURE(obs_breaker, count_calls, flavour::counted);
BENCHMARK_CAPTURE(obs_breaker, count_calls, flavour::counted)->Threads(2)->UseRealTime();
BENCHMARK_CAPTURE(obs_breaker, count_calls_event_log, flavour::counted_logged);
BENCHMARK_CAPTURE(obs_breaker, count_calls_event_log, flavour::counted_logged)
    ->Threads(2)
    ->UseRealTime();
BENCHMARK_CAPTURE(obs_bulkhead, hand_made, flavour::hand_made);
BENCHMARK_CAPTURE(obs_bulkhead, hand_made, flavour::hand_made)->Threads(2)->UseRealTime();
BENCHMARK_CAPTURE(obs_bulkhead, registry, flavour::registry);
BENCHMARK_CAPTURE(obs_bulkhead, registry, flavour::registry)->Threads(2)->UseRealTime();
BENCHMARK_CAPTURE(obs_bulkhead, count_calls, flavour::counted);
BENCHMARK_CAPTURE(obs_bulkhead, count_calls, flavour::counted)->Threads(2)->UseRealTime();
BENCHMARK_CAPTURE(obs_bulkhead, count_calls_event_log, flavour::counted_logged);
BENCHMARK_CAPTURE(obs_bulkhead, count_calls_event_log, flavour::counted_logged)
    ->Threads(2)
    ->UseRealTime();
BENCHMARK_CAPTURE(obs_retry, hand_made, flavour::hand_made);
BENCHMARK_CAPTURE(obs_retry, hand_made, flavour::hand_made)->Threads(2)->UseRealTime();
BENCHMARK_CAPTURE(obs_retry, registry, flavour::registry);
BENCHMARK_CAPTURE(obs_retry, registry, flavour::registry)->Threads(2)->UseRealTime();
BENCHMARK_CAPTURE(obs_retry, count_calls, flavour::counted);
BENCHMARK_CAPTURE(obs_retry, count_calls, flavour::counted)->Threads(2)->UseRealTime();
BENCHMARK_CAPTURE(obs_retry, count_calls_event_log, flavour::counted_logged);
BENCHMARK_CAPTURE(obs_retry, count_calls_event_log, flavour::counted_logged)
    ->Threads(2)
    ->UseRealTime();
BENCHMARK_CAPTURE(obs_limiter, hand_made, flavour::hand_made);
BENCHMARK_CAPTURE(obs_limiter, hand_made, flavour::hand_made)->Threads(2)->UseRealTime();
BENCHMARK_CAPTURE(obs_limiter, registry, flavour::registry);
BENCHMARK_CAPTURE(obs_limiter, registry, flavour::registry)->Threads(2)->UseRealTime();
BENCHMARK_CAPTURE(obs_limiter, count_calls, flavour::counted);
BENCHMARK_CAPTURE(obs_limiter, count_calls, flavour::counted)->Threads(2)->UseRealTime();
BENCHMARK_CAPTURE(obs_limiter, count_calls_event_log, flavour::counted_logged);
BENCHMARK_CAPTURE(obs_limiter, count_calls_event_log, flavour::counted_logged)
    ->Threads(2)
    ->UseRealTime();

void obs_mutex_function_counters(benchmark::State& state) {
  resil_bench::allocation_report allocs(state);
  static mutex_metrics metrics;
  int x = 0;
  for (auto _ : state) {
    x = metrics.call(resil_bench::work, x);
    benchmark::DoNotOptimize(x);
  }
}
BENCHMARK(obs_mutex_function_counters);
BENCHMARK(obs_mutex_function_counters)->Threads(2)->UseRealTime();

}  // namespace
