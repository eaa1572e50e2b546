// Saturating time arithmetic: a deadline of "now + forever" is "never", not an overflow.
// SPDX-License-Identifier: MIT
#pragma once

#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

namespace resil {

/// The duration resil measures time in internally: signed 64-bit nanoseconds (±292 years).
using nanoseconds = std::chrono::nanoseconds;

/**
 * Converts any `std::chrono::duration` to nanoseconds, clamping instead of overflowing:
 * `hours::max()` becomes `nanoseconds::max()`, a NaN floating-point duration becomes zero.
 *
 *     resil::saturating_nanoseconds(std::chrono::hours::max()) == resil::nanoseconds::max()
 *
 * Pure function; thread-safe.
 */
template <class Rep, class Period>
[[nodiscard]] constexpr nanoseconds saturating_nanoseconds(
    std::chrono::duration<Rep, Period> d) noexcept {
  using wide = std::chrono::duration<long double, std::nano>;
  const long double ns = std::chrono::duration_cast<wide>(d).count();
  if (ns != ns) return nanoseconds::zero();  // NaN
  constexpr auto hi = static_cast<long double>(std::numeric_limits<std::int64_t>::max());
  constexpr auto lo = static_cast<long double>(std::numeric_limits<std::int64_t>::min());
  if (ns >= hi) return nanoseconds::max();
  if (ns <= lo) return nanoseconds::min();
  if constexpr (std::is_floating_point_v<Rep>) {
    return nanoseconds{static_cast<std::int64_t>(ns)};
  } else {
    return std::chrono::duration_cast<nanoseconds>(d);
  }
}

/// True when `d` is a finite duration that fits in `resil::nanoseconds` without clamping.
template <class Rep, class Period>
[[nodiscard]] constexpr bool fits_nanoseconds(std::chrono::duration<Rep, Period> d) noexcept {
  using wide = std::chrono::duration<long double, std::nano>;
  const long double ns = std::chrono::duration_cast<wide>(d).count();
  if (ns != ns) return false;
  constexpr auto hi = static_cast<long double>(std::numeric_limits<std::int64_t>::max());
  constexpr auto lo = static_cast<long double>(std::numeric_limits<std::int64_t>::min());
  return ns <= hi && ns >= lo;
}

/**
 * The type of every duration option: accepts any `std::chrono::duration` (any period, integer or
 * floating point) and converts it to nanoseconds **without overflow**. A value that does not fit
 * (`std::chrono::hours::max()`, more than about 292 years, a NaN or infinite floating-point
 * duration) is clamped and remembered as not fitting, so the policy's `validate()` reports it as
 * a `config_error` instead of the caller's conversion silently overflowing (Resilience4j #1701).
 *
 *     resil::timeout t{{.duration = 250ms}};                       // fine
 *     resil::timeout u{{.duration = std::chrono::hours::max()}};   // config_error, not UB
 *
 * It *is* a `resil::nanoseconds` (it derives from it), so it reads like one.
 */
class time_span : public nanoseconds {
 public:
  constexpr time_span() noexcept = default;
  /// Converts `d`, clamping what does not fit.
  template <class Rep, class Period>
  constexpr time_span(
      std::chrono::duration<Rep, Period> d) noexcept  // NOLINT(google-explicit-constructor)
      : nanoseconds(saturating_nanoseconds(d)), fits_(fits_nanoseconds(d)) {}

  /// False when the duration it was made from did not fit in nanoseconds (it was clamped).
  [[nodiscard]] constexpr bool fits() const noexcept { return fits_; }

 private:
  bool fits_ = true;
};

namespace detail {

[[nodiscard]] constexpr std::int64_t sat_add(std::int64_t a, std::int64_t b) noexcept {
  std::int64_t r = 0;
  if (__builtin_add_overflow(a, b, &r)) {
    return b > 0 ? std::numeric_limits<std::int64_t>::max()
                 : std::numeric_limits<std::int64_t>::min();
  }
  return r;
}

[[nodiscard]] constexpr std::int64_t sat_sub(std::int64_t a, std::int64_t b) noexcept {
  std::int64_t r = 0;
  if (__builtin_sub_overflow(a, b, &r)) {
    return b < 0 ? std::numeric_limits<std::int64_t>::max()
                 : std::numeric_limits<std::int64_t>::min();
  }
  return r;
}

}  // namespace detail

/**
 * `t + d`, clamped to the representable range of the time point: `now + nanoseconds::max()` is
 * `time_point::max()` ("never"). Pure function; thread-safe.
 *
 *     auto deadline = resil::saturating_add(clock.now(), timeout);
 */
template <class Clock>
[[nodiscard]] constexpr std::chrono::time_point<Clock, nanoseconds> saturating_add(
    std::chrono::time_point<Clock, nanoseconds> t, nanoseconds d) noexcept {
  using tp = std::chrono::time_point<Clock, nanoseconds>;
  return tp{nanoseconds{detail::sat_add(t.time_since_epoch().count(), d.count())}};
}

/// `a - b` as a duration, clamped instead of overflowing. Pure function; thread-safe.
template <class Clock>
[[nodiscard]] constexpr nanoseconds saturating_sub(
    std::chrono::time_point<Clock, nanoseconds> a,
    std::chrono::time_point<Clock, nanoseconds> b) noexcept {
  return nanoseconds{detail::sat_sub(a.time_since_epoch().count(), b.time_since_epoch().count())};
}

}  // namespace resil
