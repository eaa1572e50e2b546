// resil::fixed_window_rate_limiter and resil::sliding_window_rate_limiter: "N per window"
// limits, for callers who want those semantics rather than a token bucket.
// SPDX-License-Identifier: MIT
#pragma once

#include <algorithm>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <limits>
#include <mutex>
#include <optional>
#include <vector>

#include "core/clock.hpp"
#include "core/config.hpp"
#include "core/context.hpp"
#include "core/errors.hpp"
#include "core/events.hpp"
#include "core/outcome.hpp"
#include "core/permit.hpp"
#include "core/policy.hpp"
#include "core/time.hpp"
#include "detail/config_check.hpp"
#include "rate_limiter.hpp"

namespace resil {

/**
 * Options of a `fixed_window_rate_limiter`: at most `limit` permits in each window of length
 * `window`, windows aligned to the clock's epoch.
 *
 *     resil::fixed_window_rate_limiter per_minute{{.limit = 1000, .window = 1min}};
 *
 * Defaults: 100 per second.
 */
struct fixed_window_rate_limiter_options {
  /// Permits per window. Must be positive.
  std::uint64_t limit = 100;
  /// The window length. At least 1 µs.
  time_span window = std::chrono::seconds{1};

  /// The first invalid option, if any: a zero limit, a window below 1 µs.
  [[nodiscard]] std::optional<config_problem> validate() const {
    detail::config_check c{"fixed_window_rate_limiter_options"};
    c.require_fits(window, "window");
    c.require(limit > 0, "limit", limit, "must be positive");
    c.require(window >= std::chrono::microseconds{1}, "window", window, "must be at least 1us");
    return std::move(c).result();
  }
};

/**
 * Options of a `sliding_window_rate_limiter`: at most `limit` permits in the last `segments`
 * segments of `window / segments` each (the current one included).
 *
 *     resil::sliding_window_rate_limiter smooth{{.limit = 1000, .window = 1min, .segments = 60}};
 *
 * Defaults: 100 per second in 10 segments of 100 ms.
 */
struct sliding_window_rate_limiter_options {
  /// Permits per window. Must be positive.
  std::uint64_t limit = 100;
  /// The window length. A whole multiple of `segments` nanoseconds, each segment at least 1 µs.
  time_span window = std::chrono::seconds{1};
  /// Segments per window: more segments, a closer approximation of a true sliding window.
  /// Between 1 (a fixed window) and 10'000.
  std::uint32_t segments = 10;

  /// The first invalid option, if any: a zero limit, a segment count outside [1, 10'000], a
  /// window that is not a whole number of segments of at least 1 µs.
  [[nodiscard]] std::optional<config_problem> validate() const {
    detail::config_check c{"sliding_window_rate_limiter_options"};
    c.require_fits(window, "window");
    c.require(limit > 0, "limit", limit, "must be positive");
    c.require(segments >= 1 && segments <= 10'000, "segments", segments,
              "must be between 1 and 10000");
    if (c.ok()) {
      c.require(window >= std::chrono::microseconds{1} * segments &&
                    window.count() % static_cast<std::int64_t>(segments) == 0,
                "window", window, "must be a whole number of segments of at least 1us");
    }
    return std::move(c).result();
  }
};

/// A snapshot of a window limiter.
struct window_rate_limiter_metrics {
  std::uint64_t available_permits = 0;  ///< Permits `try_acquire` could take right now.
  std::uint64_t limit = 0;              ///< Permits per window.
  nanoseconds window{};                 ///< The window length.
  std::uint32_t segments = 1;           ///< Segments per window (1: a fixed window).
};

/**
 * The machinery shared by `fixed_window_rate_limiter` (one segment) and
 * `sliding_window_rate_limiter`: counts per segment in a ring, under a mutex.
 *
 * A grant counts in the segment of `max(its time, the newest segment seen)`, which is also the
 * `ready_at` its permit reports: a clock reading that lost a race to a newer one (or a clock
 * going backwards) never lets an older window take more. Requests are answered at once; a
 * permit is consumed when granted. Thread-safe; neither copyable nor movable.
 */
template <resil::clock Clock>
class basic_window_rate_limiter : public policy_base<basic_window_rate_limiter<Clock>> {
 public:
  using clock_type = Clock;
  using time_point = typename Clock::time_point;

  /// What a permit carries: the time it counted at, and how many permits.
  struct permit_token {
    time_point ready_at{};
    std::uint64_t permits = 0;
  };
  using permit_type = permit<basic_window_rate_limiter>;

  basic_window_rate_limiter(const basic_window_rate_limiter&) = delete;
  basic_window_rate_limiter& operator=(const basic_window_rate_limiter&) = delete;

  /// Grants `n` permits now, or refuses (nullopt) without counting anything.
  [[nodiscard]] std::optional<permit_type> try_acquire(std::uint64_t n = 1) {
    const std::int64_t t = clock_.now().time_since_epoch().count();
    std::int64_t at = t;
    nanoseconds retry_in{};
    if (take(n, t, at, retry_in)) {
      events_.publish_with([&] { return event(rate_limiter_event_kind::permitted, n, {}); });
      return std::optional<permit_type>(std::in_place, *this, permit_token{from(at), n});
    }
    events_.publish_with([&] { return event(rate_limiter_event_kind::rejected, n, retry_in); });
    return std::nullopt;
  }

  /// How long until `try_acquire(n)` could succeed: zero if now, `nanoseconds::max()` if never
  /// (`n > limit`).
  [[nodiscard]] nanoseconds retry_after(std::uint64_t n = 1) const {
    const std::int64_t t = clock_.now().time_since_epoch().count();
    std::lock_guard lock(mutex_);
    return wait_locked(n, t);
  }

  /// Changes the permits per window at run time; the permits counted so far stay counted.
  /// Throws `config_error` if zero.
  void set_limit(std::uint64_t limit) {
    detail::config_check c{"window_rate_limiter"};
    c.require(limit > 0, "limit", limit, "must be positive");
    detail::raise_if(std::move(c).result());
    {
      std::lock_guard lock(mutex_);
      limit_ = limit;
    }
    events_.publish_with([&] { return event(rate_limiter_event_kind::limit_changed, limit, {}); });
  }

  /// A snapshot: permits available now, and the limit.
  [[nodiscard]] window_rate_limiter_metrics metrics() const {
    const std::int64_t t = clock_.now().time_since_epoch().count();
    std::lock_guard lock(mutex_);
    window_rate_limiter_metrics m;
    const std::uint64_t used = used_locked(t);
    m.available_permits = used >= limit_ ? 0 : limit_ - used;
    m.limit = limit_;
    m.window = nanoseconds{segment_ * static_cast<std::int64_t>(counts_.size())};
    m.segments = static_cast<std::uint32_t>(counts_.size());
    return m;
  }

  /// Listeners for `rate_limiter_event`s (permitted, rejected, limit_changed).
  [[nodiscard]] event_publisher<rate_limiter_event>& events() noexcept { return events_; }

  /// The policy protocol: one permit per call, or `errc::rate_limited` with the retry-after.
  template <class R, class Next>
  outcome<R> invoke(context& ctx, Next&& next) {
    const std::int64_t t = ctx.start_time(clock_).time_since_epoch().count();
    std::int64_t at = t;
    nanoseconds retry_in{};
    if (take(1, t, at, retry_in)) {
      events_.publish_with([] { return event(rate_limiter_event_kind::permitted, 1, {}); });
      return next(ctx);
    }
    events_.publish_with([&] { return event(rate_limiter_event_kind::rejected, 1, retry_in); });
    return outcome<R>::from_error(errc::rate_limited, retry_in);
  }

 protected:
  basic_window_rate_limiter(std::uint64_t limit, nanoseconds window, std::uint32_t segments,
                            Clock clock)
      : clock_(std::move(clock)),
        limit_(limit),
        segment_(window.count() / static_cast<std::int64_t>(segments)),
        counts_(segments, 0) {}

 private:
  friend class permit<basic_window_rate_limiter>;
  void complete(const permit_token&, verdict) noexcept {}
  void release(const permit_token&) noexcept {}

  static constexpr std::int64_t none = std::numeric_limits<std::int64_t>::min();

  static time_point from(std::int64_t ns) noexcept { return time_point{nanoseconds{ns}}; }
  static rate_limiter_event event(rate_limiter_event_kind kind, std::uint64_t n,
                                  nanoseconds retry_in) noexcept {
    rate_limiter_event e;
    e.kind = kind;
    e.permits = n;
    e.retry_after = retry_in;
    return e;
  }

  [[nodiscard]] std::int64_t segment_of(std::int64_t t) const noexcept {
    const std::int64_t q = t / segment_;
    return t % segment_ < 0 ? q - 1 : q;  // floor
  }
  [[nodiscard]] std::size_t slot_of(std::int64_t segment) const noexcept {
    const auto size = static_cast<std::int64_t>(counts_.size());
    return static_cast<std::size_t>(((segment % size) + size) % size);
  }

  // Moves the newest segment to `segment` (never backwards), clearing the segments that left
  // the window: O(min(steps, segments)).
  void advance_locked(std::int64_t segment) noexcept {
    if (current_ != none && segment <= current_) return;
    const auto size = static_cast<std::int64_t>(counts_.size());
    if (current_ == none || segment - current_ >= size) {
      std::fill(counts_.begin(), counts_.end(), 0);
      total_ = 0;
    } else {
      for (std::int64_t s = current_ + 1; s <= segment; ++s) {
        total_ -= counts_[slot_of(s)];
        counts_[slot_of(s)] = 0;
      }
    }
    current_ = segment;
  }

  // Permits counted in the window ending at time t, without changing anything.
  [[nodiscard]] std::uint64_t used_locked(std::int64_t t) const noexcept {
    if (current_ == none) return 0;
    const std::int64_t segment = segment_of(t);
    const auto size = static_cast<std::int64_t>(counts_.size());
    if (segment <= current_) return total_;
    if (segment - current_ >= size) return 0;
    std::uint64_t used = total_;
    for (std::int64_t s = current_ + 1; s <= segment; ++s) used -= counts_[slot_of(s)];
    return used;
  }

  [[nodiscard]] nanoseconds wait_locked(std::uint64_t n, std::int64_t t) const noexcept {
    if (n > limit_) return nanoseconds::max();
    std::uint64_t used = used_locked(t);
    if (used + n <= limit_) return nanoseconds::zero();
    // Segments leave the window oldest first; find the first segment start where enough did.
    const std::int64_t newest =
        current_ != none && segment_of(t) < current_ ? current_ : segment_of(t);
    const auto size = static_cast<std::int64_t>(counts_.size());
    for (std::int64_t k = 1; k <= size; ++k) {
      const std::int64_t leaving = newest - size + k;
      if (current_ != none && leaving <= current_ && leaving > current_ - size) {
        used -= counts_[slot_of(leaving)];
      }
      if (used + n <= limit_) {
        const std::int64_t start =
            (newest + k) > std::numeric_limits<std::int64_t>::max() / segment_
                ? std::numeric_limits<std::int64_t>::max()
                : (newest + k) * segment_;
        return nanoseconds{detail::sat_sub(start, t)};
      }
    }
    return nanoseconds::max();  // unreachable: after a whole window everything has left
  }

  bool take(std::uint64_t n, std::int64_t t, std::int64_t& at, nanoseconds& retry_in) {
    std::lock_guard lock(mutex_);
    advance_locked(segment_of(t));
    if (n > limit_) {
      retry_in = nanoseconds::max();
      return false;
    }
    if (total_ + n > limit_) {
      retry_in = wait_locked(n, t);
      return false;
    }
    counts_[slot_of(current_)] += n;
    total_ += n;
    // Counted in the newest segment: report that segment's time if t is older.
    // (The lowest segment's start may not be representable; t is in that segment then.)
    const std::int64_t start =
        current_ < std::numeric_limits<std::int64_t>::min() / segment_ ? t : current_ * segment_;
    at = t < start ? start : t;
    return true;
  }

  Clock clock_;
  mutable std::mutex mutex_;
  std::uint64_t limit_;
  std::int64_t segment_;  // segment length, ns
  std::vector<std::uint64_t> counts_;
  std::int64_t current_ = none;  // newest segment seen
  std::uint64_t total_ = 0;      // sum of counts_
  event_publisher<rate_limiter_event> events_;
};

/**
 * At most `limit` permits per window of length `window`, windows aligned to the clock's epoch
 * (Resilience4j's and failsafe-go's "bursty" limiter; .NET's `FixedWindowRateLimiter`).
 *
 *     resil::fixed_window_rate_limiter api{{.limit = 1000, .window = 1min}};
 *     auto r = api.try_execute(call);   // errc::rate_limited + retry_after (the next window)
 *
 * **The bound.** Each aligned window holds at most `limit` grants; an arbitrary interval of
 * length X holds at most `limit * (ceil(X / window) + 1)`, so up to `2 * limit` in a window's
 * length straddling a boundary. Prefer `rate_limiter` when that matters.
 *
 * Cost: a clock read and a mutex per request. Thread-safe; neither copyable nor movable.
 */
template <resil::clock Clock = steady_clock>
class basic_fixed_window_rate_limiter : public basic_window_rate_limiter<Clock> {
 public:
  /// A limiter on a default-constructed clock. Throws `config_error` for invalid options.
  explicit basic_fixed_window_rate_limiter(
      const fixed_window_rate_limiter_options& options) requires std::default_initializable<Clock>
      : basic_fixed_window_rate_limiter(options, Clock{}) {}
  /// A limiter reading time from `clock`. Throws `config_error` for invalid options.
  basic_fixed_window_rate_limiter(const fixed_window_rate_limiter_options& options, Clock clock)
      : basic_window_rate_limiter<Clock>(checked(options).limit, options.window, 1,
                                         std::move(clock)) {}

 private:
  static const fixed_window_rate_limiter_options& checked(
      const fixed_window_rate_limiter_options& o) {
    detail::raise_if(o.validate());
    return o;
  }
};

/**
 * At most `limit` permits in the last `segments` segments of `window / segments` each, the
 * current one included (.NET's `SlidingWindowRateLimiter`): a fixed window that slides a segment
 * at a time.
 *
 *     resil::sliding_window_rate_limiter api{{.limit = 1000, .window = 1min, .segments = 60}};
 *
 * **The bound.** Any `segments` consecutive segments hold at most `limit` grants, so any
 * interval of length `window - window / segments` holds at most `limit`; an arbitrary interval
 * of length X holds at most `limit * ceil((ceil(X * segments / window) + 1) / segments)`, i.e.
 * up to `2 * limit` in an interval of exactly one window. More segments, closer to a true
 * sliding window; `rate_limiter` gives the tight bound with O(1) state.
 *
 * Cost: a clock read and a mutex per request; a clock jump costs O(segments) once.
 * Thread-safe; neither copyable nor movable.
 */
template <resil::clock Clock = steady_clock>
class basic_sliding_window_rate_limiter : public basic_window_rate_limiter<Clock> {
 public:
  /// A limiter on a default-constructed clock. Throws `config_error` for invalid options.
  explicit basic_sliding_window_rate_limiter(
      const sliding_window_rate_limiter_options& options) requires std::default_initializable<Clock>
      : basic_sliding_window_rate_limiter(options, Clock{}) {}
  /// A limiter reading time from `clock`. Throws `config_error` for invalid options.
  basic_sliding_window_rate_limiter(const sliding_window_rate_limiter_options& options, Clock clock)
      : basic_window_rate_limiter<Clock>(checked(options).limit, options.window, options.segments,
                                         std::move(clock)) {}

 private:
  static const sliding_window_rate_limiter_options& checked(
      const sliding_window_rate_limiter_options& o) {
    detail::raise_if(o.validate());
    return o;
  }
};

/// The fixed-window limiter on `resil::steady_clock`.
using fixed_window_rate_limiter = basic_fixed_window_rate_limiter<>;
/// The sliding-window limiter on `resil::steady_clock`.
using sliding_window_rate_limiter = basic_sliding_window_rate_limiter<>;

}  // namespace resil
