// Heap allocations per call: zero for every composition, counted by a replacement operator new.
// SPDX-License-Identifier: MIT
#include <resil/compose.hpp>
#include <resil/core/events.hpp>
#include <resil/keyed_rate_limiter.hpp>
#include <resil/rate_limiter.hpp>
#include <resil/window_rate_limiter.hpp>

#include <catch2/catch.hpp>

#include <string>

#include "support/counting_new.hpp"
#include "support/test_policies.hpp"

using resil_test::allocation_counter;

TEST_CASE("alloc: the counter sees allocations (so zero below means zero)", "[alloc]") {
  allocation_counter count;
  auto* p = new int(1);
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
