// Chaos policies: inject faults, latency, fake outcomes and side effects into a pipeline, at a
// rate, switchable at run time, optionally on a timeline of phases.
// SPDX-License-Identifier: MIT
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/clock.hpp"
#include "core/config.hpp"
#include "core/context.hpp"
#include "core/errors.hpp"
#include "core/events.hpp"
#include "core/outcome.hpp"
#include "core/policy.hpp"
#include "core/random.hpp"
#include "core/time.hpp"
#include "detail/config_check.hpp"

namespace resil {

/**
 * One phase of a chaos timeline: between `from` and `until` (measured from the policy's
 * schedule origin, by default its construction time), inject at `rate` instead of the base rate.
 *
 *     // payment fails every call from 60 s to 120 s into the run
 *     resil::chaos_fault payment_down{{.injection_rate = 0, .schedule = {{60s, 120s, 1.0}}},
 *                                     resil::errc::timeout};
 */
struct chaos_phase {
  time_span from{nanoseconds{0}};   ///< Start of the phase (inclusive).
  time_span until{nanoseconds{0}};  ///< End of the phase (exclusive).
  double rate = 1.0;                ///< Injection rate in [0, 1] during the phase.
};

/**
 * Options shared by every chaos policy. Defaults follow Polly's chaos strategies (Simmy): a
 * low injection rate, enabled.
 *
 * | option | default | meaning |
 * |---|---|---|
 * | `injection_rate` | 0.001 | probability in [0, 1] that a call is affected (outside phases) |
 * | `enabled` | true | master switch; also `set_enabled()` at run time |
 * | `seed` | 0x5EED | seed of the policy's own generator (same seed, same injections) |
 * | `schedule` | empty | phases that replace the rate between two times |
 */
struct chaos_options {
  /// Probability in [0, 1] that a call is affected (outside the schedule's phases).
  double injection_rate = 0.001;
  /// Master switch; `set_enabled()` changes it at run time.
  bool enabled = true;
  /// Seed of the policy's own generator: the same seed gives the same injections.
  std::uint64_t seed = 0x5EED;
  /// Phases that replace `injection_rate` between two times (e.g. 30 s to 50 s: rate 1).
  std::vector<chaos_phase> schedule{};

  /// The first invalid option, if any.
  [[nodiscard]] std::optional<config_problem> validate(
      std::string_view name = "chaos_options") const {
    detail::config_check c{name};
    c.require(injection_rate >= 0.0 && injection_rate <= 1.0, "injection_rate", injection_rate,
              "must be in [0, 1]");
    for (const auto& p : schedule) {
      c.require_fits(p.from, "schedule.from");
      c.require_fits(p.until, "schedule.until");
      c.require(p.rate >= 0.0 && p.rate <= 1.0, "schedule.rate", p.rate, "must be in [0, 1]");
      c.require(p.from.count() >= 0, "schedule.from", p.from, "must not be negative");
      c.require(p.until > p.from, "schedule.until", p.until, "must be after the phase's from");
    }
    return std::move(c).result();
  }
};

/// What a chaos policy did to a call (published to its listeners).
struct chaos_event {
  /// Which kind of chaos policy injected: a fault, latency, a fake outcome or a behaviour.
  enum class kind_t : std::uint8_t { fault, latency, outcome, behavior };
  kind_t kind;             ///< What was injected.
  nanoseconds latency{0};  ///< For latency injections.
  std::uint32_t attempt;   ///< The call's attempt number.
};

/// The injection's name: "fault", "latency", "outcome" or "behavior".
[[nodiscard]] constexpr std::string_view to_string(chaos_event::kind_t k) noexcept {
  switch (k) {
    case chaos_event::kind_t::fault:
      return "fault";
    case chaos_event::kind_t::latency:
      return "latency";
    case chaos_event::kind_t::outcome:
      return "outcome";
    case chaos_event::kind_t::behavior:
      return "behavior";
  }
  return "unknown";
}

namespace detail {

// The injection decision shared by all chaos policies: one relaxed load and a branch when
// disabled; otherwise the rate (from the schedule if any) against one random draw.
template <class Clock>
class chaos_switch {
 public:
  chaos_switch(const chaos_options& o, const Clock& clock)
      : clock_(clock),
        enabled_(o.enabled),
        threshold_(to_threshold(o.injection_rate)),
        origin_(clock.now().time_since_epoch().count()),
        rng_(o.seed) {
    schedule_.reserve(o.schedule.size());
    for (const auto& p : o.schedule) {
      schedule_.push_back({p.from.count(), p.until.count(), to_threshold(p.rate)});
    }
  }

  [[nodiscard]] bool should_inject(context& ctx) {
    if (RESIL_LIKELY(!enabled_.load(std::memory_order_relaxed))) return false;
    std::uint64_t threshold = threshold_.load(std::memory_order_relaxed);
    if (!schedule_.empty()) {
      const std::int64_t t = sat_sub(ctx.start_time(clock_).time_since_epoch().count(),
                                     origin_.load(std::memory_order_relaxed));
      for (const auto& p : schedule_) {
        if (t >= p.from && t < p.until) {
          threshold = p.threshold;
          break;
        }
      }
    }
    if (threshold == 0) return false;
    return threshold == always || rng_() < threshold;
  }

  void set_enabled(bool on) noexcept { enabled_.store(on, std::memory_order_relaxed); }
  [[nodiscard]] bool enabled() const noexcept { return enabled_.load(std::memory_order_relaxed); }
  void set_injection_rate(double rate) {
    detail::raise_if(chaos_options{.injection_rate = rate}.validate());
    threshold_.store(to_threshold(rate), std::memory_order_relaxed);
  }
  void restart_schedule(typename Clock::time_point origin) noexcept {
    origin_.store(origin.time_since_epoch().count(), std::memory_order_relaxed);
  }
  [[nodiscard]] const Clock& clock() const noexcept { return clock_; }

 private:
  static constexpr std::uint64_t always = ~std::uint64_t{0};

  // rate in [0, 1] → a 64-bit threshold: inject when a uniform draw is below it.
  static std::uint64_t to_threshold(double rate) noexcept {
    if (!(rate > 0.0)) return 0;
    if (rate >= 1.0) return always;
    return static_cast<std::uint64_t>(static_cast<long double>(rate) * 18446744073709551616.0L);
  }

  struct phase {
    std::int64_t from;
    std::int64_t until;
    std::uint64_t threshold;
  };

  Clock clock_;
  std::atomic<bool> enabled_;
  std::atomic<std::uint64_t> threshold_;
  std::atomic<std::int64_t> origin_;
  std::vector<phase> schedule_;
  splitmix64 rng_;
};

// Members common to every chaos policy: the switch, the listeners, the injection counter.
template <class Clock>
class chaos_base {
 public:
  /// Turns injection on or off at run time (off: one load and a branch per call).
  void set_enabled(bool on) noexcept { switch_.set_enabled(on); }
  /// Whether injection is on.
  [[nodiscard]] bool enabled() const noexcept { return switch_.enabled(); }
  /// Changes the base injection rate at run time (`config_error` outside [0, 1]).
  void set_injection_rate(double rate) { switch_.set_injection_rate(rate); }
  /// Measures the schedule's phases from `origin` from now on.
  void restart_schedule(typename Clock::time_point origin) noexcept {
    switch_.restart_schedule(origin);
  }
  /// Calls affected so far.
  [[nodiscard]] std::uint64_t injected() const noexcept {
    return injected_.load(std::memory_order_relaxed);
  }
  /// Listeners for `chaos_event`s.
  [[nodiscard]] event_publisher<chaos_event>& events() noexcept { return events_; }
  /// The clock.
  [[nodiscard]] const Clock& clock() const noexcept { return switch_.clock(); }

 protected:
  chaos_base(const chaos_options& o, const Clock& clock, std::string_view name)
      : switch_((detail::raise_if(o.validate(name)), o), clock) {}

  bool should_inject(context& ctx) { return switch_.should_inject(ctx); }
  void count(chaos_event::kind_t kind, const context& ctx, nanoseconds latency = {}) {
    injected_.fetch_add(1, std::memory_order_relaxed);
    events_.publish_with([&] { return chaos_event{kind, latency, ctx.attempt()}; });
  }

 private:
  chaos_switch<Clock> switch_;
  std::atomic<std::uint64_t> injected_{0};
  event_publisher<chaos_event> events_;
};

}  // namespace detail

/**
 * Injects a fault: at the injection rate, the call is not made and the outcome is an error code
 * (`resil::errc::timeout`, `std::errc::connection_refused`, ...) or an exception.
 *
 *     resil::chaos_fault refuse{{.injection_rate = 0.2}, std::make_error_code(
 *                                   std::errc::connection_refused)};
 *     resil::chaos_fault crash{{.injection_rate = 0.05}, std::runtime_error("pod evicted")};
 *     auto pipeline = resil::compose(retry, breaker, refuse);   // chaos innermost
 *
 * An error code costs no allocation; an exception is copied into a new `std::exception_ptr` per
 * injection. Thread-safe.
 */
template <clock Clock = steady_clock>
class basic_chaos_fault : public policy_base<basic_chaos_fault<Clock>>,
                          public detail::chaos_base<Clock> {
 public:
  /// Injects the error code `error`.
  basic_chaos_fault(const chaos_options& o, std::error_code error, const Clock& clock = Clock{})
      : detail::chaos_base<Clock>(o, clock, "chaos_fault_options"), error_(error) {
    if (!error_) {
      detail::raise_if(config_problem{"chaos_fault.error",
                                      "resil: chaos_fault.error = 0 is invalid: an "
                                      "injected fault must be an error"});
    }
  }
  /// Injects the error `e` (any error-code enum, e.g. `resil::errc::timeout`).
  template <class E>
  requires std::is_error_code_enum_v<E> basic_chaos_fault(const chaos_options& o, E e,
                                                          const Clock& clock = Clock{})
      : basic_chaos_fault(o, make_error_code(e), clock) {}
  /// Injects a copy of the exception `e`, thrown as if by the callable.
  template <class E>
  requires(std::is_base_of_v<std::exception, E> || std::is_class_v<E>) &&
      (!std::is_error_code_enum_v<E>)&&(!std::is_same_v<E, std::error_code>)&&(
          !std::is_invocable_v<E>)basic_chaos_fault(const chaos_options& o, E e,
                                                    const Clock& clock = Clock{})
      : detail::chaos_base<Clock>(o, clock, "chaos_fault_options"),
  make_exception_([e = std::move(e)] { return std::make_exception_ptr(e); }) {}
  /// Injects the exception `make()` returns (a fresh one per injection).
  template <class F>
  requires std::is_invocable_r_v<std::exception_ptr, F&> basic_chaos_fault(
      const chaos_options& o, F make, const Clock& clock = Clock{})
      : detail::chaos_base<Clock>(o, clock, "chaos_fault_options"),
        make_exception_(std::move(make)) {}

  basic_chaos_fault(const basic_chaos_fault&) = delete;
  basic_chaos_fault& operator=(const basic_chaos_fault&) = delete;

  /// The policy protocol: at the injection rate, injects; otherwise calls `next(ctx)`.
  template <class R, class Next>
  outcome<R> invoke(context& ctx, Next&& next) {
    if (RESIL_LIKELY(!this->should_inject(ctx))) return next(ctx);
    this->count(chaos_event::kind_t::fault, ctx);
    if (make_exception_) return outcome<R>::from_exception(make_exception_());
    return outcome<R>::from_error(error_);
  }

 private:
  std::error_code error_{};
  std::function<std::exception_ptr()> make_exception_{};
};

/**
 * Injects latency: at the injection rate, waits `latency` through the clock before making the
 * call. The wait honours the call's stop token (a timeout outside it fires); if stopped, the call
 * is not made and the outcome is `errc::cancelled`. On `manual_clock` and `virtual_clock` the
 * wait is simulated time.
 *
 *     resil::chaos_latency slow_kitchen{{.injection_rate = 1.0, .schedule = {{30s, 50s, 1.0}}},
 *                                       800ms};
 *
 * Thread-safe.
 */
template <clock Clock = steady_clock>
class basic_chaos_latency : public policy_base<basic_chaos_latency<Clock>>,
                            public detail::chaos_base<Clock> {
 public:
  /// Waits `latency` before the call at the injection rate. Throws `config_error` for invalid
  /// options or a negative latency.
  basic_chaos_latency(const chaos_options& o, time_span latency, const Clock& clock = Clock{})
      : detail::chaos_base<Clock>(o, clock, "chaos_latency_options"), latency_(latency) {
    detail::config_check c{"chaos_latency"};
    c.require_fits(latency, "latency");
    c.require(latency.count() >= 0, "latency", latency, "must not be negative");
    detail::raise_if(std::move(c).result());
  }
  basic_chaos_latency(const basic_chaos_latency&) = delete;
  basic_chaos_latency& operator=(const basic_chaos_latency&) = delete;

  /// The injected delay.
  [[nodiscard]] nanoseconds latency() const noexcept { return latency_; }

  /// The policy protocol: at the injection rate, injects; otherwise calls `next(ctx)`.
  template <class R, class Next>
  outcome<R> invoke(context& ctx, Next&& next) {
    if (RESIL_LIKELY(!this->should_inject(ctx))) return next(ctx);
    this->count(chaos_event::kind_t::latency, ctx, latency_);
    const auto until = saturating_add(ctx.start_time(this->clock()), latency_);
    if (!this->clock().sleep_until(until, ctx.stop_token())) {
      return outcome<R>::from_error(errc::cancelled);
    }
    ctx.reset_start_time();  // time has moved: inner policies read a fresh start time
    return next(ctx);
  }

 private:
  nanoseconds latency_;
};

/**
 * Injects a fake outcome: at the injection rate, the call is not made and `make(ctx)` (or a copy
 * of a fixed value) is returned instead, e.g. an HTTP 503 response. Typed on the value: it
 * composes only into calls returning `T` (anything else is a compile error).
 *
 *     resil::chaos_outcome<http_response> flaky{{.injection_rate = 0.1}, http_response{503}};
 *
 * Thread-safe.
 */
template <class T, clock Clock = steady_clock>
class basic_chaos_outcome : public policy_base<basic_chaos_outcome<T, Clock>>,
                            public detail::chaos_base<Clock> {
 public:
  /// Returns a copy of `value` when injecting.
  basic_chaos_outcome(const chaos_options& o, T value, const Clock& clock = Clock{})
      : detail::chaos_base<Clock>(o, clock, "chaos_outcome_options"),
        make_([v = std::move(value)](context&) { return v; }) {}
  /// Returns `make(ctx)` when injecting.
  template <class F>
  requires std::is_invocable_r_v<T, F&, context&> basic_chaos_outcome(const chaos_options& o,
                                                                      F make,
                                                                      const Clock& clock = Clock{})
      : detail::chaos_base<Clock>(o, clock, "chaos_outcome_options"), make_(std::move(make)) {}
  basic_chaos_outcome(const basic_chaos_outcome&) = delete;
  basic_chaos_outcome& operator=(const basic_chaos_outcome&) = delete;

  /// The policy protocol: at the injection rate, returns the fake outcome instead of calling
  /// `next(ctx)`.
  template <class R, class Next>
  outcome<R> invoke(context& ctx, Next&& next) {
    static_assert(std::is_same_v<std::remove_cvref_t<R>, T>,
                  "resil: a chaos_outcome<T> can only replace the result of calls returning T");
    if (RESIL_LIKELY(!this->should_inject(ctx))) return next(ctx);
    this->count(chaos_event::kind_t::outcome, ctx);
#if RESIL_HAS_EXCEPTIONS
    try {
      return outcome<R>(make_(ctx));
    } catch (...) {
      return outcome<R>::from_exception(std::current_exception());
    }
#else
    return outcome<R>(make_(ctx));
#endif
  }

 private:
  std::function<T(context&)> make_;
};

/**
 * Injects a behaviour: at the injection rate, runs `action(ctx)` (a side effect: drop a cache,
 * kill a connection, restart a fake instance) and then makes the call as usual. An exception from
 * the action becomes the call's outcome and the call is not made.
 *
 *     resil::chaos_behavior evict{{.injection_rate = 0.01},
 *                                 [&](resil::context&) { cache.clear(); }};
 *
 * Thread-safe if the action is.
 */
template <clock Clock = steady_clock>
class basic_chaos_behavior : public policy_base<basic_chaos_behavior<Clock>>,
                             public detail::chaos_base<Clock> {
 public:
  /// Runs `action(ctx)` before the call at the injection rate. Throws `config_error` for invalid
  /// options.
  template <class F>
  requires std::is_invocable_v<F&, context&> basic_chaos_behavior(const chaos_options& o, F action,
                                                                  const Clock& clock = Clock{})
      : detail::chaos_base<Clock>(o, clock, "chaos_behavior_options"), action_(std::move(action)) {}
  basic_chaos_behavior(const basic_chaos_behavior&) = delete;
  basic_chaos_behavior& operator=(const basic_chaos_behavior&) = delete;

  /// The policy protocol: at the injection rate, injects; otherwise calls `next(ctx)`.
  template <class R, class Next>
  outcome<R> invoke(context& ctx, Next&& next) {
    if (RESIL_LIKELY(!this->should_inject(ctx))) return next(ctx);
    this->count(chaos_event::kind_t::behavior, ctx);
#if RESIL_HAS_EXCEPTIONS
    try {
      action_(ctx);
    } catch (...) {
      return outcome<R>::from_exception(std::current_exception());
    }
#else
    action_(ctx);
#endif
    return next(ctx);
  }

 private:
  std::function<void(context&)> action_;
};

/// `basic_chaos_fault` on the default clock.
using chaos_fault = basic_chaos_fault<>;
/// `basic_chaos_latency` on the default clock.
using chaos_latency = basic_chaos_latency<>;
/// `basic_chaos_outcome` on the default clock.
template <class T>
using chaos_outcome = basic_chaos_outcome<T>;
/// `basic_chaos_behavior` on the default clock.
using chaos_behavior = basic_chaos_behavior<>;

}  // namespace resil
