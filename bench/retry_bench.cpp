// Retry: the success-on-first-attempt path against the raw call and against a hand-written retry
// loop (std::function + a mutex-protected std::mt19937_64), plus the cost of one failed attempt.
// SPDX-License-Identifier: MIT
#include <resil/retry.hpp>

#include <chrono>
#include <functional>
#include <mutex>
#include <random>
#include <thread>

#include "support.hpp"

namespace {

// What a user writes from a blog post: a retry loop over std::function, exceptions for failures,
// one shared generator behind a mutex for the jitter.
class hand_written_retry {
 public:
  int call(const std::function<int()>& f) {
    for (int attempt = 1;; ++attempt) {
      try {
        return f();
      } catch (...) {
        if (attempt >= max_attempts_) throw;
      }
      std::this_thread::sleep_for(jittered_delay(attempt));
    }
  }

 private:
  std::chrono::nanoseconds jittered_delay(int attempt) {
    std::lock_guard lock(mutex_);
    std::uniform_int_distribution<std::int64_t> d(0, base_.count() << attempt);
    return std::chrono::nanoseconds{d(rng_)};
  }

  int max_attempts_ = 3;
  std::chrono::nanoseconds base_ = std::chrono::milliseconds{100};
  std::mutex mutex_;
  std::mt19937_64 rng_{42};
};

// Shared by the threads of a multi-threaded run, as a policy is in a service.
resil::retry& shared_retry() {
  static resil::retry r{
      {.max_attempts = 3,
       .backoff = resil::backoff::exponential(std::chrono::milliseconds{100}).full_jitter(),
       .seed = 42}};
  return r;
}

void retry_success_first_attempt(benchmark::State& state) {
  resil_bench::allocation_report allocs(state);
  auto& r = shared_retry();
  int x = 0;
  for (auto _ : state) benchmark::DoNotOptimize(x = r.execute(resil_bench::work, x));
}
BENCHMARK(retry_success_first_attempt);
BENCHMARK(retry_success_first_attempt)->Threads(2)->UseRealTime();

void retry_success_first_attempt_try_execute(benchmark::State& state) {
  resil_bench::allocation_report allocs(state);
  auto& r = shared_retry();
  int x = 0;
  for (auto _ : state) benchmark::DoNotOptimize(x = *r.try_execute(resil_bench::work, x));
}
BENCHMARK(retry_success_first_attempt_try_execute);

void retry_success_with_token_budget(benchmark::State& state) {
  resil_bench::allocation_report allocs(state);
  static resil::retry_budget budget;
  static resil::retry r{{.max_attempts = 3, .budget = &budget}};
  int x = 0;
  for (auto _ : state) benchmark::DoNotOptimize(x = r.execute(resil_bench::work, x));
}
BENCHMARK(retry_success_with_token_budget);
BENCHMARK(retry_success_with_token_budget)->Threads(2)->UseRealTime();

// One failed attempt reported as an outcome (no exception), zero backoff, then a success: the
// retry machinery's cost per failed attempt (no clock read: no delay and no deadline).
void retry_one_failed_attempt_then_success(benchmark::State& state) {
  resil_bench::allocation_report allocs(state);
  static resil::retry r{{.max_attempts = 2, .backoff = resil::backoff{}}};
  int x = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(x = r.execute(
                                 [](resil::context& ctx, int v) -> resil::outcome<int> {
                                   if (ctx.attempt() == 1) {
                                     return resil::outcome<int>::from_error(resil::errc::timeout);
                                   }
                                   return resil_bench::work(v);
                                 },
                                 x));
  }
}
BENCHMARK(retry_one_failed_attempt_then_success);

void hand_written_retry_success_first_attempt(benchmark::State& state) {
  resil_bench::allocation_report allocs(state);
  static hand_written_retry r;
  int x = 0;
  for (auto _ : state) benchmark::DoNotOptimize(x = r.call([&x] { return resil_bench::work(x); }));
}
BENCHMARK(hand_written_retry_success_first_attempt);
BENCHMARK(hand_written_retry_success_first_attempt)->Threads(2)->UseRealTime();

}  // namespace
