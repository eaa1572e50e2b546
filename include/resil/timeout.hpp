// resil::timeout: gives a call a deadline and a stop token that fires when it passes.
// SPDX-License-Identifier: MIT
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stop_token>
#include <string_view>
#include <utility>

#include "core/clock.hpp"
#include "core/config.hpp"
#include "core/context.hpp"
#include "core/errors.hpp"
#include "core/events.hpp"
#include "core/outcome.hpp"
#include "core/policy.hpp"
#include "core/time.hpp"
#include "detail/capture.hpp"
#include "detail/config_check.hpp"
#include "detail/deadline_timer.hpp"

namespace resil {

/**
 * Options of a `resil::timeout`. Default (Polly v8's):
 *
 * - `duration` = 30 s: time allowed per call; `nanoseconds::max()` means no timeout.
 *
 *     resil::timeout per_attempt{{.duration = 800ms}};
 */
struct timeout_options {
  /// Time allowed for the call, from its start (or from the attempt's start, inside a retry).
  /// Must be positive; `nanoseconds::max()` disables the timeout.
  time_span duration = std::chrono::seconds{30};

  /// The first invalid field, if any (what the constructor would throw as `config_error`).
  [[nodiscard]] std::optional<config_problem> validate() const {
    detail::config_check c{"timeout_options"};
    c.require_fits(duration, "duration");
    c.require(duration > nanoseconds::zero(), "duration", duration, "must be positive");
    return std::move(c).result();
  }
};

/// What happened in a timeout (see `timeout_event`).
enum class timeout_event_kind : std::uint8_t {
  timed_out,  ///< The call's deadline passed before it returned; its outcome became a timeout.
};

/// The event kind's name: "timed_out".
[[nodiscard]] constexpr std::string_view to_string(timeout_event_kind k) noexcept {
  switch (k) {
    case timeout_event_kind::timed_out:
      return "timed_out";
  }
  return "unknown";
}

/// An event published by a timeout to the listeners of `events()`, on the caller's thread.
struct timeout_event {
  timeout_event_kind kind;  ///< What happened.
  /// The time the call was given: `duration`, or less when an enclosing deadline was earlier.
  nanoseconds budget{};
  /// The time from the call's start until it returned (or until it was refused, when the
  /// deadline had already passed).
  nanoseconds elapsed{};
};

/**
 * A timeout: gives each call a deadline (the earlier of an enclosing deadline and start +
 * `duration`), and a `std::stop_token` in its `resil::context` that is stopped when the deadline
 * passes. A call that has not returned by its deadline is reported as `errc::timeout` (thrown as
 * `timeout_error` by `execute`).
 *
 *     resil::timeout per_attempt{{.duration = 800ms}};
 *     auto r = per_attempt.try_execute([](resil::context& ctx) {
 *       return http_get(url, ctx.remaining(), ctx.stop_token());   // cooperative
 *     });
 *
 * **Cooperative.** Synchronous C++ cannot abandon a running call, so the timeout asks it to stop:
 * the callable (and every inner policy: bulkhead and rate-limiter waits, retry delays) reads
 * `ctx.remaining()` / `ctx.stop_token()` and returns early. A callable that ignores both runs to
 * its end; the timeout then reports it as timed out, and every inner resource (a bulkhead slot)
 * stays held until it really returns.
 *
 * **Late results.** A value that arrives after the deadline is discarded and the call reports
 * `errc::timeout`, like an exception or error that arrives late: the caller asked for an answer
 * within the deadline, and retries and breakers outside see one consistent signal.
 *
 * **Placement.** Inside a retry it limits each attempt; outside, the whole call with every
 * retry (the retry also stops waiting when the stop token fires). Both can be combined; the
 * inner one never extends the outer one's deadline.
 *
 * **Cost.** A call reads the clock twice (start, shared with the pipeline; end), registers in
 * the timer under a mutex and unregisters after (an intrusive list, no allocation), and uses a
 * per-thread cached `std::stop_source` (allocated once per thread and nesting level, and again
 * only after a stop was requested on it). One timer thread per clock timeline serves every
 * timeout on it: started by the first timed call, joined when the last timeout using it is
 * destroyed. Stop callbacks registered by callables run on that thread.
 * `duration = nanoseconds::max()` costs nothing: no clock read, no timer.
 *
 * The stop token given to the callable belongs to the call: do not keep it after the call
 * returns (a later call on the same thread may reuse its stop state).
 *
 * Thread-safe. Neither copyable nor movable; calls must not outlive it.
 */
template <resil::clock Clock = steady_clock>
class basic_timeout : public policy_base<basic_timeout<Clock>> {
 public:
  using clock_type = Clock;                       ///< The clock it reads and waits on.
  using time_point = typename Clock::time_point;  ///< A time on that clock.

  /// A timeout with `options`, measured on `clock`. Throws `config_error` for invalid options.
  explicit basic_timeout(const timeout_options& options, Clock clock = Clock{})
      : duration_(checked(options).duration),
        clock_(std::move(clock)),
        timer_(duration_ == nanoseconds::max() ? nullptr : detail::shared_deadline_timer(clock_)) {}

  basic_timeout(const basic_timeout&) = delete;
  basic_timeout& operator=(const basic_timeout&) = delete;
  ~basic_timeout() = default;

  /// The time allowed per call (`nanoseconds::max()` for none).
  [[nodiscard]] nanoseconds duration() const noexcept { return duration_; }

  /// The listeners of this timeout's events.
  [[nodiscard]] event_publisher<timeout_event>& events() noexcept { return events_; }

  /// The policy protocol: runs `next` with the tightened deadline and a stop token that fires
  /// when it passes; a call still running at the deadline becomes `errc::timeout`.
  template <class R, class Next>
  outcome<R> invoke(context& ctx, Next&& next) {
    if (duration_ == nanoseconds::max()) return next(ctx);
    return detail::capture_exceptions<R>([&] { return timed<R>(ctx, next); });
  }

  /// Whether the shared timer thread has been started (false until the first timed call).
  [[nodiscard]] bool timer_started() const { return timer_ != nullptr && timer_->started(); }

 private:
  static const timeout_options& checked(const timeout_options& o) {
    detail::raise_if(o.validate());
    return o;
  }

  template <class R, class Next>
  outcome<R> timed(context& ctx, Next& next) {
    const time_point start = ctx.start_time(clock_);
    const time_point deadline = std::min(saturating_add(start, duration_), ctx.deadline(clock_));
    if (deadline <= start) return timed_out<R>(start, deadline, start);

    detail::stop_source_lease lease;
    detail::timer_entry entry;
    entry.deadline = deadline.time_since_epoch().count();
    entry.source = &lease.source();
    timer_->add(entry);

    const auto saved_deadline = ctx.save_deadline();
    std::stop_token outer = ctx.stop_token();
    ctx.tighten_deadline(clock_, deadline);
    ctx.set_stop_token(lease.source().get_token());
    outcome<R> r =
        outer.stop_possible() ? call_forwarding_stop<R>(ctx, next, outer, lease) : next(ctx);
    const bool fired = timer_->remove(entry);
    if (fired) lease.spend();
    ctx.set_stop_token(std::move(outer));
    ctx.restore_deadline(saved_deadline);

    const time_point end = clock_.now();
    if (fired || end >= deadline) return timed_out<R>(start, deadline, end);
    return r;
  }

  // A stop of the enclosing token stops this call's token too, for as long as the call runs.
  template <class R, class Next>
  static outcome<R> call_forwarding_stop(context& ctx, Next& next, const std::stop_token& outer,
                                         detail::stop_source_lease& lease) {
    const std::stop_callback forward(outer, detail::stop_forwarder{&lease.source()});
    return next(ctx);
  }

  template <class R>
  outcome<R> timed_out(time_point start, time_point deadline, time_point end) {
    events_.publish_with([&] {
      return timeout_event{timeout_event_kind::timed_out, saturating_sub(deadline, start),
                           saturating_sub(end, start)};
    });
    return outcome<R>::from_error(errc::timeout);
  }

  nanoseconds duration_;
  Clock clock_;
  std::shared_ptr<detail::deadline_timer<Clock>> timer_;
  event_publisher<timeout_event> events_;
};

/// A timeout on the default clock (`steady_clock`).
using timeout = basic_timeout<>;

}  // namespace resil
