// Circuit breaker: the closed path (count window, consecutive-failure mode, time window), the
// open-breaker rejection, and a hand-written std::mutex + std::function breaker side by side.
// SPDX-License-Identifier: MIT
#include <resil/circuit_breaker.hpp>

#include <chrono>
#include <functional>
#include <mutex>

#include "support.hpp"

using namespace std::chrono_literals;

namespace {

// What a user writes from a blog post: one mutex around a state enum, a ring of the last 100
// outcomes, and the call wrapped in a std::function.
class mutex_breaker {
 public:
  bool call(const std::function<int()>& f, int& out) {
    {
      std::lock_guard lock(mutex_);
      if (open_) {
        if (std::chrono::steady_clock::now() < open_until_) return false;
        open_ = false;
      }
    }
    bool ok = true;
    try {
      out = f();
    } catch (...) {
      ok = false;
    }
    std::lock_guard lock(mutex_);
    failures_ += (ok ? 0 : 1) - (ring_[next_] ? 1 : 0);
    ring_[next_] = !ok;
    next_ = (next_ + 1) % 100;
    calls_ = calls_ < 100 ? calls_ + 1 : 100;
    if (calls_ == 100 && failures_ * 2 >= calls_) {
      open_ = true;
      open_until_ = std::chrono::steady_clock::now() + 60s;
    }
    return true;
  }
  void force_open() {
    std::lock_guard lock(mutex_);
    open_ = true;
    open_until_ = std::chrono::steady_clock::time_point::max();
  }

 private:
  std::mutex mutex_;
  bool open_ = false;
  std::chrono::steady_clock::time_point open_until_{};
  bool ring_[100] = {};
  int next_ = 0;
  int calls_ = 0;
  int failures_ = 0;
};

resil::circuit_breaker& open_breaker() {
  static resil::circuit_breaker b{{.window_size = 1, .minimum_calls = 1, .open_duration = 24h}};
  static const bool tripped = [] {
    (void)b.try_execute([]() -> int { throw 1; });
    return true;
  }();
  (void)tripped;
  return b;
}

void cb_closed_count_window(benchmark::State& state) {
  resil_bench::allocation_report allocs(state);
  static resil::circuit_breaker breaker;  // count window of 100, no slow-call tracking
  int x = 0;
  for (auto _ : state) {
    x = breaker.try_execute(resil_bench::work, x).value();
    benchmark::DoNotOptimize(x);
  }
}
BENCHMARK(cb_closed_count_window);
BENCHMARK(cb_closed_count_window)->Threads(2)->UseRealTime();

void cb_closed_consecutive_failures(benchmark::State& state) {
  resil_bench::allocation_report allocs(state);
  static resil::circuit_breaker breaker{
      {.consecutive_failures = 5, .window = resil::window_type::none}};
  int x = 0;
  for (auto _ : state) {
    x = breaker.try_execute(resil_bench::work, x).value();
    benchmark::DoNotOptimize(x);
  }
}
BENCHMARK(cb_closed_consecutive_failures);
BENCHMARK(cb_closed_consecutive_failures)->Threads(2)->UseRealTime();

void cb_closed_permit_api(benchmark::State& state) {
  resil_bench::allocation_report allocs(state);
  static resil::circuit_breaker breaker;
  int x = 0;
  for (auto _ : state) {
    if (auto p = breaker.try_acquire()) {
      x = resil_bench::work(x);
      p->record_success();
    }
    benchmark::DoNotOptimize(x);
  }
}
BENCHMARK(cb_closed_permit_api);

void cb_closed_consecutive_failures_permit_api(benchmark::State& state) {
  resil_bench::allocation_report allocs(state);
  static resil::circuit_breaker breaker{
      {.consecutive_failures = 5, .window = resil::window_type::none}};
  int x = 0;
  for (auto _ : state) {
    if (auto p = breaker.try_acquire()) {
      x = resil_bench::work(x);
      p->record_success();
    }
    benchmark::DoNotOptimize(x);
  }
}
BENCHMARK(cb_closed_consecutive_failures_permit_api);

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
  resil_bench::allocation_report allocs(state);
  static classify_only policy;
  int x = 0;
  for (auto _ : state) {
    x = policy.try_execute(resil_bench::work, x).value();
    benchmark::DoNotOptimize(x);
  }
}
BENCHMARK(floor_try_execute_classify_only);

void cb_closed_time_window_coarse_clock(benchmark::State& state) {
  resil_bench::allocation_report allocs(state);
  static resil::basic_circuit_breaker<resil::coarse_clock> breaker{
      {.window = resil::window_type::time, .window_size = 10}};
  int x = 0;
  for (auto _ : state) {
    x = breaker.try_execute(resil_bench::work, x).value();
    benchmark::DoNotOptimize(x);
  }
}
BENCHMARK(cb_closed_time_window_coarse_clock);
BENCHMARK(cb_closed_time_window_coarse_clock)->Threads(2)->UseRealTime();

void cb_closed_slow_call_tracking(benchmark::State& state) {
  resil_bench::allocation_report allocs(state);
  static resil::circuit_breaker breaker{{.slow_call_duration = 1s}};  // two clock reads
  int x = 0;
  for (auto _ : state) {
    x = breaker.try_execute(resil_bench::work, x).value();
    benchmark::DoNotOptimize(x);
  }
}
BENCHMARK(cb_closed_slow_call_tracking);

void cb_open_rejection(benchmark::State& state) {
  resil_bench::allocation_report allocs(state);
  auto& breaker = open_breaker();
  int x = 0;
  for (auto _ : state) {
    auto r = breaker.try_execute(resil_bench::work, x);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(cb_open_rejection);
BENCHMARK(cb_open_rejection)->Threads(2)->UseRealTime();

void cb_forced_open_rejection(benchmark::State& state) {
  resil_bench::allocation_report allocs(state);
  static resil::circuit_breaker breaker;
  breaker.force_open();
  int x = 0;
  for (auto _ : state) {
    auto r = breaker.try_execute(resil_bench::work, x);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(cb_forced_open_rejection);

void cb_mutex_baseline_closed(benchmark::State& state) {
  resil_bench::allocation_report allocs(state);
  static mutex_breaker breaker;
  int x = 0;
  for (auto _ : state) {
    breaker.call([&x] { return resil_bench::work(x); }, x);
    benchmark::DoNotOptimize(x);
  }
}
BENCHMARK(cb_mutex_baseline_closed);
BENCHMARK(cb_mutex_baseline_closed)->Threads(2)->UseRealTime();

void cb_mutex_baseline_open_rejection(benchmark::State& state) {
  resil_bench::allocation_report allocs(state);
  static mutex_breaker breaker;
  breaker.force_open();
  int x = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(breaker.call([&x] { return resil_bench::work(x); }, x));
  }
}
BENCHMARK(cb_mutex_baseline_open_rejection);
BENCHMARK(cb_mutex_baseline_open_rejection)->Threads(2)->UseRealTime();

}  // namespace
