// Shared pieces of the benchmarks: the protected function and the allocation counter.
// SPDX-License-Identifier: MIT
#pragma once

#include <benchmark/benchmark.h>

#include <cstdint>

namespace resil_bench {

/// The protected call: cheap, but never inlined, so the raw call costs one real call.
[[gnu::noinline]] int work(int x) noexcept;

/// Heap allocations made by the calling thread so far (counted by the global operator new,
/// every form of it: plain, array, nothrow and over-aligned).
std::uint64_t allocations() noexcept;

/// Reports heap allocations per call as the counter "allocs/call". With several threads each
/// thread's count is summed and divided by the iterations of all threads: allocations per call.
class allocation_report {
 public:
  explicit allocation_report(benchmark::State& state) noexcept
      : state_(state), start_(allocations()) {}
  ~allocation_report() {
    const auto n = static_cast<double>(allocations() - start_);
    state_.counters["allocs/call"] = benchmark::Counter(n, benchmark::Counter::kAvgIterations);
  }
  allocation_report(const allocation_report&) = delete;
  allocation_report& operator=(const allocation_report&) = delete;

 private:
  benchmark::State& state_;
  std::uint64_t start_;
};

}  // namespace resil_bench
