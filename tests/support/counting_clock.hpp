// A manual clock that counts its now() reads, to prove that a path reads no clock.
// SPDX-License-Identifier: MIT
#pragma once

#include <resil/core/clock.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <stop_token>

namespace resil_test {

/// `resil::manual_clock` plus a shared count of `now()` calls (copies share both).
class counting_clock {
 public:
  using duration = resil::nanoseconds;
  using rep = duration::rep;
  using period = duration::period;
  using time_point = resil::manual_clock::time_point;
  static constexpr bool is_steady = false;

  [[nodiscard]] time_point now() const noexcept {
    reads_->fetch_add(1, std::memory_order_relaxed);
    return timeline_.now();
  }
  bool sleep_until(time_point t, const std::stop_token& st = {}) const {
    return timeline_.sleep_until(t, st);
  }
  resil::wait_status wait_until(resil::waiter& w, time_point t,
                                const std::stop_token& st = {}) const {
    return timeline_.wait_until(w, t, st);
  }

  /// The `now()` calls made so far through any copy.
  [[nodiscard]] std::uint64_t reads() const noexcept {
    return reads_->load(std::memory_order_relaxed);
  }
  /// The underlying timeline, to advance it.
  [[nodiscard]] const resil::manual_clock& timeline() const noexcept { return timeline_; }

  friend const void* resil_clock_key(const counting_clock& c) noexcept { return c.reads_.get(); }

 private:
  resil::manual_clock timeline_;
  std::shared_ptr<std::atomic<std::uint64_t>> reads_ =
      std::make_shared<std::atomic<std::uint64_t>>(0);
};

}  // namespace resil_test
