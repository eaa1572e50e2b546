// Sliding windows of call outcomes (count-based and time-based): lock-free, O(1) per call and
// exact, they hold the failure and slow-call rates a circuit breaker decides on.
// SPDX-License-Identifier: MIT
#pragma once

#include <atomic>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <thread>

#include "../detail/config_check.hpp"
#include "config.hpp"
#include "time.hpp"

namespace resil {

namespace detail {

/// A hint to the CPU that the thread is waiting in a retry loop (x86 `pause`, ARM `yield`).
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
  __asm__ __volatile__("yield");
#endif
}

// Pauses after a lost compare-and-swap on a hot line: 64, then 128 (about 1 µs on the project's
// VM). Long enough for the winner to make a run of records, which is what keeps two contending
// threads near the cost of one contended RMW per call.
inline constexpr unsigned cas_backoff_min = 64;
inline constexpr unsigned cas_backoff_max = 128;
constexpr unsigned next_backoff(unsigned b) noexcept {
  return b < cas_backoff_max ? 2 * b : cas_backoff_max;
}

}  // namespace detail

class count_window;
namespace detail {
struct count_window_access;  // lets tests start a window near the 2^32 position wrap
struct time_window_access;   // lets tests replay a record preempted while the head moves
}  // namespace detail

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
  /// True when `totals` is the window as of this sample. Under concurrency a count window may
  /// rarely skip it (a slot it needs is not published yet); a later record then reports it.
  bool has_totals = false;
  /// The window's totals right after this sample (meaningful when `has_totals`).
  window_totals totals{};
};

/**
 * The last `size` calls: a count-based sliding window, lock-free and exact.
 *
 *     resil::count_window w{100};
 *     auto u = w.record({.failed = true}, w.epoch());   // u.totals: {1, 1, 0}
 *
 * `record` is O(1): one compare-and-swap and one store, no lock, no allocation, no clock read.
 * Every `record` takes effect at its compare-and-swap, and the totals it returns are exactly
 * those of the last `size` samples in that order. `reset(epoch)` starts an empty window; a
 * `record` made with an older epoch is then not counted (this is how a circuit breaker ignores
 * results of calls admitted before a state transition). `reset` must not race with records of
 * the new epoch (a breaker resets before it admits calls in the new state).
 *
 * Sizes from 1 to `max_size` (65535); memory is a ring of 8-byte slots, 2 to 4 per call of the
 * window (at least 64), allocated once. Thread-safe.
 */
class count_window {
 public:
  /// The largest supported window.
  static constexpr std::uint32_t max_size = 65535;

  /// A window of the last `size` calls (1 .. max_size; otherwise `config_error`).
  explicit count_window(std::uint32_t size, std::uint64_t epoch = 0)
      : size_(checked(size)), mask_(ring_size(size) - 1), slots_(new slot[mask_ + 1]) {
    epoch_.store(epoch, std::memory_order_relaxed);
    full_.store(epoch + 1, std::memory_order_relaxed);  // "not full in this epoch"
  }
  count_window(const count_window&) = delete;
  count_window& operator=(const count_window&) = delete;

  /// The number of calls the window holds when full.
  [[nodiscard]] std::uint32_t size() const noexcept { return size_; }
  /// The current epoch (set by the constructor and `reset`).
  [[nodiscard]] std::uint64_t epoch() const noexcept { return epoch_.load(); }

  /**
   * Records one call made in `epoch`. Returns `recorded == false` (and counts nothing) if the
   * window's epoch is no longer `epoch`. With `totals == false` the totals are computed only
   * while the window is still filling up (or after an evaluation was skipped), which is all a
   * threshold check needs after a success.
   */
  window_update record(call_sample s, std::uint64_t epoch, bool totals = true) noexcept {
    const std::uint64_t inc = increment(s);
    std::uint64_t h = head_.load();
    for (unsigned backoff = detail::cas_backoff_min;; backoff = detail::next_backoff(backoff)) {
      // Loaded after the head: a reset between the two changes the head, so the CAS fails and
      // the next round sees the new epoch.
      if (epoch_.load() != epoch) return {};
      if (head_.compare_exchange_weak(h, h + inc)) break;
      // Lost to another thread: let it record a run of calls before competing for the line again
      // (without this, two threads hand the head and the ring back and forth on every record).
      for (unsigned i = 0; i < backoff; ++i) detail::cpu_relax();
      h = head_.load();
    }
    const std::uint64_t x = h + inc;
    const std::uint32_t q = tag(x);
    slots_[index(q)].x.store(x, std::memory_order_release);
    window_update u{true, false, {}};
    const bool filling = full_.load(std::memory_order_relaxed) != epoch;  // this one may fill it
    const std::uint32_t fill = fill_at(q, epoch);
    if (totals || filling || skipped_.load(std::memory_order_relaxed)) {
      u.has_totals = totals_at(x, fill, u.totals);
    }
    return u;
  }

  /// Records one call in the current epoch.
  window_update record(call_sample s) noexcept { return record(s, epoch()); }

  /// The window now. If a writer is between its claim and its publication, waits for it.
  [[nodiscard]] window_totals totals() const noexcept {
    for (;;) {
      const std::uint64_t x = head_.load();
      const std::uint32_t q = tag(x);
      const std::uint32_t fill = fill_at(q, epoch_.load());
      if (fill == 0) return {};
      const std::uint64_t xb = slots_[index(q - fill)].x.load(std::memory_order_acquire);
      if (tag(xb) == q - fill) return decode(x - xb);
      std::this_thread::yield();
    }
  }

  /// Empties the window and starts `epoch`: records made with another epoch are not counted.
  void reset(std::uint64_t epoch) noexcept {
    epoch_.store(epoch);
    // The new window starts at a virtual position one past the last record (it counts no call):
    // moving the head also makes every CAS prepared before this reset fail.
    std::uint64_t h = head_.load();
    while (!head_.compare_exchange_weak(h, h + 1)) {
    }
    slots_[index(tag(h + 1))].x.store(h + 1, std::memory_order_release);
    base_.store(tag(h + 1), std::memory_order_release);
    full_.store(epoch + 1, std::memory_order_relaxed);
    skipped_.store(false, std::memory_order_relaxed);
  }

 private:
  // The head holds X(p), the running sum over every record so far of 1 + failed·2³² + slow·2⁴⁸
  // (mod 2⁶⁴), whose low 32 bits are the position p of the last record. A record claims the
  // next position with one CAS on the head, then stores its X in the ring; the difference of
  // two X values up to 65535 records apart decodes into exact calls, failed and slow counts, so
  // the window is X(p) - X(p - fill) with X(p) known to the writer and X(p - fill) read from the
  // ring (its tag, the low 32 bits, tells whether it is the right one).
  struct alignas(8) slot {
    std::atomic<std::uint64_t> x{0};
  };

  static constexpr std::uint64_t pos_mask = 0xFFFF'FFFFULL;

  static std::uint32_t checked(std::uint32_t size) {
    detail::config_check c{"count_window"};
    c.require(size >= 1 && size <= max_size, "size", size, "must be in [1, 65535]");
    detail::raise_if(std::move(c).result());
    return size;
  }
  // A power of two with at least size+1 slack slots (so that the slot a writer needs has rarely
  // been recycled).
  static std::uint32_t ring_size(std::uint32_t size) noexcept {
    std::uint32_t m = 64;
    while (m < 2U * size + 2U) m *= 2U;
    return m;
  }
  // Consecutive positions share cache lines: with the CAS backoff a thread records runs of
  // positions, so the ring lines it writes are mostly its own.
  [[nodiscard]] std::uint32_t index(std::uint32_t q) const noexcept { return q & mask_; }

  static std::uint32_t tag(std::uint64_t x) noexcept { return static_cast<std::uint32_t>(x); }
  static std::uint64_t increment(call_sample s) noexcept {
    return 1U + (s.failed ? 1ULL << 32U : 0U) + (s.slow ? 1ULL << 48U : 0U);
  }
  static window_totals decode(std::uint64_t d) noexcept {
    return {d & pos_mask, (d >> 32U) & 0xFFFFU, d >> 48U};
  }
  // Records of `epoch` in the window ending at position q. Once the window has been full in an
  // epoch it stays full, which keeps positions free to wrap around 2³² (in a few minutes at
  // full speed).
  [[nodiscard]] std::uint32_t fill_at(std::uint32_t q, std::uint64_t epoch) const noexcept {
    if (full_.load(std::memory_order_relaxed) == epoch) return size_;
    const std::uint32_t d = q - base_.load(std::memory_order_acquire);
    if (d < size_) return d;
    full_.store(epoch, std::memory_order_relaxed);  // a stale record only marks its own epoch
    return size_;
  }

  // The window ending at the record whose running sum is x. False if the record it starts from
  // is not in the ring: its writer has not stored it yet (after a short wait) or it was already
  // recycled. A later record then evaluates (see skipped_).
  bool totals_at(std::uint64_t x, std::uint32_t fill, window_totals& out) noexcept {
    const std::uint32_t q = tag(x);
    if (fill == 0) {
      out = {};
      return true;
    }
    const std::uint32_t b = q - fill;
    const auto& cell = slots_[index(b)].x;
    std::uint64_t xb = cell.load(std::memory_order_acquire);
    for (int spin = 0; tag(xb) != b; ++spin) {
      // Only a writer between its CAS and its store (a few instructions) is worth waiting for.
      if (spin == 64 || static_cast<std::int32_t>(tag(xb) - b) > 0) {
        skipped_.store(true, std::memory_order_relaxed);
        return false;
      }
      xb = cell.load(std::memory_order_acquire);
    }
    if (skipped_.load(std::memory_order_relaxed)) skipped_.store(false, std::memory_order_relaxed);
    out = decode(x - xb);
    return true;
  }

  std::uint32_t size_;
  std::uint32_t mask_;
  std::unique_ptr<slot[]> slots_;
  alignas(detail::cache_line) std::atomic<std::uint64_t> head_{0};
  // Read on every record, written only by reset: kept off the head's line.
  alignas(detail::cache_line) std::atomic<std::uint64_t> epoch_{0};
  std::atomic<std::uint32_t> base_{0};  // position of the current epoch's (virtual) first slot
  mutable std::atomic<std::uint64_t> full_{0};  // the epoch in which the window has filled up
  std::atomic<bool> skipped_{false};            // an evaluation found its starting record missing

  friend struct detail::count_window_access;
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
    for (unsigned backoff = detail::cas_backoff_min;; backoff = detail::next_backoff(backoff)) {
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
      for (unsigned i = 0; i < backoff; ++i) detail::cpu_relax();  // as in count_window
      w = word.load();
    }
  }

  // Moves the head to bucket b if b is newer, recycling the buckets that left the window:
  // at most `buckets` of them, however far time jumped.
  void advance_to(std::int64_t b) noexcept {
    std::int64_t h = head_.load();
    while (b > h) {
      // A jump past the whole window: every bucket in it is dead, but a dead one whose index
      // equals the new one's modulo 2^16 carries the same tag, and `touch` would keep its
      // counts. Such a slot is emptied here. Only the head bucket's slot can also receive new
      // samples (records go to the head), so its words are read before the jump: unchanged
      // after it, they hold only the dead bucket's counts.
      const bool whole = static_cast<std::uint64_t>(b) - static_cast<std::uint64_t>(h) >= buckets_;
      std::uint64_t before[3] = {0, 0, 0};
      if (whole) {
        for (unsigned f = 0; f < 3; ++f) before[f] = slots_[index(b)].word[f].load();
      }
      if (head_.compare_exchange_weak(h, b)) {
        std::uint64_t n = static_cast<std::uint64_t>(b) - static_cast<std::uint64_t>(h);
        if (n > buckets_) n = buckets_;
        for (std::uint64_t k = 0; k < n; ++k) {
          const std::int64_t j = b - static_cast<std::int64_t>(k);
          for (auto f : {field::calls, field::failed, field::slow}) {
            if (whole) drop_alias(f, j, k == 0 ? &before[static_cast<unsigned>(f)] : nullptr);
            if (touch(f, j, 0, nullptr) == step::moved) return;
          }
        }
        return;
      }
    }
  }

  // Empties field f of bucket j's slot if it holds a dead bucket with j's tag (see advance_to);
  // with `before`, only if the word is still the one read before the jump.
  void drop_alias(field f, std::int64_t j, const std::uint64_t* before) noexcept {
    auto& word = slots_[index(j)].word[static_cast<unsigned>(f)];
    std::uint64_t w = word.load();
    if ((w & tag_mask) != tag(j) || (w & count_mask) == 0) return;
    if (before != nullptr && w != *before) return;
    if (word.compare_exchange_strong(w, tag(j) | (w & ver_mask))) subtract(f, w & count_mask);
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

  friend struct detail::time_window_access;
};

}  // namespace resil
