// Tests for resil/policy_health.hpp: health from policy state, informational by default.
// SPDX-License-Identifier: MIT
#include <resil/policy_health.hpp>

#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>
#include <utility>

using namespace std::chrono_literals;
using resil::health_status;
using resil::manual_clock;

namespace {
std::string detail(const resil::health_result& r, const std::string& key) {
  for (const auto& [k, v] : r.details) {
    if (k == key) return v;
  }
  return "(none)";
}
}  // namespace

TEST_CASE("policy_health: a bulkhead is healthy with a free slot and degraded when saturated",
          "[policy_health]") {
  resil::basic_bulkhead<manual_clock> b{{.max_concurrent = 2}};
  auto one = b.try_acquire();
  auto r = resil::health_of(b);
  CHECK(r.status == health_status::healthy);
  CHECK(r.message == "1/2 in use, 0 waiting");
  auto two = b.try_acquire();
  r = resil::health_of(b);
  CHECK(r.status == health_status::degraded);
  CHECK(r.message == "saturated: 2/2 in use, 0 waiting");
  CHECK(detail(r, "in_flight") == "2");
  CHECK(detail(r, "max_concurrent") == "2");
  CHECK(detail(r, "waiting") == "0");
  CHECK(resil::health_of(b, {.tripped = health_status::unhealthy}).status ==
        health_status::unhealthy);
}

TEST_CASE("policy_health: a rate limiter is degraded while no permit is left", "[policy_health]") {
  manual_clock clock;
  resil::basic_rate_limiter<manual_clock> l{{.permits = 2, .period = 1s}, clock};
  CHECK(resil::health_of(l).status == health_status::healthy);
  CHECK(resil::health_of(l).message == "2/2 permits available, 0 waiting");
  CHECK(l.try_acquire(2));
  auto r = resil::health_of(l);
  CHECK(r.status == health_status::degraded);
  CHECK(r.message == "exhausted: 0/2 permits available, 0 waiting");
  CHECK(detail(r, "available_permits") == "0");
  CHECK(detail(r, "burst") == "2");
  clock.advance(500ms);  // one permit refilled
  CHECK(resil::health_of(l).status == health_status::healthy);
}

TEST_CASE(
    "policy_health: a circuit breaker is degraded while open or half-open, never unhealthy by "
    "default",
    "[policy_health]") {
  manual_clock clock;
  resil::basic_circuit_breaker<manual_clock> b{
      {.window_size = 2, .minimum_calls = 2, .open_duration = 10s, .half_open_calls = 1}, clock};
  auto r = resil::health_of(b);
  CHECK(r.status == health_status::healthy);
  CHECK(r.message == "closed");
  CHECK(detail(r, "failure_rate") == "NaN");
  for (int i = 0; i < 2; ++i) (void)b.try_execute([]() -> int { throw std::runtime_error("x"); });
  (void)b.try_execute([] { return 0; });  // refused
  r = resil::health_of(b);
  CHECK(r.status == health_status::degraded);
  CHECK(r.message == "open");
  CHECK(detail(r, "state") == "open");
  CHECK(detail(r, "failure_rate") == "1");
  CHECK(detail(r, "calls") == "2");
  CHECK(detail(r, "not_permitted") == "1");
  CHECK(resil::health_of(b, {.tripped = health_status::unhealthy}).status ==
        health_status::unhealthy);
  clock.advance(10s);
  auto probe = b.try_acquire();
  REQUIRE(probe);
  CHECK(resil::health_of(b).message == "half_open");
  CHECK(resil::health_of(b).status == health_status::degraded);
  probe->record_success();
  CHECK(resil::health_of(b).status == health_status::healthy);
  b.disable();
  CHECK(resil::health_of(b).status == health_status::healthy);
  b.force_open();
  CHECK(resil::health_of(b).status == health_status::degraded);
  b.metrics_only();
  CHECK(resil::health_of(b).status == health_status::healthy);
}

TEST_CASE("policy_health: health_check_of plugs a policy into a health registry",
          "[policy_health]") {
  manual_clock clock;
  resil::basic_bulkhead<manual_clock> b{{.max_concurrent = 1}, clock};
  resil::basic_health_registry<manual_clock> health{clock};
  health.add("bulkhead:db", resil::health_check_of(b), {.critical = false, .interval = 1s});
  health.add("bulkhead:db-strict", resil::health_check_of(b, {.tripped = health_status::unhealthy}),
             {.interval = 1s});
  CHECK(health.report().status == health_status::healthy);
  auto held = b.try_acquire();
  clock.advance(1s);
  const auto report = health.report();
  CHECK(report.checks[0].status == health_status::degraded);
  CHECK(report.checks[1].status == health_status::unhealthy);
  CHECK(report.status == health_status::unhealthy);  // the strict one is critical
}
