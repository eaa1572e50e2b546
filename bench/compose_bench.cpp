// Composition: the plumbing alone (a do-nothing policy composed 1 and 5 times, and bound with
// decorate) against the same layers written by hand as nested std::function wrappers.
// SPDX-License-Identifier: MIT
#include <resil/compose.hpp>

#include <functional>
#include <utility>

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

}  // namespace
