// Rate limiters: try_acquire and try_execute, granted and refused, on steady and coarse clocks,
// with and without a listener; the keyed and window limiters; against a hand-written std::mutex
// token bucket (hand_written.hpp), which reads steady_clock as such code does.
// SPDX-License-Identifier: MIT
#include <resil/keyed_rate_limiter.hpp>
#include <resil/rate_limiter.hpp>
#include <resil/window_rate_limiter.hpp>

#include <chrono>
#include <string>

#include "hand_written.hpp"
#include "support.hpp"

namespace {

using namespace std::chrono_literals;

constexpr std::uint64_t unlimited = 1'000'000'000;  // one permit per ns: every call is granted

template <class Clock>
resil::basic_rate_limiter<Clock>& open_limiter() {
  static resil::basic_rate_limiter<Clock> l{
      {.permits = unlimited, .period = 1s, .burst = unlimited}};
  return l;
}

template <class Clock>
resil::basic_rate_limiter<Clock>& drained_limiter() {
  static resil::basic_rate_limiter<Clock> l{{.permits = 1, .period = 1h, .burst = 1}};
  static const bool drained = l.try_acquire().has_value();
  benchmark::DoNotOptimize(drained);
  return l;
}

// -- resil::rate_limiter -------------------------------------------------------------------

template <class Clock>
void rate_limiter_try_acquire_granted(benchmark::State& state) {
  auto& l = open_limiter<Clock>();
  std::int64_t granted = 0;
  resil_bench::allocation_report allocs(state);
  for (auto _ : state) {
    auto p = l.try_acquire();
    granted += p.has_value() ? 1 : 0;
    benchmark::DoNotOptimize(p);
  }
  if (granted != static_cast<std::int64_t>(state.iterations())) state.SkipWithError("refused");
}
BENCHMARK(rate_limiter_try_acquire_granted<resil::steady_clock>)
    ->Name("rate_limiter_try_acquire_granted/steady_clock");
BENCHMARK(rate_limiter_try_acquire_granted<resil::steady_clock>)
    ->Name("rate_limiter_try_acquire_granted/steady_clock")
    ->Threads(2)
    ->UseRealTime();
BENCHMARK(rate_limiter_try_acquire_granted<resil::coarse_clock>)
    ->Name("rate_limiter_try_acquire_granted/coarse_clock");
BENCHMARK(rate_limiter_try_acquire_granted<resil::coarse_clock>)
    ->Name("rate_limiter_try_acquire_granted/coarse_clock")
    ->Threads(2)
    ->UseRealTime();

template <class Clock>
void rate_limiter_try_acquire_refused(benchmark::State& state) {
  auto& l = drained_limiter<Clock>();
  std::int64_t granted = 0;
  resil_bench::allocation_report allocs(state);
  for (auto _ : state) {
    auto p = l.try_acquire();
    granted += p.has_value() ? 1 : 0;
    benchmark::DoNotOptimize(p);
  }
  if (granted != 0) state.SkipWithError("granted");
}
BENCHMARK(rate_limiter_try_acquire_refused<resil::steady_clock>)
    ->Name("rate_limiter_try_acquire_refused/steady_clock");
BENCHMARK(rate_limiter_try_acquire_refused<resil::steady_clock>)
    ->Name("rate_limiter_try_acquire_refused/steady_clock")
    ->Threads(2)
    ->UseRealTime();
BENCHMARK(rate_limiter_try_acquire_refused<resil::coarse_clock>)
    ->Name("rate_limiter_try_acquire_refused/coarse_clock");
BENCHMARK(rate_limiter_try_acquire_refused<resil::coarse_clock>)
    ->Name("rate_limiter_try_acquire_refused/coarse_clock")
    ->Threads(2)
    ->UseRealTime();

template <class Clock>
void rate_limiter_try_execute_granted(benchmark::State& state) {
  auto& l = open_limiter<Clock>();
  int x = 0;
  resil_bench::allocation_report allocs(state);
  for (auto _ : state) benchmark::DoNotOptimize(x = l.try_execute(resil_bench::work, x).value());
}
BENCHMARK(rate_limiter_try_execute_granted<resil::steady_clock>)
    ->Name("rate_limiter_try_execute_granted/steady_clock");
BENCHMARK(rate_limiter_try_execute_granted<resil::steady_clock>)
    ->Name("rate_limiter_try_execute_granted/steady_clock")
    ->Threads(2)
    ->UseRealTime();
BENCHMARK(rate_limiter_try_execute_granted<resil::coarse_clock>)
    ->Name("rate_limiter_try_execute_granted/coarse_clock");
BENCHMARK(rate_limiter_try_execute_granted<resil::coarse_clock>)
    ->Name("rate_limiter_try_execute_granted/coarse_clock")
    ->Threads(2)
    ->UseRealTime();

// The same call with one (empty) listener registered: it is told "permitted" on every call.
template <class Clock>
void rate_limiter_try_execute_granted_with_listener(benchmark::State& state) {
  static resil::basic_rate_limiter<Clock> l{
      {.permits = unlimited, .period = 1s, .burst = unlimited}};
  static const auto subscribed = l.events().subscribe(
      [](const resil::rate_limiter_event& e) { benchmark::DoNotOptimize(e.kind); });
  benchmark::DoNotOptimize(subscribed);
  int x = 0;
  resil_bench::allocation_report allocs(state);
  for (auto _ : state) benchmark::DoNotOptimize(x = l.try_execute(resil_bench::work, x).value());
}
BENCHMARK(rate_limiter_try_execute_granted_with_listener<resil::steady_clock>)
    ->Name("rate_limiter_try_execute_granted_with_listener/steady_clock");
BENCHMARK(rate_limiter_try_execute_granted_with_listener<resil::coarse_clock>)
    ->Name("rate_limiter_try_execute_granted_with_listener/coarse_clock");
BENCHMARK(rate_limiter_try_execute_granted_with_listener<resil::coarse_clock>)
    ->Name("rate_limiter_try_execute_granted_with_listener/coarse_clock")
    ->Threads(2)
    ->UseRealTime();

template <class Clock>
void rate_limiter_try_execute_refused(benchmark::State& state) {
  auto& l = drained_limiter<Clock>();
  int errors = 0;
  resil_bench::allocation_report allocs(state);
  for (auto _ : state) errors += l.try_execute(resil_bench::work, 1).has_error() ? 1 : 0;
  benchmark::DoNotOptimize(errors);
  if (errors != static_cast<int>(state.iterations())) state.SkipWithError("granted");
}
BENCHMARK(rate_limiter_try_execute_refused<resil::steady_clock>)
    ->Name("rate_limiter_try_execute_refused/steady_clock");
BENCHMARK(rate_limiter_try_execute_refused<resil::steady_clock>)
    ->Name("rate_limiter_try_execute_refused/steady_clock")
    ->Threads(2)
    ->UseRealTime();
BENCHMARK(rate_limiter_try_execute_refused<resil::coarse_clock>)
    ->Name("rate_limiter_try_execute_refused/coarse_clock");

// -- the hand-written baseline -------------------------------------------------------------

resil_bench::mutex_token_bucket& open_bucket() {
  static resil_bench::mutex_token_bucket b{1e9, 1e9};
  return b;
}

resil_bench::mutex_token_bucket& drained_bucket() {
  static resil_bench::mutex_token_bucket b{1.0 / 3600.0, 1};
  static const bool drained = b.try_acquire();
  benchmark::DoNotOptimize(drained);
  return b;
}

void mutex_rate_limiter_try_acquire_granted(benchmark::State& state) {
  auto& b = open_bucket();
  resil_bench::allocation_report allocs(state);
  for (auto _ : state) benchmark::DoNotOptimize(b.try_acquire());
}
BENCHMARK(mutex_rate_limiter_try_acquire_granted);
BENCHMARK(mutex_rate_limiter_try_acquire_granted)->Threads(2)->UseRealTime();

void mutex_rate_limiter_try_acquire_refused(benchmark::State& state) {
  auto& b = drained_bucket();
  resil_bench::allocation_report allocs(state);
  for (auto _ : state) benchmark::DoNotOptimize(b.try_acquire());
}
BENCHMARK(mutex_rate_limiter_try_acquire_refused);
BENCHMARK(mutex_rate_limiter_try_acquire_refused)->Threads(2)->UseRealTime();

void mutex_rate_limiter_try_execute_granted(benchmark::State& state) {
  auto& b = open_bucket();
  int x = 0;
  resil_bench::allocation_report allocs(state);
  for (auto _ : state) {
    int out = 0;
    benchmark::DoNotOptimize(b.try_call([x] { return resil_bench::work(x); }, out));
    x = out;
  }
}
BENCHMARK(mutex_rate_limiter_try_execute_granted);
BENCHMARK(mutex_rate_limiter_try_execute_granted)->Threads(2)->UseRealTime();

void mutex_rate_limiter_try_execute_refused(benchmark::State& state) {
  auto& b = drained_bucket();
  int x = 0;
  resil_bench::allocation_report allocs(state);
  for (auto _ : state) {
    int out = 0;
    benchmark::DoNotOptimize(b.try_call([x] { return resil_bench::work(x); }, out));
  }
}
BENCHMARK(mutex_rate_limiter_try_execute_refused);
BENCHMARK(mutex_rate_limiter_try_execute_refused)->Threads(2)->UseRealTime();

// -- keyed and window limiters (steady clock) -------------------------------------------------

void keyed_rate_limiter_try_acquire_known_key(benchmark::State& state) {
  static resil::keyed_rate_limiter<std::string> keyed{
      {.limit = {.permits = unlimited, .period = 1s, .burst = unlimited}}};
  const std::string key = "10.0.0." + std::to_string(state.thread_index());
  benchmark::DoNotOptimize(keyed.try_acquire(key));  // a key's first call adds its entry
  resil_bench::allocation_report allocs(state);
  for (auto _ : state) benchmark::DoNotOptimize(keyed.try_acquire(key));
}
BENCHMARK(keyed_rate_limiter_try_acquire_known_key);
BENCHMARK(keyed_rate_limiter_try_acquire_known_key)->Threads(2)->UseRealTime();

void fixed_window_rate_limiter_try_acquire(benchmark::State& state) {
  static resil::fixed_window_rate_limiter l{{.limit = 1'000'000'000, .window = 1s}};
  resil_bench::allocation_report allocs(state);
  for (auto _ : state) benchmark::DoNotOptimize(l.try_acquire());
}
BENCHMARK(fixed_window_rate_limiter_try_acquire);
BENCHMARK(fixed_window_rate_limiter_try_acquire)->Threads(2)->UseRealTime();

void sliding_window_rate_limiter_try_acquire(benchmark::State& state) {
  static resil::sliding_window_rate_limiter l{
      {.limit = 1'000'000'000, .window = 1s, .segments = 10}};
  resil_bench::allocation_report allocs(state);
  for (auto _ : state) benchmark::DoNotOptimize(l.try_acquire());
}
BENCHMARK(sliding_window_rate_limiter_try_acquire);
BENCHMARK(sliding_window_rate_limiter_try_acquire)->Threads(2)->UseRealTime();

}  // namespace
