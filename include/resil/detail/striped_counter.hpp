// A counter written by many threads without sharing a cache line: one stripe per thread slot.
// Not API.
// SPDX-License-Identifier: MIT
#pragma once

#include <atomic>
#include <cstdint>

#include "../core/config.hpp"

namespace resil::detail {

// The calling thread's stripe number: threads are numbered in the order they first ask.
inline unsigned thread_stripe() noexcept {
  static std::atomic<unsigned> next{0};
  thread_local const unsigned mine = next.fetch_add(1, std::memory_order_relaxed);
  return mine;
}

// Counts events on a path that would otherwise make every thread fight over one line (a
// breaker's rejections): each thread adds to its own stripe (threads beyond `stripes` share),
// readers sum the stripes. Relaxed: a sum is exact once the adders are done.
class striped_counter {
 public:
  static constexpr unsigned stripes = 8;

  void add() noexcept {
    cells_[thread_stripe() % stripes].value.fetch_add(1, std::memory_order_relaxed);
  }
  [[nodiscard]] std::uint64_t sum() const noexcept {
    std::uint64_t total = 0;
    for (const auto& c : cells_) total += c.value.load(std::memory_order_relaxed);
    return total;
  }
  void clear() noexcept {
    for (auto& c : cells_) c.value.store(0, std::memory_order_relaxed);
  }

 private:
  struct alignas(cache_line) cell {
    std::atomic<std::uint64_t> value{0};
  };
  cell cells_[stripes];
};

}  // namespace resil::detail
