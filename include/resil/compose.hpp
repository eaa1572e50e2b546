// Composition: resil::compose(p1, p2, ...) and resil::decorate(f, p1, p2, ...).
// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <tuple>
#include <type_traits>
#include <utility>

#include "core/context.hpp"
#include "core/outcome.hpp"
#include "core/policy.hpp"

namespace resil {

template <class... Policies>
class composition;

namespace detail {

template <class T>
inline constexpr bool is_composition_v = false;
template <class... P>
inline constexpr bool is_composition_v<composition<P...>> = true;

// Compositions passed as temporaries are kept by value (they only hold references); every other
// policy is kept by reference.
template <class P>
using stored_policy_t =
    std::conditional_t<std::is_lvalue_reference_v<P>, P, std::remove_cvref_t<P>>;

template <class... P>
constexpr void check_composable() {
  static_assert(((std::is_lvalue_reference_v<P> || is_composition_v<std::remove_cvref_t<P>>)&&...),
                "resil::compose holds references to its policies: pass named policies that "
                "outlive the composition, not temporaries");
  static_assert((policy<std::remove_cvref_t<P>> && ...),
                "resil::compose: every argument must be a policy, i.e. have a member "
                "template <class R, class Next> outcome<R> invoke(context&, Next&&)");
}

}  // namespace detail

/**
 * Policies applied in order, **listed outermost first**: `composition<retry&, breaker&>` is a
 * retry around a breaker around the call. Built by `resil::compose`; it is itself a policy
 * (`execute`, `try_execute`, `invoke`), so compositions nest.
 *
 * Holds references to its policies (which must outlive it); copying a composition copies the
 * references. Static dispatch only: a call through a composition inlines like hand-written code,
 * allocates nothing, and reads the clock at most once per attempt for the policies that share it
 * (`context::start_time`). Thread-safe exactly as its policies are (all built-in ones are).
 */
template <class... Policies>
class composition : public policy_base<composition<Policies...>> {
 public:
  /// True when some policy inside may call the callable more than once.
  static constexpr bool repeats_call =
      (detail::repeats_call_v<std::remove_cvref_t<Policies>> || ...);

  /// Stores the policies (references, or nested compositions by value); use `resil::compose`.
  template <class... Args>
  explicit composition(Args&&... ps) : policies_(std::forward<Args>(ps)...) {}

  /// Runs `next` inside every policy, outermost first.
  template <class R, class Next>
  outcome<R> invoke(context& ctx, Next&& next) {
    return step<0, R>(ctx, next);
  }

  /// The number of policies.
  static constexpr std::size_t size() noexcept { return sizeof...(Policies); }

  /// The I-th policy (0 = outermost).
  template <std::size_t I>
  [[nodiscard]] decltype(auto) get() noexcept {
    return std::get<I>(policies_);
  }

 private:
  template <std::size_t I, class R, class Next>
  outcome<R> step(context& ctx, Next& next) {
    if constexpr (I == sizeof...(Policies)) {
      return next(ctx);
    } else {
      return std::get<I>(policies_).template invoke<R>(
          ctx, [this, &next](context& c) -> outcome<R> { return step<I + 1, R>(c, next); });
    }
  }

  std::tuple<Policies...> policies_;
};

/**
 * Composes policies into one, **listed outermost first**:
 *
 *     auto pipeline = resil::compose(retry, breaker, limiter, bulkhead);
 *     auto r = pipeline.try_execute(fetch_menu, restaurant_id);
 *     // retry( breaker( limiter( bulkhead( fetch_menu(restaurant_id) ))))
 *
 * The recommended order, outermost first, is fallback → retry → circuit_breaker → rate_limiter →
 * timeout → bulkhead → call (see docs/composition.md for the reasons). Policies are held by
 * reference and must outlive the composition; temporaries are rejected at compile time (except
 * nested compositions, which are kept by value).
 */
template <class... Policies>
[[nodiscard]] auto compose(Policies&&... ps) {
  detail::check_composable<Policies&&...>();
  return composition<detail::stored_policy_t<Policies&&>...>(std::forward<Policies>(ps)...);
}

/**
 * A callable bound to a pipeline: `d(args...)` is `pipeline.execute(f, args...)` and
 * `d.try_call(args...)` is `pipeline.try_execute(f, args...)`. Built by `resil::decorate`.
 * Copyable when `F` is (the policies are held by reference), so it fits in a `std::function`.
 */
template <class F, class Pipeline>
class decorated {
 public:
  /// Binds `f` to `pipeline`; use `resil::decorate`.
  decorated(F f, Pipeline pipeline) : f_(std::move(f)), pipeline_(std::move(pipeline)) {}

  /// Calls through the pipeline; never throws.
  template <class... Args>
  [[nodiscard]] auto try_call(Args&&... args) {
    return pipeline_.try_execute(f_, std::forward<Args>(args)...);
  }

  /// Calls through the pipeline inside the caller's context; never throws.
  template <class... Args>
  [[nodiscard]] auto try_call_in(context& ctx, Args&&... args) {
    return pipeline_.try_execute_in(ctx, f_, std::forward<Args>(args)...);
  }

#if RESIL_HAS_EXCEPTIONS
  /// Calls through the pipeline; returns the value or throws.
  template <class... Args>
  decltype(auto) operator()(Args&&... args) {
    return pipeline_.execute(f_, std::forward<Args>(args)...);
  }
#endif

  /// The pipeline the callable is bound to.
  [[nodiscard]] Pipeline& pipeline() noexcept {
    return pipeline_;
  }

 private:
  F f_;
  Pipeline pipeline_;
};

/**
 * Binds `f` to a pipeline of policies (listed outermost first):
 *
 *     auto get_menu = resil::decorate(fetch_menu, retry, breaker);
 *     menu m = get_menu(restaurant_id);                 // throws on failure
 *     resil::outcome<menu> r = get_menu.try_call(7);    // never throws
 *
 * `f` is copied (or moved) into the result; the policies are held by reference.
 */
template <class F, class... Policies>
[[nodiscard]] auto decorate(F&& f, Policies&&... ps) {
  auto pipeline = compose(std::forward<Policies>(ps)...);
  return decorated<std::decay_t<F>, decltype(pipeline)>(std::forward<F>(f), std::move(pipeline));
}

}  // namespace resil
