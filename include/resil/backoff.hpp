// resil::backoff: delays between attempts (constant, linear, exponential) with optional jitter.
// SPDX-License-Identifier: MIT
#pragma once

#include <chrono>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "core/errors.hpp"
#include "core/random.hpp"
#include "core/time.hpp"
#include "detail/config_check.hpp"

namespace resil {

/// How a backoff randomizes its delays.
enum class jitter_kind : std::uint8_t {
  none,             ///< The exact delay of the shape.
  full,             ///< AWS "full jitter": uniform in [0, d].
  equal,            ///< AWS "equal jitter": d/2 + uniform in [0, d/2].
  decorrelated,     ///< AWS "decorrelated jitter": min(cap, uniform in [base, 3 * previous]).
  decorrelated_v2,  ///< Polly's DecorrelatedJitterBackoffV2: exponential median, few spikes.
  proportional,     ///< d * (1 ± factor * uniform), as Resilience4j's randomization factor.
};

/// The jitter's name, as the enumerator reads: "none", "full", "equal", "decorrelated", ...
[[nodiscard]] constexpr std::string_view to_string(jitter_kind j) noexcept {
  switch (j) {
    case jitter_kind::none:
      return "none";
    case jitter_kind::full:
      return "full";
    case jitter_kind::equal:
      return "equal";
    case jitter_kind::decorrelated:
      return "decorrelated";
    case jitter_kind::decorrelated_v2:
      return "decorrelated_v2";
    case jitter_kind::proportional:
      return "proportional";
  }
  return "unknown";
}

/// The per-sequence memory of a backoff: which attempt comes next and what the last delay was
/// (decorrelated jitters need it). Start each retry sequence from a zeroed state.
struct backoff_state {
  std::uint32_t attempt = 0;  ///< Delays handed out so far in this sequence.
  nanoseconds previous{0};    ///< The last delay handed out.
  double v2_prev = 0.0;       ///< Internal to decorrelated_v2.
};

/**
 * A delay schedule between attempts: a value type built from one shape, optionally refined by a
 * jitter. Every delay is finite and in `[0, cap()]` for any attempt number (1 .. 2^32-1); without
 * jitter the sequence never decreases.
 *
 * Shapes (attempt n = 1 for the delay after the first failure):
 * - `backoff::constant(d)`: d, every time (cap = d; d·(1 + factor) with `.jitter(factor)`).
 * - `backoff::linear(base, step, cap)`: min(cap, base + (n-1)·step).
 * - `backoff::exponential(base, multiplier, cap)`: min(cap, base·multiplierⁿ⁻¹).
 *
 * Jitters (none unless asked; `d` is the shape's delay for attempt n):
 * - `.full_jitter()`: uniform in [0, d] (AWS "full jitter"; the best at spreading a herd).
 * - `.equal_jitter()`: d/2 + uniform in [0, d/2] (AWS "equal jitter").
 * - `.decorrelated_jitter()`: min(cap, uniform in [base, 3·previous]) (AWS "decorrelated").
 * - `.decorrelated_jitter_v2()`: Polly's DecorrelatedJitterBackoffV2 (for exponential shapes:
 *   medians near base·2ⁿ⁻¹ with fewer spikes than AWS's decorrelated jitter).
 * - `.jitter(factor)`: d·(1 ± factor·uniform), factor in [0, 1] (Resilience4j, gRPC style).
 *
 *     auto b = resil::backoff::exponential(100ms, 2.0, 10s).full_jitter();
 *     resil::backoff_state s;
 *     resil::splitmix64 rng{42};
 *     auto d1 = b.next(s, rng);   // uniform in [0, 100ms]
 *     auto d2 = b.next(s, rng);   // uniform in [0, 200ms]
 *
 * Invalid parameters (negative durations, multiplier below 1 or NaN, cap below base, factor
 * outside [0, 1]) are reported by `validate()`, which the policies holding a backoff call at
 * construction (`config_error`). A value type: copy freely; `next` is const and thread-safe as
 * long as each thread uses its own `backoff_state` and a thread-safe generator.
 */
class backoff {
 public:
  /// The shape of a backoff.
  enum class shape : std::uint8_t { constant, linear, exponential };

  /// No delay at all (a constant zero).
  backoff() noexcept = default;

  /// `delay` before every retry.
  [[nodiscard]] static backoff constant(time_span delay) noexcept {
    backoff b;
    b.shape_ = shape::constant;
    b.base_ = delay;
    b.cap_ = delay;
    b.fits_ = delay.fits();
    return b;
  }

  /// `base`, then `base + step`, `base + 2·step`, ..., never more than `cap`.
  [[nodiscard]] static backoff linear(time_span base, time_span step,
                                      time_span cap = nanoseconds::max()) noexcept {
    backoff b;
    b.shape_ = shape::linear;
    b.base_ = base;
    b.step_ = step;
    b.cap_ = cap;
    b.fits_ = base.fits() && step.fits() && cap.fits();
    return b;
  }

  /// `base`, then `base·multiplier`, `base·multiplier²`, ..., never more than `cap`.
  [[nodiscard]] static backoff exponential(time_span base, double multiplier = 2.0,
                                           time_span cap = nanoseconds::max()) noexcept {
    backoff b;
    b.shape_ = shape::exponential;
    b.base_ = base;
    b.multiplier_ = multiplier;
    b.cap_ = cap;
    b.fits_ = base.fits() && cap.fits();
    return b;
  }

  /// Uniform in [0, d] (AWS "full jitter").
  [[nodiscard]] backoff full_jitter() const noexcept { return with(jitter_kind::full); }
  /// d/2 + uniform in [0, d/2] (AWS "equal jitter").
  [[nodiscard]] backoff equal_jitter() const noexcept { return with(jitter_kind::equal); }
  /// min(cap, uniform in [base, 3·previous]) (AWS "decorrelated jitter").
  [[nodiscard]] backoff decorrelated_jitter() const noexcept {
    return with(jitter_kind::decorrelated);
  }
  /// Polly's DecorrelatedJitterBackoffV2, scaled by base and capped.
  [[nodiscard]] backoff decorrelated_jitter_v2() const noexcept {
    return with(jitter_kind::decorrelated_v2);
  }
  /// d·(1 ± factor·uniform), with `factor` in [0, 1]. On a constant shape the cap becomes
  /// d·(1 + factor), so the jitter is symmetric around d (as Resilience4j's and Polly's are);
  /// on linear and exponential shapes the cap given to the factory stays the cap.
  [[nodiscard]] backoff jitter(double factor) const noexcept {
    backoff b = with(jitter_kind::proportional);
    b.factor_ = factor;
    if (shape_ == shape::constant && factor >= 0.0 && factor <= 1.0) {
      b.cap_ = b.to_saturated(static_cast<long double>(base_.count()) * (1.0L + factor));
    }
    return b;
  }

  /**
   * The shape's delay for attempt `n` (1-based; 0 is treated as 1), without jitter:
   * non-decreasing in `n`, in [0, cap()].
   */
  [[nodiscard]] nanoseconds base_delay(std::uint32_t n) const noexcept {
    const std::uint64_t k = n == 0 ? 0 : n - 1U;  // steps after the first delay
    switch (shape_) {
      case shape::constant:
        return clamp(base_);
      case shape::linear: {
        const long double d = static_cast<long double>(base_.count()) +
                              static_cast<long double>(step_.count()) * static_cast<long double>(k);
        return to_capped(d);
      }
      case shape::exponential: {
        if (multiplier_ == 1.0 || base_.count() == 0) return clamp(base_);
        // base * m^k overflows long double only for astronomically large k; pow saturates to inf,
        // which to_capped maps to the cap.
        const long double d =
            static_cast<long double>(base_.count()) *
            std::pow(static_cast<long double>(multiplier_), static_cast<long double>(k));
        return to_capped(d);
      }
    }
    return nanoseconds{0};
  }

  /**
   * The next delay of a sequence: advances `s` and returns a delay in [0, cap()], drawing from
   * `rng` when a jitter is configured. Thread-safe for distinct states and a thread-safe
   * generator (`resil::splitmix64`).
   */
  template <random_generator G>
  [[nodiscard]] nanoseconds next(backoff_state& s, G& rng) const {
    if (s.attempt != std::numeric_limits<std::uint32_t>::max()) ++s.attempt;
    const nanoseconds d = delay_for(s, rng);
    s.previous = d;
    return d;
  }

  /// The largest delay this backoff hands out.
  [[nodiscard]] nanoseconds cap() const noexcept { return cap_; }
  /// The first (shortest) delay of the shape.
  [[nodiscard]] nanoseconds base() const noexcept { return base_; }
  /// The shape.
  [[nodiscard]] shape kind() const noexcept { return shape_; }
  /// The jitter.
  [[nodiscard]] jitter_kind jitter_mode() const noexcept { return jitter_; }

  /// The first invalid parameter, if any, reported under the name `field`.
  [[nodiscard]] std::optional<config_problem> validate(std::string_view field = "backoff") const {
    detail::config_check c{field};
    c.require(fits_, "durations", base_,
              "a base, step or cap does not fit in 64-bit nanoseconds (more than about 292 "
              "years, or not a finite number)");
    c.require(base_.count() >= 0, "base", base_, "must not be negative");
    c.require(step_.count() >= 0, "step", step_, "must not be negative");
    c.require(multiplier_ >= 1.0 && multiplier_ < std::numeric_limits<double>::infinity(),
              "multiplier", multiplier_, "must be finite and at least 1");
    c.require(cap_ >= base_, "cap", cap_, "must not be less than base");
    c.require(factor_ >= 0.0 && factor_ <= 1.0, "jitter_factor", factor_, "must be in [0, 1]");
    return std::move(c).result();
  }

 private:
  [[nodiscard]] backoff with(jitter_kind j) const noexcept {
    backoff b = *this;
    b.jitter_ = j;
    b.factor_ = 0.0;
    if (shape_ == shape::constant) b.cap_ = base_;  // undo a previous .jitter(f)'s wider cap
    return b;
  }

  // A non-negative delay in floating point as nanoseconds, saturating at nanoseconds::max().
  [[nodiscard]] static nanoseconds to_saturated(long double d) noexcept {
    if (!(d > 0)) return nanoseconds{0};
    constexpr auto top = static_cast<long double>(std::numeric_limits<std::int64_t>::max());
    if (!(d < top)) return nanoseconds::max();
    return nanoseconds{static_cast<std::int64_t>(d)};
  }

  [[nodiscard]] nanoseconds clamp(nanoseconds d) const noexcept {
    if (d.count() < 0) return nanoseconds{0};
    return d < cap_ ? d : cap_;
  }

  // Converts a non-negative delay computed in floating point, clamping to [0, cap] *before* the
  // conversion (a double beyond int64's range converted to an integer is undefined behaviour).
  [[nodiscard]] nanoseconds to_capped(long double d) const noexcept {
    if (!(d > 0)) return nanoseconds{0};  // also NaN
    if (!(d < static_cast<long double>(cap_.count()))) return cap_;
    return nanoseconds{static_cast<std::int64_t>(d)};
  }

  template <class G>
  static double uniform01(G& rng) {
    using uint = typename G::result_type;
    constexpr long double range =
        static_cast<long double>(G::max()) - static_cast<long double>(G::min()) + 1.0L;
    const auto draw = static_cast<long double>(static_cast<uint>(rng() - G::min()));
    const auto u = static_cast<double>(draw / range);
    return u < 1.0 ? u : std::nextafter(1.0, 0.0);
  }

  template <class G>
  [[nodiscard]] nanoseconds delay_for(backoff_state& s, G& rng) const {
    const nanoseconds d = base_delay(s.attempt);
    const auto dv = static_cast<long double>(d.count());
    switch (jitter_) {
      case jitter_kind::none:
        return d;
      case jitter_kind::full:
        return to_capped(dv * uniform01(rng));
      case jitter_kind::equal:
        return to_capped(dv / 2 + dv / 2 * uniform01(rng));
      case jitter_kind::proportional:
        return to_capped(dv * (1.0L + factor_ * (2.0L * uniform01(rng) - 1.0L)));
      case jitter_kind::decorrelated: {
        const auto lo = static_cast<long double>(clamp(base_).count());
        const long double prev = s.attempt <= 1 ? lo : static_cast<long double>(s.previous.count());
        const long double hi = prev * 3 > lo ? prev * 3 : lo;
        return to_capped(lo + (hi - lo) * uniform01(rng));
      }
      case jitter_kind::decorrelated_v2:
        return decorrelated_v2(s, rng);
    }
    return d;
  }

  // Polly's DecorrelatedJitterBackoffV2 (Polly.Contrib.WaitAndRetry): t = n + U(0,1);
  // next = 2^t * tanh(sqrt(4t)); delay = (next - prev) / 1.4 * base.
  template <class G>
  [[nodiscard]] nanoseconds decorrelated_v2(backoff_state& s, G& rng) const {
    constexpr double scaling = 1.0 / 1.4;
    if (s.attempt <= 1) s.v2_prev = 0.0;
    const double t = static_cast<double>(s.attempt - 1U) + uniform01(rng);
    if (!(t < 1023.0)) return cap_;  // 2^t would overflow: the cap is the honest answer
    const double next = std::exp2(t) * std::tanh(std::sqrt(4.0 * t));
    const double delta = next - s.v2_prev;
    s.v2_prev = next;
    return to_capped(static_cast<long double>(delta) * scaling *
                     static_cast<long double>(base_.count()));
  }

  shape shape_ = shape::constant;
  jitter_kind jitter_ = jitter_kind::none;
  nanoseconds base_{0};
  nanoseconds step_{0};
  double multiplier_ = 1.0;
  nanoseconds cap_{0};
  double factor_ = 0.0;
  bool fits_ = true;  // every duration given was representable
};

}  // namespace resil
