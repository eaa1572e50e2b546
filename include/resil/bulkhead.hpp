// resil::bulkhead: at most N calls run at once; the others wait in line (FIFO) or are rejected.
// SPDX-License-Identifier: MIT
#pragma once

#include <atomic>
#include <cassert>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string_view>
#include <system_error>
#include <utility>

#include "core/clock.hpp"
#include "core/config.hpp"
#include "core/context.hpp"
#include "core/errors.hpp"
#include "core/events.hpp"
#include "core/outcome.hpp"
#include "core/permit.hpp"
#include "core/policy.hpp"
#include "core/time.hpp"
#include "detail/capture.hpp"
#include "detail/config_check.hpp"

namespace resil {

/**
 * Options of a `resil::bulkhead`. Defaults (Resilience4j's semaphore bulkhead):
 *
 * - `max_concurrent` = 25: calls allowed to run at once, 1 to 2³¹−1;
 * - `max_wait` = 0: how long a call may wait for a slot; 0 rejects at once,
 *   `nanoseconds::max()` waits without limit.
 *
 *     resil::bulkhead kitchen{{.max_concurrent = 8, .max_wait = 50ms}};
 */
struct bulkhead_options {
  /// The largest accepted `max_concurrent`.
  static constexpr std::int64_t max_concurrent_limit = 0x7fff'ffff;

  /// Calls allowed to run at once.
  std::int64_t max_concurrent = 25;
  /// How long a call may wait for a free slot (in FIFO order) before it is rejected with
  /// `errc::bulkhead_full`. Zero rejects at once; `nanoseconds::max()` waits without limit (still
  /// bounded by the call's deadline and stop token). Negative values are invalid.
  time_span max_wait = nanoseconds::zero();

  /// The first invalid field, if any (what the constructor would throw as `config_error`).
  [[nodiscard]] std::optional<config_problem> validate() const {
    detail::config_check c{"bulkhead_options"};
    c.require_fits(max_wait, "max_wait");
    c.require(max_concurrent >= 1, "max_concurrent", max_concurrent, "must be at least 1");
    c.require(max_concurrent <= max_concurrent_limit, "max_concurrent", max_concurrent,
              "must be at most 2147483647");
    c.require(max_wait >= nanoseconds::zero(), "max_wait", max_wait, "must not be negative");
    return std::move(c).result();
  }
};

/// What happened in a bulkhead (see `bulkhead_event`).
enum class bulkhead_event_kind : std::uint8_t {
  permitted,  ///< A call got a slot, at once or after waiting.
  rejected,   ///< A call got no slot: none freed within `max_wait` (or its deadline), or its stop
              ///< token fired while it waited.
  finished,   ///< A call that held a slot completed and gave the slot back.
};

/// The event kind's name: "permitted", "rejected" or "finished".
[[nodiscard]] constexpr std::string_view to_string(bulkhead_event_kind k) noexcept {
  switch (k) {
    case bulkhead_event_kind::permitted:
      return "permitted";
    case bulkhead_event_kind::rejected:
      return "rejected";
    case bulkhead_event_kind::finished:
      return "finished";
  }
  return "unknown";
}

/**
 * An event published by a bulkhead to the listeners of `events()`. A permit dropped without
 * being recorded (the call was abandoned) gives its slot back without a `finished` event.
 */
struct bulkhead_event {
  bulkhead_event_kind kind;  ///< What happened.
  /// For `rejected`: `errc::bulkhead_full`, or `errc::cancelled` when the stop token fired.
  std::error_code reason{};
  /// How long the call waited for its slot (zero when it did not wait).
  nanoseconds waited{};
};

/// A consistent snapshot of a bulkhead (all fields read at one instant).
struct bulkhead_metrics {
  std::int64_t max_concurrent;  ///< The current limit.
  std::int64_t in_flight;       ///< Slots held right now (may exceed the limit after a shrink).
  std::int64_t available;       ///< Free slots: `max(0, max_concurrent - in_flight)`.
  std::int64_t waiting;         ///< Callers waiting in line for a slot.
};

/**
 * A bulkhead: isolates a dependency by letting at most `max_concurrent` calls run at once, so a
 * slow dependency cannot take every thread of the process with it.
 *
 *     resil::bulkhead kitchen{{.max_concurrent = 8, .max_wait = 50ms}};
 *     auto r = kitchen.try_execute(cook, order);        // outcome<meal>, never throws
 *     if (r.error() == resil::errc::bulkhead_full) shed_load();
 *
 * Guarantees:
 * - calls holding a slot never exceed `max_concurrent` at any instant (after a runtime shrink,
 *   calls already running drain, and no new slot is granted above the new limit);
 * - every slot is given back exactly once, on every path (value, exception, rejection further in,
 *   cancellation); a release cannot raise the capacity;
 * - waiters are served **first come, first served**: while anybody waits, a new caller never
 *   overtakes them (no barging), and a freed slot is handed directly to the oldest waiter;
 * - a waiter that timed out or was cancelled has left the line and never receives a slot later.
 *
 * Cost: a free slot with nobody waiting is one atomic compare-and-swap in and one atomic
 * subtraction out, with no clock read, no lock and no allocation. Only a caller that has to
 * wait reads the clock and takes the (waiter-queue) mutex.
 *
 * Waiting goes through the clock (`Clock::wait_until`), until the earliest of `max_wait`, the
 * call's deadline (`context::deadline`, e.g. set by a timeout) and its stop token.
 *
 * State object API (permit protocol): `try_acquire()`, `acquire_for(d, stop)`,
 * `acquire_until(t, stop)` return a `resil::permit`; `record_success()` (or any `record`) gives
 * the slot back and publishes `finished`, dropping it gives the slot back silently.
 *
 * Thread-safe. Neither copyable nor movable. Destroying a bulkhead while slots are held or
 * callers wait is a precondition violation (asserted in debug builds).
 */
template <resil::clock Clock = steady_clock>
class basic_bulkhead : public policy_base<basic_bulkhead<Clock>> {
 public:
  using clock_type = Clock;                       ///< The clock it reads and waits on.
  using time_point = typename Clock::time_point;  ///< A time on that clock.
  /// A bulkhead permit carries nothing: all slots are alike.
  struct permit_token {};
  using permit_type = permit<basic_bulkhead>;  ///< What `try_acquire` and `acquire_for` return.

  /// A bulkhead with `options`, waiting on `clock`. Throws `config_error` for invalid options.
  explicit basic_bulkhead(const bulkhead_options& options, Clock clock = Clock{})
      : max_(checked(options).max_concurrent),
        max_wait_(options.max_wait),
        clock_(std::move(clock)) {}

  basic_bulkhead(const basic_bulkhead&) = delete;
  basic_bulkhead& operator=(const basic_bulkhead&) = delete;
  ~basic_bulkhead() {
    assert(state_.load(std::memory_order_relaxed) == 0 &&
           "resil::bulkhead destroyed while slots are held or callers wait");
  }

  /// Takes a slot if one is free and nobody waits; never waits, never reads the clock.
  [[nodiscard]] std::optional<permit_type> try_acquire() {
    if (!try_take()) {
      events_.publish_with([] { return rejected_event(errc::bulkhead_full, {}); });
      return std::nullopt;
    }
    return permitted({});
  }

  /**
   * Takes a slot, waiting up to `d` in line for one (FIFO). `nanoseconds::max()` waits without
   * limit; zero or a negative `d` does not wait. Returns nothing if no slot was free in time or
   * `stop` was triggered while waiting.
   */
  [[nodiscard]] std::optional<permit_type> acquire_for(nanoseconds d,
                                                       const std::stop_token& stop = {}) {
    if (d <= nanoseconds::zero()) return try_acquire();
    if (try_take()) return permitted({});
    const auto start = clock_.now();
    return acquire_slow(start, deadline_after(start, d), stop);
  }

  /// Takes a slot, waiting in line until `t` on the bulkhead's clock (see `acquire_for`).
  [[nodiscard]] std::optional<permit_type> acquire_until(time_point t,
                                                         const std::stop_token& stop = {}) {
    if (try_take()) return permitted({});
    return acquire_slow(clock_.now(), t, stop);
  }

  /// Free slots right now (zero while the bulkhead is over a shrunk limit).
  [[nodiscard]] std::int64_t available() const noexcept {
    const auto used = used_of(state_.load(std::memory_order_relaxed));
    const auto max = max_.load(std::memory_order_relaxed);
    return used < max ? max - used : 0;
  }

  /// The current limit.
  [[nodiscard]] std::int64_t max_concurrent() const noexcept {
    return max_.load(std::memory_order_relaxed);
  }

  /// The configured wait for a slot.
  [[nodiscard]] nanoseconds max_wait() const noexcept { return max_wait_; }

  /// A consistent snapshot: limit, slots held, free slots, callers waiting.
  [[nodiscard]] bulkhead_metrics metrics() const noexcept {
    const auto s = state_.load(std::memory_order_seq_cst);
    const auto max = max_.load(std::memory_order_seq_cst);
    const auto used = used_of(s);
    return {max, used, used < max ? max - used : 0, waiters_of(s)};
  }

  /**
   * Changes the limit at run time. Growing it hands the new slots to waiting callers at once;
   * shrinking it never grants a slot above the new limit, and calls already running finish
   * normally (in-flight drains down to the new limit). Throws `config_error` for a value that
   * `bulkhead_options::max_concurrent` would reject.
   */
  void set_max_concurrent(std::int64_t n) {
    detail::raise_if(bulkhead_options{.max_concurrent = n}.validate());
    std::lock_guard lock(mutex_);
    max_.store(n, std::memory_order_seq_cst);
    drain_locked();
  }

  /// The listeners of this bulkhead's events.
  [[nodiscard]] event_publisher<bulkhead_event>& events() noexcept { return events_; }

  /// The policy protocol: runs `next` holding a slot, or rejects with `errc::bulkhead_full`
  /// (or `errc::cancelled` when the stop token fires while waiting).
  template <class R, class Next>
  outcome<R> invoke(context& ctx, Next&& next) {
    return detail::capture_exceptions<R>([&]() -> outcome<R> {
      std::optional<permit_type> p;
      if (RESIL_LIKELY(try_take())) {
        p = permitted({});
      } else if (max_wait_ > nanoseconds::zero()) {
        const auto start = ctx.start_time(clock_);
        const auto deadline = std::min(deadline_after(start, max_wait_), ctx.deadline(clock_));
        admission how = admission::granted;
        p = acquire_slow(start, deadline, ctx.stop_token(), &how);
        if (!p) {
          return outcome<R>::from_error(how == admission::cancelled ? errc::cancelled
                                                                    : errc::bulkhead_full);
        }
        ctx.reset_start_time();  // inner policies time the call from now, not from the wait
      } else {
        events_.publish_with([] { return rejected_event(errc::bulkhead_full, {}); });
        return outcome<R>::from_error(errc::bulkhead_full);
      }
      outcome<R> r = next(ctx);
      p->record_success();
      return r;
    });
  }

 private:
  friend class permit<basic_bulkhead>;

  // The state word: slots held in the low 32 bits, callers waiting in line in the high 32 bits,
  // so that "is a slot free and is nobody waiting" is decided by one atomic read.
  static constexpr std::uint64_t waiter_unit = std::uint64_t{1} << 32U;
  static constexpr std::int64_t used_of(std::uint64_t s) noexcept {
    return static_cast<std::int64_t>(s & (waiter_unit - 1));
  }
  static constexpr std::int64_t waiters_of(std::uint64_t s) noexcept {
    return static_cast<std::int64_t>(s >> 32U);
  }

  // A caller waiting in line; lives on its stack. Linked and granted only under mutex_.
  struct wait_node {
    waiter signal;
    wait_node* prev = nullptr;
    wait_node* next = nullptr;
    bool granted = false;
  };

  static const bulkhead_options& checked(const bulkhead_options& o) {
    detail::raise_if(o.validate());
    return o;
  }

  static bulkhead_event rejected_event(errc reason, nanoseconds waited) noexcept {
    return {bulkhead_event_kind::rejected, make_error_code(reason), waited};
  }

  static time_point deadline_after(time_point start, nanoseconds d) noexcept {
    return d == nanoseconds::max() ? time_point::max() : saturating_add(start, d);
  }

  // Fast path: a free slot and nobody waiting. The limit is read again after the CAS so that a
  // concurrent shrink never lets a slot be granted above the new limit (seq_cst pairs with the
  // store in set_max_concurrent: either this grant precedes the shrink, or it sees it).
  bool try_take() noexcept {
    for (;;) {
      std::uint64_t s = state_.load(std::memory_order_relaxed);
      bool taken = false;
      while (waiters_of(s) == 0 && used_of(s) < max_.load(std::memory_order_relaxed)) {
        if (state_.compare_exchange_weak(s, s + 1, std::memory_order_seq_cst,
                                         std::memory_order_relaxed)) {
          taken = true;
          break;
        }
      }
      if (!taken) return false;
      if (RESIL_LIKELY(used_of(s) < max_.load(std::memory_order_seq_cst))) return true;
      release_slot();  // lost a race with a shrink: give it back and look again
    }
  }

  std::optional<permit_type> permitted(nanoseconds waited) {
    std::optional<permit_type> p{std::in_place, *this, permit_token{}};
    // Built before publishing: a throwing listener unwinds through the permit, which gives the
    // slot back.
    events_.publish_with([&] {
      return bulkhead_event{bulkhead_event_kind::permitted, {}, waited};
    });
    return p;
  }

  enum class admission : std::uint8_t { granted, full, cancelled };

  std::optional<permit_type> acquire_slow(time_point start, time_point deadline,
                                          const std::stop_token& stop, admission* how = nullptr) {
    const admission a = wait_for_slot(deadline, stop);
    if (how != nullptr) *how = a;
    nanoseconds waited{};
    if (events_.has_listeners()) waited = saturating_sub(clock_.now(), start);
    if (a == admission::granted) return permitted(waited);
    events_.publish_with([&] {
      return rejected_event(a == admission::cancelled ? errc::cancelled : errc::bulkhead_full,
                            waited);
    });
    return std::nullopt;
  }

  admission wait_for_slot(time_point deadline, const std::stop_token& stop) {
    if (stop.stop_requested()) return admission::cancelled;
    wait_node node;
    if (take_or_enqueue(node)) return admission::granted;
    wait_status status = wait_status::deadline;
#if RESIL_HAS_EXCEPTIONS
    try {
      status = clock_.wait_until(node.signal, deadline, stop);
    } catch (...) {
      if (leave_queue(node)) release_slot();
      throw;
    }
#else
    status = clock_.wait_until(node.signal, deadline, stop);
#endif
    // Only drain_locked notifies, and it grants the slot first. A grant racing with the deadline
    // or the stop wins (the clock's rule too): the caller has the slot.
    if (status == wait_status::notified || leave_queue(node)) return admission::granted;
    return status == wait_status::stopped ? admission::cancelled : admission::full;
  }

  // Under the mutex: take a free slot if nobody waits, or join the line. One CAS decides, so a
  // release either sees this waiter (and hands it the slot) or this caller sees the free slot.
  bool take_or_enqueue(wait_node& node) {
    std::lock_guard lock(mutex_);
    std::uint64_t s = state_.load(std::memory_order_relaxed);
    for (;;) {
      const bool free = waiters_of(s) == 0 && used_of(s) < max_.load(std::memory_order_relaxed);
      if (state_.compare_exchange_weak(s, free ? s + 1 : s + waiter_unit, std::memory_order_seq_cst,
                                       std::memory_order_relaxed)) {
        if (free) return true;
        break;
      }
    }
    node.prev = tail_;
    (tail_ != nullptr ? tail_->next : head_) = &node;
    tail_ = &node;
    return false;
  }

  // After a wait that was not notified: leave the line, unless a grant came first (then the
  // caller owns a slot). Returns whether it was granted.
  bool leave_queue(wait_node& node) noexcept {
    std::lock_guard lock(mutex_);
    if (node.granted) return true;
    (node.prev != nullptr ? node.prev->next : head_) = node.next;
    (node.next != nullptr ? node.next->prev : tail_) = node.prev;
    state_.fetch_sub(waiter_unit, std::memory_order_seq_cst);
    return false;
  }

  // Hands free slots to waiters, oldest first; the waiter is unlinked and marked before it is
  // notified, and is notified under the mutex, so it cannot vanish in between.
  void drain_locked() noexcept {
    while (head_ != nullptr) {
      std::uint64_t s = state_.load(std::memory_order_relaxed);
      bool taken = false;
      while (used_of(s) < max_.load(std::memory_order_relaxed)) {
        if (state_.compare_exchange_weak(s, s + 1 - waiter_unit, std::memory_order_seq_cst,
                                         std::memory_order_relaxed)) {
          taken = true;
          break;
        }
      }
      if (!taken) return;
      wait_node* n = head_;
      head_ = n->next;
      (head_ != nullptr ? head_->prev : tail_) = nullptr;
      n->granted = true;
      n->signal.notify();
    }
  }

  void release_slot() noexcept {
    const std::uint64_t old = state_.fetch_sub(1, std::memory_order_seq_cst);
    assert(used_of(old) > 0 && "resil::bulkhead: slot released without being acquired");
    if (RESIL_UNLIKELY(waiters_of(old) != 0)) {
      std::lock_guard lock(mutex_);
      drain_locked();
    }
  }

  // The permit protocol.
  void complete(const permit_token& /*unused*/, verdict /*unused*/) {
    release_slot();
    events_.publish_with([] { return bulkhead_event{bulkhead_event_kind::finished, {}, {}}; });
  }
  void release(const permit_token& /*unused*/) noexcept {
    release_slot();
  }

  alignas(detail::cache_line) std::atomic<std::uint64_t> state_{0};
  alignas(detail::cache_line) std::atomic<std::int64_t> max_;
  nanoseconds max_wait_;
  Clock clock_;
  event_publisher<bulkhead_event> events_;
  std::mutex mutex_;
  wait_node* head_ = nullptr;
  wait_node* tail_ = nullptr;
};

/// A bulkhead on the default clock (`steady_clock`).
using bulkhead = basic_bulkhead<>;

}  // namespace resil
