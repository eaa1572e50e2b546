// resil::rate_limiter: GCRA, the token-bucket equivalent, in one atomic word of state with exact
// integer time; waiting with cancellation, reservations, runtime limit changes.
// SPDX-License-Identifier: MIT
#pragma once

#include <array>
#include <atomic>
#include <cassert>
#include <chrono>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <limits>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string_view>

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
#include "detail/gcra.hpp"

namespace resil {

/**
 * Options of a `rate_limiter`: on average `permits` per `period`, in bursts of at most `burst`.
 *
 *     resil::rate_limiter limiter{{.permits = 100, .period = 1s}};               // 100/s, burst
 * 100 resil::rate_limiter smooth{{.permits = 100, .period = 1s, .burst = 1}};    // one every 10 ms
 *     resil::rate_limiter queued{{.permits = 5, .period = 1s, .max_wait = 2s}};  // execute waits
 *
 * The guarantee: in every interval of length W, at most `burst + floor(permits * W / period)`
 * permits are granted. A limiter starts full (the whole burst is available at construction).
 *
 * Defaults: 100 permits per second, burst = permits, no waiting. Invalid values make the
 * limiter's constructor throw `resil::config_error` (see `validate()`).
 */
struct rate_limiter_options {
  /// Permits per `period`: the refill rate. Must be positive, and at most one per nanosecond.
  std::uint64_t permits = 100;
  /// The period `permits` refer to. At least 1 µs.
  time_span period = std::chrono::seconds{1};
  /// Bucket capacity: the most permits granted at once after an idle spell. Unset means
  /// `permits`; 1 spreads grants evenly ("smooth"). Must be positive.
  std::optional<std::uint64_t> burst = std::nullopt;
  /// How long `execute` / `try_execute` may wait for a permit: zero rejects at once,
  /// `nanoseconds::max()` waits as long as needed. Never past the call's deadline.
  time_span max_wait = nanoseconds::zero();

  /// `burst`, or `permits` when it is unset.
  [[nodiscard]] std::uint64_t effective_burst() const noexcept { return burst.value_or(permits); }

  /// The first invalid option, if any: zero permits, a period below 1 µs, more than one permit
  /// per nanosecond, a zero burst, a burst whose refill time (`burst * period / permits`)
  /// exceeds 18 years (the fixed-point form would overflow), a negative `max_wait`.
  [[nodiscard]] std::optional<config_problem> validate() const {
    detail::config_check c{"rate_limiter_options"};
    c.require_fits(period, "period");
    c.require_fits(max_wait, "max_wait");
    c.require(permits > 0, "permits", permits, "must be positive");
    c.require(period >= std::chrono::microseconds{1}, "period", period, "must be at least 1us");
    if (c.ok()) {
      c.require(permits <= static_cast<std::uint64_t>(period.count()), "permits", permits,
                "must be at most one per nanosecond of the period");
    }
    c.require(!burst || *burst > 0, "burst", effective_burst(), "must be positive");
    if (c.ok()) {
      c.require(detail::gcra_unrepresentable(permits, period.count(), effective_burst()) == nullptr,
                "burst", effective_burst(),
                "is too large: burst * period / permits must be below 18 years");
    }
    c.require(max_wait >= nanoseconds::zero(), "max_wait", max_wait, "must not be negative");
    return std::move(c).result();
  }

  /**
   * Options for a rate given as a floating-point number of permits per second, as read from a
   * configuration file: `per_second(2.5)` is 2500 permits per 1000 s with a burst of 3 (one
   * second's worth, rounded up); a whole number `n` is n permits per second, burst n.
   * Throws `config_error` unless 0.001 <= rate <= 1e9 (NaN and infinities included).
   */
  [[nodiscard]] static rate_limiter_options per_second(double rate) {
    detail::config_check c{"rate_limiter_options::per_second"};
    c.require(rate >= 0.001 && rate <= 1e9, "rate", rate,
              "must be a number of permits per second in [0.001, 1e9]");
    detail::raise_if(std::move(c).result());
    rate_limiter_options o;
    if (rate == std::floor(rate)) {
      o.permits = static_cast<std::uint64_t>(rate);
    } else {
      o.permits = static_cast<std::uint64_t>(std::llround(rate * 1000.0));
      o.period = std::chrono::seconds{1000};
      o.burst = static_cast<std::uint64_t>(std::ceil(rate));
    }
    return o;
  }
};

/// What a rate limiter reports to its listeners.
enum class rate_limiter_event_kind : std::uint8_t {
  permitted,      ///< Permits were granted (after `waited`, when the caller waited).
  rejected,       ///< A request was refused; `retry_after` says when it could succeed.
  cancelled,      ///< A waiting caller's stop token fired; its reservation was returned.
  limit_changed,  ///< `set_limit` installed new values (`permits` holds the new rate).
};

/// The event kind's name: "permitted", "rejected", "cancelled" or "limit_changed".
[[nodiscard]] constexpr std::string_view to_string(rate_limiter_event_kind k) noexcept {
  switch (k) {
    case rate_limiter_event_kind::permitted:
      return "permitted";
    case rate_limiter_event_kind::rejected:
      return "rejected";
    case rate_limiter_event_kind::cancelled:
      return "cancelled";
    case rate_limiter_event_kind::limit_changed:
      return "limit_changed";
  }
  return "unknown";
}

/// One rate limiter event. Delivered after the state changed, outside any lock.
struct rate_limiter_event {
  rate_limiter_event_kind kind = rate_limiter_event_kind::permitted;  ///< What happened.
  /// Permits requested (for `limit_changed`: the new permits per period).
  std::uint64_t permits = 0;
  /// For `permitted`: how long the caller waited (zero for an immediate grant).
  nanoseconds waited{};
  /// For `rejected`: how long until the request could succeed (`nanoseconds::max()`: never).
  nanoseconds retry_after{};
};

/// A snapshot of a rate limiter's state and limit.
struct rate_limiter_metrics {
  /// Permits `try_acquire` could take right now (0 to burst).
  std::uint64_t available_permits = 0;
  /// Callers blocked in `acquire_for` or in `execute` waiting for their reserved time.
  std::uint64_t waiting_callers = 0;
  std::uint64_t permits = 0;  ///< The limit in force: permits per `period`,
  nanoseconds period{};       ///< its period,
  std::uint64_t burst = 0;    ///< and its burst.
};

/**
 * A rate limiter: GCRA (the generic cell rate algorithm, equivalent to a token bucket with
 * continuous refill) with `permits` per `period` and bursts of up to `burst`.
 *
 *     resil::rate_limiter limiter{{.permits = 100, .period = 1s, .burst = 20}};
 *     auto r = limiter.try_execute(call_partner_api, order);  // errc::rate_limited + retry_after
 *     if (auto p = limiter.try_acquire()) send();              // or drive it yourself
 *     auto w = limiter.acquire_for(1, 50ms, stop);             // reserve, then wait for the slot
 *
 * **The bound.** In every interval of length W, the permits granted (at the times they became
 * usable) number at most `burst + floor(permits * W / period)`, under any concurrency. Time is
 * counted in integer fixed point, so there is no drift: under saturated demand the total stays
 * within a permit of `burst + permits * elapsed / period` for as long as the clock runs.
 *
 * **Requests.** `try_acquire(n)` grants n permits now or refuses without writing anything.
 * `acquire_for(n, max_wait, stop)` reserves the earliest slot within `max_wait` and waits for it
 * through the clock (so tests on `resil::manual_clock` never sleep); a stop returns the
 * reservation. `try_reserve` reserves without waiting. A request for more than `burst` permits
 * can never succeed and is refused at once (`retry_after() == nanoseconds::max()`); n = 0 is
 * always granted and consumes nothing.
 *
 * **Permits.** A granted permit is consumed when granted: recording or dropping it changes
 * nothing, so `if (limiter.try_acquire()) ...` is correct. Only a permit from `try_reserve`
 * dropped before its `ready_at` time is returned to the limiter.
 *
 * **Cost.** One clock read and one CAS on a cache line of its own when granted; one clock read
 * and loads when refused (a refusal writes nothing). No allocation, lock or exception.
 *
 * Thread-safe. Neither copyable nor movable.
 */
template <resil::clock Clock = steady_clock>
class basic_rate_limiter : public policy_base<basic_rate_limiter<Clock>> {
 public:
  using clock_type = Clock;                       ///< The clock it reads and waits on.
  using time_point = typename Clock::time_point;  ///< A time on that clock.

  /// What a permit carries: when its permits became usable, and how many.
  struct permit_token {
    time_point ready_at{};      ///< The time the permits were granted for.
    std::uint64_t permits = 0;  ///< How many.
    std::int64_t before = 0;    ///< The state before a reservation (to return it).
    std::int64_t after = 0;     ///< The state the reservation produced.
    bool reservation = false;   ///< From `try_reserve` and still returnable.
  };
  using permit_type = permit<basic_rate_limiter>;  ///< What the `try_acquire` family returns.

  /// A limiter on a default-constructed clock. Throws `config_error` for invalid options.
  explicit basic_rate_limiter(
      const rate_limiter_options& options) requires std::default_initializable<Clock>
      : basic_rate_limiter(options, Clock{}) {}

  /// A limiter reading time from `clock`. Throws `config_error` for invalid options.
  basic_rate_limiter(const rate_limiter_options& options, Clock clock)
      : clock_(std::move(clock)), epoch_(ticks(clock_.now())) {
    detail::raise_if(options.validate());
    slots_[0].store(
        detail::make_gcra(options.permits, options.period.count(), options.effective_burst()));
    max_wait_.store(options.max_wait.count(), std::memory_order_relaxed);
  }

  basic_rate_limiter(const basic_rate_limiter&) = delete;
  basic_rate_limiter& operator=(const basic_rate_limiter&) = delete;
  /// Debug builds assert that no caller is waiting in the limiter.
  ~basic_rate_limiter() {
    assert(waiting_.load(std::memory_order_relaxed) == 0 &&
           "resil::rate_limiter destroyed while callers wait");
  }

  /// Grants `n` permits now, or refuses (nullopt) without changing anything.
  [[nodiscard]] std::optional<permit_type> try_acquire(std::uint64_t n = 1) {
    const std::int64_t t = ticks(clock_.now());
    const attempt a = n == 0 ? attempt{0, 0, t, true} : grant_now(n, t);
    if (RESIL_LIKELY(a.granted)) {
      events_.publish_with([n] { return permitted_event(n, nanoseconds::zero()); });
      return std::optional<permit_type>(std::in_place, *this, permit_token{at(t), n});
    }
    events_.publish_with([&] { return rejected_event(n, wait_from(a.before, t, n)); });
    return std::nullopt;
  }

  /**
   * Reserves `n` permits for the earliest time within `max_wait` from now, without waiting:
   * the permit's `token().ready_at` says when they may be used. Refused (nullopt, nothing
   * changed) when that time is further away. Dropping or releasing the permit before its
   * `ready_at` returns the reservation (see `acquire_for` for when it can be returned);
   * recording it, or dropping it later, keeps it used.
   */
  [[nodiscard]] std::optional<permit_type> try_reserve(std::uint64_t n, nanoseconds max_wait) {
    const std::int64_t t = ticks(clock_.now());
    if (n == 0) return std::optional<permit_type>(std::in_place, *this, permit_token{at(t), 0});
    const attempt a = reserve(n, t, latest_for(t, max_wait));
    if (!a.granted) {
      events_.publish_with([&] { return rejected_event(n, wait_from(a.before, t, n)); });
      return std::nullopt;
    }
    events_.publish_with([&] { return permitted_event(n, nanoseconds{a.ready - t}); });
    return std::optional<permit_type>(std::in_place, *this,
                                      permit_token{at(a.ready), n, a.before, a.after, a.ready > t});
  }

  /**
   * Grants `n` permits now, or reserves the earliest slot within `max_wait` and waits for it
   * through the clock. Returns the permit; `errc::rate_limited` with `retry_after()` when the
   * slot is further away than `max_wait` (or `n > burst`: never waits forever);
   * `errc::cancelled` when `stop` fires, before or during the wait.
   *
   * A cancelled wait returns its reservation: at once if no later reservation or grant was made,
   * otherwise as soon as every later reservation has been returned too. A slot that cannot be
   * returned (a later caller was granted one after it) stays consumed, delaying later callers by
   * at most n emission intervals, until its time passes.
   */
  [[nodiscard]] outcome<permit_type> acquire_for(std::uint64_t n, nanoseconds max_wait,
                                                 const std::stop_token& stop = {}) {
    const std::int64_t t = ticks(clock_.now());
    return acquire_until(n, t, latest_for(t, max_wait), stop);
  }

  /// How long until `try_acquire(n)` could succeed: zero if it would now, `nanoseconds::max()`
  /// if never (`n > burst`).
  [[nodiscard]] nanoseconds retry_after(std::uint64_t n = 1) const {
    if (n == 0) return nanoseconds::zero();
    const std::int64_t t = ticks(clock_.now());
    return wait_from(word_.load(std::memory_order_acquire), t, n);
  }

  /**
   * Changes the limit at run time without losing state: the permits available now are kept
   * (capped at the new burst), and so is any debt of waiting reservations. `burst` unset means
   * `permits`. Throws `config_error` for invalid values. The bound holds with the new values for
   * every interval that starts after the change. Waiting callers keep their reserved times.
   */
  void set_limit(std::uint64_t permits, nanoseconds period,
                 std::optional<std::uint64_t> burst = std::nullopt) {
    rate_limiter_options o = options();
    o.permits = permits;
    o.period = period;
    o.burst = burst;
    detail::raise_if(o.validate());
    const detail::gcra_params next =
        detail::make_gcra(permits, period.count(), o.effective_burst());
    {
      std::lock_guard lock(slow_mutex_);
      std::int64_t w = word_.load(std::memory_order_acquire);
      const std::int64_t gen = (w + 1) & 3;
      slots_[slot_of(gen)].store(next);
      for (;;) {
        const detail::gcra_params current = slots_[slot_of(w)].all();
        const std::int64_t tat =
            detail::gcra_convert(current, next, w >> 2, ticks(clock_.now()), epoch_);
        if (word_.compare_exchange_weak(w, tat * 4 + gen, std::memory_order_acq_rel,
                                        std::memory_order_acquire)) {
          break;
        }
      }
      hole_count_ = 0;  // reservations made under the old limit cannot be matched any more
    }
    events_.publish_with([permits] {
      rate_limiter_event e;
      e.kind = rate_limiter_event_kind::limit_changed;
      e.permits = permits;
      return e;
    });
  }

  /// Changes how long `execute` / `try_execute` wait. Throws `config_error` if negative.
  void set_max_wait(nanoseconds max_wait) {
    detail::config_check c{"rate_limiter_options"};
    c.require(max_wait >= nanoseconds::zero(), "max_wait", max_wait, "must not be negative");
    detail::raise_if(std::move(c).result());
    max_wait_.store(max_wait.count(), std::memory_order_relaxed);
  }

  /// The options in force (`burst` is always set).
  [[nodiscard]] rate_limiter_options options() const {
    const detail::gcra_params p = slots_[slot_of(word_.load(std::memory_order_acquire))].all();
    rate_limiter_options o;
    o.permits = p.permits;
    o.period = nanoseconds{p.period};
    o.burst = p.burst;
    o.max_wait = nanoseconds{max_wait_.load(std::memory_order_relaxed)};
    return o;
  }

  /// A snapshot: permits available now, waiting callers, the limit in force.
  [[nodiscard]] rate_limiter_metrics metrics() const {
    const std::int64_t t = ticks(clock_.now());
    const std::int64_t w = word_.load(std::memory_order_acquire);
    const detail::gcra_params p = slots_[slot_of(w)].all();
    rate_limiter_metrics m;
    m.available_permits = detail::gcra_available(p, w >> 2, detail::to_units(t, epoch_, p));
    m.waiting_callers = waiting_.load(std::memory_order_relaxed);
    m.permits = p.permits;
    m.period = nanoseconds{p.period};
    m.burst = p.burst;
    return m;
  }

  /// Listeners for `rate_limiter_event`s.
  [[nodiscard]] event_publisher<rate_limiter_event>& events() noexcept { return events_; }

  /// The clock the limiter reads.
  [[nodiscard]] const Clock& clock() const noexcept { return clock_; }

  /// The policy protocol: one permit per call, waiting up to `max_wait` (and never past the
  /// call's deadline); rejects with `errc::rate_limited` and the retry-after.
  template <class R, class Next>
  outcome<R> invoke(context& ctx, Next&& next) {
    const std::int64_t t = ticks(ctx.start_time(clock_));
    const attempt a = grant_now(1, t);
    if (RESIL_LIKELY(a.granted)) {
      events_.publish_with([] { return permitted_event(1, nanoseconds::zero()); });
      return next(ctx);
    }
    return admit_slowly<R>(ctx, next, t, a);
  }

 private:
  friend class permit<basic_rate_limiter>;

  // One acquisition attempt: the state word it saw, the word it wrote, and when the permits are
  // usable (ns on the clock's timeline).
  struct attempt {
    std::int64_t before;
    std::int64_t after;
    std::int64_t ready;
    bool granted;
  };

  // A reservation returned while later ones were still outstanding, kept to be returned when
  // they are (the undo must happen in reverse order of the CASes).
  struct hole {
    std::int64_t after;
    std::int64_t before;
    std::int64_t ready;
  };
  static constexpr std::size_t max_holes = 16;

  static std::int64_t ticks(time_point t) noexcept { return t.time_since_epoch().count(); }
  static time_point at(std::int64_t ns) noexcept { return time_point{nanoseconds{ns}}; }
  static std::size_t slot_of(std::int64_t w) noexcept { return static_cast<std::size_t>(w & 3); }
  static std::int64_t latest_for(std::int64_t t, nanoseconds max_wait) noexcept {
    return detail::sat_add(t, max_wait > nanoseconds::zero() ? max_wait.count() : 0);
  }
  static rate_limiter_event permitted_event(std::uint64_t n, nanoseconds waited) noexcept {
    rate_limiter_event e;
    e.permits = n;
    e.waited = waited;
    return e;
  }
  static rate_limiter_event rejected_event(std::uint64_t n, nanoseconds retry_after) noexcept {
    rate_limiter_event e;
    e.kind = rate_limiter_event_kind::rejected;
    e.permits = n;
    e.retry_after = retry_after;
    return e;
  }

  // The permit protocol: a permit is consumed when granted; only an unused reservation returns.
  void complete(const permit_token&, verdict) noexcept {}
  void release(const permit_token& token) noexcept {
    if (!token.reservation) return;
    if (ticks(clock_.now()) >= ticks(token.ready_at)) return;  // its time came: it counts
    give_back(token.before, token.after, ticks(token.ready_at));
  }

  attempt grant_now(std::uint64_t n, std::int64_t t) noexcept;
  attempt reserve(std::uint64_t n, std::int64_t t, std::int64_t latest) noexcept;
  nanoseconds wait_from(std::int64_t w, std::int64_t t, std::uint64_t n) const noexcept;
  outcome<permit_type> acquire_until(std::uint64_t n, std::int64_t t, std::int64_t latest,
                                     const std::stop_token& stop);
  void give_back(std::int64_t before, std::int64_t after, std::int64_t ready) noexcept;
  template <class R, class Next>
  outcome<R> admit_slowly(context& ctx, Next& next, std::int64_t t, const attempt& refused);

  // The state: the theoretical arrival time (TAT) in units, times 4, plus the generation (0-3)
  // of the configuration slot it is expressed in. A limit change writes the next slot and
  // converts the TAT in one CAS, so an acquirer's CAS based on an older generation fails
  // (unless it slept through a multiple of four changes and the state has the same bits again).
  alignas(detail::cache_line) std::atomic<std::int64_t> word_{detail::tat_min * 4};
  std::array<detail::gcra_slot, 4> slots_{};
  alignas(detail::cache_line) Clock clock_;
  const std::int64_t epoch_;  // unit time 0 (see detail/gcra.hpp)
  event_publisher<rate_limiter_event> events_;
  std::atomic<std::int64_t> max_wait_{0};
  std::atomic<std::uint64_t> waiting_{0};
  std::mutex slow_mutex_;  // set_limit and returning reservations; never on an acquire path
  std::array<hole, max_holes> holes_{};
  std::size_t hole_count_ = 0;
};

/// The rate limiter on `resil::steady_clock`.
using rate_limiter = basic_rate_limiter<>;

// -- implementation ---------------------------------------------------------------------------

template <resil::clock Clock>
auto basic_rate_limiter<Clock>::grant_now(std::uint64_t n, std::int64_t t) noexcept -> attempt {
  std::int64_t w = word_.load(std::memory_order_acquire);
  for (;;) {
    const detail::gcra_params p = slots_[slot_of(w)].hot();
    if (RESIL_UNLIKELY(n > p.burst)) return {w, 0, t, false};
    const std::int64_t next = detail::gcra_next(p, w >> 2, detail::to_units(t, epoch_, p), n);
    if (next == detail::gcra_refused) return {w, 0, t, false};
    const std::int64_t seen = w;
    if (word_.compare_exchange_weak(w, next * 4 + (w & 3), std::memory_order_acquire,
                                    std::memory_order_acquire)) {
      return {seen, next * 4 + (seen & 3), t, true};
    }
  }
}

template <resil::clock Clock>
auto basic_rate_limiter<Clock>::reserve(std::uint64_t n, std::int64_t t,
                                        std::int64_t latest) noexcept -> attempt {
  constexpr std::int64_t never = std::numeric_limits<std::int64_t>::max();
  std::int64_t w = word_.load(std::memory_order_acquire);
  for (;;) {
    const detail::gcra_params p = slots_[slot_of(w)].hot();
    if (n > p.burst) return {w, 0, never, false};
    const detail::unit_time now = detail::to_units(t, epoch_, p);
    const std::int64_t ready = detail::gcra_ready(p, w >> 2, t, epoch_, now, n);
    if (ready > latest) return {w, 0, ready, false};
    // Granted as if requested at `ready`, so a reservation obeys the bound like any grant.
    const std::int64_t next =
        detail::gcra_next(p, w >> 2, ready == t ? now : detail::to_units(ready, epoch_, p), n);
    if (next == detail::gcra_refused) return {w, 0, never, false};  // beyond the end of time
    const std::int64_t seen = w;
    if (word_.compare_exchange_weak(w, next * 4 + (w & 3), std::memory_order_acquire,
                                    std::memory_order_acquire)) {
      return {seen, next * 4 + (seen & 3), ready, true};
    }
  }
}

template <resil::clock Clock>
nanoseconds basic_rate_limiter<Clock>::wait_from(std::int64_t w, std::int64_t t,
                                                 std::uint64_t n) const noexcept {
  const detail::gcra_params p = slots_[slot_of(w)].hot();
  if (n > p.burst) return nanoseconds::max();
  const std::int64_t ready =
      detail::gcra_ready(p, w >> 2, t, epoch_, detail::to_units(t, epoch_, p), n);
  // A ready time at the end of time is "never", unless it is now (the clock is there itself).
  if (ready == std::numeric_limits<std::int64_t>::max() && ready != t) return nanoseconds::max();
  if (detail::gcra_next(p, w >> 2, detail::to_units(ready, epoch_, p), n) == detail::gcra_refused) {
    return nanoseconds::max();
  }
  return nanoseconds{detail::sat_sub(ready, t)};
}

template <resil::clock Clock>
auto basic_rate_limiter<Clock>::acquire_until(std::uint64_t n, std::int64_t t, std::int64_t latest,
                                              const std::stop_token& stop) -> outcome<permit_type> {
  if (stop.stop_requested()) return outcome<permit_type>::from_error(errc::cancelled);
  if (n == 0) return outcome<permit_type>(std::in_place, *this, permit_token{at(t), 0});
  const attempt a = reserve(n, t, latest);
  if (!a.granted) {
    const nanoseconds retry_in = a.ready == std::numeric_limits<std::int64_t>::max()
                                     ? nanoseconds::max()
                                     : nanoseconds{a.ready - t};
    events_.publish_with([&] { return rejected_event(n, retry_in); });
    return outcome<permit_type>::from_error(errc::rate_limited, retry_in);
  }
  if (a.ready > t) {
    // Wait for the reserved time; a stop (or an exception from the clock) returns the slot.
    struct wait_guard {
      basic_rate_limiter* self;
      const attempt* reserved;
      bool keep = false;
      ~wait_guard() {
        self->waiting_.fetch_sub(1, std::memory_order_relaxed);
        if (!keep) self->give_back(reserved->before, reserved->after, reserved->ready);
      }
    };
    wait_status status = wait_status::deadline;
    {
      waiting_.fetch_add(1, std::memory_order_relaxed);
      wait_guard guard{this, &a};
      waiter w;
      status = clock_.wait_until(w, at(a.ready), stop);
      guard.keep = status != wait_status::stopped;
    }
    if (status == wait_status::stopped) {
      events_.publish_with([n] {
        rate_limiter_event e;
        e.kind = rate_limiter_event_kind::cancelled;
        e.permits = n;
        return e;
      });
      return outcome<permit_type>::from_error(errc::cancelled);
    }
  }
  events_.publish_with([&] { return permitted_event(n, nanoseconds{a.ready - t}); });
  return outcome<permit_type>(std::in_place, *this, permit_token{at(a.ready), n});
}

template <resil::clock Clock>
void basic_rate_limiter<Clock>::give_back(std::int64_t before, std::int64_t after,
                                          std::int64_t ready) noexcept {
  std::lock_guard lock(slow_mutex_);
  std::int64_t expected = after;
  if (!word_.compare_exchange_strong(expected, before, std::memory_order_acq_rel)) {
    // Later reservations or grants exist. Keep the hole if it can still matter (its time has
    // not come), dropping holes whose time passed and, when full, the oldest.
    const std::int64_t now = ticks(clock_.now());
    std::size_t kept = 0;
    for (std::size_t i = 0; i < hole_count_; ++i) {
      if (holes_[i].ready > now) holes_[kept++] = holes_[i];
    }
    hole_count_ = kept;
    if (ready <= now) return;
    if (hole_count_ == max_holes) {
      for (std::size_t i = 1; i < max_holes; ++i) holes_[i - 1] = holes_[i];
      --hole_count_;
    }
    holes_[hole_count_++] = hole{after, before, ready};
    return;
  }
  // Returned. Earlier holes that are now last can be returned too.
  for (bool again = true; again;) {
    again = false;
    const std::int64_t w = word_.load(std::memory_order_acquire);
    for (std::size_t i = 0; i < hole_count_; ++i) {
      if (holes_[i].after != w) continue;
      std::int64_t e = w;
      if (word_.compare_exchange_strong(e, holes_[i].before, std::memory_order_acq_rel)) {
        holes_[i] = holes_[--hole_count_];
        again = true;
      }
      break;
    }
  }
}

template <resil::clock Clock>
template <class R, class Next>
outcome<R> basic_rate_limiter<Clock>::admit_slowly(context& ctx, Next& next, std::int64_t t,
                                                   const attempt& refused) {
  const std::int64_t max_wait = max_wait_.load(std::memory_order_relaxed);
  if (max_wait == 0) {
    const nanoseconds retry_in = wait_from(refused.before, t, 1);
    events_.publish_with([&] { return rejected_event(1, retry_in); });
    return outcome<R>::from_error(errc::rate_limited, retry_in);
  }
  const std::int64_t deadline = ticks(ctx.deadline(clock_));
  const std::int64_t by_wait = detail::sat_add(t, max_wait);
  auto p = acquire_until(1, t, by_wait < deadline ? by_wait : deadline, ctx.stop_token());
  if (!p.has_value()) return outcome<R>::from_error(p.error(), p.retry_after());
  return next(ctx);
}

}  // namespace resil
