// Calling the user's callable: with or without a context, capturing exceptions, flattening
// outcome-returning callables. Not API.
// SPDX-License-Identifier: MIT
#pragma once

#include <exception>
#include <functional>
#include <type_traits>
#include <utility>

#include "../core/config.hpp"
#include "../core/context.hpp"
#include "../core/outcome.hpp"

namespace resil::detail {

/// F takes a `resil::context&` first.
template <class F, class... Args>
concept takes_context = std::is_invocable_v<F, context&, Args...>;

/// F can be called by a pipeline with Args, with or without a leading context.
template <class F, class... Args>
concept pipeline_callable = takes_context<F, Args...> || std::is_invocable_v<F, Args...>;

template <class F, class... Args>
struct raw_result {
  using type = std::invoke_result_t<F, Args...>;
};
template <class F, class... Args>
requires takes_context<F, Args...>
struct raw_result<F, Args...> {
  using type = std::invoke_result_t<F, context&, Args...>;
};

template <class T>
struct unwrap_outcome {
  using type = T;
};
template <class T>
struct unwrap_outcome<outcome<T>> {
  using type = T;
};

/// The value type of a pipeline call of F with Args (an `outcome<T>`-returning F yields T).
template <class F, class... Args>
using call_result_t = typename unwrap_outcome<typename raw_result<F, Args...>::type>::type;

/// Stands in for the result type of a callable that cannot be called with the arguments, so the
/// API reaches its static_assert (a readable message) instead of failing in overload resolution.
struct not_callable {};

template <class F, class... Args>
struct checked_call_result {
  using type = not_callable;
};
template <class F, class... Args>
requires pipeline_callable<F, Args...>
struct checked_call_result<F, Args...> {
  using type = call_result_t<F, Args...>;
};
template <class F, class... Args>
using checked_call_result_t = typename checked_call_result<F, Args...>::type;

template <class R, class F, class... Args>
outcome<R> invoke_into_outcome(F&& f, Args&&... args) {
  using raw = std::invoke_result_t<F, Args...>;
  if constexpr (is_outcome_v<raw>) {
    return std::invoke(std::forward<F>(f), std::forward<Args>(args)...);
  } else if constexpr (std::is_void_v<raw>) {
    std::invoke(std::forward<F>(f), std::forward<Args>(args)...);
    return outcome<R>{};
  } else if constexpr (std::is_reference_v<R>) {
    return outcome<R>(std::invoke(std::forward<F>(f), std::forward<Args>(args)...));
  } else {
    return outcome<R>(std::in_place, std::invoke(std::forward<F>(f), std::forward<Args>(args)...));
  }
}

/**
 * Calls f (passing ctx first if f accepts it) and turns whatever happens into an outcome.
 * `Once` forwards arguments (they may be moved from); otherwise they are passed as lvalues so a
 * pipeline that calls f more than once (a retry) never hands it moved-from arguments.
 */
template <class R, bool Once, class F, class... Args>
outcome<R> call_once_or_again(context& ctx, F&& f, Args&&... args) noexcept {
#if RESIL_HAS_EXCEPTIONS
  try {
#endif
    if constexpr (Once) {
      if constexpr (takes_context<F, Args...>) {
        return invoke_into_outcome<R>(std::forward<F>(f), ctx, std::forward<Args>(args)...);
      } else {
        return invoke_into_outcome<R>(std::forward<F>(f), std::forward<Args>(args)...);
      }
    } else {
      static_assert(pipeline_callable<F&, Args&...>,
                    "resil: this pipeline may call the callable more than once (it contains a "
                    "retry), so arguments are passed to it as lvalues on every attempt; take them "
                    "by value or by const reference, or capture them in the callable");
      if constexpr (takes_context<F&, Args&...>) {
        return invoke_into_outcome<R>(f, ctx, args...);
      } else {
        return invoke_into_outcome<R>(f, args...);
      }
    }
#if RESIL_HAS_EXCEPTIONS
  } catch (...) {
    return outcome<R>::from_exception(std::current_exception());
  }
#endif
}

}  // namespace resil::detail
