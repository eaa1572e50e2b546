// What resil::basic_registry needs to know about each kind of policy it holds: its options and
// event types, how it is built, and how its events are counted. Not API.
// SPDX-License-Identifier: MIT
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "../bulkhead.hpp"
#include "../circuit_breaker.hpp"
#include "../core/clock.hpp"
#include "../core/config.hpp"
#include "../keyed_rate_limiter.hpp"
#include "../rate_limiter.hpp"
#include "../retry.hpp"
#include "../retry_budget.hpp"
#include "../timeout.hpp"

namespace resil {

namespace detail {

// The counters behind `resil::call_counts` (registry.hpp). Written from listeners only, so plain
// relaxed increments on one line are enough (a listener already costs more than the increment).
struct call_counters {
  std::atomic<std::uint64_t> successful{0};
  std::atomic<std::uint64_t> failed{0};
  std::atomic<std::uint64_t> ignored{0};
  std::atomic<std::uint64_t> successful_without_retry{0};
  std::atomic<std::uint64_t> permitted{0};
  std::atomic<std::uint64_t> rejected{0};
  std::atomic<std::uint64_t> timed_out{0};

  static void bump(std::atomic<std::uint64_t>& c) noexcept {
    c.fetch_add(1, std::memory_order_relaxed);
  }

  void count(const circuit_breaker_event& e) noexcept {
    using kind = circuit_breaker_event::kind_t;
    if (e.kind == kind::success) bump(successful);
    if (e.kind == kind::failure) bump(failed);
    if (e.kind == kind::ignored) bump(ignored);
  }
  void count(const retry_event& e) noexcept {
    if (e.kind == retry_event_kind::succeeded && e.attempt == 1) bump(successful_without_retry);
  }
  void count(const rate_limiter_event& e) noexcept {
    if (e.kind == rate_limiter_event_kind::permitted) bump(permitted);
    if (e.kind == rate_limiter_event_kind::rejected) bump(rejected);
  }
  template <class Key>
  void count(const keyed_rate_limiter_event<Key>& e) noexcept {
    if (e.kind == keyed_rate_limiter_event_kind::permitted) bump(permitted);
    if (e.kind == keyed_rate_limiter_event_kind::rejected) bump(rejected);
  }
  void count(const bulkhead_event& e) noexcept {
    if (e.kind == bulkhead_event_kind::permitted) bump(permitted);
    if (e.kind == bulkhead_event_kind::rejected) bump(rejected);
  }
  void count(const timeout_event& e) noexcept {
    if (e.kind == timeout_event_kind::timed_out) bump(timed_out);
  }
};

/*
 * Per kind: `options` and `event` (void: publishes none), whether its events may be kept in an
 * event_log (not when they point into the policy, like a keyed limiter's key), and the name of
 * its table for error messages.
 */
template <class Policy>
struct registry_traits;

template <class Clock>
struct registry_traits<basic_circuit_breaker<Clock>> {
  using options = circuit_breaker_options;
  using event = circuit_breaker_event;
  static constexpr bool loggable = true;
  static constexpr std::string_view table = "registry.circuit_breakers";
};

template <class Clock>
struct registry_traits<basic_retry<Clock>> {
  using options = retry_options;
  using event = retry_event;
  static constexpr bool loggable = true;
  static constexpr std::string_view table = "registry.retries";
};

template <class Clock>
struct registry_traits<basic_rate_limiter<Clock>> {
  using options = rate_limiter_options;
  using event = rate_limiter_event;
  static constexpr bool loggable = true;
  static constexpr std::string_view table = "registry.rate_limiters";
};

template <class Clock>
struct registry_traits<basic_keyed_rate_limiter<std::string, Clock>> {
  using options = keyed_rate_limiter_options;
  using event = keyed_rate_limiter_event<std::string>;
  static constexpr bool loggable = false;  // the event's key pointer dies with the call
  static constexpr std::string_view table = "registry.keyed_rate_limiters";
};

template <class Clock>
struct registry_traits<basic_bulkhead<Clock>> {
  using options = bulkhead_options;
  using event = bulkhead_event;
  static constexpr bool loggable = true;
  static constexpr std::string_view table = "registry.bulkheads";
};

template <class Clock>
struct registry_traits<basic_timeout<Clock>> {
  using options = timeout_options;
  using event = timeout_event;
  static constexpr bool loggable = true;
  static constexpr std::string_view table = "registry.timeouts";
};

template <>
struct registry_traits<retry_budget> {
  using options = retry_budget_options;
  using event = void;
  static constexpr bool loggable = false;
  static constexpr std::string_view table = "registry.retry_budgets";
};

// Builds a policy on the registry's clock (a retry budget has none).
template <class Policy, class Options, class Clock>
std::unique_ptr<Policy> make_policy(const Options& options, const Clock& clock) {
  if constexpr (std::is_constructible_v<Policy, const Options&, Clock>) {
    return std::make_unique<Policy>(options, clock);
  } else {
    return std::make_unique<Policy>(options);
  }
}

}  // namespace detail
}  // namespace resil
