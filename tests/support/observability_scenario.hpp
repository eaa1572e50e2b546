// A fixed scenario on a manual clock, rendered as Prometheus text: the golden-output test and the
// promtool check both use it.
// SPDX-License-Identifier: MIT
#pragma once

#include <resil/prometheus.hpp>

#include <chrono>
#include <stdexcept>
#include <string>

namespace resil_test {

/// A registry with one instance of every kind, some traffic on a manual clock, and a health
/// report; returns `render_prometheus(registry, report)`.
inline std::string observability_scenario(bool count_calls = true) {
  using namespace std::chrono_literals;
  resil::manual_clock clock;
  resil::basic_registry<resil::manual_clock> reg{{.count_calls = count_calls}, clock};

  // A breaker opened by two failures in four calls, then refusing one call; another still below
  // its minimum number of calls (its ratios are NaN).
  reg.circuit_breakers.add_config(
      "default",
      {.window_size = 4, .minimum_calls = 4, .open_duration = 10s, .half_open_calls = 2});
  auto& payment = reg.circuit_breaker("payment");
  for (const bool ok : {true, false, true, false}) {
    (void)payment.try_execute([ok]() -> int {
      if (!ok) throw std::runtime_error("payment down");
      return 0;
    });
  }
  (void)payment.try_execute([] { return 0; });
  clock.advance(4s);
  (void)reg.circuit_breaker("search").try_execute([] { return 0; });

  // A retry: one call succeeds at once, one after a retry, one fails three times.
  reg.retries.add_config("default",
                         {.max_attempts = 3, .backoff = resil::backoff::constant(100ms)});
  auto& inventory = reg.retry("inventory");
  (void)inventory.try_execute([] { return 1; });
  int flaky = 1;
  (void)inventory.try_execute([&]() -> int {
    if (flaky-- > 0) throw std::runtime_error("flaky");
    return 2;
  });
  (void)inventory.try_execute([]() -> int { throw std::runtime_error("down"); });

  // A timeout: one call overruns its second.
  reg.timeouts.add_config("pricing", {.duration = 1s});
  auto& pricing = reg.timeout("pricing");
  (void)pricing.try_execute([&] {
    clock.advance(2s);
    return 0;
  });

  // A keyed limiter: a client asks three times with a burst of two.
  reg.keyed_rate_limiters.add_config("per-client", {.limit = {.permits = 2, .period = 1s}});
  auto& per_client = reg.keyed_rate_limiter("per-client");
  for (int i = 0; i < 3; ++i) (void)per_client.try_acquire(std::string("10.0.0.1"));

  // A limiter with three of its ten permits taken.
  reg.rate_limiters.add_config("partner-api", {.permits = 10, .period = 1s});
  auto& partner = reg.rate_limiter("partner-api");
  for (int i = 0; i < 3; ++i) (void)partner.try_acquire();

  // A retry budget whose name needs escaping, one failure in.
  (void)reg.retry_budget("shared \"budget\" \\ v1\n").record_failure();

  // A bulkhead with both slots held and one call turned away.
  reg.bulkheads.add_config("kitchen", {.max_concurrent = 2});
  auto& kitchen = reg.bulkhead("kitchen");
  auto first = kitchen.try_acquire();
  auto second = kitchen.try_acquire();
  (void)kitchen.try_execute([] { return 0; });

  resil::basic_health_registry<resil::manual_clock> health{clock};
  reg.register_health_checks(health);
  health.add("database", [] { return resil::health_result::unhealthy("connection refused"); });
  return resil::render_prometheus(reg, health.report());
}

}  // namespace resil_test
