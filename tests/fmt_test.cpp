// Tests for resil/fmt.hpp: {fmt} formatters for names, events and metrics snapshots.
// SPDX-License-Identifier: MIT
#include <resil/fmt.hpp>

#include <catch2/catch.hpp>

#include <fmt/chrono.h>

#include <stdexcept>
#include <string>
#include <system_error>

using namespace std::chrono_literals;

namespace {
struct opaque_key {  // not formattable: the key is left out
  int id;
};
}  // namespace

TEST_CASE("fmt: states, statuses and error codes format as their names, with string specs",
          "[fmt]") {
  CHECK(fmt::format("{}", resil::health_status::degraded) == "degraded");
  CHECK(fmt::format("[{:>10}]", resil::health_status::healthy) == "[   healthy]");
  CHECK(fmt::format("[{:<9}]", resil::errc::timeout) == "[timeout  ]");
  CHECK(fmt::format("{}", resil::errc::circuit_open) == "circuit_open");
  CHECK(fmt::format("{}", resil::errc::retries_exhausted) == "retries_exhausted");
  CHECK(fmt::format("{}", resil::grpc_serving_status::not_serving) == "NOT_SERVING");
  CHECK(fmt::format("{}", resil::retry_stop::max_total_duration) == "max_total_duration");
  CHECK(fmt::format("{}", resil::bulkhead_event_kind::finished) == "finished");
  CHECK(fmt::format("{}", resil::rate_limiter_event_kind::limit_changed) == "limit_changed");
  CHECK(fmt::format("{}", resil::chaos_event::kind_t::latency) == "latency");
}

TEST_CASE("fmt: events are one line: policy, kind, then key=value fields", "[fmt]") {
  CHECK(fmt::format("{}", resil::bulkhead_event{resil::bulkhead_event_kind::rejected,
                                                resil::errc::bulkhead_full, 50ms}) ==
        "bulkhead rejected reason=bulkhead_full waited=50ms");
  CHECK(fmt::format("{}", resil::bulkhead_event{resil::bulkhead_event_kind::finished, {}, {}}) ==
        "bulkhead finished");

  resil::rate_limiter_event rl;
  rl.kind = resil::rate_limiter_event_kind::rejected;
  rl.permits = 2;
  rl.retry_after = 1500ms;
  CHECK(fmt::format("{}", rl) == "rate_limiter rejected permits=2 retry_after=1500ms");

  resil::retry_event re;
  re.kind = resil::retry_event_kind::retry_scheduled;
  re.attempt = 1;
  re.delay = 200ms;
  re.exception = std::make_exception_ptr(std::runtime_error("connection reset"));
  CHECK(fmt::format("{}", re) ==
        "retry retry_scheduled attempt=1 delay=200ms exception=\"connection reset\"");
  re = {};
  re.kind = resil::retry_event_kind::exhausted;
  re.attempt = 3;
  re.stop = resil::retry_stop::max_attempts;
  re.error = std::make_error_code(std::errc::connection_refused);
  CHECK(fmt::format("{}", re) ==
        fmt::format("retry exhausted attempt=3 stop=max_attempts error=generic:{}",
                    static_cast<int>(std::errc::connection_refused)));
  re.error = {};
  re.exception = std::make_exception_ptr(42);
  CHECK(fmt::format("{}", re) ==
        "retry exhausted attempt=3 stop=max_attempts exception=(not a std::exception)");

  CHECK(fmt::format("{}", resil::timeout_event{resil::timeout_event_kind::timed_out, 800ms,
                                               std::chrono::nanoseconds{800'000'001}}) ==
        "timeout timed_out budget=800ms elapsed=800000001ns");
  CHECK(fmt::format("{}", resil::fallback_event{resil::fallback_event_kind::applied,
                                                resil::errc::circuit_open,
                                                {}}) == "fallback applied error=circuit_open");
  CHECK(fmt::format("{}", resil::chaos_event{resil::chaos_event::kind_t::latency, 2s, 1}) ==
        "chaos latency latency=2s attempt=1");
}

TEST_CASE("fmt: circuit breaker states, windows, events and metrics", "[fmt]") {
  using kind = resil::circuit_breaker_event::kind_t;
  using resil::circuit_state;
  CHECK(fmt::format("{}", circuit_state::half_open) == "half_open");
  CHECK(fmt::format("[{:>12}]", circuit_state::forced_open) == "[ forced_open]");
  CHECK(fmt::format("{}", circuit_state::metrics_only) == "metrics_only");
  CHECK(fmt::format("{}", resil::window_type::time) == "time");
  CHECK(fmt::format("{}", kind::consecutive_failures_exceeded) == "consecutive_failures_exceeded");

  resil::circuit_breaker_event e{kind::state_transition, circuit_state::open,
                                 circuit_state::closed};
  CHECK(fmt::format("{}", e) == "circuit_breaker state_transition from=closed to=open");
  e = {kind::failure, circuit_state::closed, circuit_state::closed};
  CHECK(fmt::format("{}", e) == "circuit_breaker failure state=closed");
  e.elapsed = 1500ms;
  e.slow = true;
  CHECK(fmt::format("{}", e) == "circuit_breaker failure state=closed elapsed=1500ms slow=true");
  e = {kind::not_permitted, circuit_state::open, circuit_state::open};
  e.remaining_delay = 9s;
  CHECK(fmt::format("{}", e) == "circuit_breaker not_permitted state=open remaining_delay=9s");
  e = {kind::failure_rate_exceeded, circuit_state::closed, circuit_state::closed};
  e.rate = 0.5;
  CHECK(fmt::format("{}", e) == "circuit_breaker failure_rate_exceeded state=closed rate=0.5");
  e = {kind::consecutive_failures_exceeded, circuit_state::closed, circuit_state::closed};
  e.count = 5;
  CHECK(fmt::format("{}", e) ==
        "circuit_breaker consecutive_failures_exceeded state=closed count=5");
  e = {kind::reset, circuit_state::closed, circuit_state::open};
  CHECK(fmt::format("{}", e) == "circuit_breaker reset state=closed");

  resil::manual_clock clock;
  resil::basic_circuit_breaker<resil::manual_clock> b{
      {.window_size = 4, .minimum_calls = 2, .open_duration = 10s}, clock};
  CHECK(fmt::format("{}", b.metrics()) ==
        "state=closed failure_rate=nan slow_call_rate=nan calls=0 failed=0 slow=0 "
        "not_permitted=0 consecutive_failures=0 probes_in_flight=0 transitions=0");
  std::string log;
  b.events().subscribe(
      [&](const resil::circuit_breaker_event& ev) { log += fmt::format("{}\n", ev); });
  for (int i = 0; i < 2; ++i) {
    (void)b.try_execute([]() -> int { throw std::runtime_error("down"); });
  }
  (void)b.try_execute([] { return 0; });
  CHECK(log ==
        "circuit_breaker failure state=closed\n"
        "circuit_breaker failure state=closed\n"
        "circuit_breaker failure_rate_exceeded state=closed rate=1\n"
        "circuit_breaker state_transition from=closed to=open\n"
        "circuit_breaker not_permitted state=open remaining_delay=10s\n");
  CHECK(fmt::format("{}", b.metrics()) ==
        "state=open failure_rate=1 slow_call_rate=0 calls=2 failed=2 slow=0 not_permitted=1 "
        "consecutive_failures=0 probes_in_flight=0 transitions=1");
}

TEST_CASE("fmt: a keyed limiter's event shows its key when the key is formattable", "[fmt]") {
  const std::string ip = "10.0.0.7";
  resil::keyed_rate_limiter_event<std::string> e;
  e.kind = resil::keyed_rate_limiter_event_kind::rejected;
  e.key = &ip;
  e.permits = 1;
  e.retry_after = 250us;
  CHECK(fmt::format("{}", e) ==
        "keyed_rate_limiter rejected key=10.0.0.7 permits=1 retry_after=250us");
  e.kind = resil::keyed_rate_limiter_event_kind::evicted;
  e.lossless = false;
  CHECK(fmt::format("{}", e) == "keyed_rate_limiter evicted key=10.0.0.7 lossless=false");
  const opaque_key k{3};
  resil::keyed_rate_limiter_event<opaque_key> o;
  o.kind = resil::keyed_rate_limiter_event_kind::permitted;
  o.key = &k;
  o.permits = 1;
  CHECK(fmt::format("{}", o) == "keyed_rate_limiter permitted permits=1");
}

TEST_CASE("fmt: metrics snapshots are key=value fields", "[fmt]") {
  resil::bulkhead b{{.max_concurrent = 8}};
  auto held = b.try_acquire();
  CHECK(fmt::format("{}", b.metrics()) == "max_concurrent=8 in_flight=1 available=7 waiting=0");

  resil::manual_clock clock;
  resil::basic_rate_limiter<resil::manual_clock> l{{.permits = 10, .period = 1s, .burst = 5},
                                                   clock};
  CHECK(l.try_acquire(2));
  CHECK(fmt::format("{}", l.metrics()) ==
        "available_permits=3 waiting_callers=0 permits=10 period=1s burst=5");

  resil::retry_budget budget{{.max_tokens = 10, .token_ratio = 0.5}};
  (void)budget.record_failure();
  budget.record_success();
  CHECK(fmt::format("{}", budget.metrics()) == "tokens=9.5 max_tokens=10 retry_allowed=true");

  resil::retry_metrics rm{1, 2, 3, 4, 5};
  CHECK(fmt::format("{}", rm) ==
        "successful_with_retry=1 failed_without_retry=2 failed_with_retry=3 retries=4 "
        "budget_denied=5");

  resil::keyed_rate_limiter_metrics km;
  km.keys = 2;
  km.max_keys = 100;
  km.permits = 20;
  km.period = 1min;
  km.burst = 40;
  CHECK(fmt::format("{}", km) ==
        "keys=2 max_keys=100 evicted_idle=0 evicted_active=0 permits=20 period=60s burst=40");

  resil::window_rate_limiter_metrics wm{5, 100, 1s, 10};
  CHECK(fmt::format("{}", wm) == "available_permits=5 limit=100 window=1s segments=10");

  resil::retry_concurrency_budget_metrics cm{10, 2, 3};
  CHECK(fmt::format("{}", cm) == "calls_in_flight=10 retries_in_flight=2 retry_limit=3");

  resil::call_counts cc;
  cc.permitted = 4;
  CHECK(fmt::format("{}", cc) ==
        "successful=0 failed=0 ignored=0 successful_without_retry=0 permitted=4 rejected=0 "
        "timed_out=0");
}

TEST_CASE("fmt: durations print exactly in the largest unit that divides them", "[fmt]") {
  const auto waited = [](std::chrono::nanoseconds d) {
    return fmt::format("{}", resil::bulkhead_event{resil::bulkhead_event_kind::permitted, {}, d});
  };
  CHECK(waited(0ns) == "bulkhead permitted waited=0s");
  CHECK(waited(3s) == "bulkhead permitted waited=3s");
  CHECK(waited(1500ms) == "bulkhead permitted waited=1500ms");
  CHECK(waited(7us) == "bulkhead permitted waited=7us");
  CHECK(waited(1001ns) == "bulkhead permitted waited=1001ns");
  CHECK(waited(-2ms) == "bulkhead permitted waited=-2ms");
  CHECK(waited(std::chrono::nanoseconds::max()) == "bulkhead permitted waited=max");
  // std::chrono durations themselves are still fmt's business.
  CHECK(fmt::format("{}", 1500ms) == "1500ms");
}

TEST_CASE("fmt: events and metrics take no format spec", "[fmt]") {
  resil::bulkhead_metrics m{1, 0, 1, 0};
  CHECK_THROWS_AS(fmt::format(fmt::runtime("{:>20}"), m), fmt::format_error);
  CHECK(fmt::format(fmt::runtime("{}"), m) == "max_concurrent=1 in_flight=0 available=1 waiting=0");
}

TEST_CASE("fmt: a registry's events print through a listener", "[fmt]") {
  resil::manual_clock clock;
  resil::basic_registry<resil::manual_clock> reg{{.event_log_capacity = 8}, clock};
  auto& kitchen = reg.bulkheads.get("kitchen", resil::bulkhead_options{.max_concurrent = 1});
  std::string log;
  kitchen.events().subscribe(
      [&](const resil::bulkhead_event& e) { log += fmt::format("{}\n", e); });
  {
    auto held = kitchen.try_acquire();
    (void)kitchen.try_execute([] { return 0; });
  }
  CHECK(log ==
        "bulkhead permitted waited=0s\n"
        "bulkhead rejected reason=bulkhead_full waited=0s\n");
  const auto* kept = reg.bulkheads.instance_of("kitchen")->recent_events();
  REQUIRE(kept != nullptr);
  CHECK(kept->snapshot().size() == 2);
  CHECK(fmt::format("{}", kept->snapshot()[1].event) ==
        "bulkhead rejected reason=bulkhead_full waited=0s");
}
