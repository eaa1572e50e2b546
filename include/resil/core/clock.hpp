// Clocks: the resil::clock concept, steady and coarse real-time clocks, the manual test clock,
// and resil::waiter, the one-shot signal every wait inside resil goes through.
// SPDX-License-Identifier: MIT
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <concepts>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string_view>
#include <thread>
#include <vector>

#include "config.hpp"
#include "time.hpp"

#if defined(__linux__)
#include <time.h>
#endif

namespace resil {

/// How a wait through a clock ended.
enum class wait_status {
  notified,  ///< `waiter::notify()` was called (wins over the other two when they race).
  deadline,  ///< The deadline passed on the clock's timeline.
  stopped,   ///< The `std::stop_token` was triggered.
};

/// How the wait ended: "notified", "deadline" or "stopped".
[[nodiscard]] constexpr std::string_view to_string(wait_status w) noexcept {
  switch (w) {
    case wait_status::notified:
      return "notified";
    case wait_status::deadline:
      return "deadline";
    case wait_status::stopped:
      return "stopped";
  }
  return "unknown";
}

/**
 * A one-shot wake-up signal: one thread waits on it through a clock
 * (`clock.wait_until(w, deadline, stop)`), another calls `notify()`.
 *
 * It is how bulkhead and limiter waiters are woken: the same code runs on a real clock, on
 * `manual_clock` (the wait ends when a test advances time past the deadline) and on a virtual
 * clock. A notification is sticky: `notify()` before the wait starts makes the wait return
 * `wait_status::notified` at once. Lives on the waiting thread's stack; no allocation.
 *
 * Thread-safety: `notify()` may be called from any thread, but must happen before the waiter is
 * destroyed (owners ensure this by unlinking the waiter under their own lock).
 */
class waiter {
 public:
  waiter() = default;
  waiter(const waiter&) = delete;
  waiter& operator=(const waiter&) = delete;

  /// Wakes the waiting thread (or the next wait, if nobody waits yet).
  void notify() noexcept {
    hook* h = nullptr;
    {
      std::lock_guard lock(mutex_);
      notified_ = true;
      h = hook_;
      cv_.notify_all();
    }
    if (h != nullptr) h->on_signal(*this);
  }

  /// Whether `notify()` has been called since construction or the last `reset()`.
  [[nodiscard]] bool notified() const noexcept {
    std::lock_guard lock(mutex_);
    return notified_;
  }

  /// Re-arms the waiter for another wait.
  void reset() noexcept {
    std::lock_guard lock(mutex_);
    notified_ = stopped_ = expired_ = false;
  }

  // The parts below are for clock implementers (a clock blocks on the waiter and marks it
  // expired when its timeline passes the deadline). They are not needed to use a clock.

  /// Marks the deadline as passed and wakes the waiting thread. For clock implementations.
  void expire() noexcept {
    std::lock_guard lock(mutex_);
    expired_ = true;
    cv_.notify_all();
  }

  /// Marks the wait as stopped and wakes the waiting thread. For clock implementations.
  void interrupt() noexcept {
    hook* h = nullptr;
    {
      std::lock_guard lock(mutex_);
      stopped_ = true;
      h = hook_;
      cv_.notify_all();
    }
    if (h != nullptr) h->on_signal(*this);
  }

  /// Told when a waiter is notified or interrupted, after the waiter's own lock is released.
  /// For clocks that schedule their waiters themselves (`virtual_clock`).
  class hook {
   public:
    /// Called once per `notify()` or `interrupt()` of `w`, outside `w`'s lock; must not throw.
    virtual void on_signal(waiter& w) noexcept = 0;

   protected:
    hook() = default;                        ///< Only derived classes construct a hook.
    hook(const hook&) = default;             ///< Copyable by derived classes.
    hook& operator=(const hook&) = default;  ///< Copyable by derived classes.
    ~hook() = default;
  };

  /// Installs (or, with null, removes) the hook told about `notify()` and `interrupt()`.
  /// For clock implementations.
  void set_hook(hook* h) noexcept {
    std::lock_guard lock(mutex_);
    hook_ = h;
  }

  /// How the wait has ended so far: notified, stopped or expired, if any. For clock
  /// implementations.
  [[nodiscard]] std::optional<wait_status> peek() const noexcept {
    std::lock_guard lock(mutex_);
    if (!notified_ && !stopped_ && !expired_) return std::nullopt;
    return status_locked();
  }

  /// Blocks until notified, expired or interrupted, whichever first. For clock implementations
  /// whose timeline is driven by other threads (manual and virtual clocks).
  [[nodiscard]] wait_status block() noexcept {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [this] { return notified_ || stopped_ || expired_; });
    return status_locked();
  }

  /// Blocks until notified, interrupted, or the real steady time `deadline`. For real clocks.
  [[nodiscard]] wait_status block_until(std::chrono::steady_clock::time_point deadline) noexcept {
    std::unique_lock lock(mutex_);
    if (deadline == std::chrono::steady_clock::time_point::max()) {
      cv_.wait(lock, [this] { return notified_ || stopped_; });
    } else if (!cv_.wait_until(lock, deadline, [this] { return notified_ || stopped_; })) {
      return wait_status::deadline;
    }
    return status_locked();
  }

 private:
  [[nodiscard]] wait_status status_locked() const noexcept {
    if (notified_) return wait_status::notified;
    if (stopped_) return wait_status::stopped;
    return wait_status::deadline;
  }

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  hook* hook_ = nullptr;
  bool notified_ = false;
  bool stopped_ = false;
  bool expired_ = false;
};

/**
 * What resil needs from a clock. Every policy is a template over one (`Clock =
 * resil::steady_clock`), and every wait inside resil goes through it, so a test clock makes every
 * test deterministic.
 *
 * A clock is a copyable object with:
 * - `time_point` with a `std::chrono::nanoseconds` duration, and `now()`;
 * - `sleep_until(t, stop)`: returns `true` when `t` was reached, `false` when `stop` fired first;
 * - `wait_until(w, t, stop)`: blocks on a `resil::waiter` until it is notified, `t` passes on the
 *   clock's timeline, or `stop` fires, and says which (`resil::wait_status`).
 *
 * Models: `steady_clock`, `coarse_clock`, `manual_clock`, `virtual_clock`.
 */
template <class C>
concept clock = std::copy_constructible<C> &&
    requires(const C& c, typename C::time_point t, waiter& w, std::stop_token st) {
  typename C::time_point;
  requires std::same_as<typename C::time_point::duration, nanoseconds>;
  { c.now() } -> std::same_as<typename C::time_point>;
  { c.sleep_until(t, st) } -> std::same_as<bool>;
  { c.wait_until(w, t, st) } -> std::same_as<wait_status>;
};

namespace detail {

// Shared by the real-time clocks: wait on the steady timeline with stop support.
inline wait_status real_wait_until(waiter& w, std::chrono::steady_clock::time_point t,
                                   const std::stop_token& st) {
  std::stop_callback on_stop(st, [&w]() noexcept { w.interrupt(); });
  return w.block_until(t);
}

inline bool real_sleep_until(std::chrono::steady_clock::time_point t, const std::stop_token& st) {
  if (!st.stop_possible()) {
    if (t != std::chrono::steady_clock::time_point::max()) std::this_thread::sleep_until(t);
    return true;
  }
  waiter w;
  return real_wait_until(w, t, st) == wait_status::deadline;
}

}  // namespace detail

/**
 * The default clock: `std::chrono::steady_clock` (monotonic, ~26 ns a read on a typical VM).
 * Stateless; thread-safe.
 */
struct steady_clock {
  using duration = nanoseconds;     ///< Durations are nanoseconds.
  using rep = duration::rep;        ///< `std::chrono` clock requirement.
  using period = duration::period;  ///< `std::chrono` clock requirement.
  /// The same time point type as `std::chrono::steady_clock`.
  using time_point = std::chrono::steady_clock::time_point;
  static constexpr bool is_steady = true;  ///< Monotonic.

  /// The current time.
  [[nodiscard]] static time_point now() noexcept { return std::chrono::steady_clock::now(); }
  /// Sleeps until `t`; returns false if `st` is stopped first.
  static bool sleep_until(time_point t, const std::stop_token& st = {}) {
    return detail::real_sleep_until(t, st);
  }
  /// Waits for `w` to be notified, `t` to pass or `st` to stop.
  static wait_status wait_until(waiter& w, time_point t, const std::stop_token& st = {}) {
    return detail::real_wait_until(w, t, st);
  }
};

/**
 * A cheaper monotonic clock with millisecond resolution: `CLOCK_MONOTONIC_COARSE` on Linux
 * (~3 ns a read instead of ~26 ns), `std::chrono::steady_clock` elsewhere. Shares its epoch and
 * `time_point` type with `steady_clock`. Choose it when a policy's timing tolerates a few
 * milliseconds of error (rate limits of up to a few hundred per second, breaker open durations).
 * Stateless; thread-safe.
 */
struct coarse_clock {
  using duration = nanoseconds;     ///< Durations are nanoseconds.
  using rep = duration::rep;        ///< `std::chrono` clock requirement.
  using period = duration::period;  ///< `std::chrono` clock requirement.
  /// The same time point type as `std::chrono::steady_clock`.
  using time_point = std::chrono::steady_clock::time_point;
  static constexpr bool is_steady = true;  ///< Monotonic.

  /// The current time, to the last kernel tick (about 1-4 ms).
  [[nodiscard]] static time_point now() noexcept {
#if defined(__linux__) && defined(CLOCK_MONOTONIC_COARSE)
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return time_point{nanoseconds{static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 +
                                  static_cast<std::int64_t>(ts.tv_nsec)}};
#else
    return std::chrono::steady_clock::now();
#endif
  }
  /// Sleeps until `t`; returns false if `st` is stopped first.
  static bool sleep_until(time_point t, const std::stop_token& st = {}) {
    return detail::real_sleep_until(t, st);
  }
  /// Waits for `w` to be notified, `t` to pass or `st` to stop.
  static wait_status wait_until(waiter& w, time_point t, const std::stop_token& st = {}) {
    return detail::real_wait_until(w, t, st);
  }
};

/**
 * A clock that moves only when told to: the clock for deterministic tests.
 *
 * Copies share one timeline. `advance(d)` and `set(t)` move it and wake every waiter whose
 * deadline has passed; `sleep_until(t)` *advances the timeline to `t`* and returns at once, so a
 * retry with a 30 s backoff finishes instantly and the test can assert the time it took. A
 * `wait_until` on a waiter blocks until another thread notifies it or moves the timeline past its
 * deadline; `waiting()` tells a test when a thread has started such a wait.
 *
 *     resil::manual_clock clock;                 // starts at time_point{} (zero)
 *     resil::basic_circuit_breaker<resil::manual_clock> breaker{options, clock};
 *     clock.advance(std::chrono::seconds{60});   // the open duration has passed
 *
 * Thread-safe. Time may also be set backwards (to test clock anomalies).
 */
class manual_clock {
 public:
  using duration = nanoseconds;     ///< Durations are nanoseconds.
  using rep = duration::rep;        ///< `std::chrono` clock requirement.
  using period = duration::period;  ///< `std::chrono` clock requirement.
  using time_point = std::chrono::time_point<manual_clock, nanoseconds>;  ///< Its own epoch.
  static constexpr bool is_steady = false;  ///< False: `set()` may move it backwards.

  /// A new timeline starting at `start`.
  explicit manual_clock(time_point start = time_point{}) : state_(std::make_shared<state>()) {
    state_->now.store(start.time_since_epoch().count(), std::memory_order_relaxed);
  }

  /// The current time on the shared timeline.
  [[nodiscard]] time_point now() const noexcept {
    return time_point{nanoseconds{state_->now.load(std::memory_order_acquire)}};
  }

  /// Moves the timeline forward by `d` (saturating) and wakes due waiters.
  void advance(nanoseconds d) const {
    std::lock_guard lock(state_->mutex);
    store_locked(detail::sat_add(state_->now.load(std::memory_order_relaxed), d.count()));
  }

  /// Moves the timeline to `t` (forwards or backwards) and wakes due waiters.
  void set(time_point t) const {
    std::lock_guard lock(state_->mutex);
    store_locked(t.time_since_epoch().count());
  }

  /// Advances the timeline to `t` if it is later than now, then returns; `false` (and no
  /// change) when `st` is already stopped.
  bool sleep_until(time_point t, const std::stop_token& st = {}) const {
    if (st.stop_requested()) return false;
    std::lock_guard lock(state_->mutex);
    ++state_->sleeps;
    const auto target = t.time_since_epoch().count();
    if (target > state_->now.load(std::memory_order_relaxed)) store_locked(target);
    return true;
  }

  /// Blocks until `w` is notified, the timeline reaches `t` (moved by another thread), or `st`
  /// is stopped.
  wait_status wait_until(waiter& w, time_point t, const std::stop_token& st = {}) const {
    entry e{&w, t.time_since_epoch().count()};
    {
      std::lock_guard lock(state_->mutex);
      if (state_->now.load(std::memory_order_relaxed) >= e.deadline) {
        w.expire();
      } else {
        state_->waiting.push_back(&e);
      }
    }
    wait_status result;
    {
      std::stop_callback on_stop(st, [&w]() noexcept { w.interrupt(); });
      result = w.block();
    }
    std::lock_guard lock(state_->mutex);
    std::erase(state_->waiting, &e);
    return result;
  }

  /// Number of threads blocked in `wait_until` on this timeline right now.
  [[nodiscard]] std::size_t waiting() const {
    std::lock_guard lock(state_->mutex);
    return state_->waiting.size();
  }

  /// Number of `sleep_until` calls made on this timeline (a retry's delays, for example).
  [[nodiscard]] std::uint64_t sleeps() const {
    std::lock_guard lock(state_->mutex);
    return state_->sleeps;
  }

  /// Identity of the shared timeline (copies compare equal).
  friend bool operator==(const manual_clock& a, const manual_clock& b) noexcept {
    return a.state_ == b.state_;
  }
  friend const void* resil_clock_key(const manual_clock& c) noexcept { return c.state_.get(); }

 private:
  struct entry {
    waiter* w;
    std::int64_t deadline;
  };
  struct state {
    std::atomic<std::int64_t> now{0};
    mutable std::mutex mutex;
    std::vector<entry*> waiting;
    std::uint64_t sleeps = 0;
  };

  void store_locked(std::int64_t t) const {
    state_->now.store(t, std::memory_order_release);
    for (entry* e : state_->waiting) {
      if (e->deadline <= t) e->w->expire();
    }
  }

  std::shared_ptr<state> state_;
};

namespace detail {

/// Identifies a clock's timeline: equal keys mean equal `now()` readings. Stateless clocks are
/// identified by type; stateful ones provide `resil_clock_key(c)` (found by ADL).
template <class C>
[[nodiscard]] const void* clock_key(const C& c) noexcept {
  if constexpr (requires { resil_clock_key(c); }) {
    return resil_clock_key(c);
  } else {
    return &type_tag<C>;
  }
}

/// A type-erased reference to a clock: lets a non-template `resil::context` read the clock
/// that set its deadline.
struct clock_ref {
  const void* clock = nullptr;
  const void* key = nullptr;
  std::int64_t (*now_ns)(const void*) noexcept = nullptr;

  template <resil::clock C>
  static clock_ref of(const C& c) noexcept {
    return {&c, clock_key(c), [](const void* p) noexcept -> std::int64_t {
              return static_cast<const C*>(p)->now().time_since_epoch().count();
            }};
  }
};

}  // namespace detail

/// A clock's reading as signed nanoseconds since its epoch.
template <clock C>
[[nodiscard]] std::int64_t to_ticks(typename C::time_point t) noexcept {
  return t.time_since_epoch().count();
}

/// The inverse of `to_ticks`.
template <clock C>
[[nodiscard]] typename C::time_point from_ticks(std::int64_t ns) noexcept {
  return typename C::time_point{nanoseconds{ns}};
}

}  // namespace resil
