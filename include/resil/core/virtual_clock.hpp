// resil::virtual_clock: simulated time for multi-threaded simulations. Participating threads
// run one at a time; when every one of them waits, time jumps to the earliest deadline.
// SPDX-License-Identifier: MIT
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <stop_token>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "clock.hpp"
#include "config.hpp"
#include "time.hpp"

namespace resil {

/**
 * A clock for deterministic multi-threaded simulations: minutes of traffic in milliseconds,
 * the same result on every run.
 *
 * Threads take part by being started with `clock.spawn(f)` (or by holding a
 * `virtual_clock::participant`). Participants run **one at a time**, in a deterministic order:
 * the running participant keeps the CPU until it waits through the clock (`sleep_until`,
 * `wait_until`: every wait inside resil: retry delays, bulkhead and limiter waits, timeouts, chaos
 * latency, health intervals) or finishes. Then the next runnable participant runs (FIFO: spawn
 * order, then the order in which they became runnable). When none is runnable, time jumps to the
 * earliest deadline and the waiters due at it become runnable, earliest first. Time does not
 * pass while a participant computes. No real sleeping, no busy spinning.
 *
 *     resil::virtual_clock clock;
 *     resil::basic_retry<resil::virtual_clock> retry{options, clock};
 *     clock.run(10, [&](std::size_t user) { simulate_user(user); });  // ten simulated users
 *
 * Determinism holds when everything the participants share goes through the clock and the
 * participants' own random generators are seeded; a participant must not block on something the
 * clock cannot see (a mutex held across a clock wait, I/O, `join`).
 *
 * Misuse is reported clearly: a thread that waits without being a participant gets
 * `std::logic_error`; when every participant waits without a deadline (a deadlock), the deadlock
 * handler runs (by default it prints the situation and aborts). Copies share one timeline.
 * Thread-safe.
 */
class virtual_clock {
  struct entry;
  struct state;

 public:
  using duration = nanoseconds;     ///< Durations are nanoseconds.
  using rep = duration::rep;        ///< `std::chrono` clock requirement.
  using period = duration::period;  ///< `std::chrono` clock requirement.
  using time_point = std::chrono::time_point<virtual_clock, nanoseconds>;  ///< Its own epoch.
  static constexpr bool is_steady = true;  ///< Simulated time never goes backwards.

  /// A new timeline starting at `start`, with no participant.
  explicit virtual_clock(time_point start = time_point{}) : state_(std::make_shared<state>()) {
    state_->now.store(start.time_since_epoch().count(), std::memory_order_relaxed);
  }

  /// The current simulated time (constant while a participant runs).
  [[nodiscard]] time_point now() const noexcept {
    return time_point{nanoseconds{state_->now.load(std::memory_order_acquire)}};
  }

  /// Waits until `t` (returns true) or until `st` is stopped (returns false). Participants only.
  bool sleep_until(time_point t, const std::stop_token& st = {}) const {
    waiter w;
    return wait_until(w, t, st) == wait_status::deadline;
  }

  /// Waits until `w` is notified, `t` passes, or `st` is stopped. Participants only.
  wait_status wait_until(waiter& w, time_point t, const std::stop_token& st = {}) const {
    state& s = *state_;
    s.require_participant();
    if (auto done = w.peek()) return *done;
    if (st.stop_requested()) return wait_status::stopped;
    if (t.time_since_epoch().count() <= s.now.load(std::memory_order_relaxed)) {
      return wait_status::deadline;
    }
    entry e;
    e.w = &w;
    e.deadline = t.time_since_epoch().count();
    w.set_hook(&s);
    {
      // Armed before the turn is handed on, so a stop requested by the next participant always
      // finds this wait (a signal that lands before the entry is queued is seen by peek()).
      std::stop_callback on_stop(st, [&w]() noexcept { w.interrupt(); });
      std::unique_lock lock(s.mutex);
      e.seq = s.next_seq++;
      if (w.peek()) {
        s.runnable.push_back(&e);
      } else {
        s.blocked.push_back(&e);
      }
      s.busy = false;
      s.dispatch_locked(lock);
      e.cv.wait(lock, [&e] { return e.go; });
    }
    w.set_hook(nullptr);
    return w.peek().value_or(wait_status::deadline);
  }

  /**
   * Runs `f(0)`, ..., `f(n-1)` as `n` participants admitted in index order at the current
   * simulated time, and returns when all have finished. The deterministic way to start a
   * simulation:
   *
   *     clock.run(10, [&](std::size_t user) { simulate_user(user); });
   *
   * Call it from a thread that is not a participant.
   */
  template <class F>
  void run(std::size_t n, F&& f) const {
    std::vector<thread> threads;
    threads.reserve(n);
    {
      // Holding a turn while spawning keeps the new participants from starting (and time from
      // moving) until all of them are admitted.
      participant self{*this};
      for (std::size_t i = 0; i < n; ++i) threads.push_back(spawn([&f, i] { f(i); }));
    }
    threads.clear();
  }

  class thread;

  /**
   * Starts `f` on a new participant thread and returns its handle (`f()` or
   * `f(std::stop_token)`). Participants are admitted in the order of `spawn` calls. A spawn from
   * a participant is deterministic; spawns from another thread race with the participants already
   * running (the first may run, and move time, before the second is admitted) — use `run` to
   * start several at once. The handle behaves like `std::jthread` (its destructor requests stop
   * and joins), and a participant that joins it waits through the clock, so joining one
   * participant from another does not stall the simulation.
   */
  template <class F>
  [[nodiscard]] thread spawn(F&& f) const {
    return spawn_participant(std::forward<F>(f), false);
  }

  /**
   * Like `spawn`, for a *daemon*: a participant that serves the others (a timer, a prober) and
   * may wait for work forever. Daemons take turns like any participant, but they neither keep
   * time moving on their own (with only daemons left, time stands still) nor count towards a
   * deadlock. `resil::start_thread` starts library-owned threads this way.
   */
  template <class F>
  [[nodiscard]] thread spawn_daemon(F&& f) const {
    return spawn_participant(std::forward<F>(f), true);
  }

  /**
   * The handle of a participant thread started by `spawn`: like `std::jthread` (movable;
   * `request_stop`, `join`, `joinable`; the destructor requests stop and joins), except that a
   * participant joining it waits through the clock.
   */
  class thread {
   public:
    thread() = default;
    /// Takes over `other`'s thread.
    thread(thread&&) noexcept = default;
    /// Stops and joins the thread held, if any, then takes over `other`'s.
    thread& operator=(thread&& other) noexcept {
      if (this != &other) {
        finish();
        clock_ = std::move(other.clock_);
        done_ = std::move(other.done_);
        t_ = std::move(other.t_);
      }
      return *this;
    }
    thread(const thread&) = delete;
    thread& operator=(const thread&) = delete;
    ~thread() { finish(); }

    /// Asks the thread to stop (its `std::stop_token` fires).
    bool request_stop() noexcept { return t_.request_stop(); }
    /// True while the handle holds a thread not yet joined.
    [[nodiscard]] bool joinable() const noexcept { return t_.joinable(); }
    /// Waits for the thread to finish (through the clock when called by a participant).
    void join() {
      if (clock_ && done_ && state::current() == clock_->state_.get()) {
        (void)clock_->wait_until(*done_, time_point::max());
      }
      t_.join();
    }
    /// The token `request_stop` triggers (the one the thread's function received).
    [[nodiscard]] std::stop_token get_stop_token() const noexcept { return t_.get_stop_token(); }

   private:
    friend class virtual_clock;
    thread(const virtual_clock& c, std::shared_ptr<waiter> done, std::jthread t)
        : clock_(std::make_unique<virtual_clock>(c)), done_(std::move(done)), t_(std::move(t)) {}
    void finish() {
      if (t_.joinable()) {
        t_.request_stop();
        join();
      }
    }

    std::unique_ptr<virtual_clock> clock_;
    std::shared_ptr<waiter> done_;
    std::jthread t_;
  };

  /// What `spawn` (`daemon` false) and `spawn_daemon` (true) do; prefer those two.
  template <class F>
  [[nodiscard]] thread spawn_participant(F&& f, bool daemon) const {
    auto start = std::make_unique<entry>();
    auto done = std::make_shared<waiter>();
    state_->admit(*start, daemon);
    std::jthread t([s = state_, start = std::move(start), done, daemon,
                    fn = std::forward<F>(f)](std::stop_token st) mutable {
      participant_scope scope{*s, *start, *done, daemon};
      if constexpr (std::is_invocable_v<F&, std::stop_token>) {
        fn(std::move(st));
      } else {
        fn();
      }
    });
    return thread{*this, std::move(done), std::move(t)};
  }

  /**
   * Makes the current thread a participant for the lifetime of this object: the constructor
   * waits for the thread's turn; the destructor hands the turn on and leaves. Prefer `spawn`,
   * whose admission order is deterministic.
   */
  class participant {
   public:
    /// Joins `c`'s timeline; returns when it is this thread's turn to run.
    explicit participant(const virtual_clock& c)
        : state_(c.state_), start_(std::make_unique<entry>()) {
      state_->admit(*start_, false);
      state_->enter(*start_);
    }
    participant(const participant&) = delete;
    participant& operator=(const participant&) = delete;
    ~participant() { state_->leave(false); }

   private:
    std::shared_ptr<state> state_;
    std::unique_ptr<entry> start_;
  };

  /// Participants currently registered.
  [[nodiscard]] std::size_t participants() const {
    std::lock_guard lock(state_->mutex);
    return state_->participants;
  }

  /// How many times a participant was given its turn (a measure of simulation work).
  [[nodiscard]] std::uint64_t steps() const {
    std::lock_guard lock(state_->mutex);
    return state_->steps;
  }

  /// Deadlocks seen so far (every participant waiting with no deadline).
  [[nodiscard]] std::uint64_t deadlocks() const {
    std::lock_guard lock(state_->mutex);
    return state_->deadlocks;
  }

  /**
   * Replaces what happens on a deadlock. The handler runs on the thread whose wait completed the
   * deadlock, without the clock's lock held, and receives the number of participants. The default
   * prints a message and aborts. With a handler that returns, the simulation stays idle until
   * some non-participant thread notifies or stops one of the waiters.
   */
  void on_deadlock(std::function<void(std::size_t)> handler) const {
    std::lock_guard lock(state_->mutex);
    state_->deadlock_handler = std::move(handler);
  }

  friend bool operator==(const virtual_clock& a, const virtual_clock& b) noexcept {
    return a.state_ == b.state_;
  }
  friend const void* resil_clock_key(const virtual_clock& c) noexcept { return c.state_.get(); }

 private:
  struct entry {
    waiter* w = nullptr;  // null for a participant waiting for its first turn
    std::int64_t deadline = std::numeric_limits<std::int64_t>::max();
    std::uint64_t seq = 0;
    bool go = false;
    std::condition_variable cv;
  };

  struct state final : waiter::hook {
    mutable std::mutex mutex;
    std::atomic<std::int64_t> now{0};
    std::size_t participants = 0;
    std::size_t daemons = 0;      // participants that serve others and may wait forever
    bool busy = false;            // a participant holds the turn
    std::deque<entry*> runnable;  // FIFO of participants ready to run
    std::vector<entry*> blocked;  // participants waiting for a signal or a deadline
    std::uint64_t next_seq = 0;
    std::uint64_t steps = 0;
    std::uint64_t deadlocks = 0;
    std::function<void(std::size_t)> deadlock_handler;

    static const state*& current() noexcept {
      thread_local const state* s = nullptr;
      return s;
    }

    void require_participant() const {
      if (current() == this) return;
#if RESIL_HAS_EXCEPTIONS
      throw std::logic_error(
          "resil::virtual_clock: a thread waited on a virtual clock without being a "
          "participant; start it with clock.spawn(f) or hold a virtual_clock::participant");
#else
      std::fputs("resil::virtual_clock: a thread waited without being a participant\n", stderr);
      std::abort();
#endif
    }

    // A waiter of a blocked participant was notified or stopped: it becomes runnable.
    void on_signal(waiter& w) noexcept override {
      std::unique_lock lock(mutex);
      const auto it =
          std::find_if(blocked.begin(), blocked.end(), [&w](const entry* e) { return e->w == &w; });
      if (it == blocked.end()) return;  // already runnable, or its wait already ended
      runnable.push_back(*it);
      blocked.erase(it);
      if (!busy) dispatch_locked(lock);
    }

    // Registers a participant that will wait for its first turn (called by the spawning thread).
    void admit(entry& start, bool daemon) {
      std::unique_lock lock(mutex);
      ++participants;
      if (daemon) ++daemons;
      start.seq = next_seq++;
      runnable.push_back(&start);
      if (!busy) dispatch_locked(lock);
    }

    // The participant's thread: wait for the first turn.
    void enter(entry& start) {
      std::unique_lock lock(mutex);
      start.cv.wait(lock, [&start] { return start.go; });
      current() = this;
    }

    void leave(bool daemon) {
      current() = nullptr;
      std::unique_lock lock(mutex);
      --participants;
      if (daemon) --daemons;
      busy = false;
      dispatch_locked(lock);
    }

    // Hands the turn to the next runnable participant, moving time forward if none is runnable.
    // Precondition: nobody holds the turn. May release the lock to run the deadlock handler.
    void dispatch_locked(std::unique_lock<std::mutex>& lock) {
      // Time moves only for the sake of a non-daemon participant; with daemons alone it stands.
      if (runnable.empty() && (participants == daemons || !advance_locked())) {
        if (participants > daemons && blocked.size() == participants) report_deadlock(lock);
        return;
      }
      entry* next = runnable.front();
      runnable.pop_front();
      next->go = true;
      busy = true;
      ++steps;
      next->cv.notify_one();
    }

    // Jumps to the earliest deadline; the waiters due then become runnable, earliest first.
    bool advance_locked() {
      constexpr auto never = std::numeric_limits<std::int64_t>::max();
      std::int64_t earliest = never;
      for (const entry* e : blocked) earliest = std::min(earliest, e->deadline);
      if (earliest == never) return false;
      if (earliest > now.load(std::memory_order_relaxed)) {
        now.store(earliest, std::memory_order_release);
      }
      std::vector<entry*> due;
      std::erase_if(blocked, [&](entry* e) {
        if (e->deadline > earliest) return false;
        due.push_back(e);
        return true;
      });
      std::sort(due.begin(), due.end(), [](const entry* a, const entry* b) {
        return a->deadline != b->deadline ? a->deadline < b->deadline : a->seq < b->seq;
      });
      for (entry* e : due) {
        e->w->expire();
        runnable.push_back(e);
      }
      return true;
    }

    void report_deadlock(std::unique_lock<std::mutex>& lock) {
      ++deadlocks;
      auto handler = deadlock_handler;
      const std::size_t n = participants;
      lock.unlock();
      if (handler) {
        handler(n);
      } else {
        std::fprintf(stderr,
                     "resil::virtual_clock: deadlock: all %zu participants wait with no deadline "
                     "and nothing can wake them\n",
                     n);
        std::abort();
      }
      lock.lock();
    }
  };

  struct participant_scope {
    state& s;
    waiter& done;
    bool daemon;
    participant_scope(state& st, entry& start, waiter& d, bool is_daemon)
        : s(st), done(d), daemon(is_daemon) {
      s.enter(start);
    }
    participant_scope(const participant_scope&) = delete;
    participant_scope& operator=(const participant_scope&) = delete;
    ~participant_scope() {
      done.notify();    // a joining participant becomes runnable...
      s.leave(daemon);  // ...and gets the turn when this one leaves
    }
  };

  std::shared_ptr<state> state_;
};

/**
 * Starts a thread that takes part in `c`'s timeline: a daemon participant of a `virtual_clock`
 * (`c.spawn_daemon(f)`), a plain `std::jthread` for every other clock. Library code that owns a
 * thread (a timeout's timer, a health registry's prober) starts it this way so it runs on virtual
 * time.
 */
template <clock C, class F>
[[nodiscard]] auto start_thread(const C& c, F&& f) {
  if constexpr (requires { c.spawn_daemon(std::forward<F>(f)); }) {
    return c.spawn_daemon(std::forward<F>(f));
  } else {
    return std::jthread(std::forward<F>(f));
  }
}

/// The thread handle `start_thread` returns for clock `C`: `std::jthread`, or
/// `virtual_clock::thread`. Both request stop and join on destruction.
template <clock C>
using clock_thread =
    decltype(start_thread(std::declval<const C&>(), std::declval<void (*)(std::stop_token)>()));

}  // namespace resil
