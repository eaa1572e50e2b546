// Chaos policies: the cost of a disabled chaos policy (one load and a branch) and of one that
// draws but does not inject, against a hand-written mutex + std::mt19937_64 coin.
// SPDX-License-Identifier: MIT
#include <resil/chaos.hpp>

#include "hand_written.hpp"
#include "support.hpp"

namespace {

void chaos_fault_disabled(benchmark::State& state) {
  static resil::chaos_fault fault{{.injection_rate = 1.0, .enabled = false}, resil::errc::timeout};
  int x = 0;
  resil_bench::allocation_report allocs(state);
  for (auto _ : state) {
    x = fault.try_execute(resil_bench::work, x).value();
    benchmark::DoNotOptimize(x);
  }
}
BENCHMARK(chaos_fault_disabled);
BENCHMARK(chaos_fault_disabled)->Threads(2)->UseRealTime();

void chaos_fault_enabled_rate_zero(benchmark::State& state) {
  static resil::chaos_fault fault{{.injection_rate = 0.0}, resil::errc::timeout};
  int x = 0;
  resil_bench::allocation_report allocs(state);
  for (auto _ : state) {
    x = fault.try_execute(resil_bench::work, x).value();
    benchmark::DoNotOptimize(x);
  }
}
BENCHMARK(chaos_fault_enabled_rate_zero);

void chaos_fault_enabled_drawing(benchmark::State& state) {
  static resil::chaos_fault fault{{.injection_rate = 1e-9}, resil::errc::timeout};
  int x = 0;
  resil_bench::allocation_report allocs(state);
  for (auto _ : state) {
    auto r = fault.try_execute(resil_bench::work, x);
    x = r ? *r : x;
    benchmark::DoNotOptimize(x);
  }
}
BENCHMARK(chaos_fault_enabled_drawing);
BENCHMARK(chaos_fault_enabled_drawing)->Threads(2)->UseRealTime();

void mutex_chaos_fault_drawing(benchmark::State& state) {
  static resil_bench::mutex_chaos_fault fault{1e-9};
  int x = 0;
  resil_bench::allocation_report allocs(state);
  for (auto _ : state) {
    int out = x;
    fault.try_call([x] { return resil_bench::work(x); }, out);
    x = out;
    benchmark::DoNotOptimize(x);
  }
}
BENCHMARK(mutex_chaos_fault_drawing);
BENCHMARK(mutex_chaos_fault_drawing)->Threads(2)->UseRealTime();

}  // namespace
