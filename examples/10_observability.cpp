// Observability: a registry owns the named policies of each dependency, counts their calls, and
// renders everything as Prometheus text for a /metrics endpoint, health checks included.
//
//   reg.retry("inventory") --> reg.circuit_breaker("inventory") --> reg.bulkhead("inventory")
//        |                          |                                   |      --> fetch_stock()
//        +--------------------------+---- render_prometheus(reg, health) ----> GET /metrics
#include <resil/resil.hpp>

#include <cstdio>
#include <stdexcept>

using namespace std::chrono_literals;

int main() {
  resil::manual_clock clock;  // a real service uses the default clock
  resil::basic_registry<resil::manual_clock> reg{{.count_calls = true}, clock};
  reg.retries.add_config("default", {.max_attempts = 3, .backoff = resil::backoff::constant(50ms)});
  reg.circuit_breakers.add_config("default", {.window_size = 20, .minimum_calls = 4});
  reg.bulkheads.add_config("inventory", {.max_concurrent = 4});

  auto inventory = resil::compose(reg.retry("inventory"), reg.circuit_breaker("inventory"),
                                  reg.bulkhead("inventory"));
  int call = 0;
  const auto fetch_stock = [&]() -> int {
    if (++call % 3 == 0) throw std::runtime_error("inventory timed out");  // every third fails
    return 42;
  };
  for (int i = 0; i < 4; ++i) (void)inventory.try_execute(fetch_stock);

  resil::basic_health_registry<resil::manual_clock> health{clock};
  reg.register_health_checks(health);  // informational: degraded at worst
  std::fputs(resil::render_prometheus(reg, health.report()).c_str(), stdout);
}
// Output:
//   # HELP resil_circuitbreaker_state 1 for the breaker's state, 0 for the others.
//   # TYPE resil_circuitbreaker_state gauge
//   resil_circuitbreaker_state{name="inventory",state="closed"} 1
//   resil_circuitbreaker_state{name="inventory",state="open"} 0
//   ...
//   resil_circuitbreaker_calls_total{name="inventory",kind="successful"} 4
//   resil_circuitbreaker_calls_total{name="inventory",kind="failed"} 1
//   ...
//   resil_circuitbreaker_failure_ratio{name="inventory"} 0.2
//   ...
//   resil_retry_calls_total{name="inventory",kind="successful_without_retry"} 3
//   resil_retry_calls_total{name="inventory",kind="successful_with_retry"} 1
//   resil_retry_calls_total{name="inventory",kind="failed_without_retry"} 0
//   resil_retry_calls_total{name="inventory",kind="failed_with_retry"} 0
//   # HELP resil_retry_attempts_total Retry attempts made (first attempts not included).
//   # TYPE resil_retry_attempts_total counter
//   resil_retry_attempts_total{name="inventory"} 1
//   ...
//   resil_bulkhead_calls_total{name="inventory",kind="permitted"} 5
//   resil_bulkhead_calls_total{name="inventory",kind="rejected"} 0
//   # HELP resil_health_status 1 for the check's status, 0 for the others.
//   # TYPE resil_health_status gauge
//   resil_health_status{check="circuit_breakers",status="healthy"} 1
//   ...
