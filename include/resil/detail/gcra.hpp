// The fixed-point arithmetic of GCRA, the token-bucket equivalent behind resil's rate limiters:
// time is counted in "units" chosen so that one emission interval is an exact integer number of
// them, every step is integer arithmetic, and every rounding goes against the caller. Not API.
// SPDX-License-Identifier: MIT
#pragma once

#include <atomic>
#include <cstdint>
#include <limits>

#include "../core/config.hpp"

namespace resil::detail {

// -- 128-bit arithmetic --------------------------------------------------------------------
// Two implementations of the few operations the fixed-point math needs: `native_ops` on
// __int128, and `portable_ops` on a pair of 64-bit words for compilers without it. The GCRA
// functions below are written once over either; the tests check that both agree.

/// A signed 128-bit value as two 64-bit halves: hi * 2^64 + lo.
struct int128_pair {
  std::uint64_t lo = 0;
  std::int64_t hi = 0;

  friend constexpr bool operator==(const int128_pair& a, const int128_pair& b) noexcept {
    return a.hi == b.hi && a.lo == b.lo;
  }
  friend constexpr bool operator<(const int128_pair& a, const int128_pair& b) noexcept {
    return a.hi < b.hi || (a.hi == b.hi && a.lo < b.lo);
  }
  friend constexpr int128_pair operator+(const int128_pair& a, const int128_pair& b) noexcept {
    const std::uint64_t low = a.lo + b.lo;
    const std::uint64_t high = static_cast<std::uint64_t>(a.hi) + static_cast<std::uint64_t>(b.hi) +
                               (low < a.lo ? 1U : 0U);
    return {low, static_cast<std::int64_t>(high)};
  }
  friend constexpr int128_pair operator-(const int128_pair& a, const int128_pair& b) noexcept {
    const std::uint64_t low = a.lo - b.lo;
    const std::uint64_t high = static_cast<std::uint64_t>(a.hi) - static_cast<std::uint64_t>(b.hi) -
                               (a.lo < b.lo ? 1U : 0U);
    return {low, static_cast<std::int64_t>(high)};
  }
};

struct portable_ops {
  using wide = int128_pair;

  static constexpr wide of(std::int64_t v) noexcept {
    return {static_cast<std::uint64_t>(v), v < 0 ? -1 : 0};
  }

  static constexpr std::uint64_t magnitude(std::int64_t v) noexcept {
    return v < 0 ? 0 - static_cast<std::uint64_t>(v) : static_cast<std::uint64_t>(v);
  }

  static constexpr wide negate(wide v) noexcept { return wide{} - v; }

  static constexpr wide mul(std::int64_t a, std::int64_t b) noexcept {
    const std::uint64_t ua = magnitude(a);
    const std::uint64_t ub = magnitude(b);
    const std::uint64_t a0 = ua & 0xFFFFFFFFU;
    const std::uint64_t a1 = ua >> 32U;
    const std::uint64_t b0 = ub & 0xFFFFFFFFU;
    const std::uint64_t b1 = ub >> 32U;
    const std::uint64_t p00 = a0 * b0;
    const std::uint64_t p01 = a0 * b1;
    const std::uint64_t p10 = a1 * b0;
    const std::uint64_t mid = (p00 >> 32U) + (p01 & 0xFFFFFFFFU) + (p10 & 0xFFFFFFFFU);
    const wide product{
        (p00 & 0xFFFFFFFFU) | (mid << 32U),
        static_cast<std::int64_t>(a1 * b1 + (p01 >> 32U) + (p10 >> 32U) + (mid >> 32U))};
    return (a < 0) != (b < 0) ? negate(product) : product;
  }

  /// floor(v / 2^62); the caller guarantees the result fits.
  static constexpr std::int64_t shr62(wide v) noexcept {
    return static_cast<std::int64_t>(static_cast<std::uint64_t>(v.hi) * 4U + (v.lo >> 62U));
  }

  // (hi * 2^64 + lo) / d for hi < d, bit by bit (cold paths only).
  static constexpr std::uint64_t udiv(std::uint64_t hi, std::uint64_t lo, std::uint64_t d,
                                      std::uint64_t& rem) noexcept {
    std::uint64_t q = 0;
    for (int i = 0; i < 64; ++i) {
      const bool carry = (hi >> 63U) != 0;
      hi = (hi << 1U) | (lo >> 63U);
      lo <<= 1U;
      q <<= 1U;
      if (carry || hi >= d) {
        hi -= d;
        q |= 1U;
      }
    }
    rem = hi;
    return q;
  }

  static constexpr std::int64_t saturate(bool negative, std::uint64_t m, bool overflow) noexcept {
    constexpr auto max = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    if (negative) {
      return overflow || m > max ? std::numeric_limits<std::int64_t>::min()
                                 : -static_cast<std::int64_t>(m);
    }
    return overflow || m > max ? std::numeric_limits<std::int64_t>::max()
                               : static_cast<std::int64_t>(m);
  }

  /// ceil(v / d) (or floor, when `up` is false) for d > 0, saturated to int64.
  static constexpr std::int64_t div(wide v, std::int64_t d, bool up) noexcept {
    const bool negative = v.hi < 0;
    const wide mag = negative ? negate(v) : v;
    const auto ud = static_cast<std::uint64_t>(d);
    const auto hi = static_cast<std::uint64_t>(mag.hi);
    if (hi >= ud) return saturate(negative, 0, true);
    std::uint64_t rem = 0;
    std::uint64_t q = udiv(hi, mag.lo, ud, rem);
    // Rounding the magnitude up gives the ceiling of a positive value, the floor of a negative.
    bool overflow = false;
    if (rem != 0 && up != negative) {
      overflow = q == std::numeric_limits<std::uint64_t>::max();
      ++q;
    }
    return saturate(negative, q, overflow);
  }
};

#if defined(__SIZEOF_INT128__)
struct native_ops {
  __extension__ typedef __int128 wide;  // NOLINT(modernize-use-using)

  static constexpr wide of(std::int64_t v) noexcept { return v; }
  static constexpr wide mul(std::int64_t a, std::int64_t b) noexcept {
    return static_cast<wide>(a) * b;
  }
  static constexpr std::int64_t shr62(wide v) noexcept {
    return static_cast<std::int64_t>(v >> 62);
  }
  static constexpr std::int64_t div(wide v, std::int64_t d, bool up) noexcept {
    wide q = v / d;
    const wide r = v % d;
    if (r != 0 && (r > 0) == up) q += up ? 1 : -1;
    if (q > std::numeric_limits<std::int64_t>::max())
      return std::numeric_limits<std::int64_t>::max();
    if (q < std::numeric_limits<std::int64_t>::min())
      return std::numeric_limits<std::int64_t>::min();
    return static_cast<std::int64_t>(q);
  }
};
using wide_ops = native_ops;
#else
using wide_ops = portable_ops;
#endif

// -- GCRA ---------------------------------------------------------------------------------

/*
 * Time in units. For permits P per period D ns, the emission interval is T = D/P ns. We count
 * time in units of u = T/m ns with m = floor(T), so T is exactly m units and u is in [1, 2) ns,
 * and exactly 1 ns whenever T is a whole number of nanoseconds. A time t (ns) is
 * (t - epoch) * m*P/D units, the epoch being the limiter's construction; the conversion is
 * exact (a fixed-point estimate corrected by a 128-bit remainder), and free when T is whole.
 * Every step of the theoretical arrival time (TAT) is an exact integer number of units: no drift.
 *
 * A time maps to two unit values: floor ("lo"), used to test whether a grant is due, and ceiling
 * ("hi"), used as the base of a new TAT (they differ only for fractional T). With the rule
 *
 *     grant n <=> n <= burst and TAT - lo <= (burst - n) * m;   TAT' = max(TAT, hi) + n * m
 *
 * every granted interval [base, TAT') starts at or after its grant time and ends at most
 * burst * m units after it, so in every time window of length W the grants are at most
 * burst + floor(W * P / D) (docs/policies/rate-limiter.md has the proof).
 *
 * Unit times are clamped to [-2^60, 2^60], at least 36 years either side of the epoch: beyond,
 * the limiter's time stands still (no refill, so the bound still holds). A TAT is at most a
 * tolerance (< 2^59) beyond that, so TATs live in [tat_min, tat_max] = [-2^61, 2^61 - 1] and the
 * two spare bits of a 64-bit word can hold a configuration generation.
 */
inline constexpr std::int64_t unit_limit = std::int64_t{1} << 60;
inline constexpr std::int64_t tat_min = -(std::int64_t{1} << 61);
inline constexpr std::int64_t tat_max = (std::int64_t{1} << 61) - 1;
/// Largest burst * m (the tolerance, in units): 2^59 units is at least 18 years.
inline constexpr std::int64_t max_tolerance = std::int64_t{1} << 59;
/// Returned by gcra_next when the request is refused.
inline constexpr std::int64_t gcra_refused = std::numeric_limits<std::int64_t>::min();

/// The derived, fixed-point form of (permits, period, burst).
struct gcra_params {
  std::uint64_t permits = 1;
  std::int64_t period = 1;  // D, ns
  std::uint64_t burst = 1;
  std::int64_t m = 1;          // units per permit (the emission interval), >= 1
  std::int64_t mp = 1;         // m * permits: units per period (== period when T is whole)
  std::uint64_t rate = 1;      // floor(mp * 2^62 / period): units per ns, in fixed point
  std::int64_t tolerance = 1;  // burst * m
};

/// Why (permits, period, burst) cannot be represented, or nullptr when it can.
[[nodiscard]] constexpr const char* gcra_unrepresentable(std::uint64_t permits, std::int64_t period,
                                                         std::uint64_t burst) noexcept {
  if (permits == 0 || period <= 0 || burst == 0) return "must be positive";
  if (permits > static_cast<std::uint64_t>(period)) return "too high a rate";
  const auto m = static_cast<std::uint64_t>(period) / permits;
  if (burst > static_cast<std::uint64_t>(max_tolerance) / m) return "too large a burst";
  return nullptr;
}

/// Precondition: gcra_unrepresentable(permits, period, burst) == nullptr.
template <class Ops = wide_ops>
[[nodiscard]] constexpr gcra_params make_gcra(std::uint64_t permits, std::int64_t period,
                                              std::uint64_t burst) noexcept {
  gcra_params p;
  p.permits = permits;
  p.period = period;
  p.burst = burst;
  const std::uint64_t m = static_cast<std::uint64_t>(period) / permits;  // floor(T)
  p.m = static_cast<std::int64_t>(m);
  p.mp = static_cast<std::int64_t>(m * permits);
  p.rate =
      static_cast<std::uint64_t>(Ops::div(Ops::mul(p.mp, std::int64_t{1} << 62), period, false));
  p.tolerance = static_cast<std::int64_t>(burst * m);
  return p;
}

/// A time point in units: floor and ceiling of (t - epoch) * mp / period, clamped to
/// +-unit_limit.
struct unit_time {
  std::int64_t lo;
  std::int64_t hi;
};

template <class Ops = wide_ops>
[[nodiscard]] constexpr unit_time to_units(std::int64_t t, std::int64_t epoch,
                                           const gcra_params& p) noexcept {
  std::int64_t d = 0;
  if (__builtin_sub_overflow(t, epoch, &d)) {
    return t > epoch ? unit_time{unit_limit, unit_limit} : unit_time{-unit_limit, -unit_limit};
  }
  constexpr std::int64_t far = std::int64_t{1} << 62;  // beyond it, |d * r| > unit_limit
  if (d > far) return {unit_limit, unit_limit};
  if (d < -far) return {-unit_limit, -unit_limit};
  std::int64_t lo = d;
  std::int64_t hi = d;
  if (p.mp != p.period) {
    // Estimate with the fixed-point rate (at most 2 units off), then correct it exactly with the
    // remainder d * mp - lo * period, which must end in [0, period).
    lo = Ops::shr62(Ops::mul(d, static_cast<std::int64_t>(p.rate)));
    auto rem = Ops::mul(d, p.mp) - Ops::mul(lo, p.period);
    const auto period = Ops::of(p.period);
    const auto zero = Ops::of(0);
    while (!(rem < period)) {
      ++lo;
      rem = rem - period;
    }
    while (rem < zero) {
      --lo;
      rem = rem + period;
    }
    hi = rem == zero ? lo : lo + 1;
  }
  if (lo >= unit_limit) return {unit_limit, unit_limit};
  if (lo < -unit_limit) return {-unit_limit, -unit_limit};
  return {lo, hi};
}

/// The earliest time (ns) whose floor in units is at least `a` (|a| <= 2^61): the smallest d
/// with d * mp >= a * period, plus the epoch. int64 max when none is.
template <class Ops = wide_ops>
[[nodiscard]] constexpr std::int64_t from_units(std::int64_t a, std::int64_t epoch,
                                                const gcra_params& p) noexcept {
  if (a > unit_limit) return std::numeric_limits<std::int64_t>::max();
  const std::int64_t d = p.mp == p.period ? a : Ops::div(Ops::mul(a, p.period), p.mp, true);
  std::int64_t t = 0;
  if (__builtin_add_overflow(d, epoch, &t)) return std::numeric_limits<std::int64_t>::max();
  return t;
}

/// The TAT after granting n (1 <= n <= burst) at `now`, or gcra_refused.
[[nodiscard]] constexpr std::int64_t gcra_next(const gcra_params& p, std::int64_t tat,
                                               unit_time now, std::uint64_t n) noexcept {
  const auto cost = static_cast<std::int64_t>(n) * p.m;
  if (tat - now.lo > p.tolerance - cost) return gcra_refused;
  const std::int64_t next = (tat > now.hi ? tat : now.hi) + cost;
  return next <= tat_max ? next : gcra_refused;
}

/// The earliest time (ns) at which n (1 <= n <= burst) permits can be granted, given `tat`:
/// `t` itself when they can be granted now, int64 max when never.
template <class Ops = wide_ops>
[[nodiscard]] constexpr std::int64_t gcra_ready(const gcra_params& p, std::int64_t tat,
                                                std::int64_t t, std::int64_t epoch, unit_time now,
                                                std::uint64_t n) noexcept {
  const std::int64_t due = tat - (p.tolerance - static_cast<std::int64_t>(n) * p.m);
  if (due <= now.lo) return t;
  return from_units<Ops>(due, epoch, p);
}

/// Permits that could be granted at `now` (0 when the bucket is empty or in debt).
[[nodiscard]] constexpr std::uint64_t gcra_available(const gcra_params& p, std::int64_t tat,
                                                     unit_time now) noexcept {
  const std::int64_t debt = tat - now.lo;  // units until the bucket is full again
  if (debt <= 0) return p.burst;
  if (debt >= p.tolerance) return 0;
  return static_cast<std::uint64_t>((p.tolerance - debt) / p.m);
}

/// Converts a TAT from one configuration to another at time t (ns), keeping the number of
/// permits available (capped at the new burst; a debt from reservations carries over), rounded
/// against the caller. A full bucket becomes full as of t.
template <class Ops = wide_ops>
[[nodiscard]] constexpr std::int64_t gcra_convert(const gcra_params& from, const gcra_params& to,
                                                  std::int64_t tat, std::int64_t t,
                                                  std::int64_t epoch) noexcept {
  // debt = units until the bucket is full; available = burst - debt / m.
  const std::int64_t old_debt = tat - to_units<Ops>(t, epoch, from).lo;
  std::int64_t debt = old_debt <= 0 ? 0 : Ops::div(Ops::mul(old_debt, to.m), from.m, true);
  if (to.burst >= from.burst) {
    const auto grow = static_cast<std::int64_t>(to.burst - from.burst) * to.m;  // < 2^59
    debt = debt > tat_max ? tat_max : debt + grow;
  } else {
    const std::uint64_t shrink = from.burst - to.burst;
    const auto whole = static_cast<std::uint64_t>(debt / to.m);
    debt = shrink > whole ? 0 : debt - static_cast<std::int64_t>(shrink) * to.m;
  }
  // "Full" means full from t on, not at any time: a caller whose clock reading predates the
  // change must not find a bucket fuller than it was then.
  const unit_time now = to_units<Ops>(t, epoch, to);
  if (debt <= 0) return now.lo;
  return debt > tat_max - now.hi ? tat_max : now.hi + debt;
}

// One configuration generation, read lock-free by acquirers (relaxed atomics: a reader that
// raced with a rewrite of this slot fails its CAS, see basic_rate_limiter::word_).
struct alignas(cache_line) gcra_slot {
  std::atomic<std::uint64_t> rate{1};
  std::atomic<std::int64_t> m{1};
  std::atomic<std::int64_t> mp{1};
  std::atomic<std::int64_t> tolerance{1};
  std::atomic<std::uint64_t> burst{1};
  std::atomic<std::uint64_t> permits{1};
  std::atomic<std::int64_t> period{1};

  void store(const gcra_params& p) noexcept {
    rate.store(p.rate, std::memory_order_relaxed);
    m.store(p.m, std::memory_order_relaxed);
    mp.store(p.mp, std::memory_order_relaxed);
    tolerance.store(p.tolerance, std::memory_order_relaxed);
    burst.store(p.burst, std::memory_order_relaxed);
    permits.store(p.permits, std::memory_order_relaxed);
    period.store(p.period, std::memory_order_relaxed);
  }
  // The fields a decision needs.
  [[nodiscard]] gcra_params hot() const noexcept {
    gcra_params p;
    p.rate = rate.load(std::memory_order_relaxed);
    p.m = m.load(std::memory_order_relaxed);
    p.mp = mp.load(std::memory_order_relaxed);
    p.period = period.load(std::memory_order_relaxed);
    p.tolerance = tolerance.load(std::memory_order_relaxed);
    p.burst = burst.load(std::memory_order_relaxed);
    return p;
  }
  [[nodiscard]] gcra_params all() const noexcept {
    gcra_params p = hot();
    p.permits = permits.load(std::memory_order_relaxed);
    return p;
  }
};

}  // namespace resil::detail
