// Heap allocations per call: zero for every composition, counted by a replacement operator new.
// SPDX-License-Identifier: MIT
#include <resil/bulkhead.hpp>
#include <resil/chaos.hpp>
#include <resil/circuit_breaker.hpp>
#include <resil/compose.hpp>
#include <resil/core/events.hpp>
#include <resil/fallback.hpp>
#include <resil/keyed_rate_limiter.hpp>
#include <resil/rate_limiter.hpp>
#include <resil/registry.hpp>
#include <resil/retry.hpp>
#include <resil/timeout.hpp>
#include <resil/window_rate_limiter.hpp>

#include <catch2/catch.hpp>

#include <string>

#include "support/counting_new.hpp"
#include "support/test_policies.hpp"

using resil_test::allocation_counter;

TEST_CASE("alloc: the counter sees allocations (so zero below means zero)", "[alloc]") {
  allocation_counter count;
  int* volatile p = new int(1);  // volatile: an optimiser may not elide this new/delete pair
  delete p;
  CHECK(count.count() == 1);
}

TEST_CASE("alloc: calls through a composition allocate nothing", "[alloc]") {
  resil_test::counting_policy a;
  resil_test::counting_policy b;
  resil_test::repeating_policy twice;
  auto pipeline = resil::compose(a, twice, b);
  auto decorated = resil::decorate([](int x) { return x * 2; }, a, b);
  int sum = 0;
  allocation_counter count;
  for (int i = 0; i < 1000; ++i) {
    sum += pipeline.execute([](int x) { return x; }, i);
    sum += pipeline.try_execute([](resil::context& ctx) { return int(ctx.attempt()); }).value();
    sum += decorated(i);
    sum += decorated.try_call(i).value();
  }
  const auto allocations = count.count();
  CHECK(allocations == 0);
  CHECK(sum > 0);
}

TEST_CASE("alloc: rejections and error outcomes allocate nothing", "[alloc]") {
  resil_test::rejecting_policy reject;
  auto pipeline = resil::compose(reject);
  int errors = 0;
  allocation_counter count;
  for (int i = 0; i < 1000; ++i) {
    errors += pipeline.try_execute([] { return 1; }).has_error() ? 1 : 0;
    errors +=
        pipeline.try_execute([] { return resil::outcome<int>::from_error(resil::errc::timeout); })
                .has_error()
            ? 1
            : 0;
  }
  const auto allocations = count.count();
  CHECK(allocations == 0);
  CHECK(errors == 2000);
}

TEST_CASE("alloc: publishing with no listener allocates nothing", "[alloc]") {
  resil::event_publisher<std::string> p;
  allocation_counter count;
  for (int i = 0; i < 1000; ++i) p.publish_with([] { return std::string(100, 'x'); });
  CHECK(count.count() == 0);
}

TEST_CASE("alloc: chaos policies allocate nothing when off or injecting an error code", "[alloc]") {
  resil::chaos_fault off{{.injection_rate = 1.0, .enabled = false}, resil::errc::timeout};
  resil::chaos_fault on{{.injection_rate = 0.5}, resil::errc::timeout};
  resil::chaos_latency no_wait{{.injection_rate = 1.0}, resil::nanoseconds{0}};
  auto pipeline = resil::compose(off, on, no_wait);
  int values = 0;
  allocation_counter count;
  for (int i = 0; i < 1000; ++i) values += pipeline.try_execute([] { return 1; }).has_value();
  const auto allocations = count.count();
  CHECK(allocations == 0);
  CHECK(values > 0);
}

TEST_CASE("alloc: a circuit breaker allocates nothing per call, in any state", "[alloc]") {
  using namespace std::chrono_literals;
  resil::manual_clock clock;
  resil::basic_circuit_breaker<resil::manual_clock> count_window{{.slow_call_duration = 1s,
                                                                  .window_size = 10,
                                                                  .minimum_calls = 5,
                                                                  .open_duration = 1s,
                                                                  .half_open_calls = 2},
                                                                 clock};
  resil::basic_circuit_breaker<resil::manual_clock> time_window{{.window = resil::window_type::time,
                                                                 .window_size = 10,
                                                                 .minimum_calls = 5,
                                                                 .open_duration = 1s},
                                                                clock};
  resil::basic_circuit_breaker<resil::manual_clock> consecutive{
      {.consecutive_failures = 3, .window = resil::window_type::none, .open_duration = 1s}, clock};
  const auto ok = [] { return 1; };
  const auto fail = [] { return resil::outcome<int>::from_error(resil::errc::timeout); };
  int values = 0;
  int rejected = 0;
  allocation_counter count;
  for (int i = 0; i < 1000; ++i) {
    for (auto* b : {&count_window, &time_window, &consecutive}) {
      // successes, failures that open it, rejections, half-open probes that close it again
      const bool failing = (i / 50) % 2 == 1;
      const auto r = failing ? b->try_execute(fail) : b->try_execute(ok);
      values += r.has_value() ? 1 : 0;
      rejected += r.error() == resil::errc::circuit_open ? 1 : 0;
      if (auto p = b->try_acquire()) p->record_success();
    }
    if (i % 10 == 0) clock.advance(1s);
  }
  const auto allocations = count.count();
  CHECK(allocations == 0);
  CHECK(values > 0);
  CHECK(rejected > 0);
  CHECK(count_window.metrics().transitions > 2U);
}

TEST_CASE("alloc: a retry allocates nothing, succeeding at once or after failed attempts",
          "[alloc]") {
  resil::manual_clock clock;
  resil::retry_budget tokens{{.max_tokens = 1000, .token_ratio = 2}};  // refills what a call spends
  resil::retry_concurrency_budget slots;
  resil::basic_retry<resil::manual_clock> plain{
      {.max_attempts = 3,
       .backoff = resil::backoff::exponential(std::chrono::milliseconds{1}).full_jitter()},
      clock};
  resil::basic_retry<resil::manual_clock> budgeted{{.max_attempts = 3,
                                                    .max_total_duration = std::chrono::hours{1},
                                                    .budget = &tokens,
                                                    .concurrency_budget = &slots},
                                                   clock};
  resil::retry steady{{.max_attempts = 2}};
  resil_test::counting_policy inner;
  auto pipeline = resil::compose(budgeted, inner);
  int sum = 0;
  allocation_counter count;
  for (int i = 0; i < 1000; ++i) {
    sum += plain.execute([](int x) { return x; }, i);
    sum += steady.try_execute([](int x) { return x; }, i).value();
    int calls = 0;
    // Fails twice with an error code (no exception object), then succeeds: backoff, jitter and
    // sleeping on the clock, budgets and the retry permit all run.
    auto flaky = [&]() -> resil::outcome<int> {
      if (++calls < 3) return resil::outcome<int>::from_error(resil::errc::timeout);
      return calls;
    };
    sum += plain.try_execute(flaky).value();
    calls = 0;
    sum += pipeline.try_execute(flaky).value();
    calls = 0;
    // Exhausted: the last error stands.
    sum += plain.try_execute([] {
                  return resil::outcome<int>::from_error(resil::errc::timeout);
                }).has_error()
               ? 1
               : 0;
  }
  const auto allocations = count.count();
  CHECK(allocations == 0);
  CHECK(sum > 0);
  CHECK(inner.calls == 3000);
}

TEST_CASE("alloc: bulkhead calls, permits and rejections allocate nothing", "[alloc]") {
  resil::bulkhead b{{.max_concurrent = 2}};
  int sum = 0;
  allocation_counter count;
  for (int i = 0; i < 1000; ++i) {
    sum += b.execute([](int x) { return x; }, i);
    sum += b.try_execute([] { return 1; }).value();
    if (auto p = b.try_acquire()) p->record_success();
  }
  {
    auto p1 = b.try_acquire();
    auto p2 = b.try_acquire();
    for (int i = 0; i < 1000; ++i) {
      sum += b.try_execute([] { return 1; }).has_error() ? 1 : 0;
      sum += b.try_acquire() ? 0 : 1;
    }
  }
  const auto allocations = count.count();
  CHECK(allocations == 0);
  CHECK(sum > 0);
}

TEST_CASE("alloc: timed calls allocate nothing once the thread's stop source exists", "[alloc]") {
  resil::timeout outer{{.duration = std::chrono::hours{1}}};
  resil::timeout inner{{.duration = std::chrono::minutes{30}}};
  resil::timeout none{{.duration = resil::nanoseconds::max()}};
  auto nested = resil::compose(outer, inner);
  std::stop_source caller_stop;
  // Warm-up: starts the shared timer thread and creates this thread's cached stop sources.
  (void)nested.try_execute([] { return 1; });
  int sum = 0;
  allocation_counter count;
  for (int i = 0; i < 1000; ++i) {
    sum +=
        outer.try_execute([](resil::context& ctx) { return ctx.stop_requested() ? 0 : 1; }).value();
    sum += nested.try_execute([] { return 1; }).value();
    resil::context ctx{caller_stop.get_token()};  // forwarding an enclosing stop token
    sum += outer.try_execute_in(ctx, [] { return 1; }).value();
    sum += none.try_execute([] { return 1; }).value();
  }
  const auto allocations = count.count();
  CHECK(allocations == 0);
  CHECK(sum == 4000);
}

TEST_CASE("alloc: a fallback allocates nothing, passing through or replacing an error", "[alloc]") {
  auto fb = resil::fallback_to(-1);
  int sum = 0;
  allocation_counter count;
  for (int i = 0; i < 1000; ++i) {
    sum += fb.try_execute([] { return 1; }).value();
    sum += fb.try_execute([] {
               return resil::outcome<int>::from_error(resil::errc::circuit_open);
             }).value();
  }
  const auto allocations = count.count();
  CHECK(allocations == 0);
  CHECK(sum == 0);
}

TEST_CASE("alloc: rate limiter grants, refusals and rejections allocate nothing", "[alloc]") {
  using namespace std::chrono_literals;
  const resil::manual_clock clock;
  resil::basic_rate_limiter<resil::manual_clock> l{{.permits = 1000, .period = 1s}, clock};
  resil::rate_limiter real{{.permits = 1'000'000'000, .period = 1s}};
  auto pipeline = resil::compose(l);
  int granted = 0;
  int refused = 0;
  int real_granted = 0;
  allocation_counter count;
  for (int i = 0; i < 3000; ++i) {  // the clock stands still: 1000 grants, then refusals
    (l.try_acquire() ? granted : refused) += 1;
    (l.try_execute([] { return 1; }).has_value() ? granted : refused) += 1;
    (pipeline.try_execute([] { return 1; }).has_value() ? granted : refused) += 1;
    real_granted += real.try_acquire() ? 1 : 0;
    (void)l.retry_after();
    (void)l.metrics();
  }
  const auto allocations = count.count();
  CHECK(allocations == 0);
  CHECK(granted == 1000);
  CHECK(refused == 8000);
  CHECK(real_granted == 3000);
}

TEST_CASE("alloc: a keyed limiter's known keys and the window limiters allocate nothing",
          "[alloc]") {
  using namespace std::chrono_literals;
  const resil::manual_clock clock;
  resil::basic_keyed_rate_limiter<int, resil::manual_clock> keyed{
      {.limit = {.permits = 100, .period = 1s}}, clock};
  resil::basic_fixed_window_rate_limiter<resil::manual_clock> fixed{{.limit = 100}, clock};
  resil::basic_sliding_window_rate_limiter<resil::manual_clock> sliding{{.limit = 100}, clock};
  for (int k = 0; k < 8; ++k) (void)keyed.try_acquire(k);  // first sight allocates the entry
  int answers = 0;
  allocation_counter count;
  for (int i = 0; i < 1000; ++i) {
    answers += keyed.try_acquire(i % 8) ? 1 : 0;
    answers += fixed.try_acquire() ? 1 : 0;
    answers += sliding.try_execute([] { return 1; }).has_value() ? 1 : 0;
  }
  const auto allocations = count.count();
  CHECK(allocations == 0);
  CHECK(answers == 8 * 99 + 100 + 100);  // each key had used 1 of its 100
}

TEST_CASE(
    "alloc: registry instances allocate nothing per call, even counting calls and logging "
    "events",
    "[alloc]") {
  using namespace std::chrono_literals;
  const resil::manual_clock clock;
  resil::basic_registry<resil::manual_clock> plain{{}, clock};
  resil::basic_registry<resil::manual_clock> observed{
      {.event_log_capacity = 16, .count_calls = true}, clock};
  int sum = 0;
  for (auto* reg : {&plain, &observed}) {
    auto& retry = reg->retries.get("r", resil::retry_options{.max_attempts = 2});
    auto& bulkhead = reg->bulkheads.get("b", resil::bulkhead_options{.max_concurrent = 1});
    auto& limiter = reg->rate_limiters.get("l", resil::rate_limiter_options{.permits = 100});
    auto& breaker = reg->circuit_breakers.get(
        "c", resil::circuit_breaker_options{.window_size = 10, .minimum_calls = 10});
    auto pipeline = resil::compose(retry, breaker, limiter, bulkhead);
    for (int i = 0; i < 32; ++i) sum += pipeline.try_execute([] { return 1; }).value_or(0);
    allocation_counter count;
    for (int i = 0; i < 1000; ++i) {  // 100 grants, then rate_limited (not retried)
      sum += pipeline.try_execute([] { return 1; }).value_or(0);
      auto held = bulkhead.try_acquire();
      sum += bulkhead.try_execute([] { return 1; }).value_or(0);  // rejected: the slot is held
    }
    const auto allocations = count.count();
    CHECK(allocations == 0);
  }
  CHECK(sum == 200);
  CHECK(observed.bulkheads.instance_of("b")->counts()->rejected == 1000);
  CHECK(observed.bulkheads.instance_of("b")->recent_events()->snapshot().size() == 16);
  CHECK(observed.circuit_breakers.instance_of("c")->counts()->successful == 100);
  CHECK(observed.circuit_breakers.instance_of("c")->counts()->ignored == 1032 - 100);
}
