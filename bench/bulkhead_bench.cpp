// Bulkhead: acquire + release, a full call and a rejection, against a hand-written std::mutex +
// std::function bulkhead (hand_written.hpp); the cost of a registered listener.
// SPDX-License-Identifier: MIT
#include <resil/bulkhead.hpp>

#include <atomic>
#include <cstdint>

#include "hand_written.hpp"
#include "support.hpp"

namespace {

resil::bulkhead& shared_bulkhead() {
  static resil::bulkhead b{{.max_concurrent = 1000}};
  return b;
}

// The floor of the design: one CAS in and one atomic subtraction out, nothing else.
void floor_cas_in_sub_out(benchmark::State& state) {
  static std::atomic<std::uint64_t> word{0};
  for (auto _ : state) {
    std::uint64_t s = word.load(std::memory_order_relaxed);
    while (!word.compare_exchange_weak(s, s + 1, std::memory_order_seq_cst)) {
    }
    benchmark::DoNotOptimize(s);
    word.fetch_sub(1, std::memory_order_seq_cst);
  }
}
BENCHMARK(floor_cas_in_sub_out);
BENCHMARK(floor_cas_in_sub_out)->Threads(2)->UseRealTime();

void bulkhead_acquire_release(benchmark::State& state) {
  auto& b = shared_bulkhead();
  resil_bench::allocation_report allocs(state);
  for (auto _ : state) {
    auto p = b.try_acquire();
    benchmark::DoNotOptimize(p);
  }
}
BENCHMARK(bulkhead_acquire_release);
BENCHMARK(bulkhead_acquire_release)->Threads(2)->UseRealTime();

void bulkhead_try_execute(benchmark::State& state) {
  auto& b = shared_bulkhead();
  int x = 0;
  resil_bench::allocation_report allocs(state);
  for (auto _ : state) {
    benchmark::DoNotOptimize(x = b.try_execute(resil_bench::work, x).value());
  }
}
BENCHMARK(bulkhead_try_execute);
BENCHMARK(bulkhead_try_execute)->Threads(2)->UseRealTime();

// The same call with one (empty) listener registered: it is told "permitted" and "finished".
void bulkhead_try_execute_with_listener(benchmark::State& state) {
  static resil::bulkhead b{{.max_concurrent = 1000}};
  static const auto subscribed = b.events().subscribe(
      [](const resil::bulkhead_event& e) { benchmark::DoNotOptimize(e.kind); });
  benchmark::DoNotOptimize(subscribed);
  int x = 0;
  resil_bench::allocation_report allocs(state);
  for (auto _ : state) {
    benchmark::DoNotOptimize(x = b.try_execute(resil_bench::work, x).value());
  }
}
BENCHMARK(bulkhead_try_execute_with_listener);
BENCHMARK(bulkhead_try_execute_with_listener)->Threads(2)->UseRealTime();

void bulkhead_try_execute_rejected(benchmark::State& state) {
  static resil::bulkhead full{{.max_concurrent = 1}};
  static auto held = full.try_acquire();
  int rejected = 0;
  resil_bench::allocation_report allocs(state);
  for (auto _ : state) {
    benchmark::DoNotOptimize(rejected += full.try_execute(resil_bench::work, 1).has_error());
  }
}
BENCHMARK(bulkhead_try_execute_rejected);
BENCHMARK(bulkhead_try_execute_rejected)->Threads(2)->UseRealTime();

void mutex_bulkhead_try_execute(benchmark::State& state) {
  static resil_bench::mutex_bulkhead b{1000};
  int x = 0;
  resil_bench::allocation_report allocs(state);
  for (auto _ : state) {
    int out = 0;
    benchmark::DoNotOptimize(b.try_call([x] { return resil_bench::work(x); }, out));
    x = out;
  }
}
BENCHMARK(mutex_bulkhead_try_execute);
BENCHMARK(mutex_bulkhead_try_execute)->Threads(2)->UseRealTime();

void mutex_bulkhead_try_execute_rejected(benchmark::State& state) {
  static resil_bench::mutex_bulkhead full{1};
  static const bool filled = (full.fill(), true);
  benchmark::DoNotOptimize(filled);
  int rejected = 0;
  resil_bench::allocation_report allocs(state);
  for (auto _ : state) {
    int out = 0;
    benchmark::DoNotOptimize(rejected +=
                             full.try_call([] { return resil_bench::work(1); }, out) ? 0 : 1);
  }
}
BENCHMARK(mutex_bulkhead_try_execute_rejected);
BENCHMARK(mutex_bulkhead_try_execute_rejected)->Threads(2)->UseRealTime();

}  // namespace
