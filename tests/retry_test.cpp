// Tests for resil/retry.hpp: attempt counts, backoff on the clock, classification, the delay hook,
// deadlines, cancellation, budgets, events, metrics, validation and concurrency.
// SPDX-License-Identifier: MIT
#include <resil/retry.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <climits>
#include <functional>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <type_traits>
#include <vector>

#include "support/enum_names.hpp"
#include "support/test_policies.hpp"

using namespace std::chrono_literals;
using resil::backoff;
using resil::nanoseconds;
using resil::retry_event;
using resil::retry_event_kind;
using resil::retry_stop;

namespace {

using manual_retry = resil::basic_retry<resil::manual_clock>;

struct io_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct fatal_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct response {
  int status = 200;
  nanoseconds retry_after{0};
};

// Records every event of a retry.
struct event_log {
  std::vector<retry_event> events;
  template <class Retry>
  explicit event_log(Retry& r) {
    r.events().subscribe([this](const retry_event& e) { events.push_back(e); });
  }
  [[nodiscard]] std::vector<nanoseconds> delays() const {
    std::vector<nanoseconds> out;
    for (const auto& e : events) {
      if (e.kind == retry_event_kind::retry_scheduled) out.push_back(e.delay);
    }
    return out;
  }
  [[nodiscard]] std::vector<retry_event_kind> kinds() const {
    std::vector<retry_event_kind> out;
    for (const auto& e : events) out.push_back(e.kind);
    return out;
  }
};

// A callable that fails (with an error outcome) until its `ok_at`-th call.
struct flaky {
  int ok_at;
  int calls = 0;
  resil::outcome<int> operator()() {
    ++calls;
    if (calls >= ok_at) return calls;
    return resil::outcome<int>::from_error(std::make_error_code(std::errc::connection_reset));
  }
};

std::string message_of(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return x.what();
  }
}

}  // namespace

// -- attempt counts ---------------------------------------------------------------------------

TEST_CASE("retry: a call that succeeds at once runs once, reads no clock and never sleeps",
          "[retry]") {
  resil::manual_clock clock{resil::manual_clock::time_point{5s}};
  manual_retry r{{.max_attempts = 5, .backoff = backoff::constant(1s).full_jitter()}, clock};
  int calls = 0;
  CHECK(r.execute([&] { return ++calls; }) == 1);
  CHECK(calls == 1);
  CHECK(clock.sleeps() == 0);
  CHECK(clock.now() == resil::manual_clock::time_point{5s});
  const auto m = r.metrics();
  CHECK(m.retries == 0);
  CHECK(m.successful_with_retry == 0);
  CHECK(m.failed_without_retry == 0);
}

TEST_CASE("retry: max_attempts counts the first call", "[retry]") {
  resil::manual_clock clock;
  manual_retry r{{.max_attempts = 3, .backoff = backoff::constant(10ms)}, clock};
  int calls = 0;
  const auto out = r.try_execute([&]() -> int {
    ++calls;
    throw io_error("attempt " + std::to_string(calls));
  });
  CHECK(calls == 3);
  CHECK(clock.sleeps() == 2);
  CHECK(clock.now().time_since_epoch() == 20ms);
  REQUIRE(out.has_exception());
  CHECK(message_of(out.exception()) == "attempt 3");  // the last failure stands
  CHECK(r.metrics().failed_with_retry == 1);
  CHECK(r.metrics().retries == 2);

  manual_retry once{{.max_attempts = 1}, clock};
  calls = 0;
  CHECK_THROWS_AS(once.execute([&]() -> int { throw io_error(std::to_string(++calls)); }),
                  io_error);
  CHECK(calls == 1);
  CHECK(once.metrics().failed_without_retry == 1);
}

TEST_CASE(
    "retry: exactly max_attempts calls at most, for every combination of options "
    "(failsafe-go #22)",
    "[retry]") {
  // failsafe-go's WithMaxAttempts(4) + ReturnLastFailure made 5 calls. Walk every combination of
  // the options that touch the loop and check calls == min(max_attempts, first success) and
  // sleeps == calls - 1 whenever a delay is configured.
  const std::vector<backoff> backoffs = {backoff{}, backoff::constant(1ms),
                                         backoff::exponential(1ms, 2.0, 1s).full_jitter(),
                                         backoff::linear(1ms, 1ms, 5ms).decorrelated_jitter_v2()};
  int combinations = 0;
  for (const int max_attempts : {1, 2, 3, 4, 7}) {
    for (const bool fail_after : {false, true}) {
      for (std::size_t b = 0; b < backoffs.size(); ++b) {
        for (const int budget_kind : {0, 1, 2}) {
          for (const bool total_limit : {false, true}) {
            for (const int ok_at : {1, 2, max_attempts, max_attempts + 1, 100}) {
              for (const int failure : {0, 1, 2}) {  // exception, error code, rejected value
                resil::manual_clock clock;
                resil::retry_budget tokens{{.max_tokens = 1000, .token_ratio = 1}};
                resil::retry_concurrency_budget slots{{.min_retry_concurrency = 1}};
                manual_retry r{
                    {.max_attempts = max_attempts,
                     .backoff = backoffs[b],
                     .max_total_duration = total_limit ? nanoseconds{1h} : nanoseconds::max(),
                     .classify =
                         resil::classifier{}.failure_if_result([](const int& v) { return v < 0; }),
                     .budget = budget_kind == 1 ? &tokens : nullptr,
                     .concurrency_budget = budget_kind == 2 ? &slots : nullptr,
                     .fail_after_max_attempts = fail_after,
                     .seed = 7},
                    clock};
                int calls = 0;
                const auto out = r.try_execute([&]() -> resil::outcome<int> {
                  ++calls;
                  if (calls >= ok_at) return calls;
                  if (failure == 0) throw io_error("down");
                  if (failure == 1) return resil::outcome<int>::from_error(resil::errc::timeout);
                  return -calls;
                });
                const int expected = std::min(max_attempts, ok_at);
                REQUIRE(calls == expected);
                if (b != 0) REQUIRE(clock.sleeps() == static_cast<std::uint64_t>(expected - 1));
                if (ok_at <= max_attempts) {
                  REQUIRE(out.value() == ok_at);
                } else if (fail_after) {
                  REQUIRE(out.error() == resil::errc::retries_exhausted);
                } else if (failure == 0) {
                  REQUIRE(out.has_exception());
                } else if (failure == 1) {
                  REQUIRE(out.error() == resil::errc::timeout);
                } else {
                  REQUIRE(out.value() == -max_attempts);  // the last rejected value stands
                }
                REQUIRE(slots.metrics().retries_in_flight == 0);
                REQUIRE(slots.metrics().calls_in_flight == 0);
                ++combinations;
              }
            }
          }
        }
      }
    }
  }
  CHECK(combinations == 5 * 2 * 4 * 3 * 2 * 5 * 3);
}

TEST_CASE("retry: the last exception is rethrown unchanged when attempts run out", "[retry]") {
  manual_retry r{{.max_attempts = 2, .backoff = backoff{}}};
  std::exception_ptr thrown;
  try {
    (void)r.execute([]() -> int { throw fatal_error("same object"); });
  } catch (...) {
    thrown = std::current_exception();
  }
  std::exception_ptr direct;
  const auto out = r.try_execute([&]() -> int {
    try {
      throw fatal_error("identity");
    } catch (...) {
      direct = std::current_exception();
      throw;
    }
  });
  CHECK(message_of(thrown) == "same object");
  CHECK(out.exception() == direct);  // the very object the last attempt threw
}

TEST_CASE("retry: a result the classifier rejects is retried, and the last one returned",
          "[retry]") {
  manual_retry r{{.max_attempts = 3,
                  .backoff = backoff{},
                  .classify = resil::classifier{}.failure_if_result(
                      [](const response& x) { return x.status == 503; })}};
  int calls = 0;
  const response last = r.execute([&] { return response{++calls == 3 ? 504 : 503}; });
  CHECK(calls == 3);
  CHECK(last.status == 504);  // a 504 is not a failure for this classifier: it ends the call
  calls = 0;
  CHECK(r.execute([&] { return response{++calls < 10 ? 503 : 200}; }).status == 503);
  CHECK(calls == 3);
}

TEST_CASE("retry: fail_after_max_attempts ends with errc::retries_exhausted instead", "[retry]") {
  manual_retry r{{.max_attempts = 2, .backoff = backoff{}, .fail_after_max_attempts = true}};
  event_log log{r};
  const auto out = r.try_execute([]() -> int { throw io_error("down"); });
  CHECK(out.error() == resil::errc::retries_exhausted);
  CHECK_THROWS_AS(r.execute([]() -> int { throw io_error("down"); }),
                  resil::retries_exhausted_error);
  REQUIRE(log.events.size() == 4);
  CHECK(log.events[1].kind == retry_event_kind::exhausted);
  CHECK(log.events[1].stop == retry_stop::max_attempts);
  CHECK(message_of(log.events[1].exception) == "down");  // the event still has the cause
}

TEST_CASE("retry: try_execute reports the failure without throwing", "[retry]") {
  manual_retry r{{.max_attempts = 2, .backoff = backoff{}}};
  resil::outcome<int> out = resil::outcome<int>::from_error(resil::errc::timeout);
  CHECK_NOTHROW(out = r.try_execute([]() -> int { throw 42; }));  // not even a std::exception
  REQUIRE(out.has_exception());
  CHECK_THROWS_AS(out.value(), int);
}

// -- delays ----------------------------------------------------------------------------------

TEST_CASE("retry: waits the backoff's delays on the clock, so tests never really sleep",
          "[retry]") {
  struct shape {
    backoff b;
    std::vector<nanoseconds> expected;
  };
  const std::vector<shape> shapes = {
      {backoff::constant(500ms), {500ms, 500ms, 500ms, 500ms}},
      {backoff::linear(100ms, 50ms, 220ms), {100ms, 150ms, 200ms, 220ms}},
      {backoff::exponential(100ms, 2.0, 500ms), {100ms, 200ms, 400ms, 500ms}},
      {backoff::exponential(1s, 1.6, 120s), {1s, 1600ms, 2560ms, 4096ms}},
  };
  for (const auto& s : shapes) {
    resil::manual_clock clock;
    manual_retry r{{.max_attempts = 5, .backoff = s.b}, clock};
    event_log log{r};
    std::vector<resil::manual_clock::time_point> starts;
    (void)r.try_execute([&]() -> int {
      starts.push_back(clock.now());
      throw io_error("down");
    });
    CHECK(log.delays() == s.expected);
    REQUIRE(starts.size() == 5);
    for (std::size_t i = 1; i < starts.size(); ++i)
      CHECK(starts[i] - starts[i - 1] == s.expected[i - 1]);
  }
}

TEST_CASE("retry: jittered delays are the backoff's sequence for the seed, and replay exactly",
          "[retry]") {
  const auto shape = backoff::exponential(100ms, 2.0, 10s);
  for (const auto& b : {shape.full_jitter(), shape.equal_jitter(), shape.decorrelated_jitter(),
                        shape.decorrelated_jitter_v2(), shape.jitter(0.5)}) {
    auto delays_for = [&](std::uint64_t seed) {
      resil::manual_clock clock;
      manual_retry r{{.max_attempts = 8, .backoff = b, .seed = seed}, clock};
      event_log log{r};
      (void)r.try_execute([] { return resil::outcome<int>::from_error(resil::errc::timeout); });
      (void)r.try_execute([] { return resil::outcome<int>::from_error(resil::errc::timeout); });
      return log.delays();
    };
    // The reference: the same backoff driven by hand with the same generator. The generator is
    // built once per retry, so the second call continues the sequence (no per-call seeding).
    resil::splitmix64 rng{42};
    std::vector<nanoseconds> expected;
    for (int call = 0; call < 2; ++call) {
      resil::backoff_state s;
      for (int i = 0; i < 7; ++i) expected.push_back(b.next(s, rng));
    }
    const auto got = delays_for(42);
    CHECK(got == expected);
    CHECK(delays_for(42) == got);
    CHECK(delays_for(43) != got);
  }
}

TEST_CASE(
    "retry: over 10^4 attempts every delay is in [0, cap] and, without jitter, never "
    "decreases (Polly #2163, #1866)",
    "[retry]") {
  const auto plain = backoff::exponential(1ms, 2.0, 5min);
  for (const auto& b :
       {plain, plain.full_jitter(), plain.equal_jitter(), plain.decorrelated_jitter(),
        plain.decorrelated_jitter_v2(), plain.jitter(1.0)}) {
    resil::manual_clock clock;
    manual_retry r{{.max_attempts = 10'001, .backoff = b, .seed = 18}, clock};
    std::vector<nanoseconds> delays;
    delays.reserve(10'000);
    r.events().subscribe([&](const retry_event& e) {
      if (e.kind == retry_event_kind::retry_scheduled) delays.push_back(e.delay);
    });
    flaky f{20'000};
    (void)r.try_execute(std::ref(f));
    REQUIRE(f.calls == 10'001);
    REQUIRE(delays.size() == 10'000);
    for (std::size_t i = 0; i < delays.size(); ++i) {
      REQUIRE(delays[i] >= 0ns);
      REQUIRE(delays[i] <= 5min);
      if (b.jitter_mode() == resil::jitter_kind::none && i > 0) REQUIRE(delays[i] >= delays[i - 1]);
    }
    CHECK(clock.now().time_since_epoch() <= 10'000 * nanoseconds{5min});
  }
}

TEST_CASE("retry: a rejection's retry-after hint lengthens the delay, within max_delay",
          "[retry]") {
  resil_test::rejecting_policy limiter;  // refuses with a 250 ms retry-after hint
  limiter.code = resil::errc::rate_limited;
  resil::manual_clock clock;
  manual_retry r{{.max_attempts = 3,
                  .backoff = backoff::constant(100ms),
                  .max_delay = 1s,
                  .classify = resil::classifier{}.count_rejections(true)},
                 clock};
  event_log log{r};
  auto pipeline = resil::compose(r, limiter);
  CHECK(pipeline.try_execute([] { return 1; }).error() == resil::errc::rate_limited);
  CHECK(log.delays() == std::vector<nanoseconds>{250ms, 250ms});
}

// -- what is retried -------------------------------------------------------------------------

TEST_CASE("retry: retries only the exception types it is told to", "[retry]") {
  manual_retry r{{.max_attempts = 3,
                  .backoff = backoff{},
                  .classify = resil::classifier{}.failure_on<io_error>()}};
  event_log log{r};
  int calls = 0;
  CHECK_THROWS_AS(r.execute([&]() -> int {
    ++calls;
    throw std::logic_error("a bug, not an outage");
  }),
                  std::logic_error);
  CHECK(calls == 1);
  REQUIRE(log.events.size() == 1);
  CHECK(log.events[0].kind == retry_event_kind::aborted);
  calls = 0;
  CHECK_THROWS_AS(r.execute([&]() -> int { throw io_error(std::to_string(++calls)); }), io_error);
  CHECK(calls == 3);
}

TEST_CASE("retry: retries on a predicate over the exception", "[retry]") {
  struct http_error : std::runtime_error {
    int status;
    explicit http_error(int s) : std::runtime_error("http"), status(s) {}
  };
  manual_retry r{{.max_attempts = 4,
                  .backoff = backoff{},
                  .classify = resil::classifier{}.failure_if(
                      [](const http_error& e) { return e.status >= 500; })}};
  int calls = 0;
  CHECK_THROWS_AS(r.execute([&]() -> int { throw http_error(++calls < 3 ? 503 : 404); }),
                  http_error);
  CHECK(calls == 3);  // 503, 503, then a 404 which is not retried
}

TEST_CASE("retry: aborts at once on the errors it is told to", "[retry]") {
  manual_retry r{{.max_attempts = 5,
                  .backoff = backoff{},
                  .classify = resil::classifier{}.ignore<fatal_error>()}};
  event_log log{r};
  int calls = 0;
  CHECK_THROWS_AS(r.execute([&]() -> int {
    ++calls;
    throw fatal_error("disk on fire");
  }),
                  fatal_error);
  CHECK(calls == 1);
  REQUIRE(log.events.size() == 1);
  CHECK(log.events[0].kind == retry_event_kind::aborted);
  CHECK(message_of(log.events[0].exception) == "disk on fire");
  CHECK(r.metrics().failed_without_retry == 1);
}

TEST_CASE("retry: retries on an error-code result", "[retry]") {
  manual_retry r{{.max_attempts = 3,
                  .backoff = backoff{},
                  .classify = resil::classifier{}.failure_if_result([](const std::error_code& ec) {
                    return ec == std::errc::resource_unavailable_try_again;
                  })}};
  int calls = 0;
  const auto ec = r.execute([&] {
    return ++calls < 3 ? std::make_error_code(std::errc::resource_unavailable_try_again)
                       : std::error_code{};
  });
  CHECK(calls == 3);
  CHECK(!ec);
  // An error code carried by an outcome is a failure too (not a rejection): retried by default.
  flaky f{2};
  manual_retry plain{{.max_attempts = 3, .backoff = backoff{}}};
  CHECK(plain.execute(std::ref(f)) == 2);
}

TEST_CASE("retry: never retries another policy's rejection by default", "[retry]") {
  resil_test::counting_policy counter;
  resil_test::rejecting_policy full;  // a bulkhead that is always full
  manual_retry r{{.max_attempts = 5}};
  event_log log{r};
  auto pipeline = resil::compose(r, counter, full);
  const auto out = pipeline.try_execute([] { return 1; });
  CHECK(out.error() == resil::errc::bulkhead_full);
  CHECK(counter.calls == 1);
  REQUIRE(log.events.size() == 1);
  CHECK(log.events[0].kind == retry_event_kind::aborted);
  CHECK(log.events[0].error == resil::errc::bulkhead_full);
  // Thrown as an exception (a rejected_error from an inner execute), it is not retried either.
  int calls = 0;
  CHECK_THROWS_AS(r.execute([&]() -> int {
    ++calls;
    throw resil::circuit_open_error(1s);
  }),
                  resil::circuit_open_error);
  CHECK(calls == 1);
}

TEST_CASE("retry: a per-call classifier in the context overrides the policy's", "[retry]") {
  manual_retry r{{.max_attempts = 4, .backoff = backoff{}}};
  const auto never = resil::classifier{}.ignore<std::exception>();
  resil::context ctx;
  ctx.override_classifier(&never);
  int calls = 0;
  (void)r.try_execute_in(ctx, [&]() -> int { throw io_error(std::to_string(++calls)); });
  CHECK(calls == 1);
}

TEST_CASE("retry: a throwing classifier predicate ends the call with its exception", "[retry]") {
  manual_retry r{{.max_attempts = 4,
                  .backoff = backoff{},
                  .classify = resil::classifier{}.failure_if_result([](const int& v) -> bool {
                    if (v == 2) throw std::domain_error("predicate broke");
                    return v < 2;
                  })}};
  int calls = 0;
  const auto out = r.try_execute([&] { return ++calls; });
  CHECK(calls == 2);
  CHECK(message_of(out.exception()) == "predicate broke");
}

// -- delay from the outcome -------------------------------------------------------------------

TEST_CASE("retry: the delay hook reads the failed value and sets the delay (Retry-After)",
          "[retry]") {
  resil::manual_clock clock;
  std::vector<resil::retry_attempt_info> seen;
  manual_retry r{
      {.max_attempts = 3,
       .backoff = backoff::constant(100ms),
       .max_delay = 1min,
       .classify =
           resil::classifier{}.failure_if_result([](const response& x) { return x.status == 503; }),
       .delay_from_outcome = [&](const resil::retry_attempt_info& a) -> std::optional<nanoseconds> {
         seen.push_back(a);
         CHECK(a.value<int>() == nullptr);  // typed: only the call's result type
         if (const auto* resp = a.value<response>()) return resp->retry_after;
         return std::nullopt;
       }},
      clock};
  event_log log{r};
  int calls = 0;
  const auto out = r.execute([&] { return response{++calls < 3 ? 503 : 200, calls * 10s}; });
  CHECK(out.status == 200);
  CHECK(log.delays() == std::vector<nanoseconds>{10s, 20s});
  CHECK(clock.now().time_since_epoch() == 30s);
  REQUIRE(seen.size() == 2);
  CHECK(seen[0].attempt == 1);
  CHECK(seen[1].attempt == 2);
  CHECK(seen[0].backoff_delay == 100ms);
  CHECK(seen[0].has_value());
  CHECK_FALSE(seen[0].exception);
}

TEST_CASE("retry: the delay hook sees exceptions, and nullopt keeps the backoff's delay",
          "[retry]") {
  resil::manual_clock clock;
  manual_retry r{
      {.max_attempts = 3,
       .backoff = backoff::constant(100ms),
       .delay_from_outcome = [](const resil::retry_attempt_info& a) -> std::optional<nanoseconds> {
         CHECK_FALSE(a.has_value());
         if (message_of(a.exception) == "slow down") return 70ms;
         return std::nullopt;
       }},
      clock};
  event_log log{r};
  int calls = 0;
  (void)r.try_execute(
      [&]() -> int { throw io_error(++calls == 1 ? "slow down" : "something else"); });
  CHECK(log.delays() == std::vector<nanoseconds>{70ms, 100ms});
}

TEST_CASE("retry: what the delay hook returns is capped at max_delay, and negative counts as zero",
          "[retry]") {
  for (const auto& [proposed, max_delay, expected] :
       {std::tuple{nanoseconds{1h}, std::optional<nanoseconds>{}, nanoseconds{10s}},  // backoff cap
        std::tuple{nanoseconds{1h}, std::optional<nanoseconds>{30s}, nanoseconds{30s}},
        std::tuple{nanoseconds::max(), std::optional<nanoseconds>{30s}, nanoseconds{30s}},
        std::tuple{nanoseconds{-5s}, std::optional<nanoseconds>{30s}, nanoseconds{0}},
        std::tuple{nanoseconds::min(), std::optional<nanoseconds>{}, nanoseconds{0}}}) {
    resil::manual_clock clock;
    manual_retry r{{.max_attempts = 2,
                    .backoff = backoff::exponential(100ms, 2.0, 10s),
                    .max_delay = max_delay,
                    .delay_from_outcome = [p = proposed](const resil::retry_attempt_info&)
                        -> std::optional<nanoseconds> { return p; }},
                   clock};
    event_log log{r};
    (void)r.try_execute([]() -> int { throw io_error("down"); });
    CHECK(log.delays() == std::vector<nanoseconds>{expected});
    CHECK(clock.now().time_since_epoch() == expected);
  }
}

TEST_CASE("retry: a delay hook that throws ends the call with its exception", "[retry]") {
  manual_retry r{
      {.max_attempts = 3,
       .delay_from_outcome = [](const resil::retry_attempt_info&) -> std::optional<nanoseconds> {
         throw std::invalid_argument("bad header");
       }}};
  int calls = 0;
  const auto out = r.try_execute([&]() -> int { throw io_error(std::to_string(++calls)); });
  CHECK(calls == 1);
  CHECK(message_of(out.exception()) == "bad header");
}

// -- deadlines and cancellation -----------------------------------------------------------------

TEST_CASE("retry: no attempt starts when max_total_duration cannot hold its delay", "[retry]") {
  resil::manual_clock clock;
  manual_retry r{{.max_attempts = 100,
                  .backoff = backoff::exponential(100ms, 2.0, 10s),
                  .max_total_duration = 1s},
                 clock};
  event_log log{r};
  int calls = 0;
  const auto out = r.try_execute([&]() -> int {
    ++calls;
    clock.advance(10ms);  // each attempt takes 10 ms
    throw io_error("down");
  });
  // Attempts start at 0, 110, 320, 730 ms; the next would start at 1540 ms > 1 s.
  CHECK(calls == 4);
  CHECK(log.delays() == std::vector<nanoseconds>{100ms, 200ms, 400ms});
  CHECK(log.events.back().kind == retry_event_kind::exhausted);
  CHECK(log.events.back().stop == retry_stop::max_total_duration);
  CHECK(clock.now().time_since_epoch() == 740ms);  // no sleep into the void
  CHECK(out.has_exception());                      // the last failure stands
}

TEST_CASE("retry: the context's deadline cuts retries off", "[retry]") {
  resil::manual_clock clock;
  manual_retry r{{.max_attempts = 10, .backoff = backoff::constant(300ms)}, clock};
  event_log log{r};
  resil::context ctx;
  ctx.tighten_deadline(clock, clock.now() + 1s);
  int calls = 0;
  const auto out = r.try_execute_in(ctx, [&]() -> int { throw io_error(std::to_string(++calls)); });
  CHECK(calls == 4);  // at 0, 300, 600, 900 ms; 1200 ms is past the deadline
  CHECK(message_of(out.exception()) == "4");
  CHECK(log.events.back().stop == retry_stop::deadline);
  CHECK(clock.now().time_since_epoch() == 900ms);

  // Exactly at the deadline is too late too: an attempt needs some time.
  resil::context exact;
  exact.tighten_deadline(clock, clock.now() + 600ms);
  calls = 0;
  (void)r.try_execute_in(exact, [&]() -> int { throw io_error(std::to_string(++calls)); });
  CHECK(calls == 2);
}

TEST_CASE(
    "retry: the earlier of the deadline and max_total_duration decides, and the event says "
    "which",
    "[retry]") {
  resil::manual_clock clock;
  manual_retry r{
      {.max_attempts = 10, .backoff = backoff::constant(100ms), .max_total_duration = 250ms},
      clock};
  event_log log{r};
  resil::context loose;
  loose.tighten_deadline(clock, clock.now() + 1h);
  int calls = 0;
  (void)r.try_execute_in(loose, [&]() -> int { throw io_error(std::to_string(++calls)); });
  CHECK(calls == 3);
  CHECK(log.events.back().stop == retry_stop::max_total_duration);

  resil::context tight;
  tight.tighten_deadline(clock, clock.now() + 150ms);
  calls = 0;
  (void)r.try_execute_in(tight, [&]() -> int { throw io_error(std::to_string(++calls)); });
  CHECK(calls == 2);
  CHECK(log.events.back().stop == retry_stop::deadline);
}

TEST_CASE("retry: each attempt starts with a fresh start time, so per-attempt deadlines restart",
          "[retry]") {
  // The inner policy sets a deadline 50 ms after the attempt's start, read through the context
  // (the retry reads the first attempt's start through the same cache for max_total_duration).
  resil::manual_clock clock{resil::manual_clock::time_point{1h}};
  resil_test::deadline_policy per_attempt{{}, clock, 50ms};
  manual_retry r{{.max_attempts = 3, .backoff = backoff::constant(1s), .max_total_duration = 5s},
                 clock};
  std::vector<nanoseconds> remaining;
  auto pipeline = resil::compose(r, per_attempt);
  (void)pipeline.try_execute([&](resil::context& ctx) -> int {
    remaining.push_back(ctx.remaining());
    throw io_error("down");
  });
  // Each attempt gets a fresh 50 ms: the retry resets the cached start time before each one.
  CHECK(remaining == std::vector<nanoseconds>{50ms, 50ms, 50ms});
}

TEST_CASE("retry: a stop token that fires before a retry ends the call with errc::cancelled",
          "[retry]") {
  resil::manual_clock clock;
  manual_retry r{{.max_attempts = 5, .backoff = backoff::constant(1s)}, clock};
  event_log log{r};
  std::stop_source stop;
  resil::context ctx{stop.get_token()};
  int calls = 0;
  const auto out = r.try_execute_in(ctx, [&]() -> int {
    if (++calls == 2) stop.request_stop();
    throw io_error("down");
  });
  CHECK(calls == 2);
  CHECK(out.error() == resil::errc::cancelled);
  CHECK(log.events.back().kind == retry_event_kind::exhausted);
  CHECK(log.events.back().stop == retry_stop::cancelled);
  CHECK(message_of(log.events.back().exception) == "down");  // the event keeps the failure
  CHECK(clock.now().time_since_epoch() == 1s);

  // Without a delay there is no wait to interrupt: the retry checks the token itself.
  manual_retry eager{{.max_attempts = 5, .backoff = backoff{}}, clock};
  std::stop_source stop2;
  resil::context ctx2{stop2.get_token()};
  calls = 0;
  const auto out2 = eager.try_execute_in(ctx2, [&]() -> int {
    ++calls;
    stop2.request_stop();
    throw io_error("down");
  });
  CHECK(calls == 1);
  CHECK(out2.error() == resil::errc::cancelled);
}

TEST_CASE("retry: a stop token interrupts the wait on a real clock", "[retry]") {
  // A one-hour backoff on the real steady clock; another thread stops the call once the retry has
  // announced its wait. The test never sleeps: the wait ends when the stop arrives.
  resil::retry r{{.max_attempts = 2, .backoff = backoff::constant(1h)}};
  std::stop_source stop;
  std::atomic<bool> scheduled{false};
  r.events().subscribe([&](const retry_event& e) {
    if (e.kind == retry_event_kind::retry_scheduled) scheduled = true;
  });
  std::thread canceller([&] {
    while (!scheduled) std::this_thread::yield();
    stop.request_stop();
  });
  resil::context ctx{stop.get_token()};
  int calls = 0;
  const auto started = std::chrono::steady_clock::now();
  const auto out = r.try_execute_in(ctx, [&]() -> int { throw io_error(std::to_string(++calls)); });
  canceller.join();
  CHECK(calls == 1);
  CHECK(out.error() == resil::errc::cancelled);
  CHECK(std::chrono::steady_clock::now() - started < 10min);
}

// -- attempts, context and composition
// -------------------------------------------------------------

TEST_CASE("retry: each attempt sees its number in the context", "[retry]") {
  manual_retry r{{.max_attempts = 4, .backoff = backoff{}}};
  std::vector<std::uint32_t> attempts;
  const auto n = r.execute([&](resil::context& ctx) {
    attempts.push_back(ctx.attempt());
    if (ctx.attempt() < 3) throw io_error("down");
    return ctx.attempt();
  });
  CHECK(n == 3);
  CHECK(attempts == std::vector<std::uint32_t>{1, 2, 3});
  // A context reused for another call starts again at attempt 1.
  resil::context ctx;
  ctx.set_attempt(9);
  CHECK(r.execute_in(ctx, [](resil::context& c) { return c.attempt(); }) == 1u);
}

TEST_CASE("retry: arguments reach every attempt intact, even when passed as rvalues", "[retry]") {
  manual_retry r{{.max_attempts = 3, .backoff = backoff{}}};
  std::vector<std::string> seen;
  const auto out = r.execute(
      [&](std::string s) {  // by value: a forwarding pipeline would move from the argument
        seen.push_back(s);
        if (seen.size() < 3) throw io_error("down");
        return s.size();
      },
      std::string(100, 'x'));
  CHECK(out == 100u);
  CHECK(seen == std::vector<std::string>(3, std::string(100, 'x')));
}

TEST_CASE("retry: in a composition it wraps the policies listed after it", "[retry]") {
  resil_test::counting_policy outer;
  resil_test::counting_policy inner;
  manual_retry r{{.max_attempts = 3, .backoff = backoff{}}};
  auto pipeline = resil::compose(outer, r, inner);
  STATIC_REQUIRE(decltype(pipeline)::repeats_call);
  flaky f{3};
  CHECK(pipeline.execute(std::ref(f)) == 3);
  CHECK(outer.calls == 1);
  CHECK(inner.calls == 3);
  CHECK(inner.failures == 2);
  auto decorated = resil::decorate([](int x) { return x + 1; }, r);
  CHECK(decorated(41) == 42);
}

TEST_CASE("retry: results of every kind come back: references, void, move-only", "[retry]") {
  manual_retry r{{.max_attempts = 2, .backoff = backoff{}}};
  int target = 0;
  int calls = 0;
  int& ref = r.execute([&]() -> int& {
    if (++calls == 1) throw io_error("down");
    return target;
  });
  CHECK(&ref == &target);
  calls = 0;
  r.execute([&] {
    if (++calls == 1) throw io_error("down");
  });
  CHECK(calls == 2);
  auto p = r.execute([] { return std::make_unique<int>(7); });
  CHECK(*p == 7);
}

TEST_CASE("retry: the same retry can be used from inside its own callable", "[retry]") {
  manual_retry r{{.max_attempts = 2, .backoff = backoff{}}};
  std::function<int(int)> nested = [&](int depth) -> int {
    if (depth == 0) return 0;
    int calls = 0;
    return r.execute([&] {
      if (++calls == 1) throw io_error("first attempt at every depth fails");
      return 1 + nested(depth - 1);
    });
  };
  CHECK(nested(3) == 3);
  CHECK(r.metrics().successful_with_retry == 3);
}

TEST_CASE("retry: a live retry is neither copyable nor movable", "[retry]") {
  STATIC_REQUIRE_FALSE(std::is_copy_constructible_v<resil::retry>);
  STATIC_REQUIRE_FALSE(std::is_move_constructible_v<resil::retry>);
  STATIC_REQUIRE_FALSE(std::is_copy_assignable_v<resil::retry>);
  STATIC_REQUIRE_FALSE(std::is_copy_constructible_v<resil::retry_budget>);
  STATIC_REQUIRE_FALSE(std::is_copy_constructible_v<resil::retry_concurrency_budget>);
  STATIC_REQUIRE(resil::policy<resil::retry>);
  STATIC_REQUIRE(resil::retry::repeats_call);
}

// -- events and metrics ---------------------------------------------------------------------------

TEST_CASE(
    "retry: events tell scheduled retries, success with and without retry, exhaustion and "
    "aborts",
    "[retry]") {
  resil::manual_clock clock;
  manual_retry r{{.max_attempts = 3,
                  .backoff = backoff::constant(5ms),
                  .classify = resil::classifier{}.ignore<fatal_error>()},
                 clock};
  event_log log{r};

  CHECK(r.execute([] { return 1; }) == 1);
  REQUIRE(log.events.size() == 1);
  CHECK(log.events[0].kind == retry_event_kind::succeeded);
  CHECK(log.events[0].attempt == 1);  // without retry
  log.events.clear();

  flaky f{2};
  CHECK(r.execute(std::ref(f)) == 2);
  REQUIRE(log.events.size() == 2);
  CHECK(log.events[0].kind == retry_event_kind::retry_scheduled);
  CHECK(log.events[0].attempt == 1);
  CHECK(log.events[0].delay == 5ms);
  CHECK(log.events[0].error == std::errc::connection_reset);  // the cause
  CHECK(log.events[1].kind == retry_event_kind::succeeded);
  CHECK(log.events[1].attempt == 2);  // with retry
  log.events.clear();

  (void)r.try_execute([]() -> int { throw io_error("down"); });
  CHECK(log.kinds() == std::vector<retry_event_kind>{retry_event_kind::retry_scheduled,
                                                     retry_event_kind::retry_scheduled,
                                                     retry_event_kind::exhausted});
  CHECK(log.events[2].attempt == 3);
  CHECK(log.events[2].stop == retry_stop::max_attempts);
  CHECK(message_of(log.events[2].exception) == "down");
  log.events.clear();

  int calls = 0;
  (void)r.try_execute([&]() -> int {
    if (++calls == 1) throw std::runtime_error("retried");
    throw fatal_error("not retried");
  });
  CHECK(log.kinds() == std::vector<retry_event_kind>{retry_event_kind::retry_scheduled,
                                                     retry_event_kind::aborted});
  CHECK(log.events[1].attempt == 2);

  const auto m = r.metrics();
  CHECK(m.successful_with_retry == 1);
  CHECK(m.failed_with_retry == 2);
  CHECK(m.failed_without_retry == 0);
  CHECK(m.retries == 4);
  CHECK(m.budget_denied == 0);
}

TEST_CASE("retry: a listener that throws ends the call with the listener's exception", "[retry]") {
  manual_retry r{{.max_attempts = 3, .backoff = backoff{}}};
  r.events().subscribe([](const retry_event& e) {
    if (e.kind == retry_event_kind::retry_scheduled) throw std::runtime_error("listener");
  });
  int calls = 0;
  const auto out = r.try_execute([&]() -> int { throw io_error(std::to_string(++calls)); });
  CHECK(calls == 1);
  CHECK(message_of(out.exception()) == "listener");
  CHECK(r.execute([] { return 5; }) == 5);  // the next call is unaffected
}

// -- budgets -----------------------------------------------------------------------------------

TEST_CASE("retry: when the token budget says no, the last failure stands and the event says why",
          "[retry]") {
  resil::retry_budget budget{{.max_tokens = 4, .token_ratio = 1}};  // retries while tokens > 2
  manual_retry r{{.max_attempts = 10, .backoff = backoff{}, .budget = &budget}};
  event_log log{r};
  int calls = 0;
  const auto out = r.try_execute([&]() -> int { throw io_error(std::to_string(++calls)); });
  // 4 -> 3 (retry), 3 -> 2 (not above half: stop)
  CHECK(calls == 2);
  CHECK(message_of(out.exception()) == "2");
  CHECK(log.events.back().kind == retry_event_kind::exhausted);
  CHECK(log.events.back().stop == retry_stop::budget);
  CHECK(budget.milli_tokens() == 2000);
  CHECK(r.metrics().budget_denied == 1);
  // With the bucket at half, a failing call is not retried at all ...
  calls = 0;
  (void)r.try_execute([&]() -> int { throw io_error(std::to_string(++calls)); });
  CHECK(calls == 1);
  CHECK(budget.milli_tokens() == 1000);
  // ... and successes refill it: +1 each, up to the maximum.
  for (int i = 0; i < 5; ++i) CHECK(r.execute([] { return 1; }) == 1);
  CHECK(budget.milli_tokens() == 4000);
  calls = 0;
  (void)r.try_execute([&]() -> int { throw io_error(std::to_string(++calls)); });
  CHECK(calls == 2);
}

TEST_CASE("retry: one token budget shared by two retries throttles both", "[retry]") {
  resil::retry_budget budget{{.max_tokens = 6, .token_ratio = 0.5}};
  manual_retry a{{.max_attempts = 3, .backoff = backoff{}, .budget = &budget}};
  manual_retry b{{.max_attempts = 3, .backoff = backoff{}, .budget = &budget}};
  int calls = 0;
  auto fail = [&]() -> int { throw io_error(std::to_string(++calls)); };
  (void)a.try_execute(fail);  // 6 -> 5 -> 4 -> 3 (three attempts)
  CHECK(calls == 3);
  (void)b.try_execute(fail);  // 3 -> 2: not above half; b stops at once
  CHECK(calls == 4);
  CHECK(budget.milli_tokens() == 2000);
}

TEST_CASE("retry: the concurrency budget counts the call and holds a permit per retry", "[retry]") {
  resil::retry_concurrency_budget budget{{.retry_ratio = 0.0, .min_retry_concurrency = 1}};
  manual_retry r{{.max_attempts = 3, .backoff = backoff{}, .concurrency_budget = &budget}};
  event_log log{r};
  std::vector<resil::retry_concurrency_budget_metrics> seen;
  flaky f{3};
  CHECK(r.execute([&] {
    seen.push_back(budget.metrics());
    return f();
  }) == 3);
  REQUIRE(seen.size() == 3);
  CHECK(seen[0].calls_in_flight == 1);
  CHECK(seen[0].retries_in_flight == 0);
  CHECK(seen[1].retries_in_flight == 1);  // held while the retry runs ...
  CHECK(seen[2].retries_in_flight == 1);
  CHECK(budget.metrics().retries_in_flight == 0);  // ... and returned after
  CHECK(budget.metrics().calls_in_flight == 0);

  // Another caller holds the only retry slot: this call may not retry.
  auto held = budget.try_acquire_retry();
  REQUIRE(held);
  int calls = 0;
  (void)r.try_execute([&]() -> int { throw io_error(std::to_string(++calls)); });
  CHECK(calls == 1);
  CHECK(log.events.back().stop == retry_stop::budget);
  CHECK(r.metrics().budget_denied == 1);
}

// -- options ----------------------------------------------------------------------------------

TEST_CASE("retry: invalid options are rejected with config_error naming the field", "[retry]") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<std::pair<resil::retry_options, std::string>> bad = {
      {{.max_attempts = 0}, "retry_options.max_attempts"},
      {{.max_attempts = -1}, "retry_options.max_attempts"},
      {{.backoff = backoff::constant(-1ms)}, "retry_options.backoff.base"},
      {{.backoff = backoff::linear(1ms, -1ms, 1s)}, "retry_options.backoff.step"},
      {{.backoff = backoff::exponential(1ms, 0.5, 1s)}, "retry_options.backoff.multiplier"},
      {{.backoff = backoff::exponential(1ms, nan, 1s)}, "retry_options.backoff.multiplier"},
      {{.backoff = backoff::exponential(2s, 2.0, 1s)}, "retry_options.backoff.cap"},
      {{.backoff = backoff::constant(1s).jitter(1.5)}, "retry_options.backoff.jitter_factor"},
      {{.backoff = backoff::constant(1s).jitter(-0.1)}, "retry_options.backoff.jitter_factor"},
      {{.max_delay = -1ns}, "retry_options.max_delay"},
      {{.max_total_duration = 0ns}, "retry_options.max_total_duration"},
      {{.max_total_duration = -1s}, "retry_options.max_total_duration"},
  };
  for (const auto& [options, field] : bad) {
    const auto problem = options.validate();
    REQUIRE(problem);
    CHECK(problem->field == field);
    try {
      resil::retry r{options};
      FAIL("no config_error for " << field);
    } catch (const resil::config_error& e) {
      CHECK(e.field() == field);
      CHECK(std::string(e.what()).find(field) != std::string::npos);
    }
  }
  const auto msg = resil::retry_options{.max_attempts = 0}.validate()->message;
  CHECK(msg == "resil: retry_options.max_attempts = 0 is invalid: must be at least 1");
}

TEST_CASE("retry: max_attempts = INT_MAX is valid and counts without overflow", "[retry]") {
  CHECK_FALSE(resil::retry_options{.max_attempts = INT_MAX}.validate());
  CHECK_FALSE(resil::retry_options{.max_delay = 0ns, .max_total_duration = 1ns}.validate());
  manual_retry r{{.max_attempts = INT_MAX, .backoff = backoff::exponential(1ns, 2.0, 1h)}};
  flaky f{50};
  CHECK(r.execute(std::ref(f)) == 50);
}

// -- concurrency ------------------------------------------------------------------------------

TEST_CASE(
    "retry: many threads share one retry and its budgets; every call makes at most "
    "max_attempts calls",
    "[retry]") {
  resil::retry_budget tokens{{.max_tokens = 20, .token_ratio = 0.5}};
  resil::retry_concurrency_budget slots{{.retry_ratio = 0.5, .min_retry_concurrency = 1}};
  resil::manual_clock clock;
  manual_retry r{{.max_attempts = 4,
                  .backoff = backoff::exponential(1ms, 2.0, 8ms).full_jitter(),
                  .budget = &tokens,
                  .concurrency_budget = &slots,
                  .seed = 99},
                 clock};
  constexpr int threads = 4;
  constexpr int calls_per_thread = 2000;
  std::atomic<std::uint64_t> attempts_total{0};
  std::atomic<int> worst{0};
  std::atomic<bool> token_bounds_ok{true};
  std::atomic<bool> slot_bounds_ok{true};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      resil::splitmix64 dice{static_cast<std::uint64_t>(t + 1)};
      for (int i = 0; i < calls_per_thread; ++i) {
        int calls = 0;
        (void)r.try_execute([&]() -> resil::outcome<int> {
          ++calls;
          const auto m = tokens.metrics();
          if (m.milli_tokens < 0 || m.milli_tokens > m.max_milli_tokens) token_bounds_ok = false;
          const auto s = slots.metrics();
          // calls in flight <= 4, so the limit is max(1, 0.5 * 4) = 2 at most
          if (s.retries_in_flight < 0 || s.retries_in_flight > 2) slot_bounds_ok = false;
          if (dice.uniform() < 0.4) return resil::outcome<int>::from_error(resil::errc::timeout);
          return calls;
        });
        attempts_total += static_cast<std::uint64_t>(calls);
        int w = worst.load();
        while (calls > w && !worst.compare_exchange_weak(w, calls)) {
        }
      }
    });
  }
  for (auto& th : pool) th.join();
  CHECK(worst <= 4);
  CHECK(token_bounds_ok);
  CHECK(slot_bounds_ok);
  const auto m = r.metrics();
  CHECK(attempts_total == static_cast<std::uint64_t>(threads * calls_per_thread) + m.retries);
  CHECK(slots.metrics().calls_in_flight == 0);
  CHECK(slots.metrics().retries_in_flight == 0);
  CHECK(tokens.milli_tokens() >= 0);
  CHECK(tokens.milli_tokens() <= 20'000);
}

TEST_CASE("retry: event kinds and stop reasons are named as their enumerators", "[retry]") {
  CHECK(resil_test::enum_names<resil::retry_event_kind>(4) ==
        std::vector<std::string_view>{"retry_scheduled", "succeeded", "exhausted", "aborted"});
  CHECK(to_string(static_cast<resil::retry_event_kind>(4)) == "unknown");
  CHECK(resil_test::enum_names<resil::retry_stop>(6) ==
        std::vector<std::string_view>{"none", "max_attempts", "budget", "deadline",
                                      "max_total_duration", "cancelled"});
  CHECK(to_string(static_cast<resil::retry_stop>(6)) == "unknown");
}
