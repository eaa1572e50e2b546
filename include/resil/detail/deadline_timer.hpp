// The machinery behind resil::timeout: one lazily started timer thread per clock timeline that
// requests stop on calls whose deadline passed, and a per-thread cache of stop sources so that a
// timed call allocates nothing. Not API.
// SPDX-License-Identifier: MIT
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <stop_token>
#include <thread>
#include <utility>
#include <vector>

#include "../core/clock.hpp"
#include "../core/virtual_clock.hpp"
#include "../core/config.hpp"

namespace resil::detail {

/// One timed call in flight; lives on its caller's stack. Linked and `fired` only under its
/// shard's mutex.
struct timer_entry {
  std::int64_t deadline = 0;
  const std::stop_source* source = nullptr;
  void* shard = nullptr;
  timer_entry* prev = nullptr;
  timer_entry* next = nullptr;
  bool linked = false;
  bool fired = false;
};

/// A small per-thread number, spreading threads over a timer's shards.
inline std::size_t this_thread_shard_hint() noexcept {
  static std::atomic<std::size_t> next{0};
  thread_local const std::size_t hint = next.fetch_add(1, std::memory_order_relaxed);
  return hint;
}

/**
 * Requests stop on the stop source of every registered call whose deadline has passed on the
 * clock's timeline. One thread, started by the first registration and joined by the destructor;
 * it waits through the clock (so `manual_clock` drives it deterministically).
 *
 * Calls register in one of a few shards (picked per thread, each an intrusive list of stack
 * nodes under its own mutex), so threads do not contend with each other; registration and
 * removal are O(1). The thread scans every shard when it wakes, which is at the earliest
 * deadline it knows of: with calls that finish in time, about once per timeout duration. A
 * registration wakes it only when its deadline is earlier than the planned wake-up (or while a
 * scan is under way). Stop requests, and so the callables' stop callbacks, run on the timer
 * thread outside every mutex.
 */
template <resil::clock Clock>
class deadline_timer {
 public:
  explicit deadline_timer(Clock clock) : clock_(std::move(clock)) {}
  deadline_timer(const deadline_timer&) = delete;
  deadline_timer& operator=(const deadline_timer&) = delete;
  ~deadline_timer() {
    if (thread_.joinable()) {
      thread_.request_stop();
      thread_.join();
    }
  }

  /// Registers `e` (its deadline and source set). May throw if the thread cannot be started.
  void add(timer_entry& e) {
    if (RESIL_UNLIKELY(!started_.load(std::memory_order_acquire))) start();
    shard& s = shards_[this_thread_shard_hint() % shard_count];
    e.shard = &s;
    {
      const std::lock_guard lock(s.mutex);
      e.prev = s.tail;
      e.next = nullptr;
      (s.tail != nullptr ? s.tail->next : s.head) = &e;
      s.tail = &e;
      e.linked = true;
    }
    // Either the timer's scan sees this entry, or this load sees the scan's marker (`never`)
    // or a planned wake-up at or before the deadline (seq_cst on both sides).
    if (e.deadline < planned_.load(std::memory_order_seq_cst)) {
      const std::lock_guard lock(mutex_);
      if (e.deadline < planned_.load(std::memory_order_relaxed)) {
        planned_.store(e.deadline, std::memory_order_seq_cst);
      }
      wake_.notify();
    }
  }

  /// Unregisters `e`; returns whether the timer fired for it (its source was or is being
  /// stopped).
  bool remove(timer_entry& e) noexcept {
    shard& s = *static_cast<shard*>(e.shard);
    const std::lock_guard lock(s.mutex);
    if (e.linked) unlink(s, e);
    return e.fired;
  }

  /// Whether the timer thread has been started (for tests).
  [[nodiscard]] bool started() const noexcept { return started_.load(std::memory_order_acquire); }

 private:
  static constexpr std::int64_t never = std::numeric_limits<std::int64_t>::max();
  static constexpr std::size_t batch_size = 16;
  static constexpr std::size_t shard_count = 8;

  struct alignas(cache_line) shard {
    std::mutex mutex;
    timer_entry* head = nullptr;
    timer_entry* tail = nullptr;
  };

  static void unlink(shard& s, timer_entry& e) noexcept {
    (e.prev != nullptr ? e.prev->next : s.head) = e.next;
    (e.next != nullptr ? e.next->prev : s.tail) = e.prev;
    e.linked = false;
  }

  void start() {
    const std::lock_guard lock(mutex_);
    if (started_.load(std::memory_order_relaxed)) return;
    thread_ = start_thread(clock_, [this](const std::stop_token& st) { run(st); });
    started_.store(true, std::memory_order_release);
  }

  void run(const std::stop_token& st) {
    struct due {
      std::stop_source source{std::nostopstate};
    };
    std::array<due, batch_size> batch{};
    std::unique_lock lock(mutex_);
    while (!st.stop_requested()) {
      wake_.reset();  // under mutex_: a registration from now on wakes the next wait
      planned_.store(never, std::memory_order_seq_cst);  // scanning: registrations wake us
      lock.unlock();
      const std::int64_t now = clock_.now().time_since_epoch().count();
      std::size_t n = 0;
      std::int64_t next = never;
      for (shard& s : shards_) {
        const std::lock_guard shard_lock(s.mutex);
        for (timer_entry* e = s.head; e != nullptr;) {
          timer_entry* following = e->next;
          if (e->deadline <= now && n < batch_size) {
            unlink(s, *e);
            e->fired = true;
            batch[n++].source = *e->source;  // our own reference: the caller may move on
          } else {
            next = std::min(next, e->deadline);  // a due entry left over makes the wait instant
          }
          e = following;
        }
      }
      for (std::size_t i = 0; i < n; ++i) {
        batch[i].source.request_stop();
        batch[i].source = std::stop_source{std::nostopstate};
      }
      lock.lock();
      if (next < planned_.load(std::memory_order_relaxed)) {
        planned_.store(next, std::memory_order_seq_cst);
      }
      const std::int64_t wake_at = planned_.load(std::memory_order_relaxed);
      lock.unlock();
      (void)clock_.wait_until(wake_, typename Clock::time_point{nanoseconds{wake_at}}, st);
      lock.lock();
    }
  }

  Clock clock_;
  std::array<shard, shard_count> shards_{};
  alignas(cache_line) std::atomic<std::int64_t> planned_{never};  // the next wake-up
  std::atomic<bool> started_{false};
  std::mutex mutex_;  // guards the wake-up: planned_ updates, wake_ reset/notify, thread start
  waiter wake_;
  clock_thread<Clock> thread_;  // last: joined before the members it uses are destroyed
};

/**
 * The timer shared by every timeout on `clock`'s timeline: created by the first timeout that
 * asks, destroyed (thread joined) with the last one that holds it.
 */
template <resil::clock Clock>
std::shared_ptr<deadline_timer<Clock>> shared_deadline_timer(const Clock& clock) {
  static std::mutex registry_mutex;
  static std::vector<std::pair<const void*, std::weak_ptr<deadline_timer<Clock>>>> registry;
  const std::lock_guard lock(registry_mutex);
  const void* key = clock_key(clock);
  std::erase_if(registry, [](const auto& item) { return item.second.expired(); });
  for (const auto& [k, timer] : registry) {
    if (k == key) {
      if (auto t = timer.lock()) return t;
    }
  }
  auto t = std::make_shared<deadline_timer<Clock>>(clock);
  registry.emplace_back(key, t);
  return t;
}

/**
 * A stop source for one timed call, taken from a small per-thread stack of cached sources
 * (nested timeouts on one thread take one level each). A cached source is reused for as long as
 * nobody requested stop on it, so the steady state allocates nothing; one that was stopped is
 * dropped and replaced on next use. Deeper nesting than the cache gets a fresh source.
 */
class stop_source_lease {
 public:
  stop_source_lease() : pool_(this_thread_pool()) {
    if (pool_.depth < pool::size) {
      source_ = &pool_.slots[pool_.depth].source;
      if (!source_->stop_possible()) *source_ = std::stop_source{};
    } else {
      own_ = std::stop_source{};
      source_ = &own_;
    }
    ++pool_.depth;
  }
  stop_source_lease(const stop_source_lease&) = delete;
  stop_source_lease& operator=(const stop_source_lease&) = delete;
  ~stop_source_lease() {
    --pool_.depth;
    if (source_ != &own_ && (spent_ || source_->stop_requested())) {
      *source_ = std::stop_source{std::nostopstate};
    }
  }

  [[nodiscard]] std::stop_source& source() noexcept { return *source_; }
  /// The timer fired for this call: a stop request may still be on its way, never reuse it.
  void spend() noexcept { spent_ = true; }

 private:
  struct pool {
    static constexpr std::size_t size = 8;
    struct slot {
      std::stop_source source{std::nostopstate};
    };
    std::array<slot, size> slots{};
    std::size_t depth = 0;
  };
  static pool& this_thread_pool() noexcept {
    thread_local pool p;
    return p;
  }

  pool& pool_;
  std::stop_source* source_ = nullptr;
  std::stop_source own_{std::nostopstate};
  bool spent_ = false;
};

/// Forwards a stop request from an enclosing stop token to a call's own stop source.
struct stop_forwarder {
  std::stop_source* target;
  void operator()() const noexcept { target->request_stop(); }
};

}  // namespace resil::detail
