// Classification: which outcomes count as failures, successes, or neither (ignored).
// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <exception>
#include <functional>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "config.hpp"
#include "errors.hpp"
#include "outcome.hpp"

namespace resil {

/// How a policy treats one outcome.
enum class verdict : std::uint8_t {
  success,  ///< Counts as a success (a breaker's window records it; a retry stops).
  failure,  ///< Counts as a failure (a breaker's window records it; a retry tries again).
  ignored,  ///< Counts as neither (a breaker returns the permit uncounted; a retry stops).
};

/// The verdict's name: "success", "failure" or "ignored".
[[nodiscard]] constexpr std::string_view to_string(verdict v) noexcept {
  switch (v) {
    case verdict::success:
      return "success";
    case verdict::failure:
      return "failure";
    case verdict::ignored:
      return "ignored";
  }
  return "unknown";
}

/// @cond detail
namespace detail {

template <class F>
struct first_param : first_param<decltype(&F::operator())> {};
template <class R, class A, class... More>
struct first_param<R (*)(A, More...)> {
  using type = A;
};
template <class C, class R, class A, class... More>
struct first_param<R (C::*)(A, More...)> {
  using type = A;
};
template <class C, class R, class A, class... More>
struct first_param<R (C::*)(A, More...) const> {
  using type = A;
};
template <class C, class R, class A, class... More>
struct first_param<R (C::*)(A, More...) noexcept> {
  using type = A;
};
template <class C, class R, class A, class... More>
struct first_param<R (C::*)(A, More...) const noexcept> {
  using type = A;
};
template <class F>
using first_param_t = std::remove_cvref_t<typename first_param<std::decay_t<F>>::type>;

// The value type a result rule applies to: given explicitly, or the predicate's parameter type.
template <class V, class F>
struct rule_value {
  using type = V;
};
template <class F>
struct rule_value<void, F> {
  using type = first_param_t<F>;
};

/// True when `e` holds an exception of type `E` (or derived from it).
template <class E>
[[nodiscard]] bool holds(const std::exception_ptr& e) {
#if RESIL_HAS_EXCEPTIONS
  try {
    std::rethrow_exception(e);
  } catch (const E&) {
    return true;
  } catch (...) {
    return false;
  }
#else
  (void)e;
  return false;
#endif
}

/// True for another policy's rejection or a cancellation, thrown as an exception.
[[nodiscard]] inline bool holds_rejection(const std::exception_ptr& e) {
#if RESIL_HAS_EXCEPTIONS
  try {
    std::rethrow_exception(e);
  } catch (const rejected_error&) {
    return true;
  } catch (const cancelled_error&) {
    return true;
  } catch (...) {
    return false;
  }
#else
  (void)e;
  return false;
#endif
}

}  // namespace detail
/// @endcond

/**
 * Decides what counts as a failure. Every policy that reacts to failures (circuit breaker, retry,
 * fallback) has a `classifier` in its options; a call can override it through its context.
 *
 * Defaults: a value is a success; an exception or an error code is a failure, except another
 * policy's rejection (`rejected_error`, `errc::circuit_open`, `errc::bulkhead_full`,
 * `errc::rate_limited`) and a cancellation (`errc::cancelled`), which are *ignored*: a breaker
 * does not count them and a retry does not retry them.
 *
 * Refinements (each returns the classifier, so they chain):
 * - `failure_on<E...>()`: only these exception types are failures; other exceptions count as
 *   successes (the call reached the dependency and it answered).
 * - `ignore<E...>()`: these exception types are neither.
 * - `failure_if(pred)` / `ignore_if(pred)`: a predicate on the exception, typed by its parameter
 *   (`[](const http_error& e) { return e.status >= 500; }`).
 * - `failure_if_result(pred)` / `ignore_if_result(pred)`: a predicate on the returned value,
 *   applied to calls whose result type matches the parameter.
 * - `failure_if_error(pred)` / `ignore_if_error(pred)`: a predicate on an error code.
 * - `count_rejections(true)`: treat rejections and cancellations like any other error.
 *
 * Ignore rules take precedence over failure rules.
 *
 *     auto cls = resil::classifier{}
 *                    .failure_on<std::system_error, timeout_exception>()
 *                    .ignore<not_found>()
 *                    .failure_if_result([](const http_response& r) { return r.status == 503; });
 *
 * A predicate that throws makes the call's outcome that exception; the policy returns its permit
 * uncounted. Immutable after construction of the policy that holds it; thread-safe to share.
 */
class classifier {
 public:
  classifier() = default;

  /// Only exceptions of these types (or derived) are failures; other exceptions are successes.
  template <class... E>
  classifier& failure_on() & {
    (add_exception_rule(verdict::failure, &detail::holds<E>), ...);
    return *this;
  }
  /// The same, on a temporary: `resil::classifier{}.failure_on(...)` chains by value.
  template <class... E>
  classifier failure_on() && {
    return std::move(failure_on<E...>());
  }

  /// Exceptions of these types (or derived) are ignored: neither success nor failure.
  template <class... E>
  classifier& ignore() & {
    (add_exception_rule(verdict::ignored, &detail::holds<E>), ...);
    return *this;
  }
  /// The same, on a temporary: `resil::classifier{}.ignore(...)` chains by value.
  template <class... E>
  classifier ignore() && {
    return std::move(ignore<E...>());
  }

  /// Exceptions for which `pred(const E&)` is true are failures (E is the parameter's type).
  template <class F>
  classifier& failure_if(F pred) & {
    add_exception_predicate(verdict::failure, std::move(pred));
    return *this;
  }
  /// The same, on a temporary: `resil::classifier{}.failure_if(...)` chains by value.
  template <class F>
  classifier failure_if(F pred) && {
    return std::move(failure_if(std::move(pred)));
  }

  /// Exceptions for which `pred(const E&)` is true are ignored.
  template <class F>
  classifier& ignore_if(F pred) & {
    add_exception_predicate(verdict::ignored, std::move(pred));
    return *this;
  }
  /// The same, on a temporary: `resil::classifier{}.ignore_if(...)` chains by value.
  template <class F>
  classifier ignore_if(F pred) && {
    return std::move(ignore_if(std::move(pred)));
  }

  /// Values `v` of type `V` (the parameter's type, or given explicitly for generic lambdas) for
  /// which `pred(v)` is true are failures.
  template <class V = void, class F>
  classifier& failure_if_result(F pred) & {
    add_value_rule<V>(verdict::failure, std::move(pred));
    return *this;
  }
  /// The same, on a temporary: `resil::classifier{}.failure_if_result(...)` chains by value.
  template <class V = void, class F>
  classifier failure_if_result(F pred) && {
    return std::move(failure_if_result<V>(std::move(pred)));
  }

  /// Values for which `pred(v)` is true are ignored.
  template <class V = void, class F>
  classifier& ignore_if_result(F pred) & {
    add_value_rule<V>(verdict::ignored, std::move(pred));
    return *this;
  }
  /// The same, on a temporary: `resil::classifier{}.ignore_if_result(...)` chains by value.
  template <class V = void, class F>
  classifier ignore_if_result(F pred) && {
    return std::move(ignore_if_result<V>(std::move(pred)));
  }

  /// Error codes for which `pred(ec)` is true are failures (even rejections).
  classifier& failure_if_error(std::function<bool(const std::error_code&)> pred) & {
    error_rules_.push_back({verdict::failure, std::move(pred)});
    return *this;
  }
  /// The same, on a temporary: `resil::classifier{}.failure_if_error(...)` chains by value.
  classifier failure_if_error(std::function<bool(const std::error_code&)> pred) && {
    return std::move(failure_if_error(std::move(pred)));
  }

  /// Error codes for which `pred(ec)` is true are ignored.
  classifier& ignore_if_error(std::function<bool(const std::error_code&)> pred) & {
    error_rules_.push_back({verdict::ignored, std::move(pred)});
    return *this;
  }
  /// The same, on a temporary: `resil::classifier{}.ignore_if_error(...)` chains by value.
  classifier ignore_if_error(std::function<bool(const std::error_code&)> pred) && {
    return std::move(ignore_if_error(std::move(pred)));
  }

  /// Whether other policies' rejections and cancellations count like other errors (default
  /// false: they are ignored).
  classifier& count_rejections(bool on) & {
    count_rejections_ = on;
    return *this;
  }
  /// The same, on a temporary: `resil::classifier{}.count_rejections(true)` chains by value.
  classifier count_rejections(bool on) && { return std::move(count_rejections(on)); }

  /// True when some rule looks at returned values (`failure_if_result`, `ignore_if_result`).
  /// Without one every value is a success, so a policy's fast path can skip classifying values.
  [[nodiscard]] bool has_result_rules() const noexcept { return !value_rules_.empty(); }

  /**
   * Classifies `o`. May throw what a user predicate throws; `classify_noexcept` captures it.
   */
  template <class R>
  [[nodiscard]] verdict classify(const outcome<R>& o) const {
    if (o.has_value()) {
      if (RESIL_LIKELY(value_rules_.empty())) return verdict::success;
      if constexpr (std::is_void_v<R>) {
        return verdict::success;
      } else {
        return classify_value(&detail::type_tag<std::remove_cvref_t<R>>,
                              static_cast<const void*>(std::addressof(o.value())));
      }
    }
    if (o.has_error()) return classify_error(o.error());
    return classify_exception(o.exception());
  }

  /// The verdict of `classify(o)`, or the exception a user predicate threw (verdict unset).
  template <class R>
  [[nodiscard]] std::pair<verdict, std::exception_ptr> classify_noexcept(
      const outcome<R>& o) const noexcept {
#if RESIL_HAS_EXCEPTIONS
    try {
      return {classify(o), nullptr};
    } catch (...) {
      return {verdict::ignored, std::current_exception()};
    }
#else
    return {classify(o), nullptr};
#endif
  }

  /// Classifies an error code alone (no user value involved).
  [[nodiscard]] verdict classify_error(const std::error_code& ec) const {
    for (const auto& r : error_rules_) {
      if (r.action == verdict::ignored && r.test(ec)) return verdict::ignored;
    }
    for (const auto& r : error_rules_) {
      if (r.action == verdict::failure && r.test(ec)) return verdict::failure;
    }
    if (!count_rejections_ && (is_rejection(ec) || ec == errc::cancelled)) return verdict::ignored;
    return verdict::failure;
  }

  /// Classifies a thrown exception alone.
  [[nodiscard]] verdict classify_exception(const std::exception_ptr& e) const {
    if (!count_rejections_ && detail::holds_rejection(e)) return verdict::ignored;
    for (const auto& r : exception_rules_) {
      if (r.action == verdict::ignored && r.test(e)) return verdict::ignored;
    }
    if (!has_exception_failure_rules_) return verdict::failure;
    for (const auto& r : exception_rules_) {
      if (r.action == verdict::failure && r.test(e)) return verdict::failure;
    }
    return verdict::success;
  }

 private:
  struct exception_rule {
    verdict action;
    std::function<bool(const std::exception_ptr&)> test;
  };
  struct value_rule {
    verdict action;
    const void* type;
    std::function<bool(const void*)> test;
  };
  struct error_rule {
    verdict action;
    std::function<bool(const std::error_code&)> test;
  };

  void add_exception_rule(verdict v, std::function<bool(const std::exception_ptr&)> test) {
    if (v == verdict::failure) has_exception_failure_rules_ = true;
    exception_rules_.push_back({v, std::move(test)});
  }

  template <class F>
  void add_exception_predicate(verdict v, F pred) {
    using E = detail::first_param_t<F>;
    if constexpr (std::is_same_v<E, std::exception_ptr>) {
      add_exception_rule(v, [p = std::move(pred)](const std::exception_ptr& e) {
        return static_cast<bool>(p(e));
      });
    } else {
      add_exception_rule(v, [p = std::move(pred)](const std::exception_ptr& e) -> bool {
#if RESIL_HAS_EXCEPTIONS
        try {
          std::rethrow_exception(e);
        } catch (const E& ex) {
          return static_cast<bool>(p(ex));
        } catch (...) {
          return false;
        }
#else
        (void)e;
        return false;
#endif
      });
    }
  }

  template <class V, class F>
  void add_value_rule(verdict v, F pred) {
    using value_t = std::remove_cvref_t<typename detail::rule_value<V, F>::type>;
    static_assert(std::is_invocable_r_v<bool, F&, const value_t&>,
                  "resil: a result predicate must be callable as bool(const V&)");
    value_rules_.push_back({v, &detail::type_tag<value_t>, [p = std::move(pred)](const void* x) {
                              return static_cast<bool>(p(*static_cast<const value_t*>(x)));
                            }});
  }

  [[nodiscard]] verdict classify_value(const void* type, const void* value) const {
    for (const auto& r : value_rules_) {
      if (r.type == type && r.action == verdict::ignored && r.test(value)) return verdict::ignored;
    }
    for (const auto& r : value_rules_) {
      if (r.type == type && r.action == verdict::failure && r.test(value)) return verdict::failure;
    }
    return verdict::success;
  }

  std::vector<exception_rule> exception_rules_;
  std::vector<value_rule> value_rules_;
  std::vector<error_rule> error_rules_;
  bool has_exception_failure_rules_ = false;
  bool count_rejections_ = false;
};

}  // namespace resil
