// resil::context: what travels with one call through a pipeline (deadline, stop token, attempt).
// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <limits>
#include <stop_token>
#include <utility>

#include "clock.hpp"
#include "time.hpp"

namespace resil {

class classifier;

/**
 * The per-call state that every policy in a pipeline shares: the call's deadline, its
 * `std::stop_token`, its attempt number, and (optionally) a per-call classifier.
 *
 * A callable that takes `resil::context&` as its first parameter receives it; others are called
 * plainly:
 *
 *     auto r = pipeline.try_execute([](resil::context& ctx, int id) {
 *       return http_get(url(id), ctx.remaining(), ctx.stop_token());   // honour the deadline
 *     }, 42);
 *
 * A caller can also start a call with a context of its own, to propagate an enclosing deadline
 * or stop token (`policy.try_execute_in(ctx, f)`).
 *
 * The first group of members is for callables; the second is the protocol policies use.
 * A context belongs to one call on one thread; it is not shared between threads.
 */
class context {
 public:
  /// A context with no deadline, no stop token, attempt 1.
  context() noexcept = default;
  /// A context whose calls stop when `st` is stopped.
  explicit context(std::stop_token st) noexcept : stop_(std::move(st)) {}

  // -- for callables ------------------------------------------------------------------------

  /// Time left until the deadline: `nanoseconds::max()` with no deadline, zero once it passed.
  [[nodiscard]] nanoseconds remaining() const noexcept {
    if (!has_deadline()) return nanoseconds::max();
    const auto left = detail::sat_sub(deadline_, deadline_clock_.now_ns(deadline_clock_.clock));
    return nanoseconds{left > 0 ? left : 0};
  }
  /// Whether some policy (a timeout) or the caller set a deadline.
  [[nodiscard]] bool has_deadline() const noexcept { return deadline_clock_.clock != nullptr; }
  /// The stop token: cooperative callables poll it or register a `std::stop_callback`.
  [[nodiscard]] const std::stop_token& stop_token() const noexcept { return stop_; }
  /// Shorthand for `stop_token().stop_requested()`.
  [[nodiscard]] bool stop_requested() const noexcept { return stop_.stop_requested(); }
  /// The attempt number: 1 for the first call, 2 for the first retry, and so on.
  [[nodiscard]] std::uint32_t attempt() const noexcept { return attempt_; }

  // -- for policies ---------------------------------------------------------------------------

  /// The time this attempt started on clock `c`, read at most once per attempt and clock and
  /// shared by every policy of the pipeline that needs it.
  template <resil::clock C>
  [[nodiscard]] typename C::time_point start_time(const C& c) noexcept {
    const void* key = detail::clock_key(c);
    if (start_key_ != key) {
      start_ = c.now().time_since_epoch().count();
      start_key_ = key;
    }
    return typename C::time_point{nanoseconds{start_}};
  }

  /// Forgets the cached start time (a retry calls this before each new attempt).
  void reset_start_time() noexcept { start_key_ = nullptr; }

  /// The deadline on clock `c`'s timeline, or `time_point::max()` when there is none.
  template <resil::clock C>
  [[nodiscard]] typename C::time_point deadline(const C& c) const noexcept {
    using tp = typename C::time_point;
    if (!has_deadline()) return tp::max();
    if (deadline_clock_.key == detail::clock_key(c)) return tp{nanoseconds{deadline_}};
    // A deadline set through another clock: carry the remaining time over.
    return saturating_add(c.now(), remaining());
  }

  /// Sets the deadline to `t` on clock `c` unless an earlier deadline is already set.
  template <resil::clock C>
  void tighten_deadline(const C& c, typename C::time_point t) noexcept {
    if (has_deadline() && deadline(c) <= t) return;
    deadline_clock_ = detail::clock_ref::of(c);
    deadline_ = t.time_since_epoch().count();
  }

  /// A saved deadline, to restore when a scope that tightened it ends.
  struct saved_deadline {
    detail::clock_ref clock;  ///< The clock the deadline was set on (none if unset).
    std::int64_t deadline;    ///< The deadline, in that clock's ticks since its epoch.
  };
  /// The current deadline, to give to `restore_deadline` later.
  [[nodiscard]] saved_deadline save_deadline() const noexcept {
    return {deadline_clock_, deadline_};
  }
  /// Puts back a deadline saved by `save_deadline` (e.g. when a timeout's scope ends).
  void restore_deadline(const saved_deadline& s) noexcept {
    deadline_clock_ = s.clock;
    deadline_ = s.deadline;
  }

  /// Replaces the stop token (a timeout installs one that fires at the deadline).
  void set_stop_token(std::stop_token st) noexcept { stop_ = std::move(st); }
  /// Sets the attempt number (a retry does, before each attempt).
  void set_attempt(std::uint32_t n) noexcept { attempt_ = n; }

  /// The per-call classifier, if the caller set one (null otherwise).
  [[nodiscard]] const classifier* classifier_override() const noexcept { return classifier_; }
  /// Makes every policy of this call classify outcomes with `c` (which must outlive the call).
  void override_classifier(const classifier* c) noexcept { classifier_ = c; }
  /// The classifier a policy should use: the per-call one if set, else the policy's own.
  [[nodiscard]] const classifier& effective_classifier(const classifier& own) const noexcept {
    return classifier_ != nullptr ? *classifier_ : own;
  }

 private:
  detail::clock_ref deadline_clock_{};
  std::int64_t deadline_ = std::numeric_limits<std::int64_t>::max();
  const void* start_key_ = nullptr;
  std::int64_t start_ = 0;
  std::stop_token stop_;
  std::uint32_t attempt_ = 1;
  const classifier* classifier_ = nullptr;
};

}  // namespace resil
