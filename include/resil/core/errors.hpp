// Error codes, the "resil" error category and the exceptions thrown by the throwing API.
// SPDX-License-Identifier: MIT
#pragma once

#include <chrono>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

namespace resil {

/**
 * Why a policy did not deliver the callable's result.
 *
 * The first three are *rejections*: a policy refused to run the call at all. Rejections are not
 * failures of the protected dependency, so by default a circuit breaker does not count them and a
 * retry does not retry them (see `resil::classifier`).
 *
 *     std::error_code ec = resil::errc::circuit_open;   // implicit, via make_error_code
 *     assert(ec.category().name() == std::string_view{"resil"});
 */
enum class errc : int {
  circuit_open = 1,   ///< A circuit breaker is open (or half-open with no probe slot left).
  bulkhead_full,      ///< A bulkhead has no free slot and the wait, if any, ran out.
  rate_limited,       ///< A rate limiter has no permit and the wait, if any, would run out.
  timeout,            ///< The call's deadline passed.
  retries_exhausted,  ///< A retry ran out of attempts and was asked to report it distinctly.
  cancelled,          ///< The call's `std::stop_token` was triggered before it could complete.
};

/// The error's short name, as the enumerator reads: "circuit_open", "bulkhead_full", ... (a stable
/// label for logs and metrics; `std::error_code::message()` gives the sentence).
[[nodiscard]] constexpr std::string_view to_string(errc e) noexcept {
  switch (e) {
    case errc::circuit_open:
      return "circuit_open";
    case errc::bulkhead_full:
      return "bulkhead_full";
    case errc::rate_limited:
      return "rate_limited";
    case errc::timeout:
      return "timeout";
    case errc::retries_exhausted:
      return "retries_exhausted";
    case errc::cancelled:
      return "cancelled";
  }
  return "unknown";
}

namespace detail {

class error_category_impl final : public std::error_category {
 public:
  [[nodiscard]] const char* name() const noexcept override { return "resil"; }
  [[nodiscard]] std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::circuit_open:
        return "circuit breaker is open";
      case errc::bulkhead_full:
        return "bulkhead is full";
      case errc::rate_limited:
        return "rate limit exceeded";
      case errc::timeout:
        return "deadline exceeded";
      case errc::retries_exhausted:
        return "retries exhausted";
      case errc::cancelled:
        return "cancelled";
    }
    return "unknown resil error";
  }
};

}  // namespace detail

/// The `std::error_category` of `resil::errc`; its `name()` is `"resil"`. Thread-safe.
[[nodiscard]] inline const std::error_category& resil_category() noexcept {
  static const detail::error_category_impl category;
  return category;
}

/// Makes a `std::error_code` in `resil_category()`; found by ADL so `errc` converts implicitly.
[[nodiscard]] inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), resil_category()};
}

/// True for the codes that mean "a policy refused to run the call": circuit_open, bulkhead_full
/// and rate_limited.
[[nodiscard]] inline bool is_rejection(const std::error_code& ec) noexcept {
  if (ec.category() != resil_category()) return false;
  const auto e = static_cast<errc>(ec.value());
  return e == errc::circuit_open || e == errc::bulkhead_full || e == errc::rate_limited;
}

/**
 * Base of the exceptions that mean "a policy refused to run the call" (`errc::circuit_open`,
 * `errc::bulkhead_full`, `errc::rate_limited`). Catch this to handle every rejection at once.
 * Other policies do not count a `rejected_error` as a failure, and do not retry it, by default.
 */
class rejected_error : public std::system_error {
 public:
  /// A rejection with the code `e`.
  explicit rejected_error(errc e) : std::system_error(make_error_code(e)) {}
  /// A rejection with the code `e` and an explanation, prefixed to the code's message.
  rejected_error(errc e, const std::string& what) : std::system_error(make_error_code(e), what) {}
};

/// Thrown by the throwing API when a circuit breaker refuses a call.
class circuit_open_error : public rejected_error {
 public:
  /// A rejection by an open (or full half-open) breaker, due to admit a probe in `remaining_delay`.
  explicit circuit_open_error(std::chrono::nanoseconds remaining_delay = {})
      : rejected_error(errc::circuit_open), remaining_delay_(remaining_delay) {}
  /// How long until the breaker will admit a probe (zero when unknown or already due).
  [[nodiscard]] std::chrono::nanoseconds remaining_delay() const noexcept {
    return remaining_delay_;
  }

 private:
  std::chrono::nanoseconds remaining_delay_;
};

/// Thrown by the throwing API when a bulkhead has no free slot within its `max_wait`.
class bulkhead_full_error : public rejected_error {
 public:
  bulkhead_full_error() : rejected_error(errc::bulkhead_full) {}
};

/// Thrown by the throwing API when a rate limiter refuses a call.
class rate_limited_error : public rejected_error {
 public:
  /// A rejection by a rate limiter; the request could be granted in `retry_after`.
  explicit rate_limited_error(std::chrono::nanoseconds retry_after = {})
      : rejected_error(errc::rate_limited), retry_after_(retry_after) {}
  /// How long until the request could be granted (zero when unknown).
  [[nodiscard]] std::chrono::nanoseconds retry_after() const noexcept { return retry_after_; }

 private:
  std::chrono::nanoseconds retry_after_;
};

/// Thrown by the throwing API when the call's deadline passed (`errc::timeout`).
class timeout_error : public std::system_error {
 public:
  timeout_error() : std::system_error(make_error_code(errc::timeout)) {}
};

/// Thrown by the throwing API when a retry reports exhaustion distinctly
/// (`errc::retries_exhausted`).
class retries_exhausted_error : public std::system_error {
 public:
  retries_exhausted_error() : std::system_error(make_error_code(errc::retries_exhausted)) {}
};

/// Thrown by the throwing API when the call's stop token was triggered (`errc::cancelled`).
class cancelled_error : public std::system_error {
 public:
  cancelled_error() : std::system_error(make_error_code(errc::cancelled)) {}
};

/**
 * Invalid options, thrown at construction. The message names the option and the value:
 *
 *     resil: circuit_breaker_options.failure_rate_threshold = 1.5 is invalid: must be in (0, 1]
 *
 * `field()` returns the qualified option name ("circuit_breaker_options.failure_rate_threshold").
 */
class config_error : public std::invalid_argument {
 public:
  /// An error about the option `field` (qualified name), with the full `message`.
  config_error(std::string field, const std::string& message)
      : std::invalid_argument(message), field_(std::move(field)) {}
  /// The qualified name of the offending option.
  [[nodiscard]] const std::string& field() const noexcept { return field_; }

 private:
  std::string field_;
};

/// A problem found in options by `validate()`: the qualified field name and a full message, as
/// `config_error` would carry them. For builds without exceptions, which cannot catch one.
struct config_problem {
  std::string field;    ///< The qualified option name, e.g. "retry_options.max_attempts".
  std::string message;  ///< The full message, naming the option, its value and the rule.
};

}  // namespace resil

template <>
struct std::is_error_code_enum<resil::errc> : std::true_type {};
