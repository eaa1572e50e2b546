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

/// Whether a benchmarked path may allocate: resil's paths never may (hand-written baselines
/// and the control rows do).
enum class allocation_policy { none_allowed, allowed };
inline constexpr allocation_policy may_allocate = allocation_policy::allowed;

/**
 * Reports heap allocations per call as the counter "allocs/call". With several threads each
 * thread's count is summed and divided by the iterations of all threads: allocations per call.
 * A path that must not allocate and did is reported as an error ("ERROR OCCURRED" in the
 * output, which fails the smoke test in ctest).
 */
class allocation_report {
 public:
  explicit allocation_report(benchmark::State& state,
                             allocation_policy policy = allocation_policy::none_allowed) noexcept
      : state_(state), policy_(policy), start_(allocations()) {}
  ~allocation_report() {
    const auto n = allocations() - start_;
    state_.counters["allocs/call"] =
        benchmark::Counter(static_cast<double>(n), benchmark::Counter::kAvgIterations);
    if (n != 0 && policy_ == allocation_policy::none_allowed) {
      state_.SkipWithError("heap allocation on a path that must not allocate");
    }
  }
  allocation_report(const allocation_report&) = delete;
  allocation_report& operator=(const allocation_report&) = delete;

 private:
  benchmark::State& state_;
  allocation_policy policy_;
  std::uint64_t start_;
};

}  // namespace resil_bench
