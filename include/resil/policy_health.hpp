// Built-in health checks from policy state: an open circuit breaker, a saturated bulkhead, an
// exhausted rate limiter. Informational by default (degraded, never unhealthy).
// SPDX-License-Identifier: MIT
#pragma once

#include <cmath>
#include <string>
#include <utility>

#include "bulkhead.hpp"
#include "circuit_breaker.hpp"
#include "core/clock.hpp"
#include "detail/config_check.hpp"
#include "health.hpp"
#include "rate_limiter.hpp"

namespace resil {

/**
 * How a policy's state maps to health. A policy is *tripped* when it is refusing calls because
 * of its own state: a circuit breaker open, forced open or half-open (probing), a bulkhead with
 * no free slot, a rate limiter with no permit left.
 *
 * | option | default | meaning |
 * |---|---|---|
 * | `tripped` | `degraded` | the status of a tripped policy (`unhealthy` to let it fail readiness)
 * |
 *
 * A tripped policy says a *dependency* is overloaded or failing, not that this service is: keep
 * it `degraded` unless the service is useless without that dependency (Spinnaker Echo's breaker
 * took the whole service out of rotation for a telemetry outage).
 */
struct policy_health_options {
  /// The status reported while the policy is tripped.
  health_status tripped = health_status::degraded;
};

/**
 * The health of a circuit breaker: tripped while open, forced open or half-open; healthy while
 * closed, disabled or metrics-only. The message is the state's name; details `state`,
 * `failure_rate`, `slow_call_rate` (fractions, "NaN" with no calls), `calls`, `not_permitted`.
 * Thread-safe (reads `metrics()`).
 */
template <clock Clock>
[[nodiscard]] health_result health_of(const basic_circuit_breaker<Clock>& b,
                                      const policy_health_options& o = {}) {
  const circuit_breaker_metrics m = b.metrics();
  const bool tripped = m.state == circuit_state::open || m.state == circuit_state::forced_open ||
                       m.state == circuit_state::half_open;
  const auto rate = [](double r) {
    return std::isnan(r) ? std::string("NaN") : detail::format_number(r);
  };
  health_result r{
      tripped ? o.tripped : health_status::healthy, std::string(to_string(m.state)), {}};
  return std::move(r)
      .with("state", std::string(to_string(m.state)))
      .with("failure_rate", rate(m.failure_rate))
      .with("slow_call_rate", rate(m.slow_call_rate))
      .with("calls", std::to_string(m.calls))
      .with("not_permitted", std::to_string(m.not_permitted));
}

/**
 * The health of a bulkhead: tripped while no slot is free, healthy otherwise. The message says
 * how many slots are in use ("8/8 in use, 3 waiting"); details `in_flight`, `max_concurrent`,
 * `waiting`. Thread-safe (reads `metrics()`).
 */
template <clock Clock>
[[nodiscard]] health_result health_of(const basic_bulkhead<Clock>& b,
                                      const policy_health_options& o = {}) {
  const bulkhead_metrics m = b.metrics();
  std::string message = std::to_string(m.in_flight) + "/" + std::to_string(m.max_concurrent) +
                        " in use, " + std::to_string(m.waiting) + " waiting";
  health_result r{m.available == 0 ? o.tripped : health_status::healthy,
                  m.available == 0 ? "saturated: " + message : message,
                  {}};
  return std::move(r)
      .with("in_flight", std::to_string(m.in_flight))
      .with("max_concurrent", std::to_string(m.max_concurrent))
      .with("waiting", std::to_string(m.waiting));
}

/**
 * The health of a rate limiter: tripped while no permit is available, healthy otherwise. The
 * message says how many are ("12/100 permits available"); details `available_permits`, `burst`,
 * `waiting`. Thread-safe (reads `metrics()`, one clock read).
 */
template <clock Clock>
[[nodiscard]] health_result health_of(const basic_rate_limiter<Clock>& l,
                                      const policy_health_options& o = {}) {
  const rate_limiter_metrics m = l.metrics();
  std::string message = std::to_string(m.available_permits) + "/" + std::to_string(m.burst) +
                        " permits available, " + std::to_string(m.waiting_callers) + " waiting";
  health_result r{m.available_permits == 0 ? o.tripped : health_status::healthy,
                  m.available_permits == 0 ? "exhausted: " + message : message,
                  {}};
  return std::move(r)
      .with("available_permits", std::to_string(m.available_permits))
      .with("burst", std::to_string(m.burst))
      .with("waiting", std::to_string(m.waiting_callers));
}

/**
 * A health check of one policy, for `health_registry::add`: calls `health_of(policy, o)` on
 * every run. Holds the policy by reference: remove the check before destroying the policy.
 *
 *     health.add("bulkhead:payment", resil::health_check_of(payment_bulkhead),
 *                {.critical = false});
 */
template <class Policy>
requires requires(const Policy& p, const policy_health_options& o) {
  health_of(p, o);
}
[[nodiscard]] auto health_check_of(const Policy& policy, policy_health_options o = {}) {
  return [&policy, o] { return health_of(policy, o); };
}

namespace detail {

// The health of many named policies (registry instances: `name()` and `policy()`): the worst
// status, the names of those not healthy in the message, each one's message in the details.
template <class Instances>
health_result aggregate_health(const Instances& instances, const policy_health_options& o) {
  health_result out = health_result::healthy();
  for (const auto& i : instances) {
    health_result r = health_of(i.policy(), o);
    if (health_rank(r.status) > health_rank(out.status)) out.status = r.status;
    if (r.status != health_status::healthy) {
      out.message += (out.message.empty() ? "" : ", ") + i.name();
    }
    out.details.emplace_back(i.name(), std::move(r.message));
  }
  return out;
}

}  // namespace detail
}  // namespace resil
