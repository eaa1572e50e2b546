// Retry: the success-on-first-attempt path against the raw call and against a hand-written retry
// loop (std::function + a mutex-protected std::mt19937_64), plus the cost of one failed attempt.
// The happy path reads no clock, so there are no clock variants.
// SPDX-License-Identifier: MIT
#include <resil/retry.hpp>

#include <chrono>
#include <stdexcept>

#include "hand_written.hpp"
#include "support.hpp"

namespace {

// Shared by the threads of a multi-threaded run, as a policy is in a service.
resil::retry& shared_retry() {
  static resil::retry r{
      {.max_attempts = 3,
       .backoff = resil::backoff::exponential(std::chrono::milliseconds{100}).full_jitter(),
       .seed = 42}};
  return r;
}

void retry_execute_success_first_attempt(benchmark::State& state) {
  auto& r = shared_retry();
  int x = 0;
  resil_bench::allocation_report allocs(state);
  for (auto _ : state) benchmark::DoNotOptimize(x = r.execute(resil_bench::work, x));
}
BENCHMARK(retry_execute_success_first_attempt);
BENCHMARK(retry_execute_success_first_attempt)->Threads(2)->UseRealTime();

void retry_try_execute_success_first_attempt(benchmark::State& state) {
  auto& r = shared_retry();
  int x = 0;
  resil_bench::allocation_report allocs(state);
  for (auto _ : state) benchmark::DoNotOptimize(x = *r.try_execute(resil_bench::work, x));
}
BENCHMARK(retry_try_execute_success_first_attempt);
BENCHMARK(retry_try_execute_success_first_attempt)->Threads(2)->UseRealTime();

void retry_execute_success_with_token_budget(benchmark::State& state) {
  static resil::retry_budget budget;
  static resil::retry r{{.max_attempts = 3, .budget = &budget}};
  int x = 0;
  resil_bench::allocation_report allocs(state);
  for (auto _ : state) benchmark::DoNotOptimize(x = r.execute(resil_bench::work, x));
}
BENCHMARK(retry_execute_success_with_token_budget);
BENCHMARK(retry_execute_success_with_token_budget)->Threads(2)->UseRealTime();

// One failed attempt reported as an outcome (no exception), zero backoff, then a success: the
// retry machinery's cost per failed attempt (no clock read: no delay and no deadline).
void retry_execute_one_failure_then_success(benchmark::State& state) {
  static resil::retry r{{.max_attempts = 2, .backoff = resil::backoff{}}};
  int x = 0;
  resil_bench::allocation_report allocs(state);
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
BENCHMARK(retry_execute_one_failure_then_success);

void mutex_retry_execute_success_first_attempt(benchmark::State& state) {
  static resil_bench::mutex_retry r;
  int x = 0;
  resil_bench::allocation_report allocs(state);
  for (auto _ : state) benchmark::DoNotOptimize(x = r.call([&x] { return resil_bench::work(x); }));
}
BENCHMARK(mutex_retry_execute_success_first_attempt);
BENCHMARK(mutex_retry_execute_success_first_attempt)->Threads(2)->UseRealTime();

// The hand-written loop reports a failure the way such loops do, by throwing; zero delay.
void mutex_retry_execute_one_failure_then_success(benchmark::State& state) {
  static resil_bench::mutex_retry r{2, std::chrono::nanoseconds{0}};
  int x = 0;
  resil_bench::allocation_report allocs(state, resil_bench::may_allocate);
  for (auto _ : state) {
    int attempt = 0;
    benchmark::DoNotOptimize(x = r.call([&] {
      if (++attempt == 1) throw std::runtime_error("timeout");
      return resil_bench::work(x);
    }));
  }
}
BENCHMARK(mutex_retry_execute_one_failure_then_success);

}  // namespace
