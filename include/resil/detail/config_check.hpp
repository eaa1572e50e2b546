// Option validation: one message format for every policy ("resil: <field> = <value> is invalid:
// <rule>"). Not API.
// SPDX-License-Identifier: MIT
#pragma once

#include <charconv>
#include <chrono>
#include <concepts>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <optional>
#include <ratio>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>

#include "../core/config.hpp"
#include "../core/errors.hpp"
#include "../core/time.hpp"

namespace resil::detail {

template <class T>
std::string format_number(T v) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return r.ec == std::errc{} ? std::string(buf, r.ptr) : std::string("?");
}

template <class Period>
constexpr std::string_view period_suffix() {
  if constexpr (std::is_same_v<Period, std::nano>) return "ns";
  if constexpr (std::is_same_v<Period, std::micro>) return "us";
  if constexpr (std::is_same_v<Period, std::milli>) return "ms";
  if constexpr (std::is_same_v<Period, std::ratio<1>>) return "s";
  if constexpr (std::is_same_v<Period, std::ratio<60>>) return "min";
  if constexpr (std::is_same_v<Period, std::ratio<3600>>) return "h";
  return "";
}

template <class T>
struct is_duration : std::false_type {};
template <class Rep, class Period>
struct is_duration<std::chrono::duration<Rep, Period>> : std::true_type {};

/// Renders an option value for an error message.
template <class T>
std::string format_value(const T& v) {
  if constexpr (std::is_same_v<T, bool>) {
    return v ? "true" : "false";
  } else if constexpr (std::is_arithmetic_v<T>) {
    if constexpr (std::is_floating_point_v<T>) {
      if (v != v) return "nan";
      if (v == std::numeric_limits<T>::infinity()) return "inf";
      if (v == -std::numeric_limits<T>::infinity()) return "-inf";
    }
    return format_number(v);
  } else if constexpr (std::is_base_of_v<nanoseconds, T> && !std::is_same_v<T, nanoseconds>) {
    return format_value(static_cast<const nanoseconds&>(v));
  } else if constexpr (is_duration<T>::value) {
    using period = typename T::period;
    auto text = format_value(v.count());
    constexpr auto suffix = period_suffix<period>();
    if constexpr (!suffix.empty()) {
      return text + std::string(suffix);
    } else {
      return text + " x " + format_number(period::num) + "/" + format_number(period::den) + "s";
    }
  } else if constexpr (std::is_convertible_v<const T&, std::string_view>) {
    // Appended rather than '"' + s + '"': g++ 12 -O3 warns (-Wrestrict, a false positive, GCC
    // bug 105329) on inserting into a temporary string, which breaks -Werror builds.
    const std::string_view text(v);
    std::string quoted;
    quoted.reserve(text.size() + 2);
    quoted.append(1, '"').append(text).append(1, '"');
    return quoted;
  } else if constexpr (std::is_enum_v<T>) {
    return format_number(static_cast<std::underlying_type_t<T>>(v));
  } else {
    return "(value)";
  }
}

/**
 * Collects the first problem in a set of options:
 *
 *     config_check c{"bulkhead_options"};
 *     c.require(o.max_concurrent > 0, "max_concurrent", o.max_concurrent, "must be positive");
 *     return std::move(c).result();
 */
class config_check {
 public:
  explicit config_check(std::string_view options_name) : options_(options_name) {}

  template <class T>
  config_check& require(bool ok, std::string_view field, const T& value, std::string_view rule) {
    if (!ok && !problem_) {
      std::string qualified = options_ + "." + std::string(field);
      std::string message =
          "resil: " + qualified + " = " + format_value(value) + " is invalid: " + std::string(rule);
      problem_ = config_problem{std::move(qualified), std::move(message)};
    }
    return *this;
  }

  /// Requires that a duration option was representable in nanoseconds (see `time_span`).
  config_check& require_fits(const time_span& value, std::string_view field) {
    return require(value.fits(), field, value,
                   "does not fit in 64-bit nanoseconds (more than about 292 years, or not a "
                   "finite number)");
  }

  [[nodiscard]] bool ok() const noexcept { return !problem_; }
  [[nodiscard]] std::optional<config_problem> result() && { return std::move(problem_); }

 private:
  std::string options_;
  std::optional<config_problem> problem_;
};

/// Throws `config_error` for a problem (without exceptions: prints it and aborts).
inline void raise_if(const std::optional<config_problem>& problem) {
  if (!problem) return;
#if RESIL_HAS_EXCEPTIONS
  throw config_error(problem->field, problem->message);
#else
  std::fprintf(stderr, "%s\n", problem->message.c_str());
  std::abort();
#endif
}

}  // namespace resil::detail
