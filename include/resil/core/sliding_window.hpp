// Sliding windows of call outcomes (count-based and time-based): lock-free, O(1) per call and
// exact, they hold the failure and slow-call rates a circuit breaker decides on.
// SPDX-License-Identifier: MIT
#pragma once

#include <atomic>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>

#include "../detail/config_check.hpp"
#include "config.hpp"
#include "time.hpp"

namespace resil {

/**
 * What a sliding window holds at one instant: its calls, and how many of them failed or were
 * slow (a slow call may also have failed; it then counts in both).
 *
 *     resil::window_totals t = window.totals();
 *     if (t.calls >= 10 && t.failure_rate() >= 0.5) trip();
 *
 * A value type.
 */
struct window_totals {
  std::uint64_t calls = 0;   ///< Calls in the window.
  std::uint64_t failed = 0;  ///< Of which failed.
  std::uint64_t slow = 0;    ///< Of which were slow.

  /// `failed / calls` as a fraction in [0, 1]; NaN while the window is empty.
  [[nodiscard]] double failure_rate() const noexcept { return ratio(failed); }
  /// `slow / calls` as a fraction in [0, 1]; NaN while the window is empty.
  [[nodiscard]] double slow_call_rate() const noexcept { return ratio(slow); }

  friend bool operator==(const window_totals&, const window_totals&) = default;

 private:
  [[nodiscard]] double ratio(std::uint64_t n) const noexcept {
    if (calls == 0) return std::numeric_limits<double>::quiet_NaN();
    return static_cast<double>(n) / static_cast<double>(calls);
  }
};

/// One call as a window records it.
struct call_sample {
  bool failed = false;  ///< The call failed.
  bool slow = false;    ///< The call took longer than the slow-call threshold.
};

/// What `record` did: whether the sample was counted, and the window right after it.
struct window_update {
  /// False when the sample's epoch had already ended (the window was reset since): nothing was
  /// counted.
  bool recorded = false;
  /// True when `totals` is the window as of this sample. Under heavy concurrency a count window
  /// may skip it (the threads recording after this one report theirs).
  bool has_totals = false;
  window_totals totals{};
};

/**
 * The last `size` calls: a count-based sliding window, lock-free and exact.
 *
 *     resil::count_window w{100};
 *     auto u = w.record({.failed = true}, w.epoch());   // u.totals: {1, 1, 0}
 *
 * `record` is O(1): two uncontended compare-and-swaps, no lock, no allocation, no clock read.
 * The window is linearizable: every `record` takes effect at one atomic step, and the totals it
 * returns are exactly those of the last `size` samples in that order. `reset(epoch)` starts an
 * empty window; a `record` made with an older epoch is then not counted (this is how a circuit
 * breaker ignores results of calls admitted before a state transition).
 *
 * Sizes from 1 to `max_size` (65535); memory is a ring of 8-byte slots, 2 to 4 per call of the
 * window, allocated once.
 * Thread-safe.
 */
class count_window {
 public:
  /// The largest supported window.
  static constexpr std::uint32_t max_size = 65535;

  /// A window of the last `size` calls (1 .. max_size; otherwise `config_error`).
  explicit count_window(std::uint32_t size, std::uint64_t epoch = 0)
      : size_(checked(size)), mask_(ring_size(size) - 1), slots_(new slot[mask_ + 1]) {
    epoch_.store(epoch, std::memory_order_relaxed);
  }
  count_window(const count_window&) = delete;
  count_window& operator=(const count_window&) = delete;

  /// The number of calls the window holds when full.
  [[nodiscard]] std::uint32_t size() const noexcept { return size_; }
  /// The current epoch (set by the constructor and `reset`).
  [[nodiscard]] std::uint64_t epoch() const noexcept { return epoch_.load(); }

  /**
   * Records one call made in `epoch`. Returns `recorded == false` (and counts nothing) if the
   * window's epoch is no longer `epoch`.
   */
  window_update record(call_sample s, std::uint64_t epoch) noexcept {
    const std::uint64_t inc = increment(s);
    std::uint64_t h = head_.load();
    for (;;) {
      // Loaded after the head: a reset between the two changes the head, so the CAS below fails
      // and the next round sees the new epoch.
      if (epoch_.load() != epoch) return {};
      const std::uint32_t p = pos(h);
      std::uint64_t xp = 0;
      if (!publish(h, xp)) {
        h = head_.load();
        continue;
      }
      const std::uint32_t fill = fill_of(h) < size_ ? fill_of(h) + 1 : size_;
      const std::uint64_t next = (h & ~(pos_mask | fill_mask | pending_mask)) | (p + 1U) |
                                 (std::uint64_t{fill} << fill_shift) | (sample_bits(s) << 48U);
      if (head_.compare_exchange_weak(h, next)) {
        window_update u{true, false, {}};
        const std::uint64_t x_new = xp + inc;
        const std::uint32_t base = p + 1U - fill;
        const std::uint64_t x_base = slots_[base & mask_].x.load();
        if (tag(x_base) == base) {
          u.has_totals = true;
          u.totals = decode(x_new - x_base);
        }
        return u;
      }
    }
  }

  /// Records one call in the current epoch.
  window_update record(call_sample s) noexcept { return record(s, epoch()); }

  /// The window now (a linearizable snapshot).
  [[nodiscard]] window_totals totals() const noexcept {
    for (;;) {
      const std::uint64_t h = head_.load();
      const std::uint32_t p = pos(h);
      std::uint64_t xp = 0;
      if (!current_x(h, xp)) continue;
      const std::uint32_t fill = fill_of(h);
      if (fill == 0) return {};
      const std::uint64_t x_base = slots_[(p - fill) & mask_].x.load();
      if (tag(x_base) != p - fill) continue;  // overwritten meanwhile: the head has moved on
      return decode(xp - x_base);
    }
  }

  /// Empties the window and starts `epoch`: records made with another epoch are not counted.
  void reset(std::uint64_t epoch) noexcept {
    epoch_.store(epoch);
    std::uint64_t h = head_.load();
    // Keep the position and the pending sample (the next record publishes it as the new base);
    // drop the fill and bump the reset tag so that no CAS prepared before this reset succeeds.
    while (!head_.compare_exchange_weak(
        h, ((h & ~(fill_mask | tag_mask)) | ((h + tag_one) & tag_mask)))) {
    }
  }

 private:
  // A slot holds X(p): the running sum, over all samples 1..p, of 1 + failed·2³² + slow·2⁴⁸,
  // mod 2⁶⁴. Its low 32 bits are p itself (the slot's tag), and the difference of two X values
  // up to 65535 samples apart decodes into exact calls, failed and slow counts.
  //
  // The head packs [tag:14 | pending:2 | fill:16 | pos:32]: the last claimed position p, the
  // window's fill, the sample of position p (not yet folded into a slot), and a reset counter.
  // A record claims p+1 with one CAS on the head, after publishing X(p) = X(p-1) + pending into
  // its slot (helping whoever claimed p): X(p-1) is always published before p can be claimed,
  // so no thread ever waits for another.
  struct alignas(8) slot {
    std::atomic<std::uint64_t> x{0};
  };

  static constexpr std::uint64_t pos_mask = 0xFFFF'FFFFULL;
  static constexpr unsigned fill_shift = 32;
  static constexpr std::uint64_t fill_mask = 0xFFFFULL << fill_shift;
  static constexpr std::uint64_t pending_mask = 0x3ULL << 48U;
  static constexpr std::uint64_t tag_one = 1ULL << 50U;
  static constexpr std::uint64_t tag_mask = ~0ULL << 50U;

  static std::uint32_t checked(std::uint32_t size) {
    detail::config_check c{"count_window"};
    c.require(size >= 1 && size <= max_size, "size", size, "must be in [1, 65535]");
    detail::raise_if(std::move(c).result());
    return size;
  }
  // Power of two with at least size+1 slack slots, so that a reader rarely finds the slot it
  // needs overwritten by a concurrent writer.
  static std::uint32_t ring_size(std::uint32_t size) noexcept {
    std::uint32_t m = 4;
    while (m < 2U * size + 2U) m *= 2U;
    return m;
  }

  static std::uint32_t pos(std::uint64_t h) noexcept { return static_cast<std::uint32_t>(h); }
  static std::uint32_t fill_of(std::uint64_t h) noexcept {
    return static_cast<std::uint32_t>((h & fill_mask) >> fill_shift);
  }
  static std::uint32_t tag(std::uint64_t x) noexcept { return static_cast<std::uint32_t>(x); }
  static std::uint64_t sample_bits(call_sample s) noexcept {
    return (s.failed ? 1U : 0U) | (s.slow ? 2U : 0U);
  }
  static std::uint64_t increment(call_sample s) noexcept {
    return 1U + (s.failed ? 1ULL << 32U : 0U) + (s.slow ? 1ULL << 48U : 0U);
  }
  static std::uint64_t pending_increment(std::uint64_t h) noexcept {
    const auto bits = (h & pending_mask) >> 48U;
    return increment({(bits & 1U) != 0, (bits & 2U) != 0});
  }
  static window_totals decode(std::uint64_t d) noexcept {
    return {d & pos_mask, (d >> 32U) & 0xFFFFU, d >> 48U};
  }

  // X(p) for the head h: read from its slot, or computed from X(p-1) and the pending sample.
  // False if the slots have moved past h (the caller reloads the head).
  bool current_x(std::uint64_t h, std::uint64_t& xp) const noexcept {
    const std::uint32_t p = pos(h);
    const std::uint64_t xs = slots_[p & mask_].x.load();
    if (tag(xs) == p) {
      xp = xs;
      return true;
    }
    const std::uint64_t prev = slots_[(p - 1U) & mask_].x.load();
    if (tag(prev) != p - 1U) return false;
    xp = prev + pending_increment(h);
    return true;
  }

  // Makes sure X(p) is in its slot before p+1 is claimed.
  bool publish(std::uint64_t h, std::uint64_t& xp) noexcept {
    const std::uint32_t p = pos(h);
    auto& cell = slots_[p & mask_].x;
    std::uint64_t xs = cell.load();
    if (tag(xs) == p) {
      xp = xs;
      return true;
    }
    // The slot must hold an older position; a newer one means the head has moved on. Positions
    // are compared modulo 2³² (a thread would have to stall for 2³¹ records to be misled).
    if (static_cast<std::int32_t>(p - tag(xs)) <= 0) return false;
    const std::uint64_t prev = slots_[(p - 1U) & mask_].x.load();
    if (tag(prev) != p - 1U) return false;
    xp = prev + pending_increment(h);
    cell.compare_exchange_strong(xs, xp);  // lost only to a helper writing the same value
    return true;
  }

  std::uint32_t size_;
  std::uint32_t mask_;
  std::unique_ptr<slot[]> slots_;
  alignas(detail::cache_line) std::atomic<std::uint64_t> head_{0};
  alignas(detail::cache_line) std::atomic<std::uint64_t> epoch_{0};
};

/**
 * The calls of the last `buckets × bucket_width` of time: a time-based sliding window, split
 * into `buckets` buckets of `bucket_width` each (the current, partial one included), as in
 * Resilience4j's time-based window (1-second buckets there). Lock-free, O(1) per call.
 *
 *     resil::time_window w{60, std::chrono::seconds{1}};     // the last minute
 *     w.record({.failed = true}, now_ns, w.epoch());
 *     auto t = w.totals(now_ns);                             // slides the window to now first
 *
 * Time is signed nanoseconds on the caller's clock (any value, including negative ones). A
 * sample is counted in the bucket of its time, or in the newest bucket seen if its time is
 * earlier (a late completion, or a clock that went backwards). A jump forward by years costs
 * O(buckets), not O(elapsed time). Each record is one to three compare-and-swaps on its bucket
 * plus one to three additions to the window's totals.
 *
 * Exact against a sequential model; under concurrency the totals can briefly miss samples still
 * being recorded (never drift). Sizes from 1 to `max_buckets` (65535). `reset(epoch)` empties it
 * and stops counting records made with an older epoch. Thread-safe.
 */
class time_window {
 public:
  /// The largest supported number of buckets.
  static constexpr std::uint32_t max_buckets = 65535;

  /// A window of `buckets` (1 .. max_buckets) buckets of `bucket_width` (positive) each.
  time_window(std::uint32_t buckets, nanoseconds bucket_width, std::uint64_t epoch = 0)
      : buckets_(checked(buckets, bucket_width)),
        width_(bucket_width.count()),
        slots_(new slot[buckets]) {
    epoch_.store(epoch, std::memory_order_relaxed);
  }
  time_window(const time_window&) = delete;
  time_window& operator=(const time_window&) = delete;

  /// The number of buckets.
  [[nodiscard]] std::uint32_t buckets() const noexcept { return buckets_; }
  /// The width of one bucket.
  [[nodiscard]] nanoseconds bucket_width() const noexcept { return nanoseconds{width_}; }
  /// The current epoch.
  [[nodiscard]] std::uint64_t epoch() const noexcept { return epoch_.load(); }

  /**
   * Records one call completed at `now_ns` (nanoseconds on the caller's clock) in `epoch`.
   * Returns `recorded == false` if the window's epoch is no longer `epoch`.
   */
  window_update record(call_sample s, std::int64_t now_ns, std::uint64_t epoch) noexcept {
    const std::int64_t b = bucket_of(now_ns);
    for (;;) {
      advance_to(b);
      const std::int64_t h = head_.load();
      const std::int64_t j = b > h ? b : h;
      step st = touch(field::calls, j, 1, &epoch);
      if (st == step::ok && s.failed) st = touch(field::failed, j, 1, &epoch);
      if (st == step::ok && s.slow) st = touch(field::slow, j, 1, &epoch);
      if (st == step::stale) return {};
      if (st == step::moved) continue;  // bucket j left the window meanwhile: count it in a newer
      return {true, true, read_totals()};
    }
  }

  /// Records one call in the current epoch.
  window_update record(call_sample s, std::int64_t now_ns) noexcept {
    return record(s, now_ns, epoch());
  }

  /// The window at `now_ns`: slides it forward to `now_ns` first (never backwards).
  [[nodiscard]] window_totals totals(std::int64_t now_ns) noexcept {
    advance_to(bucket_of(now_ns));
    return read_totals();
  }

  /// Empties the window and starts `epoch`.
  void reset(std::uint64_t epoch) noexcept {
    epoch_.store(epoch);
    for (std::uint32_t i = 0; i < buckets_; ++i) {
      for (auto f : {field::calls, field::failed, field::slow}) {
        auto& word = slots_[i].word[static_cast<unsigned>(f)];
        std::uint64_t w = word.load();
        // Bump the version even of empty words, so that no CAS prepared before the reset
        // succeeds after it.
        while (!word.compare_exchange_weak(w, (w & tag_mask) | ((w + ver_one) & ver_mask))) {
        }
        subtract(f, w & count_mask);
      }
    }
  }

 private:
  // Each bucket field is one word [tag:16 | version:8 | count:40]: the bucket index modulo 2¹⁶
  // (distinct for the ≤ 65535 buckets a window spans), a reset counter, and the count. Buckets
  // are recycled by CAS from an older tag to the new one, subtracting the evicted count from the
  // running totals; the decision that a tag is older is always made against the head (a full
  // 64-bit bucket index), never by comparing tags.
  enum class field : unsigned { calls = 0, failed = 1, slow = 2 };
  enum class step { ok, stale, moved };
  struct slot {
    std::atomic<std::uint64_t> word[3] = {0, 0, 0};
  };

  static constexpr unsigned tag_shift = 48;
  static constexpr std::uint64_t tag_mask = 0xFFFFULL << tag_shift;
  static constexpr std::uint64_t ver_one = 1ULL << 40U;
  static constexpr std::uint64_t ver_mask = 0xFFULL << 40U;
  static constexpr std::uint64_t count_mask = (1ULL << 40U) - 1U;

  static std::uint32_t checked(std::uint32_t buckets, nanoseconds width) {
    detail::config_check c{"time_window"};
    c.require(buckets >= 1 && buckets <= max_buckets, "buckets", buckets, "must be in [1, 65535]");
    c.require(width.count() > 0, "bucket_width", width, "must be positive");
    detail::raise_if(std::move(c).result());
    return buckets;
  }

  [[nodiscard]] std::int64_t bucket_of(std::int64_t t) const noexcept {
    std::int64_t q = t / width_;
    if (t % width_ != 0 && t < 0) --q;  // floor, also for times before the clock's epoch
    return q;
  }
  [[nodiscard]] std::uint32_t index(std::int64_t j) const noexcept {
    const std::int64_t n = buckets_;
    return static_cast<std::uint32_t>(((j % n) + n) % n);
  }
  static std::uint64_t tag(std::int64_t j) noexcept {
    return (static_cast<std::uint64_t>(j) << tag_shift) & tag_mask;
  }
  // Bucket j still in the window: the head is less than `buckets` past it.
  [[nodiscard]] bool in_window(std::int64_t j) const noexcept {
    const std::int64_t h = head_.load();
    return h <= j || static_cast<std::uint64_t>(h) - static_cast<std::uint64_t>(j) < buckets_;
  }

  void subtract(field f, std::uint64_t n) noexcept {
    if (n != 0) totals_[static_cast<unsigned>(f)].fetch_sub(static_cast<std::int64_t>(n));
  }

  // Makes field f of bucket j's slot hold bucket j (evicting an older bucket), then adds `add`.
  // A non-null epoch is checked after each load of the word: a record of an ended epoch stops.
  step touch(field f, std::int64_t j, std::uint64_t add, const std::uint64_t* epoch) noexcept {
    auto& word = slots_[index(j)].word[static_cast<unsigned>(f)];
    const std::uint64_t t = tag(j);
    std::uint64_t w = word.load();
    for (;;) {
      if (epoch != nullptr && epoch_.load() != *epoch) return step::stale;
      if ((w & tag_mask) != t) {
        if (!in_window(j)) return step::moved;
        if (word.compare_exchange_weak(w, t | (w & ver_mask))) {
          subtract(f, w & count_mask);
          w = t | (w & ver_mask);
        }
        continue;
      }
      if (add == 0) return step::ok;
      if ((w & count_mask) == count_mask) return step::ok;  // 10¹² calls in one bucket: saturate
      if (word.compare_exchange_weak(w, w + add)) {
        totals_[static_cast<unsigned>(f)].fetch_add(static_cast<std::int64_t>(add));
        return step::ok;
      }
    }
  }

  // Moves the head to bucket b if b is newer, recycling the buckets that left the window:
  // at most `buckets` of them, however far time jumped.
  void advance_to(std::int64_t b) noexcept {
    std::int64_t h = head_.load();
    while (b > h) {
      if (head_.compare_exchange_weak(h, b)) {
        std::uint64_t n = static_cast<std::uint64_t>(b) - static_cast<std::uint64_t>(h);
        if (n > buckets_) n = buckets_;
        for (std::uint64_t k = 0; k < n; ++k) {
          const std::int64_t j = b - static_cast<std::int64_t>(k);
          for (auto f : {field::calls, field::failed, field::slow}) {
            if (touch(f, j, 0, nullptr) == step::moved) return;
          }
        }
        return;
      }
    }
  }

  [[nodiscard]] window_totals read_totals() const noexcept {
    // Transiently a total may lag (an eviction subtracted a count whose addition is still on
    // its way): clamp, so that 0 <= slow, failed <= calls.
    const auto clamp = [](std::int64_t v) { return v > 0 ? static_cast<std::uint64_t>(v) : 0U; };
    window_totals t{clamp(totals_[0].load()), clamp(totals_[1].load()), clamp(totals_[2].load())};
    if (t.failed > t.calls) t.failed = t.calls;
    if (t.slow > t.calls) t.slow = t.calls;
    return t;
  }

  std::uint32_t buckets_;
  std::int64_t width_;
  std::unique_ptr<slot[]> slots_;
  alignas(detail::cache_line) std::atomic<std::int64_t> head_{
      std::numeric_limits<std::int64_t>::min()};
  alignas(detail::cache_line) std::atomic<std::int64_t> totals_[3] = {0, 0, 0};
  alignas(detail::cache_line) std::atomic<std::uint64_t> epoch_{0};
};

}  // namespace resil
