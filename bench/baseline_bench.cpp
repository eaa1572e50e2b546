// Baselines: the raw call and the floor of this machine (clock reads, atomics, a mutex).
// SPDX-License-Identifier: MIT
#include <resil/core/clock.hpp>

#include <atomic>
#include <mutex>

#include "support.hpp"

namespace {

void raw_call(benchmark::State& state) {
  resil_bench::allocation_report allocs(state);
  int x = 0;
  for (auto _ : state) benchmark::DoNotOptimize(x = resil_bench::work(x));
}
BENCHMARK(raw_call);
BENCHMARK(raw_call)->Threads(2)->UseRealTime();

void floor_steady_clock_now(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(resil::steady_clock::now());
}
BENCHMARK(floor_steady_clock_now);

void floor_coarse_clock_now(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(resil::coarse_clock::now());
}
BENCHMARK(floor_coarse_clock_now);

void floor_atomic_fetch_add(benchmark::State& state) {
  static std::atomic<long> counter{0};
  for (auto _ : state) benchmark::DoNotOptimize(counter.fetch_add(1));
}
BENCHMARK(floor_atomic_fetch_add);
BENCHMARK(floor_atomic_fetch_add)->Threads(2)->UseRealTime();

void floor_mutex_lock_unlock(benchmark::State& state) {
  static std::mutex m;
  for (auto _ : state) {
    m.lock();
    m.unlock();
  }
}
BENCHMARK(floor_mutex_lock_unlock);
BENCHMARK(floor_mutex_lock_unlock)->Threads(2)->UseRealTime();

}  // namespace
