// Chaos policies: the cost of a disabled chaos policy (one load and a branch) and of one that
// draws but does not inject.
// SPDX-License-Identifier: MIT
#include <resil/chaos.hpp>

#include "support.hpp"

namespace {

void chaos_fault_disabled(benchmark::State& state) {
  resil_bench::allocation_report allocs(state);
  static resil::chaos_fault fault{{.injection_rate = 1.0, .enabled = false}, resil::errc::timeout};
  int x = 0;
  for (auto _ : state) {
    x = fault.try_execute(resil_bench::work, x).value();
    benchmark::DoNotOptimize(x);
  }
}
BENCHMARK(chaos_fault_disabled);
BENCHMARK(chaos_fault_disabled)->Threads(2)->UseRealTime();

void chaos_fault_enabled_rate_zero(benchmark::State& state) {
  resil_bench::allocation_report allocs(state);
  static resil::chaos_fault fault{{.injection_rate = 0.0}, resil::errc::timeout};
  int x = 0;
  for (auto _ : state) {
    x = fault.try_execute(resil_bench::work, x).value();
    benchmark::DoNotOptimize(x);
  }
}
BENCHMARK(chaos_fault_enabled_rate_zero);

void chaos_fault_enabled_drawing(benchmark::State& state) {
  resil_bench::allocation_report allocs(state);
  static resil::chaos_fault fault{{.injection_rate = 1e-9}, resil::errc::timeout};
  int x = 0;
  for (auto _ : state) {
    auto r = fault.try_execute(resil_bench::work, x);
    x = r ? *r : x;
    benchmark::DoNotOptimize(x);
  }
}
BENCHMARK(chaos_fault_enabled_drawing);

}  // namespace
