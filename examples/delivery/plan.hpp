// THE resilience plan of the delivery system: every policy, its settings and its place, in one
// file. The services know nothing of it; the gateway and the clients apply it from the outside.
// SPDX-License-Identifier: MIT
#pragma once

#include <resil/backoff.hpp>
#include <resil/bulkhead.hpp>
#include <resil/circuit_breaker.hpp>
#include <resil/compose.hpp>
#include <resil/fallback.hpp>
#include <resil/health.hpp>
#include <resil/keyed_rate_limiter.hpp>
#include <resil/retry.hpp>
#include <resil/retry_budget.hpp>
#include <resil/timeout.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "discovery.hpp"
#include "metrics.hpp"
#include "sim.hpp"

namespace delivery {

using namespace std::chrono_literals;

/**
 * The policies on one dependency (a caller → callee edge), outermost first:
 *
 *     fallback → retry (+ budget) → circuit breaker → timeout → bulkhead → load balancer → call
 *
 * Each attempt picks an instance afresh, so a retry goes elsewhere. The fallback is per endpoint
 * (a cached menu, "payment pending") and given at the call.
 */
struct edge_plan {
  std::string name;  ///< e.g. "order->payment", for the report.
  /// Per attempt: the caller stops waiting (and the callee's queue drops the request if it has
  /// not started it).
  nanoseconds timeout = 1s;
  resil::retry_options retry{};
  resil::retry_budget_options budget{};
  resil::circuit_breaker_options breaker{};
  resil::bulkhead_options bulkhead{};
  balancer_options balancing{};
};

/// The whole plan.
struct plan {
  edge_plan gateway_user;
  edge_plan gateway_restaurant;         ///< The stable version (v1).
  edge_plan gateway_restaurant_canary;  ///< The canary (v2): its own, more sensitive breaker.
  edge_plan gateway_order;
  edge_plan order_restaurant;
  edge_plan order_payment;

  /// The notification consumers' own retry around the push provider, with its budget.
  resil::retry_options push_retry{};
  resil::retry_budget_options push_budget{};

  /// Per client (API key) at the gateway: 5 requests per second, bursts of 10.
  resil::keyed_rate_limiter_options per_client{
      .limit = {.permits = 5, .period = 1s, .burst = 10}, .max_keys = 10'000, .shards = 16};

  /// Health checks of every instance, feeding discovery (unhealthy instances are not returned).
  resil::health_check_options health{.tags = {"readiness"},
                                     .critical = true,
                                     .timeout = 1s,
                                     .interval = 5s,
                                     .unhealthy_threshold = 2,
                                     .healthy_threshold = 2,
                                     .background = true};

  /// How long fallback caches serve stale entries (menus, restaurant lists, tokens, profiles).
  nanoseconds cache_ttl = 10min;
  /// How long the order service waits before charging a "payment pending" order again.
  nanoseconds settle_retry = 10s;
};

/// What naive mode does instead: immediate retries, a fixed count, nothing else.
struct naive_plan {
  int attempts = 3;  ///< 1 call + 2 immediate retries, at every layer.
  balancer_options balancing{
      .strategy = balancing::round_robin, .ejection = {}, .healthy_only = false};
};

/// The plan's settings, edge by edge; `seed` makes every jitter reproducible.
inline plan resilient_plan(std::uint64_t seed) {
  // Breakers: over the last 20 calls (at least 10), open at 50 % failures, stay open 30 s, then
  // let 3 probes decide.
  // "No instance" is discovery's verdict, not an answer of the dependency: the breaker ignores
  // it (a half-open probe that finds no instance gives its slot back).
  const auto breaker = [](double threshold) {
    return resil::circuit_breaker_options{
        .failure_rate_threshold = threshold,
        .window_size = 20,
        .minimum_calls = 10,
        .open_duration = 30s,
        .half_open_calls = 3,
        .classify = resil::classifier{}.ignore_if_error(
            [](const std::error_code& ec) { return ec == net_errc::no_instance; })};
  };
  // Retries: exponential backoff with full jitter (so callers do not retry in lockstep), from a
  // seeded generator (so a run replays bit for bit).
  std::uint64_t stream = 100;
  const auto retry = [&](int attempts, nanoseconds base) {
    return resil::retry_options{.max_attempts = attempts,
                                .backoff = resil::backoff::exponential(base, 2.0, 2s).full_jitter(),
                                .seed = mix_seed(seed, ++stream)};
  };
  // Discovery: healthy instances only, the least busy first, and an instance failing 5 calls in
  // a row is ejected for 30 s (longer each time).
  const balancer_options balanced{.strategy = balancing::least_in_flight,
                                  .ejection = {.enabled = true,
                                               .consecutive_failures = 5,
                                               .base_ejection = 30s,
                                               .max_ejection = 300s,
                                               .max_ejected_fraction = 0.5},
                                  .healthy_only = true};
  // gRPC's retry throttling: 10 tokens, a success puts 0.1 back; retries only above half.
  const resil::retry_budget_options budget{.max_tokens = 10, .token_ratio = 0.1};

  plan p;
  p.gateway_user = {.name = "gateway->user",
                    .timeout = 300ms,
                    .retry = retry(2, 20ms),
                    .budget = budget,
                    .breaker = breaker(0.5),
                    .bulkhead = {.max_concurrent = 5, .max_wait = 50ms},
                    .balancing = balanced};
  p.gateway_restaurant = {.name = "gateway->restaurant",
                          .timeout = 600ms,
                          .retry = retry(3, 25ms),
                          .budget = budget,
                          .breaker = breaker(0.5),
                          .bulkhead = {.max_concurrent = 8, .max_wait = 50ms},
                          .balancing = balanced};
  p.gateway_restaurant_canary = {.name = "gateway->restaurant-v2",
                                 .timeout = 600ms,
                                 .retry = retry(1, 25ms),
                                 .budget = budget,
                                 .breaker = breaker(0.2),
                                 .bulkhead = {.max_concurrent = 2, .max_wait = 0ms},
                                 .balancing = balanced};
  p.gateway_order = {.name = "gateway->order",
                     .timeout = 4s,
                     .retry = retry(2, 50ms),
                     .budget = budget,
                     .breaker = breaker(0.5),
                     .bulkhead = {.max_concurrent = 3, .max_wait = 200ms},
                     .balancing = balanced};
  p.order_restaurant = {.name = "order->restaurant",
                        .timeout = 600ms,
                        .retry = retry(2, 25ms),
                        .budget = budget,
                        .breaker = breaker(0.5),
                        .bulkhead = {.max_concurrent = 4, .max_wait = 50ms},
                        .balancing = balanced};
  p.order_payment = {.name = "order->payment",
                     .timeout = 1s,
                     .retry = retry(2, 100ms),
                     .budget = budget,
                     .breaker = breaker(0.5),
                     .bulkhead = {.max_concurrent = 2, .max_wait = 100ms},
                     .balancing = balanced};
  p.push_retry = retry(5, 500ms);
  p.push_budget = budget;
  return p;
}

/// Circuit states as the report stores them: 0 closed, 1 open, 2 half-open.
[[nodiscard]] std::uint8_t state_code(resil::circuit_state s) noexcept;

/**
 * The policy objects of one edge, built from its `edge_plan`. Records breaker transitions and
 * rejections into the recorder.
 */
class edge_policies {
 public:
  edge_policies(const edge_plan& p, const sim_clock& clock, recorder& rec);
  edge_policies(const edge_policies&) = delete;
  edge_policies& operator=(const edge_policies&) = delete;

  /**
   * Runs `attempt(ctx)` inside the edge's pipeline. When it fails and `fallback()` has a value,
   * that value is the result and `degraded` is set.
   */
  template <class R, class Attempt, class Fallback>
  resil::outcome<R> run(resil::context& ctx, Attempt&& attempt, Fallback&& fallback,
                        bool& degraded) {
    auto fb = resil::fallback_to([&](const resil::outcome<R>& failed) -> resil::outcome<R> {
      if (std::optional<R> v = fallback()) {
        degraded = true;
        return std::move(*v);
      }
      return resil::outcome<R>::failure_of(failed);
    });
    return resil::compose(fb, retry_, breaker_, timeout_, bulkhead_)
        .try_execute_in(ctx, std::forward<Attempt>(attempt));
  }

  [[nodiscard]] const std::string& name() const noexcept { return plan_.name; }
  [[nodiscard]] const edge_plan& settings() const noexcept { return plan_; }
  [[nodiscard]] resil::circuit_state state() const noexcept { return breaker_.state(); }
  [[nodiscard]] const resil::basic_retry<sim_clock>& retry() const noexcept { return retry_; }
  [[nodiscard]] const resil::basic_circuit_breaker<sim_clock>& breaker() const noexcept {
    return breaker_;
  }

 private:
  edge_plan plan_;
  resil::retry_budget budget_;
  resil::basic_retry<sim_clock> retry_;
  resil::basic_circuit_breaker<sim_clock> breaker_;
  resil::basic_timeout<sim_clock> timeout_;
  resil::basic_bulkhead<sim_clock> bulkhead_;
};

}  // namespace delivery
