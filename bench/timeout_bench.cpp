// Timeout: a call that finishes in time, on steady and coarse clocks, against a hand-written
// timeout (hand_written.hpp: std::function, a std::stop_source per call, a mutex-protected
// std::multimap of deadlines and a timer thread).
// SPDX-License-Identifier: MIT
#include <resil/timeout.hpp>

#include <chrono>
#include <stop_token>

#include "hand_written.hpp"
#include "support.hpp"

namespace {

template <class Clock>
void timeout_try_execute(benchmark::State& state) {
  static resil::basic_timeout<Clock> t{{.duration = std::chrono::hours{1}}};
  int x = 0;
  x = t.try_execute(resil_bench::work, x).value();  // warm-up: timer thread, stop source
  resil_bench::allocation_report allocs(state);
  for (auto _ : state) {
    benchmark::DoNotOptimize(x = t.try_execute(resil_bench::work, x).value());
  }
}
BENCHMARK(timeout_try_execute<resil::steady_clock>)->Name("timeout_try_execute/steady_clock");
BENCHMARK(timeout_try_execute<resil::steady_clock>)
    ->Name("timeout_try_execute/steady_clock")
    ->Threads(2)
    ->UseRealTime();
BENCHMARK(timeout_try_execute<resil::coarse_clock>)->Name("timeout_try_execute/coarse_clock");
BENCHMARK(timeout_try_execute<resil::coarse_clock>)
    ->Name("timeout_try_execute/coarse_clock")
    ->Threads(2)
    ->UseRealTime();

void mutex_timeout_try_execute(benchmark::State& state) {
  static resil_bench::mutex_timeout t{std::chrono::hours{1}};
  int x = 0;
  resil_bench::allocation_report allocs(state, resil_bench::may_allocate);
  for (auto _ : state) {
    int out = 0;
    benchmark::DoNotOptimize(
        t.try_call([x](const std::stop_token&) { return resil_bench::work(x); }, out));
    x = out;
  }
}
BENCHMARK(mutex_timeout_try_execute);
BENCHMARK(mutex_timeout_try_execute)->Threads(2)->UseRealTime();

}  // namespace
