// Baselines: the raw call and the floor of this machine (clock reads, atomics, a mutex,
// std::function), plus two rows that prove the allocation counter counts.
// SPDX-License-Identifier: MIT
#include <resil/core/clock.hpp>

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>

#include "support.hpp"

namespace {

void raw_call(benchmark::State& state) {
  int x = 0;
  resil_bench::allocation_report allocs(state);
  for (auto _ : state) benchmark::DoNotOptimize(x = resil_bench::work(x));
}
BENCHMARK(raw_call);
BENCHMARK(raw_call)->Threads(2)->UseRealTime();

void floor_steady_clock_now(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(resil::steady_clock::now());
}
BENCHMARK(floor_steady_clock_now);
BENCHMARK(floor_steady_clock_now)->Threads(2)->UseRealTime();

void floor_coarse_clock_now(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(resil::coarse_clock::now());
}
BENCHMARK(floor_coarse_clock_now);
BENCHMARK(floor_coarse_clock_now)->Threads(2)->UseRealTime();

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

// What a rejection costs a caller when it is reported by an exception instead of an outcome.
void floor_throw_catch(benchmark::State& state) {
  for (auto _ : state) {
    try {
      throw std::runtime_error("rejected");
    } catch (const std::exception& e) {
      benchmark::DoNotOptimize(&e);
    }
  }
}
BENCHMARK(floor_throw_catch);

// Building a std::function around a small capture (no allocation) and calling it once: what
// every hand-written baseline pays per call before its own logic.
void floor_std_function_build_and_call(benchmark::State& state) {
  int x = 0;
  resil_bench::allocation_report allocs(state);
  for (auto _ : state) {
    const std::function<int()> f = [&x] { return resil_bench::work(x); };
    benchmark::DoNotOptimize(x = f());
  }
}
BENCHMARK(floor_std_function_build_and_call);

// Control rows for the counter: a capture too large for std::function's buffer allocates once
// per call, and so does an over-aligned object (the aligned operator new is counted too).
void floor_std_function_large_capture(benchmark::State& state) {
  std::array<int, 8> big{};
  resil_bench::allocation_report allocs(state, resil_bench::may_allocate);
  for (auto _ : state) {
    const std::function<int()> f = [big] { return resil_bench::work(big[0]); };
    benchmark::DoNotOptimize(big[0] = f());
  }
}
BENCHMARK(floor_std_function_large_capture);

void floor_new_delete_over_aligned(benchmark::State& state) {
  struct alignas(128) line {
    int v = 0;
  };
  resil_bench::allocation_report allocs(state, resil_bench::may_allocate);
  for (auto _ : state) {
    auto p = std::make_unique<line>();
    benchmark::DoNotOptimize(p.get());
  }
}
BENCHMARK(floor_new_delete_over_aligned);

}  // namespace
