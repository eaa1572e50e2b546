// resil::event_log: a bounded ring buffer of a policy's last N events, for debugging views.
// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

#include "clock.hpp"
#include "events.hpp"

namespace resil {

/**
 * Keeps the last `capacity` events a policy published, each with a sequence number and the time
 * it was seen, for a debugging view (`/resil/events`) or a test's assertion. Memory is bounded:
 * `capacity` entries, allocated once.
 *
 *     resil::event_log<resil::circuit_breaker_event> log{100};
 *     log.attach(breaker.events());            // from now on, every event is kept
 *     for (const auto& e : log.snapshot()) print(e.seq, e.time, e.event);
 *
 * Recording takes a mutex (this is a listener: it costs nothing until attached). Thread-safe.
 * Detach (or destroy the policy) before destroying the log.
 */
template <class Event, clock Clock = steady_clock>
class event_log {
 public:
  /// One recorded event.
  struct entry {
    std::uint64_t seq;                ///< 1 for the first event ever recorded, then 2, 3, ...
    typename Clock::time_point time;  ///< When it was recorded, on the log's clock.
    Event event;                      ///< The event itself (a copy).
  };

  /// A log of the last `capacity` events (at least 1).
  explicit event_log(std::size_t capacity, Clock clock = Clock{})
      : clock_(std::move(clock)), capacity_(capacity == 0 ? 1 : capacity) {
    ring_.reserve(capacity_);
  }
  event_log(const event_log&) = delete;
  event_log& operator=(const event_log&) = delete;

  /// Records `e` (the listener `attach` installs).
  void record(const Event& e) {
    const auto now = clock_.now();
    std::lock_guard lock(mutex_);
    ++total_;
    if (ring_.size() < capacity_) {
      ring_.push_back(entry{total_, now, e});
    } else {
      ring_[oldest_] = entry{total_, now, e};
      oldest_ = (oldest_ + 1) % capacity_;
    }
  }

  /// Subscribes the log to `publisher`; returns the subscription (to `unsubscribe` later).
  subscription attach(event_publisher<Event>& publisher) {
    return publisher.subscribe([this](const Event& e) { record(e); });
  }

  /// The kept events, oldest first.
  [[nodiscard]] std::vector<entry> snapshot() const {
    std::lock_guard lock(mutex_);
    std::vector<entry> out;
    out.reserve(ring_.size());
    for (std::size_t i = 0; i < ring_.size(); ++i) {
      out.push_back(ring_[(oldest_ + i) % ring_.size()]);
    }
    return out;
  }

  /// Events recorded since construction (kept or overwritten).
  [[nodiscard]] std::uint64_t total() const {
    std::lock_guard lock(mutex_);
    return total_;
  }
  /// The most events kept.
  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
  /// Forgets every kept event (the sequence numbers continue).
  void clear() {
    std::lock_guard lock(mutex_);
    ring_.clear();
    oldest_ = 0;
  }

 private:
  Clock clock_;
  std::size_t capacity_;
  mutable std::mutex mutex_;
  std::vector<entry> ring_;
  std::size_t oldest_ = 0;  // where the oldest entry is once the ring is full
  std::uint64_t total_ = 0;
};

}  // namespace resil
