// resil::outcome<T>: a value, an exception, or an error code (a rejection), never thrown.
// SPDX-License-Identifier: MIT
#pragma once

#include <chrono>
#include <exception>
#include <memory>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

#include "config.hpp"
#include "errors.hpp"
#include "time.hpp"

namespace resil {

template <class T>
class outcome;

namespace detail {

template <class T>
struct outcome_storage {
  using type = T;
};
template <class T>
struct outcome_storage<T&> {
  using type = T*;
};
template <>
struct outcome_storage<void> {
  using type = std::monostate;
};

struct error_payload {
  std::error_code code;
  nanoseconds retry_after{};
};

template <class T>
inline constexpr bool is_outcome_v = false;
template <class T>
inline constexpr bool is_outcome_v<outcome<T>> = true;

/// Throws the exception the throwing API uses for `code`, or terminates without exceptions.
[[noreturn]] inline void throw_error(const std::error_code& code, nanoseconds retry_after) {
#if RESIL_HAS_EXCEPTIONS
  if (code.category() == resil_category()) {
    switch (static_cast<errc>(code.value())) {
      case errc::circuit_open:
        throw circuit_open_error(retry_after);
      case errc::bulkhead_full:
        throw bulkhead_full_error();
      case errc::rate_limited:
        throw rate_limited_error(retry_after);
      case errc::timeout:
        throw timeout_error();
      case errc::retries_exhausted:
        throw retries_exhausted_error();
      case errc::cancelled:
        throw cancelled_error();
    }
  }
  throw std::system_error(code);
#else
  (void)code;
  (void)retry_after;
  std::abort();
#endif
}

[[noreturn]] inline void rethrow(const std::exception_ptr& e) {
#if RESIL_HAS_EXCEPTIONS
  std::rethrow_exception(e);
#else
  (void)e;
  std::abort();
#endif
}

}  // namespace detail

/**
 * The result of a call made through a resil policy, reported without throwing: exactly one of
 *
 * - a value (`T`; references and `void` are supported, and move-only types),
 * - an exception the callable threw (`std::exception_ptr`), or
 * - an error code, for a rejection or a timeout (`errc::circuit_open`, ...), with an optional
 *   retry-after hint.
 *
 * `value()` returns the value, or rethrows the exception unchanged, or throws the resil exception
 * matching the error code (`circuit_open_error`, `rate_limited_error`, ...). Without exceptions it
 * aborts instead, so check `has_value()` first.
 *
 *     resil::outcome<int> r = breaker.try_execute(fetch_price);
 *     if (r) use(*r);
 *     else if (r.error() == resil::errc::circuit_open) serve_cached(r.retry_after());
 *     else log(r.exception());
 *
 * A callable may itself return `outcome<T>` to report an error without throwing; resil flattens
 * it, so the call's result type is `T`.
 *
 * Not thread-safe (a value type, like `std::optional`).
 */
template <class T>
class [[nodiscard]] outcome {
  using storage = typename detail::outcome_storage<T>::type;
  static constexpr bool is_void = std::is_void_v<T>;
  static constexpr bool is_ref = std::is_reference_v<T>;

 public:
  using value_type = T;  ///< The value type (`void` and references allowed).

  /// A successful `outcome<void>`.
  outcome() noexcept requires is_void : state_(std::in_place_index<0>) {}

  /// A value, converted from `u` (implicit, as for `std::optional`).
  template <class U = std::remove_cvref_t<T>>
  requires(!is_void && !is_ref && std::is_constructible_v<T, U&&> &&
           !std::is_same_v<std::remove_cvref_t<U>, outcome> &&
           !std::is_same_v<std::remove_cvref_t<U>, std::in_place_t>) outcome(U&& u)
  noexcept(std::is_nothrow_constructible_v<T, U&&>)  // NOLINT(google-explicit-constructor)
      : state_(std::in_place_index<0>, std::forward<U>(u)) {}

  /// A reference value.
  template <class U>
  requires(is_ref&& std::is_convertible_v<U*, std::remove_reference_t<T>*>) outcome(U& ref)
  noexcept  // NOLINT(google-explicit-constructor)
      : state_(std::in_place_index<0>, std::addressof(ref)) {}

  /// A value constructed in place from `args`.
  template <class... Args>
  requires(!is_void && !is_ref &&
           std::is_constructible_v<T, Args&&...>) explicit outcome(std::in_place_t, Args&&... args)
      : state_(std::in_place_index<0>, std::forward<Args>(args)...) {}

  /// An outcome holding the exception `e` (which must not be null).
  [[nodiscard]] static outcome from_exception(std::exception_ptr e) noexcept {
    return outcome(tag{}, std::in_place_index<1>, std::move(e));
  }

  /// An outcome holding the error `code`, with an optional retry-after hint.
  [[nodiscard]] static outcome from_error(std::error_code code,
                                          nanoseconds retry_after = {}) noexcept {
    return outcome(tag{}, std::in_place_index<2>, detail::error_payload{code, retry_after});
  }

  /// Carries another outcome's exception or error over to this value type. Precondition:
  /// `!other.has_value()`.
  template <class U>
  [[nodiscard]] static outcome failure_of(const outcome<U>& other) noexcept {
    if (other.has_exception()) return from_exception(other.exception());
    return from_error(other.error(), other.retry_after());
  }

  /// True when the outcome holds a value.
  [[nodiscard]] bool has_value() const noexcept { return state_.index() == 0; }
  /// True when the outcome holds a value (as `has_value()`).
  [[nodiscard]] explicit operator bool() const noexcept { return has_value(); }
  /// True when the callable threw.
  [[nodiscard]] bool has_exception() const noexcept { return state_.index() == 1; }
  /// True when the outcome holds an error code (a rejection, timeout or cancellation).
  [[nodiscard]] bool has_error() const noexcept { return state_.index() == 2; }

  /// The value; otherwise rethrows the exception or throws the error's resil exception.
  decltype(auto) value() & { return get<std::add_lvalue_reference_t<T>>(*this); }
  /// @overload
  decltype(auto) value() const& { return get<std::add_lvalue_reference_t<const T>>(*this); }
  /// @overload
  decltype(auto) value() && { return get<std::add_rvalue_reference_t<T>>(std::move(*this)); }

  /// The value (unchecked in release builds: the caller has tested `has_value()`).
  decltype(auto) operator*() & { return value(); }
  /// @overload
  decltype(auto) operator*() const& { return value(); }
  /// @overload
  decltype(auto) operator*() && { return std::move(*this).value(); }
  /// Member access to the value (checked as `value()` is).
  auto operator->() { return std::addressof(value()); }
  /// @overload
  auto operator->() const { return std::addressof(value()); }

  /// The value, or `fallback` converted to `T` when there is none.
  template <class U>
  requires(!is_void && !is_ref) T value_or(U&& fallback)
  const& { return has_value() ? std::get<0>(state_) : static_cast<T>(std::forward<U>(fallback)); }
  /// @overload
  template <class U>
  requires(!is_void && !is_ref) T value_or(U&& fallback) && {
    return has_value() ? std::move(std::get<0>(state_)) : static_cast<T>(std::forward<U>(fallback));
  }

  /// The error code, or a default-constructed (false) code when there is none.
  [[nodiscard]] std::error_code error() const noexcept {
    return has_error() ? std::get<2>(state_).code : std::error_code{};
  }
  /// The exception the callable threw, or null when there is none.
  [[nodiscard]] std::exception_ptr exception() const noexcept {
    return has_exception() ? std::get<1>(state_) : std::exception_ptr{};
  }
  /// A rejection's hint of when to try again (a breaker's remaining open time, a limiter's
  /// retry-after); zero when there is none.
  [[nodiscard]] nanoseconds retry_after() const noexcept {
    return has_error() ? std::get<2>(state_).retry_after : nanoseconds{};
  }

  /// Throws (or, without exceptions, aborts) when there is no value; does nothing otherwise.
  void throw_if_failed() const {
    if (has_exception()) detail::rethrow(std::get<1>(state_));
    if (has_error()) detail::throw_error(std::get<2>(state_).code, std::get<2>(state_).retry_after);
  }

 private:
  struct tag {};
  template <std::size_t I, class... Args>
  outcome(tag, std::in_place_index_t<I> i, Args&&... args) noexcept
      : state_(i, std::forward<Args>(args)...) {}

  template <class Ref, class Self>
  static decltype(auto) get(Self&& self) {
    self.throw_if_failed();
    if constexpr (is_void) {
      return;
    } else if constexpr (is_ref) {
      return static_cast<T>(*std::get<0>(self.state_));
    } else {
      return static_cast<Ref>(std::get<0>(self.state_));
    }
  }

  std::variant<storage, std::exception_ptr, detail::error_payload> state_;
};

}  // namespace resil
