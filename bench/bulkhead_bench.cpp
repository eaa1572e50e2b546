// Bulkhead: acquire + release and a full call, against a hand-written std::mutex +
// std::function bulkhead (what a blog post shows).
// SPDX-License-Identifier: MIT
#include <resil/bulkhead.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>

#include "support.hpp"

namespace {

// The hand-written version: a mutex-protected counter around a std::function call.
class mutex_bulkhead {
 public:
  explicit mutex_bulkhead(int max) : max_(max) {}

  bool try_call(const std::function<int()>& f, int& out) {
    {
      const std::lock_guard lock(mutex_);
      if (in_flight_ >= max_) return false;
      ++in_flight_;
    }
    out = f();
    {
      const std::lock_guard lock(mutex_);
      --in_flight_;
    }
    cv_.notify_one();  // for callers that wait for a slot
    return true;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  int in_flight_ = 0;
  int max_;
};

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
  resil_bench::allocation_report allocs(state);
  auto& b = shared_bulkhead();
  for (auto _ : state) {
    auto p = b.try_acquire();
    benchmark::DoNotOptimize(p);
  }
}
BENCHMARK(bulkhead_acquire_release);
BENCHMARK(bulkhead_acquire_release)->Threads(2)->UseRealTime();

void bulkhead_try_execute(benchmark::State& state) {
  resil_bench::allocation_report allocs(state);
  auto& b = shared_bulkhead();
  int x = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(x = b.try_execute(resil_bench::work, x).value());
  }
}
BENCHMARK(bulkhead_try_execute);
BENCHMARK(bulkhead_try_execute)->Threads(2)->UseRealTime();

void bulkhead_rejected(benchmark::State& state) {
  resil_bench::allocation_report allocs(state);
  static resil::bulkhead full{{.max_concurrent = 1}};
  static auto held = full.try_acquire();
  int rejected = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(rejected += full.try_execute(resil_bench::work, 1).has_error());
  }
}
BENCHMARK(bulkhead_rejected);
BENCHMARK(bulkhead_rejected)->Threads(2)->UseRealTime();

void baseline_mutex_bulkhead(benchmark::State& state) {
  resil_bench::allocation_report allocs(state);
  static mutex_bulkhead b{1000};
  int x = 0;
  for (auto _ : state) {
    int out = 0;
    benchmark::DoNotOptimize(b.try_call([x] { return resil_bench::work(x); }, out));
    x = out;
  }
}
BENCHMARK(baseline_mutex_bulkhead);
BENCHMARK(baseline_mutex_bulkhead)->Threads(2)->UseRealTime();

}  // namespace
