// Circuit breaker: the closed path (count window, consecutive-failure mode, time window, slow-call
// tracking), the open-breaker rejection, and the permit API, against a hand-written std::mutex +
// std::function breaker (hand_written.hpp). Rows that read a clock run on steady and coarse.
// SPDX-License-Identifier: MIT
#include <resil/circuit_breaker.hpp>

#include <chrono>

#include "hand_written.hpp"
#include "support.hpp"

using namespace std::chrono_literals;

namespace {

template <class Clock>
resil::basic_circuit_breaker<Clock>& open_breaker() {
  static resil::basic_circuit_breaker<Clock> b{
      {.window_size = 1, .minimum_calls = 1, .open_duration = 24h}};
  static const bool tripped = [] {
    (void)b.try_execute([]() -> int { throw 1; });
    return true;
  }();
  benchmark::DoNotOptimize(tripped);
  return b;
}

void circuit_breaker_closed_count_window(benchmark::State& state) {
  static resil::circuit_breaker breaker;  // count window of 100, no slow-call tracking
  int x = 0;
  resil_bench::allocation_report allocs(state);
  for (auto _ : state) {
    x = breaker.try_execute(resil_bench::work, x).value();
    benchmark::DoNotOptimize(x);
  }
}
BENCHMARK(circuit_breaker_closed_count_window);
BENCHMARK(circuit_breaker_closed_count_window)->Threads(2)->UseRealTime();

void circuit_breaker_closed_consecutive_failures(benchmark::State& state) {
  static resil::circuit_breaker breaker{
      {.consecutive_failures = 5, .window = resil::window_type::none}};
  int x = 0;
  resil_bench::allocation_report allocs(state);
  for (auto _ : state) {
    x = breaker.try_execute(resil_bench::work, x).value();
    benchmark::DoNotOptimize(x);
  }
}
BENCHMARK(circuit_breaker_closed_consecutive_failures);
BENCHMARK(circuit_breaker_closed_consecutive_failures)->Threads(2)->UseRealTime();

void circuit_breaker_permit_closed_count_window(benchmark::State& state) {
  static resil::circuit_breaker breaker;
  int x = 0;
  resil_bench::allocation_report allocs(state);
  for (auto _ : state) {
    if (auto p = breaker.try_acquire()) {
      x = resil_bench::work(x);
      p->record_success();
    }
    benchmark::DoNotOptimize(x);
  }
}
BENCHMARK(circuit_breaker_permit_closed_count_window);

void circuit_breaker_permit_closed_consecutive_failures(benchmark::State& state) {
  static resil::circuit_breaker breaker{
      {.consecutive_failures = 5, .window = resil::window_type::none}};
  int x = 0;
  resil_bench::allocation_report allocs(state);
  for (auto _ : state) {
    if (auto p = breaker.try_acquire()) {
      x = resil_bench::work(x);
      p->record_success();
    }
    benchmark::DoNotOptimize(x);
  }
}
BENCHMARK(circuit_breaker_permit_closed_consecutive_failures);

// The floor every classifying policy pays through try_execute: a context, an outcome, and the
// default classifier's verdict on a value.
struct classify_only : resil::policy_base<classify_only> {
  resil::classifier classify;
  template <class R, class Next>
  resil::outcome<R> invoke(resil::context& ctx, Next&& next) {
    resil::outcome<R> r = next(ctx);
    const auto [v, error] = ctx.effective_classifier(classify).classify_noexcept(r);
    if (error || v == resil::verdict::failure) return resil::outcome<R>::from_exception(error);
    return r;
  }
};

void floor_try_execute_classify_only(benchmark::State& state) {
  static classify_only policy;
  int x = 0;
  resil_bench::allocation_report allocs(state);
  for (auto _ : state) {
    x = policy.try_execute(resil_bench::work, x).value();
    benchmark::DoNotOptimize(x);
  }
}
BENCHMARK(floor_try_execute_classify_only);

template <class Clock>
void circuit_breaker_closed_time_window(benchmark::State& state) {
  static resil::basic_circuit_breaker<Clock> breaker{
      {.window = resil::window_type::time, .window_size = 10}};
  int x = 0;
  resil_bench::allocation_report allocs(state);
  for (auto _ : state) {
    x = breaker.try_execute(resil_bench::work, x).value();
    benchmark::DoNotOptimize(x);
  }
}
BENCHMARK(circuit_breaker_closed_time_window<resil::steady_clock>)
    ->Name("circuit_breaker_closed_time_window/steady_clock");
BENCHMARK(circuit_breaker_closed_time_window<resil::steady_clock>)
    ->Name("circuit_breaker_closed_time_window/steady_clock")
    ->Threads(2)
    ->UseRealTime();
BENCHMARK(circuit_breaker_closed_time_window<resil::coarse_clock>)
    ->Name("circuit_breaker_closed_time_window/coarse_clock");
BENCHMARK(circuit_breaker_closed_time_window<resil::coarse_clock>)
    ->Name("circuit_breaker_closed_time_window/coarse_clock")
    ->Threads(2)
    ->UseRealTime();

template <class Clock>
void circuit_breaker_closed_slow_call_tracking(benchmark::State& state) {
  static resil::basic_circuit_breaker<Clock> breaker{{.slow_call_duration = 1s}};  // 2 reads
  int x = 0;
  resil_bench::allocation_report allocs(state);
  for (auto _ : state) {
    x = breaker.try_execute(resil_bench::work, x).value();
    benchmark::DoNotOptimize(x);
  }
}
BENCHMARK(circuit_breaker_closed_slow_call_tracking<resil::steady_clock>)
    ->Name("circuit_breaker_closed_slow_call_tracking/steady_clock");
BENCHMARK(circuit_breaker_closed_slow_call_tracking<resil::coarse_clock>)
    ->Name("circuit_breaker_closed_slow_call_tracking/coarse_clock");

template <class Clock>
void circuit_breaker_open_rejection(benchmark::State& state) {
  auto& breaker = open_breaker<Clock>();
  int x = 0;
  resil_bench::allocation_report allocs(state);
  for (auto _ : state) {
    auto r = breaker.try_execute(resil_bench::work, x);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(circuit_breaker_open_rejection<resil::steady_clock>)
    ->Name("circuit_breaker_open_rejection/steady_clock");
BENCHMARK(circuit_breaker_open_rejection<resil::steady_clock>)
    ->Name("circuit_breaker_open_rejection/steady_clock")
    ->Threads(2)
    ->UseRealTime();
BENCHMARK(circuit_breaker_open_rejection<resil::coarse_clock>)
    ->Name("circuit_breaker_open_rejection/coarse_clock");
BENCHMARK(circuit_breaker_open_rejection<resil::coarse_clock>)
    ->Name("circuit_breaker_open_rejection/coarse_clock")
    ->Threads(2)
    ->UseRealTime();

void circuit_breaker_forced_open_rejection(benchmark::State& state) {
  static resil::circuit_breaker breaker;
  breaker.force_open();
  int x = 0;
  resil_bench::allocation_report allocs(state);
  for (auto _ : state) {
    auto r = breaker.try_execute(resil_bench::work, x);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(circuit_breaker_forced_open_rejection);

void mutex_circuit_breaker_closed(benchmark::State& state) {
  static resil_bench::mutex_circuit_breaker breaker;
  int x = 0;
  resil_bench::allocation_report allocs(state);
  for (auto _ : state) {
    breaker.try_call([&x] { return resil_bench::work(x); }, x);
    benchmark::DoNotOptimize(x);
  }
}
BENCHMARK(mutex_circuit_breaker_closed);
BENCHMARK(mutex_circuit_breaker_closed)->Threads(2)->UseRealTime();

void mutex_circuit_breaker_open_rejection(benchmark::State& state) {
  static resil_bench::mutex_circuit_breaker breaker;
  static const bool tripped = (breaker.trip(), true);
  benchmark::DoNotOptimize(tripped);
  int x = 0;
  resil_bench::allocation_report allocs(state);
  for (auto _ : state) {
    benchmark::DoNotOptimize(breaker.try_call([&x] { return resil_bench::work(x); }, x));
  }
}
BENCHMARK(mutex_circuit_breaker_open_rejection);
BENCHMARK(mutex_circuit_breaker_open_rejection)->Threads(2)->UseRealTime();

}  // namespace
