// The policy protocol: what a type needs to compose with resil's policies, and the mixin that
// gives every policy execute / try_execute.
// SPDX-License-Identifier: MIT
#pragma once

#include <type_traits>
#include <utility>

#include "../detail/invoke.hpp"
#include "config.hpp"
#include "context.hpp"
#include "outcome.hpp"

namespace resil {

namespace detail {

/// Stands for "the rest of the pipeline" when checking the policy concept.
struct next_archetype {
  outcome<int> operator()(context&) const;
};

template <class P>
inline constexpr bool repeats_call_v = [] {
  if constexpr (requires { P::repeats_call; }) {
    return static_cast<bool>(P::repeats_call);
  } else {
    return false;
  }
}();

}  // namespace detail

/**
 * A policy: something that wraps "the rest of the pipeline". Its one required member is
 *
 *     template <class R, class Next>
 *     resil::outcome<R> invoke(resil::context& ctx, Next&& next);
 *
 * where `next(ctx)` runs everything inside this policy (inner policies, then the callable) and
 * returns `outcome<R>` without throwing. A policy may call `next` zero times (a rejection), once,
 * or several times (a retry, which then declares `static constexpr bool repeats_call = true;`).
 * `invoke` itself must not throw either: failures travel inside the outcome.
 *
 * Every built-in policy models this concept, so do compositions, and so can a user's own type;
 * deriving from `resil::policy_base<Self>` then adds `execute` and `try_execute`.
 */
template <class P>
concept policy = requires(P& p, context& ctx, detail::next_archetype& next) {
  { p.template invoke<int>(ctx, next) } -> std::same_as<outcome<int>>;
};

/**
 * Gives a policy (or a composition) the calling API, built on its `invoke`:
 *
 * - `try_execute(f, args...)` → `outcome<R>`: never throws. `R` is `f`'s result type (or `T` if
 *   `f` returns `outcome<T>`); `f` receives `resil::context&` first if it accepts one.
 * - `execute(f, args...)` → `R`: returns the value, or rethrows the callable's exception, or
 *   throws the rejection (`circuit_open_error`, ...). Absent under `-fno-exceptions`.
 * - `try_execute_in(ctx, f, args...)` / `execute_in(...)`: the same, inside a caller's context
 *   (to propagate a deadline or stop token, or to set a per-call classifier).
 *
 * Arguments are perfectly forwarded; if the policy may call `f` more than once, they are passed
 * as lvalues on every attempt instead. No allocation, no type erasure: everything inlines.
 */
template <class Derived>
class policy_base {
 public:
  /// Runs `f(args...)` through the policy in a fresh context; never throws.
  ///
  ///     resil::outcome<menu> r = breaker.try_execute(fetch_menu, restaurant_id);
  template <class F, class... Args>
  [[nodiscard]] auto try_execute(F&& f, Args&&... args)
      -> outcome<detail::checked_call_result_t<F, Args...>> {
    context ctx;
    return try_execute_in(ctx, std::forward<F>(f), std::forward<Args>(args)...);
  }

  /// Runs `f(args...)` through the policy inside the caller's context `ctx` (its deadline, stop
  /// token and per-call classifier apply); never throws.
  template <class F, class... Args>
  [[nodiscard]] auto try_execute_in(context& ctx, F&& f, Args&&... args)
      -> outcome<detail::checked_call_result_t<F, Args...>> {
    static_assert(detail::pipeline_callable<F, Args...>,
                  "resil: the callable cannot be called with these arguments, neither as "
                  "f(args...) nor as f(resil::context&, args...)");
    using R = detail::checked_call_result_t<F, Args...>;
    constexpr bool once = !detail::repeats_call_v<Derived>;
    if constexpr (!detail::pipeline_callable<F, Args...>) {
      return outcome<R>::from_error(errc::cancelled);  // unreachable: the assertion failed
    } else {
      return static_cast<Derived&>(*this).template invoke<R>(ctx, [&](context& c) -> outcome<R> {
        return detail::call_once_or_again<R, once>(c, std::forward<F>(f),
                                                   std::forward<Args>(args)...);
      });
    }
  }

#if RESIL_HAS_EXCEPTIONS
  /// Runs `f(args...)` (returning `void`) through the policy; throws the callable's exception
  /// or the rejection (`circuit_open_error`, `bulkhead_full_error`, ...).
  template <class F, class... Args>
  requires std::is_void_v<detail::checked_call_result_t<F, Args...>>
  void execute(F&& f, Args&&... args) {
    try_execute(std::forward<F>(f), std::forward<Args>(args)...).throw_if_failed();
  }

  /// Runs `f(args...)` through the policy and returns its value; throws the callable's
  /// exception or the rejection (`circuit_open_error`, `bulkhead_full_error`, ...).
  ///
  ///     menu m = breaker.execute(fetch_menu, restaurant_id);
  template <class F, class... Args>
  requires(!std::is_void_v<detail::checked_call_result_t<F, Args...>>)
      [[nodiscard]] auto execute(F&& f, Args&&... args)
          -> detail::checked_call_result_t<F, Args...> {
    return try_execute(std::forward<F>(f), std::forward<Args>(args)...).value();
  }

  /// `execute` for a `void` callable, inside the caller's context `ctx`.
  template <class F, class... Args>
  requires std::is_void_v<detail::checked_call_result_t<F, Args...>>
  void execute_in(context& ctx, F&& f, Args&&... args) {
    try_execute_in(ctx, std::forward<F>(f), std::forward<Args>(args)...).throw_if_failed();
  }

  /// `execute`, inside the caller's context `ctx`.
  template <class F, class... Args>
  requires(!std::is_void_v<detail::checked_call_result_t<F, Args...>>)
      [[nodiscard]] auto execute_in(context& ctx, F&& f, Args&&... args)
          -> detail::checked_call_result_t<F, Args...> {
    return try_execute_in(ctx, std::forward<F>(f), std::forward<Args>(args)...).value();
  }
#endif
};

}  // namespace resil
