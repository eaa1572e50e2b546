// Composition: the plumbing alone (a do-nothing policy composed 1 and 5 times, and bound with
// decorate) against the same layers written by hand as nested std::function wrappers; the full
// compose(retry, breaker, limiter, bulkhead) on steady and coarse clocks against the four
// hand-written policies of hand_written.hpp nested the same way.
// SPDX-License-Identifier: MIT
#include <resil/bulkhead.hpp>
#include <resil/circuit_breaker.hpp>
#include <resil/compose.hpp>
#include <resil/rate_limiter.hpp>
#include <resil/retry.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <utility>

#include "hand_written.hpp"
#include "support.hpp"

namespace {

// A policy that does nothing but call the rest of the pipeline: what remains is the plumbing
// (the context, the outcome, the nested lambdas), which must inline away.
struct pass_through : resil::policy_base<pass_through> {
  template <class R, class Next>
  resil::outcome<R> invoke(resil::context& ctx, Next&& next) {
    return next(ctx);
  }
};

pass_through p1, p2, p3, p4, p5;

void empty_policy_try_execute(benchmark::State& state) {
  int x = 0;
  resil_bench::allocation_report allocs(state);
  for (auto _ : state) benchmark::DoNotOptimize(x = p1.try_execute(resil_bench::work, x).value());
}
BENCHMARK(empty_policy_try_execute);
BENCHMARK(empty_policy_try_execute)->Threads(2)->UseRealTime();

void compose_empty_x1(benchmark::State& state) {
  auto pipeline = resil::compose(p1);
  int x = 0;
  resil_bench::allocation_report allocs(state);
  for (auto _ : state) {
    benchmark::DoNotOptimize(x = pipeline.try_execute(resil_bench::work, x).value());
  }
}
BENCHMARK(compose_empty_x1);
BENCHMARK(compose_empty_x1)->Threads(2)->UseRealTime();

void compose_empty_x5(benchmark::State& state) {
  auto pipeline = resil::compose(p1, p2, p3, p4, p5);
  int x = 0;
  resil_bench::allocation_report allocs(state);
  for (auto _ : state) {
    benchmark::DoNotOptimize(x = pipeline.try_execute(resil_bench::work, x).value());
  }
}
BENCHMARK(compose_empty_x5);
BENCHMARK(compose_empty_x5)->Threads(2)->UseRealTime();

void decorate_empty_x5(benchmark::State& state) {
  auto call = resil::decorate(resil_bench::work, p1, p2, p3, p4, p5);
  int x = 0;
  resil_bench::allocation_report allocs(state);
  for (auto _ : state) benchmark::DoNotOptimize(x = call.try_call(x).value());
}
BENCHMARK(decorate_empty_x5);

// The hand-written equivalent: each layer a std::function wrapping the next, built once.
std::function<int(int)> wrap(std::function<int(int)> inner) {
  return [inner = std::move(inner)](int v) { return inner(v); };
}

void std_function_chain_x1(benchmark::State& state) {
  const auto call = wrap(resil_bench::work);
  int x = 0;
  resil_bench::allocation_report allocs(state);
  for (auto _ : state) benchmark::DoNotOptimize(x = call(x));
}
BENCHMARK(std_function_chain_x1);
BENCHMARK(std_function_chain_x1)->Threads(2)->UseRealTime();

void std_function_chain_x5(benchmark::State& state) {
  const auto call = wrap(wrap(wrap(wrap(wrap(resil_bench::work)))));
  int x = 0;
  resil_bench::allocation_report allocs(state);
  for (auto _ : state) benchmark::DoNotOptimize(x = call(x));
}
BENCHMARK(std_function_chain_x5);
BENCHMARK(std_function_chain_x5)->Threads(2)->UseRealTime();

// -- the full composition ---------------------------------------------------------------------

constexpr std::uint64_t unlimited = 1'000'000'000;  // one permit per ns: every call is granted

// compose(retry, breaker, limiter, bulkhead) with DESIGN.md's defaults where it has them: a
// count-window breaker (no clock read), a limiter that grants every call (one clock read, shared
// through the context), a bulkhead that never fills.
template <class Clock>
struct full_stack {
  resil::basic_retry<Clock> retry{
      {.max_attempts = 3,
       .backoff = resil::backoff::exponential(std::chrono::milliseconds{100}).full_jitter(),
       .seed = 42}};
  resil::basic_circuit_breaker<Clock> breaker{resil::circuit_breaker_options{}};
  resil::basic_rate_limiter<Clock> limiter{
      {.permits = unlimited, .period = std::chrono::seconds{1}, .burst = unlimited}};
  resil::basic_bulkhead<Clock> bulkhead{{.max_concurrent = 1000}};
};

template <class Clock>
void compose_full(benchmark::State& state) {
  static full_stack<Clock> s;
  auto pipeline = resil::compose(s.retry, s.breaker, s.limiter, s.bulkhead);
  int x = 0;
  resil_bench::allocation_report allocs(state);
  for (auto _ : state) {
    benchmark::DoNotOptimize(x = pipeline.try_execute(resil_bench::work, x).value());
  }
}
BENCHMARK(compose_full<resil::steady_clock>)->Name("compose_full/steady_clock");
BENCHMARK(compose_full<resil::steady_clock>)
    ->Name("compose_full/steady_clock")
    ->Threads(2)
    ->UseRealTime();
BENCHMARK(compose_full<resil::coarse_clock>)->Name("compose_full/coarse_clock");
BENCHMARK(compose_full<resil::coarse_clock>)
    ->Name("compose_full/coarse_clock")
    ->Threads(2)
    ->UseRealTime();

// The same pipeline without the retry: the difference is what the retry adds inside a
// composition, where the context is built and passed down for the other policies anyway.
template <class Clock>
void compose_full_without_retry(benchmark::State& state) {
  static full_stack<Clock> s;
  auto pipeline = resil::compose(s.breaker, s.limiter, s.bulkhead);
  int x = 0;
  resil_bench::allocation_report allocs(state);
  for (auto _ : state) {
    benchmark::DoNotOptimize(x = pipeline.try_execute(resil_bench::work, x).value());
  }
}
BENCHMARK(compose_full_without_retry<resil::steady_clock>)
    ->Name("compose_full_without_retry/steady_clock");
BENCHMARK(compose_full_without_retry<resil::coarse_clock>)
    ->Name("compose_full_without_retry/coarse_clock");

// The same four layers written by hand, nested through std::function; each rejection throws.
void mutex_compose_full(benchmark::State& state) {
  static resil_bench::mutex_retry retry;
  static resil_bench::mutex_circuit_breaker breaker;
  static resil_bench::mutex_token_bucket bucket{1e9, 1e9};
  static resil_bench::mutex_bulkhead bulkhead{1000};
  int x = 0;
  resil_bench::allocation_report allocs(state);
  for (auto _ : state) {
    x = retry.call([&] {
      int out = 0;
      const bool admitted = breaker.try_call(
          [&] {
            int limited = 0;
            if (!bucket.try_call(
                    [&] {
                      int bounded = 0;
                      if (!bulkhead.try_call([&] { return resil_bench::work(x); }, bounded)) {
                        throw std::runtime_error("bulkhead full");
                      }
                      return bounded;
                    },
                    limited)) {
              throw std::runtime_error("rate limited");
            }
            return limited;
          },
          out);
      if (!admitted) throw std::runtime_error("circuit open");
      return out;
    });
    benchmark::DoNotOptimize(x);
  }
}
BENCHMARK(mutex_compose_full);
BENCHMARK(mutex_compose_full)->Threads(2)->UseRealTime();

}  // namespace
