// Rate limiters: try_acquire granted and refused on steady and coarse clocks, the policy path,
// the keyed and window limiters, against a hand-written std::mutex token bucket.
// SPDX-License-Identifier: MIT
#include <resil/keyed_rate_limiter.hpp>
#include <resil/rate_limiter.hpp>
#include <resil/window_rate_limiter.hpp>

#include <algorithm>
#include <chrono>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>

#include "support.hpp"

namespace {

using namespace std::chrono_literals;

// What a user writes from a blog post: a token bucket behind a std::mutex, refilled from
// steady_clock in floating point, wrapping calls through std::function.
class mutex_token_bucket {
 public:
  mutex_token_bucket(double per_second, double burst)
      : per_ns_(per_second / 1e9),
        burst_(burst),
        tokens_(burst),
        last_(std::chrono::steady_clock::now()) {}

  bool try_acquire(double n = 1) {
    std::lock_guard lock(mutex_);
    const auto now = std::chrono::steady_clock::now();
    tokens_ = std::min(burst_, tokens_ + static_cast<double>((now - last_).count()) * per_ns_);
    last_ = now;
    if (tokens_ < n) return false;
    tokens_ -= n;
    return true;
  }

  int execute(const std::function<int(int)>& f, int x) {
    if (!try_acquire()) throw std::runtime_error("rate limited");
    return f(x);
  }

 private:
  std::mutex mutex_;
  double per_ns_;
  double burst_;
  double tokens_;
  std::chrono::steady_clock::time_point last_;
};

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
  resil_bench::allocation_report allocs(state);
  std::int64_t granted = 0;
  for (auto _ : state) {
    auto p = l.try_acquire();
    granted += p.has_value() ? 1 : 0;
    benchmark::DoNotOptimize(p);
  }
  if (granted != static_cast<std::int64_t>(state.iterations())) state.SkipWithError("refused");
}
BENCHMARK_TEMPLATE(rate_limiter_try_acquire_granted, resil::steady_clock);
BENCHMARK_TEMPLATE(rate_limiter_try_acquire_granted, resil::steady_clock)
    ->Threads(2)
    ->UseRealTime();
BENCHMARK_TEMPLATE(rate_limiter_try_acquire_granted, resil::coarse_clock);
BENCHMARK_TEMPLATE(rate_limiter_try_acquire_granted, resil::coarse_clock)
    ->Threads(2)
    ->UseRealTime();

template <class Clock>
void rate_limiter_try_acquire_refused(benchmark::State& state) {
  auto& l = drained_limiter<Clock>();
  resil_bench::allocation_report allocs(state);
  std::int64_t granted = 0;
  for (auto _ : state) {
    auto p = l.try_acquire();
    granted += p.has_value() ? 1 : 0;
    benchmark::DoNotOptimize(p);
  }
  if (granted != 0) state.SkipWithError("granted");
}
BENCHMARK_TEMPLATE(rate_limiter_try_acquire_refused, resil::steady_clock);
BENCHMARK_TEMPLATE(rate_limiter_try_acquire_refused, resil::steady_clock)
    ->Threads(2)
    ->UseRealTime();
BENCHMARK_TEMPLATE(rate_limiter_try_acquire_refused, resil::coarse_clock);

void rate_limiter_try_execute_granted(benchmark::State& state) {
  auto& l = open_limiter<resil::steady_clock>();
  resil_bench::allocation_report allocs(state);
  int x = 0;
  for (auto _ : state) {
    auto r = l.try_execute(resil_bench::work, x);
    x = *r;
  }
  benchmark::DoNotOptimize(x);
}
BENCHMARK(rate_limiter_try_execute_granted);
BENCHMARK(rate_limiter_try_execute_granted)->Threads(2)->UseRealTime();

void rate_limiter_try_execute_rejected(benchmark::State& state) {
  auto& l = drained_limiter<resil::steady_clock>();
  resil_bench::allocation_report allocs(state);
  int errors = 0;
  for (auto _ : state) errors += l.try_execute(resil_bench::work, 1).has_error() ? 1 : 0;
  benchmark::DoNotOptimize(errors);
}
BENCHMARK(rate_limiter_try_execute_rejected);

// -- the hand-written baseline -------------------------------------------------------------

mutex_token_bucket& open_bucket() {
  static mutex_token_bucket b{1e9, 1e9};
  return b;
}

mutex_token_bucket& drained_bucket() {
  static mutex_token_bucket b{1.0 / 3600.0, 1};
  static const bool drained = b.try_acquire();
  benchmark::DoNotOptimize(drained);
  return b;
}

void mutex_bucket_try_acquire_granted(benchmark::State& state) {
  auto& b = open_bucket();
  resil_bench::allocation_report allocs(state);
  for (auto _ : state) benchmark::DoNotOptimize(b.try_acquire());
}
BENCHMARK(mutex_bucket_try_acquire_granted);
BENCHMARK(mutex_bucket_try_acquire_granted)->Threads(2)->UseRealTime();

void mutex_bucket_try_acquire_refused(benchmark::State& state) {
  auto& b = drained_bucket();
  resil_bench::allocation_report allocs(state);
  for (auto _ : state) benchmark::DoNotOptimize(b.try_acquire());
}
BENCHMARK(mutex_bucket_try_acquire_refused);
BENCHMARK(mutex_bucket_try_acquire_refused)->Threads(2)->UseRealTime();

void mutex_bucket_execute_granted(benchmark::State& state) {
  auto& b = open_bucket();
  resil_bench::allocation_report allocs(state);
  int x = 0;
  for (auto _ : state) x = b.execute([](int v) { return resil_bench::work(v); }, x);
  benchmark::DoNotOptimize(x);
}
BENCHMARK(mutex_bucket_execute_granted);
BENCHMARK(mutex_bucket_execute_granted)->Threads(2)->UseRealTime();

// -- keyed and window limiters -------------------------------------------------------------

void keyed_try_acquire_known_key(benchmark::State& state) {
  static resil::keyed_rate_limiter<std::string> keyed{
      {.limit = {.permits = unlimited, .period = 1s, .burst = unlimited}}};
  const std::string key = "10.0.0." + std::to_string(state.thread_index());
  resil_bench::allocation_report allocs(state);
  for (auto _ : state) benchmark::DoNotOptimize(keyed.try_acquire(key));
}
BENCHMARK(keyed_try_acquire_known_key);
BENCHMARK(keyed_try_acquire_known_key)->Threads(2)->UseRealTime();

void fixed_window_try_acquire(benchmark::State& state) {
  static resil::fixed_window_rate_limiter l{{.limit = 1'000'000'000, .window = 1s}};
  resil_bench::allocation_report allocs(state);
  for (auto _ : state) benchmark::DoNotOptimize(l.try_acquire());
}
BENCHMARK(fixed_window_try_acquire);
BENCHMARK(fixed_window_try_acquire)->Threads(2)->UseRealTime();

void sliding_window_try_acquire(benchmark::State& state) {
  static resil::sliding_window_rate_limiter l{
      {.limit = 1'000'000'000, .window = 1s, .segments = 10}};
  resil_bench::allocation_report allocs(state);
  for (auto _ : state) benchmark::DoNotOptimize(l.try_acquire());
}
BENCHMARK(sliding_window_try_acquire);

}  // namespace
