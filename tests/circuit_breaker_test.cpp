// Tests for resil/circuit_breaker.hpp: the state machine walked step by step, every option, the
// peers' bugs as named regression tests, and concurrency.
// SPDX-License-Identifier: MIT
#include <resil/circuit_breaker.hpp>
#include <resil/compose.hpp>
#include <resil/retry.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cmath>
#include <deque>
#include <future>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "support/enum_names.hpp"
#include "support/test_policies.hpp"

using namespace std::chrono_literals;
using resil::circuit_state;
using resil::manual_clock;
using kind = resil::circuit_breaker_event::kind_t;
using breaker_t = resil::basic_circuit_breaker<manual_clock>;

namespace {

struct boom : std::runtime_error {
  boom() : std::runtime_error("boom") {}
};
struct not_found : std::runtime_error {
  not_found() : std::runtime_error("not found") {}
};

int ok() {
  return 1;
}
int fail() {
  throw boom{};
}

// Runs one call through the breaker: true = it was let through.
bool call(breaker_t& b, bool success) {
  const auto r = success ? b.try_execute(ok) : b.try_execute(fail);
  return !(r.has_error() && r.error() == resil::errc::circuit_open);
}

// Collects every event (thread-safe).
struct recorder {
  explicit recorder(breaker_t& b) {
    b.events().subscribe([this](const resil::circuit_breaker_event& e) {
      std::lock_guard lock(mutex);
      events.push_back(e);
    });
  }
  std::mutex mutex;
  std::vector<resil::circuit_breaker_event> events;

  int count(kind k) {
    std::lock_guard lock(mutex);
    int n = 0;
    for (const auto& e : events) n += e.kind == k ? 1 : 0;
    return n;
  }
  std::vector<std::pair<circuit_state, circuit_state>> transitions() {
    std::lock_guard lock(mutex);
    std::vector<std::pair<circuit_state, circuit_state>> out;
    for (const auto& e : events) {
      if (e.kind == kind::state_transition) out.emplace_back(e.previous_state, e.state);
    }
    return out;
  }
};

using transition = std::pair<circuit_state, circuit_state>;
constexpr auto closed = circuit_state::closed;
constexpr auto open = circuit_state::open;
constexpr auto half_open = circuit_state::half_open;

void trip(breaker_t& b, int failures) {
  for (int i = 0; i < failures; ++i) (void)call(b, false);
}

}  // namespace

namespace Catch {
template <>
struct StringMaker<circuit_state> {
  static std::string convert(circuit_state s) { return std::string(resil::to_string(s)); }
};
}  // namespace Catch

// -- the state machine, step by step -------------------------------------------------------------

TEST_CASE("circuit_breaker: the defaults are Resilience4j's, with slow calls off",
          "[circuit_breaker]") {
  const resil::circuit_breaker_options o;
  CHECK(o.failure_rate_threshold == 0.5);
  CHECK(o.slow_call_rate_threshold == 1.0);
  CHECK(o.slow_call_duration == 0ns);
  CHECK(o.consecutive_failures == 0U);
  CHECK(o.window == resil::window_type::count);
  CHECK(o.window_size == 100U);
  CHECK(o.time_bucket == 1s);
  CHECK(o.minimum_calls == 100U);
  CHECK(o.open_duration == 60s);
  CHECK_FALSE(o.open_backoff.has_value());
  CHECK(o.open_backoff_seed == 0x5EEDU);
  CHECK(o.half_open_calls == 10U);
  CHECK(o.max_half_open_duration == 0ns);
  CHECK_FALSE(o.validate().has_value());
  resil::circuit_breaker b;
  CHECK(b.state() == circuit_state::closed);
}

TEST_CASE("circuit_breaker: a new breaker is closed with NaN rates and empty counts",
          "[circuit_breaker]") {
  manual_clock clock;
  breaker_t b{{}, clock};
  const auto m = b.metrics();
  CHECK(m.state == closed);
  CHECK(std::isnan(m.failure_rate));
  CHECK(std::isnan(m.slow_call_rate));
  CHECK(m.calls == 0U);
  CHECK(m.not_permitted == 0U);
  CHECK(m.transitions == 0U);
  CHECK(b.remaining_delay() == 0ns);
}

TEST_CASE("circuit_breaker: the state machine walked call by call, with exact metrics",
          "[circuit_breaker]") {
  manual_clock clock;
  breaker_t b{{.failure_rate_threshold = 0.5,
               .window_size = 5,
               .minimum_calls = 4,
               .open_duration = 5s,
               .half_open_calls = 3},
              clock};
  recorder rec{b};
  const auto expect = [&](circuit_state s, std::uint64_t calls, std::uint64_t failed,
                          std::uint64_t not_permitted) {
    const auto m = b.metrics();
    CHECK(m.state == s);
    CHECK(m.calls == calls);
    CHECK(m.failed == failed);
    CHECK(m.not_permitted == not_permitted);
    if (calls == 0) {
      CHECK(std::isnan(m.failure_rate));
    } else {
      CHECK(m.failure_rate == static_cast<double>(failed) / static_cast<double>(calls));
    }
  };

  // Closed: below minimum_calls nothing opens it, whatever the rate.
  CHECK(call(b, true));
  expect(closed, 1, 0, 0);
  CHECK(call(b, false));
  expect(closed, 2, 1, 0);
  CHECK(call(b, true));
  expect(closed, 3, 1, 0);
  CHECK(call(b, true));
  expect(closed, 4, 1, 0);  // 25 %
  CHECK(call(b, false));
  expect(closed, 5, 2, 0);  // 40 %
  CHECK(call(b, false));    // the window is now f s s f f: 60 % >= 50 %
  expect(open, 5, 3, 0);
  CHECK(rec.count(kind::failure_rate_exceeded) == 1);
  CHECK(rec.transitions() == std::vector<transition>{{closed, open}});

  // Open: rejected without calling, with the remaining delay.
  int called = 0;
  auto r = b.try_execute([&] { return ++called; });
  CHECK(r.error() == resil::errc::circuit_open);
  CHECK(r.retry_after() == 5s);
  CHECK(called == 0);
  expect(open, 5, 3, 1);
  clock.advance(4s);
  CHECK(b.remaining_delay() == 1s);
  CHECK(b.try_execute(ok).retry_after() == 1s);
  expect(open, 5, 3, 2);
  clock.advance(1s);
  CHECK(b.remaining_delay() == 0ns);
  CHECK(b.state() == open);  // lazily: the next call moves it

  // Half-open: three probe slots, reserved at admission.
  auto p1 = b.try_acquire();
  REQUIRE(p1);
  CHECK(p1->token().probe());
  expect(half_open, 0, 0, 2);
  auto p2 = b.try_acquire();
  auto p3 = b.try_acquire();
  REQUIRE(p2);
  REQUIRE(p3);
  CHECK_FALSE(b.try_acquire());
  expect(half_open, 0, 0, 3);
  CHECK(b.metrics().probes_in_flight == 3U);
  p1->record_success();
  expect(half_open, 1, 0, 3);
  p2->record_failure();
  expect(half_open, 2, 1, 3);
  CHECK(b.metrics().probes_in_flight == 1U);
  p3.reset();  // dropped unrecorded: the slot comes back
  CHECK(b.metrics().probes_in_flight == 0U);
  auto p4 = b.try_acquire();
  REQUIRE(p4);
  p4->record_success();  // 1 of 3 probes failed: 33 % < 50 %
  expect(closed, 0, 0, 3);
  CHECK(rec.transitions() ==
        std::vector<transition>{{closed, open}, {open, half_open}, {half_open, closed}});

  // A fresh window: four failures (minimum_calls) open it again at 100 %.
  trip(b, 3);
  expect(closed, 3, 3, 3);
  CHECK(call(b, false));
  expect(open, 4, 4, 3);
  clock.advance(5s);
  CHECK(call(b, false));  // probes: f f s -> 67 % >= 50 %
  CHECK(call(b, false));
  expect(half_open, 2, 2, 3);
  CHECK(call(b, true));
  expect(open, 3, 2, 3);  // the probes' tally is shown while open
  CHECK(b.remaining_delay() == 5s);
  CHECK(b.metrics().transitions == 6U);

  b.reset();
  expect(closed, 0, 0, 0);
  CHECK(rec.count(kind::reset) == 1);
  CHECK(rec.transitions().back() == transition{open, closed});
  CHECK(b.metrics().transitions == 7U);
}

TEST_CASE("circuit_breaker: opens when the rate equals the threshold, not before minimum_calls",
          "[circuit_breaker]") {
  manual_clock clock;
  breaker_t b{{.failure_rate_threshold = 0.3, .window_size = 10, .minimum_calls = 10}, clock};
  for (int i = 0; i < 7; ++i) (void)call(b, true);
  trip(b, 2);
  CHECK(b.state() == closed);  // 9 calls: below minimum_calls
  (void)call(b, false);        // 3 / 10 == 0.3 exactly
  CHECK(b.state() == open);
}

TEST_CASE("circuit_breaker: a success can open it by reaching minimum_calls", "[circuit_breaker]") {
  manual_clock clock;
  breaker_t b{{.window_size = 4, .minimum_calls = 4}, clock};
  trip(b, 3);
  CHECK(b.state() == closed);
  (void)call(b, true);  // 3 of 4 failed
  CHECK(b.state() == open);
}

TEST_CASE("circuit_breaker: slow calls open it on the slow-call rate", "[circuit_breaker]") {
  manual_clock clock;
  breaker_t b{{.slow_call_rate_threshold = 0.5,
               .slow_call_duration = 1s,
               .window_size = 4,
               .minimum_calls = 4},
              clock};
  recorder rec{b};
  const auto slow_ok = [&] {
    clock.advance(2s);
    return 1;
  };
  const auto on_time = [&] {
    clock.advance(1s);  // exactly the threshold: not slow ("longer than")
    return 1;
  };
  CHECK(b.try_execute(on_time).has_value());
  CHECK(b.try_execute(slow_ok).has_value());
  CHECK(b.try_execute(on_time).has_value());
  CHECK(b.metrics().slow == 1U);
  CHECK(b.state() == closed);
  CHECK(b.try_execute(slow_ok).has_value());  // 2 of 4 slow: 50 %
  CHECK(b.state() == open);
  const auto m = b.metrics();
  CHECK(m.slow == 2U);
  CHECK(m.failed == 0U);
  CHECK(m.slow_call_rate == 0.5);
  CHECK(rec.count(kind::slow_call_rate_exceeded) == 1);
  CHECK(rec.count(kind::failure_rate_exceeded) == 0);
  bool saw_slow = false;
  for (const auto& e : rec.events) {
    if (e.kind == kind::success && e.slow) saw_slow = e.elapsed == 2s;
  }
  CHECK(saw_slow);
}

TEST_CASE("circuit_breaker: slow probes re-open it", "[circuit_breaker]") {
  manual_clock clock;
  breaker_t b{{.slow_call_rate_threshold = 0.5,
               .slow_call_duration = 100ms,
               .window_size = 2,
               .minimum_calls = 2,
               .open_duration = 1s,
               .half_open_calls = 2},
              clock};
  trip(b, 2);
  clock.advance(1s);
  const auto slow_ok = [&] {
    clock.advance(200ms);
    return 1;
  };
  CHECK(b.try_execute(slow_ok).has_value());
  CHECK(b.try_execute(ok).has_value());  // 1 of 2 probes slow: 50 %
  CHECK(b.state() == open);
}

TEST_CASE("circuit_breaker: consecutive failures open it, a success in between resets the run",
          "[circuit_breaker]") {
  manual_clock clock;
  breaker_t b{{.consecutive_failures = 3, .window = resil::window_type::none}, clock};
  recorder rec{b};
  trip(b, 2);
  CHECK(b.metrics().consecutive_failures == 2U);
  (void)call(b, true);
  CHECK(b.metrics().consecutive_failures == 0U);
  trip(b, 2);
  CHECK(b.state() == closed);
  (void)call(b, false);
  CHECK(b.state() == open);
  CHECK(rec.count(kind::consecutive_failures_exceeded) == 1);
  CHECK(rec.events.back().kind == kind::state_transition);
  const auto m = b.metrics();
  CHECK(m.calls == 0U);  // no window in this mode
  CHECK(std::isnan(m.failure_rate));
}

TEST_CASE("circuit_breaker: consecutive failures also trip alongside a window",
          "[circuit_breaker]") {
  manual_clock clock;
  breaker_t b{{.failure_rate_threshold = 0.9,
               .consecutive_failures = 3,
               .window_size = 10,
               .minimum_calls = 10},
              clock};
  for (int i = 0; i < 5; ++i) (void)call(b, true);
  trip(b, 3);
  CHECK(b.state() == open);
  CHECK(b.metrics().calls == 8U);
}

TEST_CASE("circuit_breaker: a time window forgets failures older than its span",
          "[circuit_breaker]") {
  manual_clock clock;
  breaker_t b{{.window = resil::window_type::time,
               .window_size = 10,
               .time_bucket = 1s,
               .minimum_calls = 4},
              clock};
  trip(b, 3);
  CHECK(b.metrics().calls == 3U);
  clock.advance(10s);  // the three failures slide out
  CHECK(b.metrics().calls == 0U);
  (void)call(b, false);
  (void)call(b, true);
  (void)call(b, true);
  CHECK(b.state() == closed);
  (void)call(b, false);  // 2 of 4 in the last 10 s
  CHECK(b.state() == open);
  CHECK(b.metrics().calls == 4U);
}

TEST_CASE("circuit_breaker: each re-opening waits longer with an open backoff, reset by closing",
          "[circuit_breaker]") {
  manual_clock clock;
  breaker_t b{{.consecutive_failures = 1,
               .window = resil::window_type::none,
               .open_duration = 1h,  // ignored once a backoff is set
               .open_backoff = resil::backoff::exponential(1s, 2.0, 10s),
               .half_open_calls = 1},
              clock};
  (void)call(b, false);
  std::vector<resil::nanoseconds> waits;
  for (int i = 0; i < 6; ++i) {
    REQUIRE(b.state() == open);
    waits.push_back(b.remaining_delay());
    clock.advance(b.remaining_delay());
    (void)call(b, false);  // the probe fails: open again
  }
  CHECK(waits == std::vector<resil::nanoseconds>{1s, 2s, 4s, 8s, 10s, 10s});
  clock.advance(b.remaining_delay());
  (void)call(b, true);
  CHECK(b.state() == closed);
  (void)call(b, false);
  CHECK(b.remaining_delay() == 1s);  // closing started the sequence over
}

TEST_CASE("circuit_breaker: a jittered open backoff is reproducible from its seed",
          "[circuit_breaker]") {
  const auto delays = [](std::uint64_t seed) {
    manual_clock clock;
    breaker_t b{{.consecutive_failures = 1,
                 .window = resil::window_type::none,
                 .open_backoff = resil::backoff::exponential(1s, 2.0, 1min).full_jitter(),
                 .open_backoff_seed = seed,
                 .half_open_calls = 1},
                clock};
    std::vector<resil::nanoseconds> out;
    (void)call(b, false);
    for (int i = 0; i < 5; ++i) {
      out.push_back(b.remaining_delay());
      clock.advance(b.remaining_delay());
      (void)call(b, false);
    }
    return out;
  };
  CHECK(delays(7) == delays(7));
  CHECK(delays(7) != delays(8));
  for (const auto d : delays(9)) CHECK(d <= 1min);
}

TEST_CASE("circuit_breaker: execute throws circuit_open_error with the remaining delay",
          "[circuit_breaker]") {
  manual_clock clock;
  breaker_t b{{.window_size = 1, .minimum_calls = 1, .open_duration = 30s}, clock};
  CHECK_THROWS_AS(b.execute(fail), boom);
  clock.advance(10s);
  try {
    (void)b.execute(ok);
    FAIL("expected circuit_open_error");
  } catch (const resil::circuit_open_error& e) {
    CHECK(e.remaining_delay() == 20s);
    CHECK(e.code() == resil::errc::circuit_open);
  }
}

TEST_CASE("circuit_breaker: max_half_open_duration re-opens a half-open state whose probes hang",
          "[circuit_breaker]") {
  manual_clock clock;
  breaker_t b{{.window_size = 1,
               .minimum_calls = 1,
               .open_duration = 5s,
               .half_open_calls = 1,
               .max_half_open_duration = 10s},
              clock};
  (void)call(b, false);
  clock.advance(5s);
  auto hung = b.try_acquire();
  REQUIRE(hung);
  clock.advance(9s);
  CHECK_FALSE(b.try_acquire());
  CHECK(b.state() == half_open);
  clock.advance(1s);
  CHECK_FALSE(b.try_acquire());  // this rejection notices the deadline
  CHECK(b.state() == open);
  CHECK(b.remaining_delay() == 5s);
  hung->record_success();  // the probe finally returns: too late to count
  CHECK(b.state() == open);
  clock.advance(5s);
  CHECK(call(b, true));
  CHECK(b.state() == closed);
}

TEST_CASE("circuit_breaker: without max_half_open_duration hung probes keep it half-open",
          "[circuit_breaker]") {
  manual_clock clock;
  breaker_t b{{.window_size = 1, .minimum_calls = 1, .open_duration = 5s, .half_open_calls = 1},
              clock};
  (void)call(b, false);
  clock.advance(5s);
  auto hung = b.try_acquire();
  clock.advance(1000h);
  CHECK_FALSE(b.try_acquire());
  CHECK(b.state() == half_open);
  CHECK(b.remaining_delay() == 0ns);
}

// -- manual states -------------------------------------------------------------------------------

TEST_CASE("circuit_breaker: force_open rejects everything until close", "[circuit_breaker]") {
  manual_clock clock;
  breaker_t b{{}, clock};
  recorder rec{b};
  b.force_open();
  CHECK(b.state() == circuit_state::forced_open);
  clock.advance(1000h);
  const auto r = b.try_execute(ok);
  CHECK(r.error() == resil::errc::circuit_open);
  CHECK(r.retry_after() == 0ns);
  CHECK(b.remaining_delay() == 0ns);
  CHECK(b.metrics().not_permitted == 1U);
  b.force_open();  // already there: no event
  b.close();
  CHECK(b.state() == closed);
  CHECK(call(b, true));
  CHECK(rec.transitions() == std::vector<transition>{{closed, circuit_state::forced_open},
                                                     {circuit_state::forced_open, closed}});
}

TEST_CASE("circuit_breaker: disabled lets everything through and records nothing",
          "[circuit_breaker]") {
  manual_clock clock;
  breaker_t b{{.window_size = 2, .minimum_calls = 1}, clock};
  b.disable();
  for (int i = 0; i < 100; ++i) CHECK(call(b, false));
  CHECK(b.state() == circuit_state::disabled);
  CHECK(b.metrics().calls == 0U);
  b.close();
  CHECK(call(b, false));
  CHECK(b.state() == open);
}

TEST_CASE("circuit_breaker: metrics_only records everything and never opens", "[circuit_breaker]") {
  manual_clock clock;
  breaker_t b{{.consecutive_failures = 3, .window_size = 4, .minimum_calls = 2}, clock};
  recorder rec{b};
  b.metrics_only();
  for (int i = 0; i < 10; ++i) CHECK(call(b, false));
  auto m = b.metrics();
  CHECK(m.state == circuit_state::metrics_only);
  CHECK(m.calls == 4U);
  CHECK(m.failed == 4U);
  CHECK(m.consecutive_failures == 10U);
  CHECK(rec.count(kind::failure_rate_exceeded) == 1);  // announced once while above
  CHECK(rec.count(kind::consecutive_failures_exceeded) == 1);
  for (int i = 0; i < 4; ++i) (void)call(b, true);
  (void)call(b, false);
  (void)call(b, false);
  CHECK(rec.count(kind::failure_rate_exceeded) == 2);  // fell below, then crossed again
  b.close();
  CHECK(b.metrics().calls == 0U);
}

TEST_CASE("circuit_breaker: close from open starts a fresh window and no backoff",
          "[circuit_breaker]") {
  manual_clock clock;
  breaker_t b{{.window_size = 2, .minimum_calls = 2}, clock};
  trip(b, 2);
  CHECK(b.state() == open);
  b.close();
  CHECK(b.state() == closed);
  CHECK(b.metrics().calls == 0U);
  CHECK(call(b, false));
  CHECK(b.state() == closed);
}

TEST_CASE("circuit_breaker: reset of a closed breaker drops earlier calls' results",
          "[circuit_breaker]") {
  manual_clock clock;
  breaker_t b{{.window_size = 2, .minimum_calls = 2}, clock};
  recorder rec{b};
  auto before = b.try_acquire();
  (void)call(b, false);
  b.reset();
  CHECK(rec.transitions().empty());
  CHECK(rec.count(kind::reset) == 1);
  CHECK(b.metrics().calls == 0U);
  before->record_failure();  // admitted before the reset: not counted
  CHECK(b.metrics().calls == 0U);
  (void)call(b, false);
  CHECK(b.state() == closed);
}

// -- classification and the permit protocol ------------------------------------------------------

TEST_CASE("circuit_breaker: ignored exceptions count as neither", "[circuit_breaker]") {
  manual_clock clock;
  breaker_t b{
      {.window_size = 2, .minimum_calls = 2, .classify = resil::classifier{}.ignore<not_found>()},
      clock};
  recorder rec{b};
  for (int i = 0; i < 5; ++i) {
    CHECK_THROWS_AS(b.execute([]() -> int { throw not_found{}; }), not_found);
  }
  CHECK(b.metrics().calls == 0U);
  CHECK(rec.count(kind::ignored) == 5);
}

TEST_CASE("circuit_breaker: failure by result predicate, success by exception type",
          "[circuit_breaker]") {
  struct http_response {
    int status;
  };
  manual_clock clock;
  breaker_t b{{.window_size = 2,
               .minimum_calls = 2,
               .classify = resil::classifier{}.failure_on<boom>().failure_if_result(
                   [](const http_response& r) { return r.status >= 500; })},
              clock};
  (void)b.try_execute([] { return http_response{200}; });
  (void)b.try_execute([]() -> int { throw std::logic_error("not a failure here"); });
  CHECK(b.metrics().failed == 0U);
  (void)b.try_execute([] { return http_response{503}; });
  (void)b.try_execute([] { return http_response{500}; });
  CHECK(b.state() == open);
}

TEST_CASE("circuit_breaker: a per-call classifier overrides the breaker's", "[circuit_breaker]") {
  manual_clock clock;
  breaker_t b{{.window_size = 2, .minimum_calls = 2}, clock};
  const auto lenient = resil::classifier{}.ignore<boom>();
  for (int i = 0; i < 3; ++i) {
    resil::context ctx;
    ctx.override_classifier(&lenient);
    (void)b.try_execute_in(ctx, fail);
  }
  CHECK(b.metrics().calls == 0U);
}

TEST_CASE("circuit_breaker: other policies' rejections are not failures", "[circuit_breaker]") {
  manual_clock clock;
  breaker_t b{{.window_size = 2, .minimum_calls = 2}, clock};
  resil_test::rejecting_policy full;
  auto pipeline = resil::compose(b, full);
  for (int i = 0; i < 5; ++i) CHECK(pipeline.try_execute(ok).error() == resil::errc::bulkhead_full);
  CHECK(b.metrics().calls == 0U);
  CHECK(b.state() == closed);
}

TEST_CASE("circuit_breaker: a non-std exception is a failure and comes back unchanged",
          "[circuit_breaker]") {
  manual_clock clock;
  breaker_t b{{.window_size = 1, .minimum_calls = 1}, clock};
  try {
    (void)b.execute([]() -> int { throw 42; });
    FAIL("expected 42");
  } catch (int v) {
    CHECK(v == 42);
  }
  CHECK(b.state() == open);
}

TEST_CASE("circuit_breaker: the permit protocol records, and a second report is a no-op",
          "[circuit_breaker]") {
  manual_clock clock;
  breaker_t b{{.window_size = 3, .minimum_calls = 3}, clock};
  auto p = b.try_acquire();
  REQUIRE(p);
  CHECK(p->token().state() == closed);
  CHECK_FALSE(p->token().probe());
  p->record_failure();
  p->record_success();
  CHECK(b.metrics().calls == 1U);
  CHECK(b.metrics().failed == 1U);
  {
    auto dropped = b.try_acquire();  // released unrecorded: nothing counted
  }
  auto q = b.try_acquire();
  q->record(resil::outcome<int>{1}, resil::classifier{});
  CHECK(b.metrics().calls == 2U);
}

TEST_CASE("circuit_breaker: a throwing listener gets the exception, the transition stands",
          "[circuit_breaker]") {
  manual_clock clock;
  breaker_t b{{.window_size = 1, .minimum_calls = 1}, clock};
  b.events().subscribe([](const resil::circuit_breaker_event& e) {
    if (e.kind == kind::state_transition) throw std::runtime_error("listener");
  });
  const auto r = b.try_execute(fail);
  REQUIRE(r.has_exception());
  CHECK_THROWS_WITH(std::rethrow_exception(r.exception()), "listener");
  CHECK(b.state() == open);
  clock.advance(60s);
  // The half-open transition's listener throws from try_acquire: the probe slot it reserved
  // is given back, not stranded.
  CHECK_THROWS_WITH(b.try_acquire(), "listener");
  CHECK(b.state() == half_open);
  CHECK(b.metrics().probes_in_flight == 0U);
  CHECK(call(b, true));
}

TEST_CASE("circuit_breaker: composes; each attempt of a retry is one call", "[circuit_breaker]") {
  manual_clock clock;
  breaker_t b{{.window_size = 4, .minimum_calls = 4}, clock};
  resil_test::repeating_policy twice;
  auto pipeline = resil::compose(twice, b);
  (void)pipeline.try_execute(fail);
  CHECK(b.metrics().calls == 2U);
  (void)pipeline.try_execute(fail);
  CHECK(b.state() == open);
  CHECK(pipeline.try_execute(ok).error() == resil::errc::circuit_open);
}

TEST_CASE(
    "circuit_breaker: inside a retry each attempt counts, and an open breaker stops the "
    "retries",
    "[circuit_breaker]") {
  manual_clock clock;
  breaker_t b{{.window_size = 4, .minimum_calls = 4}, clock};
  resil::basic_retry<manual_clock> retry{{.max_attempts = 6}, clock};
  auto pipeline = resil::compose(retry, b);
  int calls = 0;
  const auto r = pipeline.try_execute([&]() -> int {
    ++calls;
    throw boom{};
  });
  CHECK(calls == 4);  // the fourth failure opened it; the fifth attempt was rejected, not retried
  CHECK(r.error() == resil::errc::circuit_open);
  CHECK(b.metrics().not_permitted == 1U);
}

TEST_CASE("circuit_breaker: results of calls admitted before a transition do not count",
          "[circuit_breaker]") {
  manual_clock clock;
  breaker_t b{{.window_size = 2, .minimum_calls = 2, .open_duration = 1s, .half_open_calls = 2},
              clock};
  auto early1 = b.try_acquire();
  auto early2 = b.try_acquire();
  trip(b, 2);
  early1->record_failure();  // closed generation is over: ignored
  CHECK(b.metrics().calls == 2U);
  clock.advance(1s);
  auto probe = b.try_acquire();
  REQUIRE(probe);
  early2->record_failure();  // still ignored in half-open
  CHECK(b.metrics().calls == 0U);
  CHECK(b.metrics().probes_in_flight == 1U);
  probe->record_success();
  CHECK(call(b, true));
  CHECK(b.state() == closed);
}

// -- options -------------------------------------------------------------------------------------

TEST_CASE("circuit_breaker: every invalid option is a config_error naming the field",
          "[circuit_breaker]") {
  using o = resil::circuit_breaker_options;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<std::pair<o, std::string>> cases = {
      {{.failure_rate_threshold = 0.0}, "failure_rate_threshold"},
      {{.failure_rate_threshold = -0.5}, "failure_rate_threshold"},
      {{.failure_rate_threshold = 1.01}, "failure_rate_threshold"},
      {{.failure_rate_threshold = nan}, "failure_rate_threshold"},
      {{.failure_rate_threshold = inf}, "failure_rate_threshold"},
      {{.failure_rate_threshold = -inf}, "failure_rate_threshold"},
      {{.slow_call_rate_threshold = 0.0}, "slow_call_rate_threshold"},
      {{.slow_call_rate_threshold = 2.0}, "slow_call_rate_threshold"},
      {{.slow_call_rate_threshold = nan}, "slow_call_rate_threshold"},
      {{.slow_call_duration = -1ns}, "slow_call_duration"},
      {{.window = static_cast<resil::window_type>(7)}, "window"},
      {{.window_size = 0}, "window_size"},
      {{.window_size = 65536, .minimum_calls = 1}, "window_size"},
      {{.window = resil::window_type::time, .window_size = 0}, "window_size"},
      {{.minimum_calls = 0}, "minimum_calls"},
      {{.window_size = 10, .minimum_calls = 11}, "minimum_calls"},
      {{.time_bucket = 0ns}, "time_bucket"},
      {{.time_bucket = -1s}, "time_bucket"},
      {{.window = resil::window_type::time,
        .window_size = 1000,
        .time_bucket = resil::nanoseconds::max() / 10},
       "time_bucket"},
      {{.window = resil::window_type::none}, "consecutive_failures"},
      {{.half_open_calls = 0}, "half_open_calls"},
      {{.half_open_calls = 1024}, "half_open_calls"},
      {{.open_duration = 0ns}, "open_duration"},
      {{.open_duration = -5s}, "open_duration"},
      {{.max_half_open_duration = -1ns}, "max_half_open_duration"},
      {{.open_backoff = resil::backoff::exponential(1s, 0.5, 10s)}, "open_backoff.multiplier"},
      {{.open_backoff = resil::backoff::constant(0ns)}, "open_backoff.cap"},
  };
  for (const auto& [options, field] : cases) {
    INFO(field);
    const auto problem = options.validate();
    REQUIRE(problem);
    CHECK(problem->field == "circuit_breaker_options." + field);
    try {
      breaker_t b{options, manual_clock{}};
      FAIL("expected config_error");
    } catch (const resil::config_error& e) {
      CHECK(e.field() == "circuit_breaker_options." + field);
      CHECK(std::string(e.what()).find(field) != std::string::npos);
    }
  }
}

TEST_CASE("circuit_breaker: the boundary values are valid", "[circuit_breaker]") {
  using o = resil::circuit_breaker_options;
  for (const o& options :
       {o{.failure_rate_threshold = 1.0, .slow_call_rate_threshold = 1.0},
        o{.failure_rate_threshold = 1e-9}, o{.window_size = 1, .minimum_calls = 1},
        o{.window_size = 65535, .minimum_calls = 65535},
        o{.window = resil::window_type::time, .minimum_calls = 1000},
        o{.consecutive_failures = 1, .window = resil::window_type::none},
        o{.open_duration = 1ns, .half_open_calls = 1023},
        o{.open_duration = resil::nanoseconds::max()}}) {
    CHECK_FALSE(options.validate().has_value());
    CHECK_NOTHROW(breaker_t{options, manual_clock{}});
  }
}

TEST_CASE("circuit_breaker: an open duration of nanoseconds::max() saturates, never overflows",
          "[circuit_breaker]") {
  manual_clock clock{manual_clock::time_point{1h}};
  breaker_t b{{.window_size = 1,
               .minimum_calls = 1,
               .open_duration = resil::nanoseconds::max(),
               .half_open_calls = 1},
              clock};
  (void)call(b, false);
  CHECK(b.state() == open);
  CHECK(b.remaining_delay() > 100 * 365 * 24h);
  clock.advance(200 * 365 * 24h);
  CHECK_FALSE(call(b, true));
  clock.set(manual_clock::time_point::max());
  CHECK(call(b, true));
  CHECK(b.state() == closed);
}

// -- peers' bugs, as named regression tests ------------------------------------------------------

TEST_CASE(
    "circuit_breaker: 8 threads racing the open-to-half-open switch get at most "
    "half_open_calls probes (R4j #1432)",
    "[circuit_breaker]") {
  manual_clock clock;
  constexpr std::uint32_t probes = 2;
  breaker_t b{
      {.window_size = 2, .minimum_calls = 2, .open_duration = 1s, .half_open_calls = probes},
      clock};
  for (int round = 0; round < 50; ++round) {
    trip(b, 2);
    REQUIRE(b.state() == open);
    std::atomic<bool> go{false};
    std::atomic<int> attempted{0}, inflight{0}, max_inflight{0}, admitted{0};
    std::vector<std::thread> threads;
    for (int k = 0; k < 8; ++k) {
      threads.emplace_back([&] {
        while (!go.load()) std::this_thread::yield();
        auto p = b.try_acquire();
        ++attempted;
        if (!p) return;
        ++admitted;
        const int now = ++inflight;
        for (int seen = max_inflight.load(); now > seen;)
          max_inflight.compare_exchange_weak(seen, now);
        while (attempted.load() < 8) std::this_thread::yield();  // hold the slot meanwhile
        --inflight;
        p->record_success();
      });
    }
    clock.advance(1s);
    go = true;
    for (auto& t : threads) t.join();
    REQUIRE(admitted.load() == static_cast<int>(probes));
    REQUIRE(max_inflight.load() <= static_cast<int>(probes));
    REQUIRE(b.state() == closed);
  }
}

TEST_CASE(
    "circuit_breaker: an ignored exception in half-open gives its probe slot back "
    "(R4j #544)",
    "[circuit_breaker]") {
  manual_clock clock;
  breaker_t b{{.window_size = 1,
               .minimum_calls = 1,
               .open_duration = 1s,
               .half_open_calls = 1,
               .classify = resil::classifier{}.ignore<not_found>()},
              clock};
  (void)call(b, false);
  clock.advance(1s);
  CHECK_THROWS_AS(b.execute([]() -> int { throw not_found{}; }), not_found);
  CHECK(b.state() == half_open);
  CHECK(b.metrics().probes_in_flight == 0U);
  CHECK(call(b, true));  // the next probe is admitted at once
  CHECK(b.state() == closed);
}

TEST_CASE(
    "circuit_breaker: a throwing classifier releases the permit and its exception "
    "propagates (R4j #2324)",
    "[circuit_breaker]") {
  manual_clock clock;
  int throws = 0;
  breaker_t b{
      {.window_size = 1,
       .minimum_calls = 1,
       .open_duration = 1s,
       .half_open_calls = 1,
       .classify = resil::classifier{}.failure_on<int>().failure_if([&](const boom&) -> bool {
         ++throws;
         throw std::logic_error("predicate");
       })},
      clock};
  CHECK_THROWS_WITH(b.execute(fail), "predicate");
  CHECK(b.metrics().calls == 0U);  // released uncounted
  b.force_open();
  b.close();
  (void)b.try_execute([]() -> int { throw 1; });  // an int: the predicate is not consulted
  CHECK(b.state() == open);
  clock.advance(1s);
  CHECK_THROWS_WITH(b.execute(fail), "predicate");  // a probe whose classifier throws
  CHECK(b.state() == half_open);
  CHECK(b.metrics().probes_in_flight == 0U);  // the slot came back
  CHECK(call(b, true));
  CHECK(b.state() == closed);
  CHECK(throws == 2);
}

TEST_CASE(
    "circuit_breaker: works with the clock at INT64_MIN+1, 0 and near INT64_MAX "
    "(R4j PR #66)",
    "[circuit_breaker]") {
  using tp = manual_clock::time_point;
  const auto min = std::numeric_limits<std::int64_t>::min();
  const auto max = std::numeric_limits<std::int64_t>::max();
  for (const std::int64_t start : {min + 1, std::int64_t{0}, max - 10'000'000'000}) {
    for (const auto window : {resil::window_type::count, resil::window_type::time}) {
      INFO(start);
      manual_clock clock{tp{resil::nanoseconds{start}}};
      breaker_t b{{.slow_call_duration = 1s,
                   .window = window,
                   .window_size = 2,
                   .minimum_calls = 2,
                   .open_duration = 5s,
                   .half_open_calls = 1},
                  clock};
      trip(b, 2);
      REQUIRE(b.state() == open);
      CHECK(b.remaining_delay() == 5s);
      clock.advance(5s);
      CHECK(call(b, true));
      CHECK(b.state() == closed);
      trip(b, 2);
      clock.set(tp::max());
      CHECK(call(b, true));
      CHECK(b.state() == closed);
    }
  }
}

TEST_CASE("circuit_breaker: window size 1, count and time, over 10^5 calls (R4j #2379)",
          "[circuit_breaker]") {
  for (const auto window : {resil::window_type::count, resil::window_type::time}) {
    manual_clock clock;
    breaker_t b{{.window = window,
                 .window_size = 1,
                 .minimum_calls = 1,
                 .open_duration = 1s,
                 .half_open_calls = 1},
                clock};
    resil::splitmix64 rng{5};
    int opened = 0;
    for (int i = 0; i < 100'000; ++i) {
      clock.advance(2s);  // two buckets, and past any open duration
      const bool success = rng() % 3 != 0;
      const auto before = b.state();
      REQUIRE(call(b, success));
      // closed: one failure opens; open -> a probe: its outcome alone decides
      REQUIRE(b.state() == (success ? closed : open));
      opened += (!success && before != half_open) ? 1 : 0;
    }
    CHECK(opened > 0);
    CHECK(b.metrics().transitions > 0U);
  }
}

TEST_CASE("circuit_breaker: metrics match a naive model and never go negative (R4j #1335)",
          "[circuit_breaker]") {
  manual_clock clock;
  constexpr std::uint32_t size = 7;
  breaker_t b{{.slow_call_duration = 10ms, .window_size = size, .minimum_calls = 1}, clock};
  b.metrics_only();
  std::deque<std::pair<bool, bool>> model;
  resil::splitmix64 rng{77};
  for (int i = 0; i < 20'000; ++i) {
    const bool failed = rng() % 2 == 0;
    const bool slow = rng() % 3 == 0;
    (void)b.try_execute([&]() -> int {
      clock.advance(slow ? 20ms : 1ms);
      if (failed) throw boom{};
      return 1;
    });
    model.emplace_back(failed, slow);
    if (model.size() > size) model.pop_front();
    std::uint64_t f = 0, s = 0;
    for (const auto& [mf, ms] : model) f += mf ? 1U : 0U, s += ms ? 1U : 0U;
    const auto m = b.metrics();
    REQUIRE(m.calls == model.size());
    REQUIRE(m.failed == f);
    REQUIRE(m.slow == s);
  }
}

TEST_CASE(
    "circuit_breaker: a slow probe holding the only slot makes concurrent callers get "
    "rejected (Polly #216)",
    "[circuit_breaker]") {
  manual_clock clock;
  breaker_t b{{.window_size = 1, .minimum_calls = 1, .open_duration = 1s, .half_open_calls = 1},
              clock};
  (void)call(b, false);
  clock.advance(1s);
  std::atomic<bool> entered{false}, release{false};
  std::thread probe([&] {
    (void)b.try_execute([&] {
      entered = true;
      while (!release.load()) std::this_thread::yield();
      return 1;
    });
  });
  while (!entered.load()) std::this_thread::yield();
  std::vector<std::thread> others;
  std::atomic<int> let_through{0};
  for (int k = 0; k < 4; ++k) {
    others.emplace_back([&] {
      for (int i = 0; i < 100; ++i) let_through += call(b, true) ? 1 : 0;
    });
  }
  for (auto& t : others) t.join();
  release = true;
  probe.join();
  CHECK(let_through.load() == 0);
  CHECK(b.state() == closed);
}

TEST_CASE(
    "circuit_breaker: late failures of calls started while closed open it exactly once "
    "(Polly #219)",
    "[circuit_breaker]") {
  manual_clock clock;
  breaker_t b{{.window_size = 10, .minimum_calls = 5, .open_duration = 1s, .half_open_calls = 1},
              clock};
  recorder rec{b};
  std::vector<breaker_t::permit_type> in_flight;
  for (int i = 0; i < 10; ++i) in_flight.push_back(*b.try_acquire());
  for (int i = 0; i < 5; ++i) in_flight[static_cast<std::size_t>(i)].record_failure();
  CHECK(b.state() == open);
  clock.advance(1s);
  auto probe = b.try_acquire();
  REQUIRE(probe);
  for (std::size_t i = 5; i < 10; ++i) in_flight[i].record_failure();  // late: stale
  CHECK(b.state() == half_open);
  probe->record_success();
  CHECK(b.state() == closed);
  CHECK(rec.transitions() ==
        std::vector<transition>{{closed, open}, {open, half_open}, {half_open, closed}});
  CHECK(rec.count(kind::failure_rate_exceeded) == 1);
}

TEST_CASE(
    "circuit_breaker: a probe throwing an unclassified exception does not leave it "
    "half-open (Polly #1979)",
    "[circuit_breaker]") {
  manual_clock clock;
  breaker_t b{{.window_size = 1,
               .minimum_calls = 1,
               .open_duration = 1s,
               .half_open_calls = 1,
               .classify = resil::classifier{}.failure_on<boom>()},
              clock};
  (void)call(b, false);
  clock.advance(1s);
  // Not a failure by this classifier: the dependency answered, so it counts as a success.
  CHECK_THROWS_AS(b.execute([]() -> int { throw std::logic_error("odd"); }), std::logic_error);
  CHECK(b.state() == closed);
  (void)call(b, false);
  clock.advance(1s);
  // A cancelled probe (an ignored outcome) gives its slot back: the next probe goes through.
  CHECK(b.try_execute([] {
           return resil::outcome<int>::from_error(resil::errc::cancelled);
         }).error() == resil::errc::cancelled);
  CHECK(call(b, true));
  CHECK(b.state() == closed);
}

TEST_CASE(
    "circuit_breaker: nested use of the same breaker, depth 3 on 4 threads, cannot "
    "deadlock and recovers (Polly #933)",
    "[circuit_breaker]") {
  manual_clock clock;
  breaker_t b{{.window_size = 10, .minimum_calls = 5, .open_duration = 1s, .half_open_calls = 3},
              clock};
  auto work = std::async(std::launch::async, [&] {
    std::vector<std::thread> threads;
    for (int k = 0; k < 4; ++k) {
      threads.emplace_back([&, k] {
        resil::splitmix64 rng{static_cast<std::uint64_t>(k)};
        for (int i = 0; i < 500; ++i) {
          const bool fail_inner = rng() % 2 == 0;
          (void)b.try_execute([&]() -> int {
            return b.execute([&]() -> int {
              return b.execute([&]() -> int {
                if (fail_inner) throw boom{};
                return 1;
              });
            });
          });
          if (i % 50 == 0) clock.advance(1s);
        }
      });
    }
    for (auto& t : threads) t.join();
  });
  REQUIRE(work.wait_for(60s) == std::future_status::ready);  // a watchdog, not a sleep
  // It recovers: after the open duration, half_open_calls successful calls close it. (A nested
  // call needs one probe slot per level, so recovery is shown with plain calls.)
  clock.advance(1s);
  for (int i = 0; i < 3; ++i) CHECK(call(b, true));
  CHECK(b.state() == closed);
}

TEST_CASE("circuit_breaker: with one probe slot a nested half-open call is rejected",
          "[circuit_breaker]") {
  manual_clock clock;
  breaker_t b{{.window_size = 1, .minimum_calls = 1, .open_duration = 1s, .half_open_calls = 1},
              clock};
  (void)call(b, false);
  clock.advance(1s);
  const auto r = b.try_execute([&] { return b.try_execute(ok).has_value() ? 1 : 0; });
  CHECK(r.value() == 0);
  CHECK(b.state() == closed);
}

TEST_CASE(
    "circuit_breaker: state and open deadline never disagree, so it never sticks open "
    "(Hystrix #1806)",
    "[circuit_breaker]") {
  manual_clock clock;
  constexpr std::uint32_t probes = 3;
  breaker_t b{
      {.window_size = 5, .minimum_calls = 3, .open_duration = 10ms, .half_open_calls = probes},
      clock};
  std::atomic<bool> stop{false};
  std::thread ticker([&] {
    while (!stop.load()) {
      clock.advance(1ms);
      std::this_thread::yield();
    }
  });
  std::vector<std::thread> threads;
  for (int k = 0; k < 4; ++k) {
    threads.emplace_back([&, k] {
      resil::splitmix64 rng{static_cast<std::uint64_t>(k) * 7U};
      for (int i = 0; i < 5'000; ++i) (void)call(b, rng() % 2 == 0);
    });
  }
  for (auto& t : threads) t.join();
  stop = true;
  ticker.join();
  // Quiescent: within one open duration and half_open_calls successes it must close.
  clock.advance(10ms);
  for (std::uint32_t i = 0; i < probes + 1; ++i) (void)call(b, true);
  if (b.state() != closed) {  // a half-open state with earlier failed probes may re-open once
    clock.advance(10ms);
    for (std::uint32_t i = 0; i < probes + 1; ++i) (void)call(b, true);
  }
  CHECK(b.state() == closed);
}

TEST_CASE("circuit_breaker: a clock that goes backwards during a call measures zero",
          "[circuit_breaker]") {
  manual_clock clock{manual_clock::time_point{10h}};
  breaker_t b{{.slow_call_rate_threshold = 0.5,
               .slow_call_duration = 1ms,
               .window_size = 1,
               .minimum_calls = 1},
              clock};
  recorder rec{b};
  (void)b.try_execute([&] {
    clock.set(manual_clock::time_point{1h});
    return 1;
  });
  CHECK(b.state() == closed);
  CHECK(b.metrics().slow == 0U);
  CHECK(rec.events.back().elapsed == 0ns);
}

// -- concurrency ---------------------------------------------------------------------------------

TEST_CASE(
    "circuit_breaker: stress, 8 threads with random outcomes and a moving clock: never "
    "more than half_open_calls probes in flight, legal transitions only (R4j #1090)",
    "[circuit_breaker]") {
  // 8 threads x 20,000 calls; a ninth thread moves the manual clock.
  constexpr int threads_n = 8;
  constexpr int calls = 20'000;
  constexpr std::uint32_t probes = 3;
  manual_clock clock;
  breaker_t b{{.slow_call_duration = 2ms,
               .window_size = 20,
               .minimum_calls = 10,
               .open_duration = 5ms,
               .half_open_calls = probes,
               .max_half_open_duration = 20ms},
              clock};
  std::atomic<int> moves{0}, illegal{0};
  b.events().subscribe([&](const resil::circuit_breaker_event& e) {
    if (e.kind != kind::state_transition) return;
    ++moves;
    const auto from = e.previous_state, to = e.state;
    const bool legal = (from == closed && to == open) || (from == open && to == half_open) ||
                       (from == half_open && (to == open || to == closed));
    if (!legal) ++illegal;
  });
  std::vector<std::atomic<int>> inflight(1U << 16U);  // per half-open generation
  std::atomic<int> worst{0}, probes_admitted{0};
  std::atomic<bool> stop{false};
  std::thread ticker([&] {
    while (!stop.load()) {
      clock.advance(1ms);
      std::this_thread::yield();
    }
  });
  std::vector<std::thread> threads;
  for (int k = 0; k < threads_n; ++k) {
    threads.emplace_back([&, k] {
      resil::splitmix64 rng{static_cast<std::uint64_t>(k) + 1000};
      for (int i = 0; i < calls; ++i) {
        auto p = b.try_acquire();
        if (!p) {
          std::this_thread::yield();  // let the clock thread run: rejections are quick
          continue;
        }
        const auto dice = rng() % 16;
        std::atomic<int>* slot = nullptr;
        if (p->token().probe()) {
          ++probes_admitted;
          slot = &inflight[p->token().generation() & 0xFFFFU];
          const int now = ++*slot;
          for (int seen = worst.load(); now > seen;) worst.compare_exchange_weak(seen, now);
          if (dice % 4 == 0) std::this_thread::yield();
          --*slot;  // before settling: a released slot may be reused at once
        }
        if (dice < 7) {
          p->record_success();
        } else if (dice < 13) {
          p->record_failure();
        } else if (dice < 15) {
          p->record(resil::verdict::ignored);
        }  // else dropped: released
      }
    });
  }
  for (auto& t : threads) t.join();
  stop = true;
  ticker.join();
  CHECK(worst.load() <= static_cast<int>(probes));
  CHECK(probes_admitted.load() > 0);
  CHECK(static_cast<std::uint64_t>(moves.load()) == b.metrics().transitions);
  CHECK(moves.load() > 0);
  CHECK(illegal.load() == 0);
  const auto m = b.metrics();
  CHECK(m.failed <= m.calls);
  CHECK(m.slow <= m.calls);
}

TEST_CASE("circuit_breaker: event kinds and window types are named as their enumerators",
          "[circuit_breaker]") {
  CHECK(resil_test::enum_names<resil::circuit_breaker_event::kind_t>(9) ==
        std::vector<std::string_view>{"state_transition", "success", "failure", "ignored",
                                      "not_permitted", "failure_rate_exceeded",
                                      "slow_call_rate_exceeded", "consecutive_failures_exceeded",
                                      "reset"});
  CHECK(to_string(static_cast<resil::circuit_breaker_event::kind_t>(9)) == "unknown");
  CHECK(resil_test::enum_names<resil::window_type>(3) ==
        std::vector<std::string_view>{"count", "time", "none"});
  CHECK(to_string(static_cast<resil::window_type>(3)) == "unknown");
}
