// resil::fallback: replaces a failed or rejected call's outcome with a value or a handler's.
// SPDX-License-Identifier: MIT
#pragma once

#include <algorithm>
#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/classify.hpp"
#include "core/config.hpp"
#include "core/context.hpp"
#include "core/errors.hpp"
#include "core/events.hpp"
#include "core/outcome.hpp"
#include "core/policy.hpp"
#include "detail/capture.hpp"

namespace resil {

namespace detail {
inline bool is_cancellation(const std::error_code& ec) {
  return ec == errc::cancelled;
}
}  // namespace detail

/**
 * Options of a fallback. Default:
 *
 * - `classify`: every exception and every error code, rejections included, except a
 *   cancellation. The fallback replaces the outcomes it classifies as `verdict::failure`.
 *
 *     resil::fallback_options{.classify = resil::only_errors(resil::errc::circuit_open)}
 */
struct fallback_options {
  /// Selects the outcomes to replace: those classified as `verdict::failure`. The default
  /// replaces every exception and every error code, including other policies' rejections
  /// (`circuit_open`, `bulkhead_full`, `rate_limited`), but not a cancellation (the caller asked
  /// to stop). Values pass, unless a result rule (`failure_if_result`) marks them.
  classifier classify = classifier{}
                            .count_rejections(true)
                            .ignore_if_error(&detail::is_cancellation)
                            .ignore<cancelled_error>();

  /// Fallback options have no invalid values; present for symmetry with the other policies.
  [[nodiscard]] std::optional<config_problem> validate() const { return std::nullopt; }
};

/**
 * A classifier that selects only outcomes carrying one of `codes`: an error code in the set, or
 * an exception derived from `std::system_error` whose `code()` is in the set (such as a
 * `circuit_open_error` thrown by a nested `execute`). Everything else passes. Chain
 * `.failure_on<E...>()` to also select exception types.
 *
 *     auto fb = resil::fallback_to(cached_menu,
 *                                  {.classify = resil::only_errors(resil::errc::circuit_open)});
 */
template <class... Codes>
[[nodiscard]] classifier only_errors(Codes... codes) {
  static_assert(sizeof...(Codes) > 0, "resil::only_errors: name at least one error code");
  std::vector<std::error_code> set{std::error_code(codes)...};
  auto in_set = [set](const std::error_code& ec) {
    return std::find(set.begin(), set.end(), ec) != set.end();
  };
  return classifier{}
      .count_rejections(true)
      .ignore_if_error([in_set](const std::error_code& ec) { return !in_set(ec); })
      .failure_if([in_set](const std::system_error& e) { return in_set(e.code()); });
}

/**
 * A classifier that selects only exceptions of the types `E...` (or derived from them). Error
 * codes and values pass.
 *
 *     auto fb = resil::fallback_to(cached_menu,
 *                                  {.classify = resil::only_exceptions<std::system_error>()});
 */
template <class... E>
[[nodiscard]] classifier only_exceptions() {
  static_assert(sizeof...(E) > 0, "resil::only_exceptions: name at least one exception type");
  return classifier{}.count_rejections(true).failure_on<E...>().ignore_if_error(
      [](const std::error_code&) { return true; });
}

/// What happened in a fallback (see `fallback_event`).
enum class fallback_event_kind : std::uint8_t {
  applied,  ///< The handler replaced a selected outcome with a value.
  failed,   ///< The handler threw, or returned a failure; that became the call's outcome.
};

/// The event kind's name: "applied" or "failed".
[[nodiscard]] constexpr std::string_view to_string(fallback_event_kind k) noexcept {
  switch (k) {
    case fallback_event_kind::applied:
      return "applied";
    case fallback_event_kind::failed:
      return "failed";
  }
  return "unknown";
}

/// An event published by a fallback, on the caller's thread, after the handler ran.
struct fallback_event {
  fallback_event_kind kind;  ///< What happened.
  /// The replaced outcome's error code (empty if it was an exception or a value).
  std::error_code error{};
  /// The replaced outcome's exception (null if it was an error code or a value).
  std::exception_ptr exception{};
};

namespace detail {

template <class T>
inline constexpr bool always_false_v = false;

template <class T>
class erased_fallback;

template <class H>
inline constexpr bool is_erased_fallback_v = false;
template <class T>
inline constexpr bool is_erased_fallback_v<erased_fallback<T>> = true;

// The handler's result as the call's outcome, or a compile error that says why not.
template <class R, class X>
outcome<R> fallback_result(X&& x) {
  using raw = std::remove_cvref_t<X>;
  if constexpr (is_outcome_v<raw>) {
    static_assert(std::is_same_v<raw, outcome<R>>,
                  "resil: the fallback handler returns an outcome of another type than the "
                  "call's result");
    return std::forward<X>(x);
  } else if constexpr (std::is_reference_v<R>) {
    if constexpr (std::is_lvalue_reference_v<X&&> &&
                  std::is_convertible_v<std::remove_reference_t<X>*, std::remove_reference_t<R>*>) {
      return outcome<R>(x);
    } else {
      static_assert(always_false_v<X>,
                    "resil: the call returns a reference, so the fallback must provide an lvalue "
                    "of that type (a value kept in the fallback works)");
      return outcome<R>::from_error(errc::cancelled);
    }
  } else if constexpr (std::is_convertible_v<X&&, R>) {
    return outcome<R>(std::in_place, std::forward<X>(x));
  } else {
    static_assert(always_false_v<X>,
                  "resil: the fallback's value (or its handler's result) cannot be converted to "
                  "the call's result type");
    return outcome<R>::from_error(errc::cancelled);
  }
}

// Calls a handler through `call()` and turns what it returns into the call's outcome.
template <class R, class Call>
outcome<R> handler_result(Call&& call) {
  if constexpr (std::is_void_v<decltype(call())>) {
    static_assert(std::is_void_v<R>,
                  "resil: a fallback handler returning void can only handle calls returning void");
    call();
    return outcome<R>{};
  } else {
    return fallback_result<R>(call());
  }
}

// Runs a handler (or returns a value) for the outcome `cause` of a call returning R.
template <class R, class H>
outcome<R> run_fallback(const H& h, context& ctx, const outcome<R>& cause) {
  if constexpr (std::is_invocable_v<const H&, context&, const outcome<R>&>) {
    return handler_result<R>([&]() -> decltype(auto) { return h(ctx, cause); });
  } else if constexpr (std::is_invocable_v<const H&, const outcome<R>&>) {
    return handler_result<R>([&]() -> decltype(auto) { return h(cause); });
  } else if constexpr (std::is_invocable_v<const H&>) {
    return handler_result<R>([&]() -> decltype(auto) { return h(); });
  } else if constexpr (std::is_void_v<R>) {
    static_assert(always_false_v<H>,
                  "resil: a fallback for a call returning void must be a function (f(), "
                  "f(const outcome<void>&) or f(context&, const outcome<void>&)), called "
                  "through a const reference");
    return outcome<R>{};
  } else {
    return fallback_result<R>(h);
  }
}

/// A fallback for calls returning exactly `T`, type-erased (one `std::function`, called only
/// when the fallback applies). Built from a value or any handler form `fallback_to` accepts.
template <class T>
class erased_fallback {
 public:
  using value_type = T;

  template <class H>
  requires(!std::is_same_v<std::remove_cvref_t<H>, erased_fallback>)
      erased_fallback(H&& h)  // NOLINT(google-explicit-constructor): a fallback<T> from a value
      : fn_([stored = std::decay_t<H>(std::forward<H>(h))](context& ctx, const outcome<T>& cause) {
          return run_fallback<T>(stored, ctx, cause);
        }) {}

  outcome<T> operator()(context& ctx, const outcome<T>& cause) const { return fn_(ctx, cause); }

 private:
  std::function<outcome<T>(context&, const outcome<T>&)> fn_;
};

}  // namespace detail

/**
 * A fallback: when the call inside fails or is rejected, and its classifier selects that
 * outcome, returns a value or a handler's result instead.
 *
 *     auto menu_fallback = resil::fallback_to(cached_menu);              // a value
 *     auto empty_on_open = resil::fallback_to(
 *         [](const resil::outcome<menu>& failed) { return menu::closed(failed.error()); },
 *         {.classify = resil::only_errors(resil::errc::circuit_open)});   // a handler
 *     auto pipeline = resil::compose(menu_fallback, retry, breaker);      // fallback outermost
 *
 * `Handler` is one of:
 * - a value convertible to the call's result (copied out on each fallback; for a call returning
 *   a reference, a reference to the value kept in the fallback);
 * - a function `f()`, `f(const resil::outcome<R>&)` or `f(resil::context&, const
 *   resil::outcome<R>&)` returning the result, an `outcome<R>`, or `void` for calls returning
 *   `void`. The handler sees the outcome that caused the fallback (`failed.error()`,
 *   `failed.exception()`, or the value a result rule rejected). A generic lambda
 *   (`[](const auto& failed)`) adapts to each call's result type.
 *
 * A fallback whose value or handler does not fit a call's result type fails to compile with a
 * message saying so. A handler that throws makes the call's outcome that exception (no further
 * fallback). The handler is called through a const reference, possibly from several threads at
 * once. The classifier is the per-call one if the context has one (`override_classifier`),
 * else `options.classify`; a predicate that throws makes its exception the outcome.
 *
 * No state, no allocation; a call that succeeds costs one branch. Thread-safe if the handler
 * is. Neither copyable nor movable (build it in place: `auto f = resil::fallback_to(...)`).
 */
template <class Handler>
class basic_fallback : public policy_base<basic_fallback<Handler>> {
 public:
  using handler_type = Handler;  ///< The handler's type.

  /// A fallback running `handler` for the outcomes `options.classify` selects.
  explicit basic_fallback(Handler handler, fallback_options options = {})
      : handler_(std::move(handler)), options_(std::move(options)) {}

  basic_fallback(const basic_fallback&) = delete;
  basic_fallback& operator=(const basic_fallback&) = delete;
  ~basic_fallback() = default;

  /// The options (with the classifier) this fallback was built with.
  [[nodiscard]] const fallback_options& options() const noexcept { return options_; }

  /// The listeners of this fallback's events.
  [[nodiscard]] event_publisher<fallback_event>& events() noexcept { return events_; }

  /// The policy protocol: runs `next`, and the handler if the classifier selects the outcome.
  template <class R, class Next>
  outcome<R> invoke(context& ctx, Next&& next) {
    if constexpr (detail::is_erased_fallback_v<Handler>) {
      static_assert(std::is_same_v<R, typename Handler::value_type>,
                    "resil::fallback<T> handles only calls whose result type is exactly T; use "
                    "resil::fallback_to(...) for a fallback that adapts to each call");
    }
    outcome<R> r = next(ctx);
    const auto [v, predicate_error] =
        ctx.effective_classifier(options_.classify).classify_noexcept(r);
    if (RESIL_UNLIKELY(predicate_error)) return outcome<R>::from_exception(predicate_error);
    if (RESIL_LIKELY(v != verdict::failure)) return r;
    return detail::capture_exceptions<R>([&] {
      outcome<R> replaced =
          detail::capture_exceptions<R>([&] { return detail::run_fallback<R>(handler_, ctx, r); });
      events_.publish_with([&] {
        return fallback_event{
            replaced.has_value() ? fallback_event_kind::applied : fallback_event_kind::failed,
            r.error(), r.exception()};
      });
      return replaced;
    });
  }

 private:
  Handler handler_;
  fallback_options options_;
  event_publisher<fallback_event> events_;
};

/**
 * A fallback for calls returning exactly `T`, with a nameable type (for class members and
 * containers); the handler is type-erased and called only when the fallback applies.
 *
 *     class menu_service {
 *       resil::fallback<menu> fallback_{menu::closed()};   // or any handler form
 *     };
 */
template <class T>
using fallback = basic_fallback<detail::erased_fallback<T>>;

/**
 * Builds a fallback from a value or a handler (see `basic_fallback`), in place:
 *
 *     auto fb = resil::fallback_to(cached_menu);
 *     auto fb2 = resil::fallback_to([](const auto& failed) { return decltype(...){}; });
 */
template <class H>
[[nodiscard]] basic_fallback<std::decay_t<H>> fallback_to(H&& handler,
                                                          fallback_options options = {}) {
  return basic_fallback<std::decay_t<H>>(std::forward<H>(handler), std::move(options));
}

}  // namespace resil
