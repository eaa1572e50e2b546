// resil::retry: calls again after a failure, with backoff and jitter, deadlines, result-based
// retries, a delay taken from the outcome (Retry-After) and an optional shared retry budget.
// SPDX-License-Identifier: MIT
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <system_error>
#include <tuple>
#include <type_traits>
#include <utility>

#include "backoff.hpp"
#include "core/classify.hpp"
#include "core/clock.hpp"
#include "core/config.hpp"
#include "core/context.hpp"
#include "core/errors.hpp"
#include "core/events.hpp"
#include "core/outcome.hpp"
#include "core/policy.hpp"
#include "core/random.hpp"
#include "core/time.hpp"
#include "detail/config_check.hpp"
#include "retry_budget.hpp"

namespace resil {

/**
 * What a delay hook (`retry_options::delay_from_outcome`) sees of a failed attempt: its number,
 * the delay the backoff proposes, and the failure itself — the exception, the error code (with a
 * rejection's retry-after hint), or the value the classifier called a failure, read typed:
 *
 *     .delay_from_outcome = [](const resil::retry_attempt_info& a)
 *         -> std::optional<resil::nanoseconds> {
 *       if (const auto* r = a.value<http_response>()) return r->retry_after;  // a 503's header
 *       return std::nullopt;                                                  // the backoff's
 *     }
 *
 * Lives only during the hook call; the value pointer must not be kept.
 */
struct retry_attempt_info {
  std::uint32_t attempt = 0;       ///< The attempt that failed: 1 for the first call.
  nanoseconds backoff_delay{0};    ///< The delay the backoff proposes for the next attempt.
  nanoseconds retry_after{0};      ///< A rejection's retry-after hint (zero when none).
  std::exception_ptr exception{};  ///< The exception the attempt threw, or null.
  std::error_code error{};         ///< The error code the attempt ended with, or empty.

  /// The failed value if the call's result type is `T` (cv and references ignored), else null.
  template <class T>
  [[nodiscard]] const T* value() const noexcept {
    return value_type_ == &detail::type_tag<std::remove_cvref_t<T>> ? static_cast<const T*>(value_)
                                                                    : nullptr;
  }
  /// True when the attempt returned a value (that the classifier called a failure).
  [[nodiscard]] bool has_value() const noexcept { return value_ != nullptr; }

  /// Points `value<T>()` at `v` (for policies and tests that build an info).
  template <class T>
  void set_value(const T* v) noexcept {
    value_ = v;
    value_type_ = &detail::type_tag<std::remove_cvref_t<T>>;
  }

 private:
  const void* value_ = nullptr;
  const void* value_type_ = nullptr;
};

/**
 * Options of `resil::retry`. An aggregate: set what you need with designated initializers; the
 * member initializers below are the defaults (and docs/policies/retry.md quotes them).
 *
 *     resil::retry r{{
 *         .max_attempts = 4,                                          // 1 call + 3 retries
 *         .backoff = resil::backoff::exponential(50ms, 2.0, 2s).full_jitter(),
 *         .max_total_duration = 5s,
 *         .classify = resil::classifier{}
 *                         .failure_on<io_error>()                     // retry these ...
 *                         .failure_if_result([](const response& r) { return r.status == 503; }),
 *         .budget = &shared_budget,                                   // gRPC A6 throttling
 *     }};
 *
 * What is retried is decided by `classify`: an outcome it calls a *failure* is retried; a
 * *success* or *ignored* outcome ends the call. The default classifier retries every exception
 * and error code except another policy's rejection and a cancellation.
 */
struct retry_options {
  /// Calls at most, **counting the first** (Resilience4j's meaning): 3 = one call, two retries.
  /// At least 1 (1 = never retry).
  int max_attempts = 3;
  /// The delays between attempts: 100 ms, 200 ms, 400 ms, ... up to 10 s (no jitter unless asked:
  /// add `.full_jitter()` when many clients may retry together).
  resil::backoff backoff =
      resil::backoff::exponential(std::chrono::milliseconds{100}, 2.0, std::chrono::seconds{10});
  /// The longest wait before an attempt, whatever proposed it (backoff, `delay_from_outcome`, a
  /// rejection's retry-after). Unset: `backoff.cap()`. Must not be negative.
  std::optional<time_span> max_delay{};
  /// Time from the start of the first attempt after which no new attempt starts; an attempt
  /// whose delay would end at or after it is not made. `nanoseconds::max()` = no limit.
  time_span max_total_duration = nanoseconds::max();
  /// Which outcomes are retried (failures), end the call (successes) or abort it (ignored).
  resil::classifier classify{};
  /// Computes the delay from the failed outcome (a Retry-After header, a server's push-back):
  /// a returned delay replaces the backoff's (negative counts as zero; capped at `max_delay`);
  /// `std::nullopt` keeps the backoff's. Runs only after a failure that will be retried. A hook
  /// that throws ends the call with its exception.
  std::function<std::optional<nanoseconds>(const retry_attempt_info&)> delay_from_outcome{};
  /// A token budget shared by many retries (gRPC A6); null = none. Must outlive the retry.
  retry_budget* budget = nullptr;
  /// A concurrency budget shared by many retries (Envoy); null = none. Must outlive the retry.
  retry_concurrency_budget* concurrency_budget = nullptr;
  /// When attempts run out, end with `errc::retries_exhausted` (`retries_exhausted_error`)
  /// instead of the last outcome (Resilience4j's `failAfterMaxAttempts`). Other stops (budget,
  /// deadline) always keep the last outcome.
  bool fail_after_max_attempts = false;
  /// Seed of the jitter generator, to replay a run. Unset: seeded once at construction from the
  /// time and the policy's address, so processes started together do not jitter in lockstep.
  std::optional<std::uint64_t> seed{};

  /// The first invalid field, if any (`max_attempts` < 1, an invalid backoff, a negative
  /// `max_delay`, a `max_total_duration` that is not positive).
  [[nodiscard]] std::optional<config_problem> validate() const {
    detail::config_check c{"retry_options"};
    if (max_delay) c.require_fits(*max_delay, "max_delay");
    c.require_fits(max_total_duration, "max_total_duration");
    c.require(max_attempts >= 1, "max_attempts", max_attempts, "must be at least 1");
    if (!c.ok()) return std::move(c).result();
    if (auto p = backoff.validate("retry_options.backoff")) return p;
    c.require(!max_delay || max_delay->count() >= 0, "max_delay",
              max_delay.value_or(nanoseconds{0}), "must not be negative");
    c.require(max_total_duration.count() > 0, "max_total_duration", max_total_duration,
              "must be positive (nanoseconds::max() for no limit)");
    return std::move(c).result();
  }
};

/// What happened, in a `retry_event`.
enum class retry_event_kind : std::uint8_t {
  retry_scheduled,  ///< An attempt failed and another starts after `delay`.
  succeeded,        ///< The call returned a value; `attempt` > 1 means after retries.
  exhausted,        ///< Retries stopped on a failure; `stop` says which limit.
  aborted,          ///< A failure the classifier does not retry (an abort rule, another
                    ///< policy's rejection, a throwing predicate or hook) ended the call.
};

/// The event kind's name: "retry_scheduled", "succeeded", "exhausted" or "aborted".
[[nodiscard]] constexpr std::string_view to_string(retry_event_kind k) noexcept {
  switch (k) {
    case retry_event_kind::retry_scheduled:
      return "retry_scheduled";
    case retry_event_kind::succeeded:
      return "succeeded";
    case retry_event_kind::exhausted:
      return "exhausted";
    case retry_event_kind::aborted:
      return "aborted";
  }
  return "unknown";
}

/// Which limit ended the retries of an exhausted call.
enum class retry_stop : std::uint8_t {
  none,                ///< Not stopped by a limit (other kinds of event).
  max_attempts,        ///< `max_attempts` calls were made.
  budget,              ///< A `retry_budget` or `retry_concurrency_budget` refused the retry.
  deadline,            ///< The context's deadline would pass before the next attempt.
  max_total_duration,  ///< `max_total_duration` would pass before the next attempt.
  cancelled,           ///< The context's stop token fired (the call ends with `errc::cancelled`).
};

/// Why retrying stopped, as the enumerator reads: "max_attempts", "budget", "deadline", ...
[[nodiscard]] constexpr std::string_view to_string(retry_stop s) noexcept {
  switch (s) {
    case retry_stop::none:
      return "none";
    case retry_stop::max_attempts:
      return "max_attempts";
    case retry_stop::budget:
      return "budget";
    case retry_stop::deadline:
      return "deadline";
    case retry_stop::max_total_duration:
      return "max_total_duration";
    case retry_stop::cancelled:
      return "cancelled";
  }
  return "unknown";
}

/**
 * An event of `resil::retry`, published to `events()` listeners. The cause is the attempt's
 * failure: `exception` or `error`; both empty for a value the classifier called a failure (and
 * for `succeeded`).
 */
struct retry_event {
  retry_event_kind kind = retry_event_kind::succeeded;  ///< What happened.
  std::uint32_t attempt = 0;           ///< The attempt that just ended (1 = the first call).
  nanoseconds delay{0};                ///< `retry_scheduled`: the wait before the next attempt.
  retry_stop stop = retry_stop::none;  ///< `exhausted`: why no further attempt was made.
  std::exception_ptr exception{};      ///< The attempt's exception, if it threw.
  std::error_code error{};             ///< The attempt's error code, if it ended with one.
};

/**
 * Counters of a `resil::retry` (a snapshot: each counter read once; they only grow). A call that
 * succeeds at its first attempt writes nothing — that path costs no atomic operation — so it is
 * not counted here; count calls in a layer that sees every call.
 */
struct retry_metrics {
  std::uint64_t successful_with_retry = 0;  ///< Calls that returned a value after retrying.
  std::uint64_t failed_without_retry = 0;   ///< Calls that ended in failure without retrying.
  std::uint64_t failed_with_retry = 0;      ///< Calls that ended in failure after retrying.
  std::uint64_t retries = 0;                ///< Retry attempts scheduled (all calls).
  std::uint64_t budget_denied = 0;          ///< Retries a budget refused.
};

/**
 * Retries a call that failed, waiting between attempts: the retry policy.
 *
 *     resil::retry r{{.max_attempts = 3}};
 *     menu m = r.execute(fetch_menu, restaurant_id);   // up to 3 calls, 100 ms then 200 ms apart
 *
 * Per call, at most `max_attempts` calls are made. After a failed attempt (by `classify`) the
 * retry asks, in order: attempts left? budget left? not cancelled? Then it computes the delay
 * (backoff, or `delay_from_outcome`, capped at `max_delay`) and starts no attempt that the
 * context's deadline or `max_total_duration` could not hold; it sleeps through the clock
 * (`manual_clock` makes tests instant), interruptible by the context's stop token.
 * When retries stop, the last outcome stands: the last exception is rethrown by `execute` (or
 * carried by `try_execute`'s outcome), the last value returned. A stop token that fires ends the
 * call with `errc::cancelled`.
 *
 * Before each attempt the context's attempt number is set (`ctx.attempt()`: 1, 2, ...) and its
 * cached start time is reset, so inner policies read a fresh time. Arguments are passed as
 * lvalues on every attempt (`repeats_call`).
 *
 * Cost: a call that succeeds at once reads no clock, draws no random number, writes no atomic
 * and allocates nothing (with `max_total_duration` set it shares the pipeline's one clock read;
 * with a budget it adds the budget's bookkeeping).
 *
 * Thread-safe: one retry serves any number of threads (each call keeps its own backoff state;
 * the jitter generator is a lock-free `splitmix64`). Neither copyable nor movable.
 */
template <resil::clock Clock = steady_clock>
class basic_retry : public policy_base<basic_retry<Clock>> {
 public:
  /// Calls the rest of the pipeline more than once: arguments are passed as lvalues.
  static constexpr bool repeats_call = true;
  using clock_type = Clock;  ///< The clock it reads and waits on.

  /// A retry on `clock`. Throws `config_error` for invalid options.
  basic_retry(retry_options options, Clock clock)
      : options_(checked(std::move(options))),
        clock_(std::move(clock)),
        max_delay_(options_.max_delay.value_or(options_.backoff.cap())),
        limit_total_(options_.max_total_duration != nanoseconds::max()),
        guarded_(limit_total_ || options_.concurrency_budget != nullptr),
        rng_(options_.seed ? *options_.seed : entropy_seed(this)) {}
  /// A retry on a default-constructed clock.
  explicit basic_retry(retry_options options) : basic_retry(std::move(options), Clock{}) {}

  basic_retry(const basic_retry&) = delete;
  basic_retry& operator=(const basic_retry&) = delete;

  /// The policy protocol: runs `next` up to `max_attempts` times. Never throws.
  template <class R, class Next>
  outcome<R> invoke(context& ctx, Next&& next);

  /// The options the retry was built with.
  [[nodiscard]] const retry_options& options() const noexcept { return options_; }
  /// The listeners of this retry's events.
  [[nodiscard]] event_publisher<retry_event>& events() noexcept { return events_; }
  /// A snapshot of the counters.
  [[nodiscard]] retry_metrics metrics() const noexcept {
    return {successful_with_retry_.load(std::memory_order_relaxed),
            failed_without_retry_.load(std::memory_order_relaxed),
            failed_with_retry_.load(std::memory_order_relaxed),
            retries_.load(std::memory_order_relaxed),
            budget_denied_.load(std::memory_order_relaxed)};
  }
  /// The clock the retry sleeps on.
  [[nodiscard]] const Clock& clock() const noexcept { return clock_; }

 private:
  using time_point = typename Clock::time_point;

  static retry_options checked(retry_options o) {
    detail::raise_if(o.validate());
    return o;
  }

  static std::uint64_t entropy_seed(const void* salt) noexcept {
    const auto a =
        static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    const auto b =
        static_cast<std::uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
    return a ^ (b * 0x9E3779B97F4A7C15ULL) ^
           static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(salt));
  }

  // Counts the call in a concurrency budget for as long as it runs.
  struct call_scope {
    retry_concurrency_budget* budget;
    explicit call_scope(retry_concurrency_budget* b) noexcept : budget(b) {
      if (budget != nullptr) budget->call_started();
    }
    call_scope(const call_scope&) = delete;
    call_scope& operator=(const call_scope&) = delete;
    ~call_scope() {
      if (budget != nullptr) budget->call_finished();
    }
  };

  // The cold paths, out of line so that invoke's hot path inlines into the caller.
  template <class R, class Next>
  RESIL_NOINLINE outcome<R> after_first(context& ctx, Next& next, outcome<R>& first);

  template <class R, class Next>
  RESIL_NOINLINE outcome<R> invoke_guarded(context& ctx, Next& next);

  template <class R, class Next>
  outcome<R> invoke_unguarded(context& ctx, Next& next);

  template <class R, class Next>
  RESIL_NOINLINE outcome<R> retry_after_failure(context& ctx, Next& next, outcome<R> first,
                                                verdict v, std::exception_ptr error,
                                                std::int64_t started);

  template <class R>
  std::pair<nanoseconds, std::exception_ptr> delay_after(const outcome<R>& r, std::uint32_t attempt,
                                                         backoff_state& state);

  template <class R>
  outcome<R> finish(outcome<R> r, retry_event_kind kind, std::uint32_t attempt,
                    retry_stop stop = retry_stop::none);

  template <class R>
  outcome<R> stop_on(outcome<R>& last, std::uint32_t attempt, retry_stop stop);

  // Publishes, turning a listener's exception into the value returned (null when none threw).
  template <class Make>
  std::exception_ptr publish(Make&& make) noexcept {
#if RESIL_HAS_EXCEPTIONS
    try {
      events_.publish_with(std::forward<Make>(make));
    } catch (...) {
      return std::current_exception();
    }
#else
    events_.publish_with(std::forward<Make>(make));
#endif
    return nullptr;
  }

  template <class R>
  static retry_event event_for(retry_event_kind kind, std::uint32_t attempt, const outcome<R>& r) {
    retry_event e;
    e.kind = kind;
    e.attempt = attempt;
    e.exception = r.exception();
    e.error = r.error();
    return e;
  }

  void count_failure(std::uint32_t attempt) noexcept {
    (attempt > 1 ? failed_with_retry_ : failed_without_retry_)
        .fetch_add(1, std::memory_order_relaxed);
  }

  // Read on every call (never written after construction) ...
  const retry_options options_;
  [[no_unique_address]] Clock clock_;
  nanoseconds max_delay_;
  bool limit_total_;
  bool guarded_;  // a concurrency budget or max_total_duration: the first attempt needs setup
  event_publisher<retry_event> events_;
  // ... and written only after failures, on lines of their own so that retries in one thread do
  // not slow down the first-attempt successes of others.
  alignas(detail::cache_line) splitmix64 rng_;
  alignas(detail::cache_line) std::atomic<std::uint64_t> successful_with_retry_{0};
  std::atomic<std::uint64_t> failed_without_retry_{0};
  std::atomic<std::uint64_t> failed_with_retry_{0};
  std::atomic<std::uint64_t> retries_{0};
  std::atomic<std::uint64_t> budget_denied_{0};
};

/// `basic_retry` on `resil::steady_clock`.
using retry = basic_retry<>;

// -- implementation --------------------------------------------------------------------------

template <resil::clock Clock>
template <class R, class Next>
outcome<R> basic_retry<Clock>::invoke(context& ctx, Next&& next) {
  // The hot path: no concurrency budget and no time limit, a value that no result rule needs to
  // look at and no listener to tell. It reads no clock, draws no random number and writes no
  // shared memory (a token budget that is full is only read); everything else runs out of line.
  if (RESIL_UNLIKELY(guarded_)) return invoke_guarded<R>(ctx, next);
  return invoke_unguarded<R>(ctx, next);
}

template <resil::clock Clock>
template <class R, class Next>
outcome<R> basic_retry<Clock>::invoke_unguarded(context& ctx, Next& next) {
  // A function of its own so that `r` is its only return (for move-assignable outcomes): the
  // compiler then builds it in the caller's return slot instead of copying it there.
  ctx.set_attempt(1);
  outcome<R> r = next(ctx);
  if (RESIL_UNLIKELY(!r.has_value() ||
                     ctx.effective_classifier(options_.classify).has_result_rules() ||
                     events_.has_listeners())) {
    if constexpr (std::is_move_assignable_v<outcome<R>>) {
      r = after_first<R>(ctx, next, r);  // every return below returns r: no copy on the hot path
    } else {
      return after_first<R>(ctx, next, r);
    }
  } else if (options_.budget != nullptr) {
    options_.budget->record_success();  // a load when the bucket is full
  }
  return r;
}

template <resil::clock Clock>
template <class R, class Next>
outcome<R> basic_retry<Clock>::after_first(context& ctx, Next& next, outcome<R>& first) {
  auto verdict_and_error = ctx.effective_classifier(options_.classify).classify_noexcept(first);
  return retry_after_failure<R>(ctx, next, std::move(first), verdict_and_error.first,
                                std::move(verdict_and_error.second), 0);
}

template <resil::clock Clock>
template <class R, class Next>
outcome<R> basic_retry<Clock>::invoke_guarded(context& ctx, Next& next) {
  const call_scope scope{options_.concurrency_budget};
  // Only max_total_duration needs the start of the first attempt; the reading is shared with the
  // inner policies of this attempt (context::start_time), so it costs nothing extra there.
  const std::int64_t started = limit_total_ ? to_ticks<Clock>(ctx.start_time(clock_)) : 0;
  ctx.set_attempt(1);
  outcome<R> r = next(ctx);
  auto verdict_and_error = ctx.effective_classifier(options_.classify).classify_noexcept(r);
  return retry_after_failure<R>(ctx, next, std::move(r), verdict_and_error.first,
                                std::move(verdict_and_error.second), started);
}

template <resil::clock Clock>
template <class R, class Next>
outcome<R> basic_retry<Clock>::retry_after_failure(context& ctx, Next& next, outcome<R> first,
                                                   verdict v, std::exception_ptr error,
                                                   std::int64_t started) {
  const classifier& cls = ctx.effective_classifier(options_.classify);
  const auto max_attempts = static_cast<std::uint32_t>(options_.max_attempts);
  std::optional<outcome<R>> last{std::move(first)};  // optional: R need not be assignable
  backoff_state state;
  for (std::uint32_t attempt = 1;; ++attempt) {
    outcome<R>& r = *last;
    if (error) {
      return finish(outcome<R>::from_exception(std::move(error)), retry_event_kind::aborted,
                    attempt);
    }
    if (v != verdict::failure) {
      const auto kind = r.has_value() ? retry_event_kind::succeeded : retry_event_kind::aborted;
      return finish(std::move(r), kind, attempt);
    }
    // A failure. gRPC charges the token budget for every failed attempt, the last one too.
    const bool tokens_left = options_.budget == nullptr || options_.budget->record_failure();
    if (attempt >= max_attempts) return stop_on(r, attempt, retry_stop::max_attempts);
    if (!tokens_left) return stop_on(r, attempt, retry_stop::budget);
    if (ctx.stop_requested()) return stop_on(r, attempt, retry_stop::cancelled);

    auto chosen = delay_after(r, attempt, state);
    if (chosen.second) {
      return finish(outcome<R>::from_exception(std::move(chosen.second)), retry_event_kind::aborted,
                    attempt);
    }
    const nanoseconds delay = chosen.first;

    time_point deadline = ctx.deadline(clock_);
    retry_stop reason = retry_stop::deadline;
    if (limit_total_) {
      const auto total_end =
          from_ticks<Clock>(detail::sat_add(started, options_.max_total_duration.count()));
      if (total_end < deadline) {
        deadline = total_end;
        reason = retry_stop::max_total_duration;
      }
    }
    time_point wake{};
    const bool bounded = deadline != time_point::max();
    if (bounded || delay.count() > 0) {
      wake = saturating_add(clock_.now(), delay);
      if (bounded && wake >= deadline) return stop_on(r, attempt, reason);
    }

    std::optional<permit<retry_concurrency_budget>> slot;
    if (options_.concurrency_budget != nullptr) {
      slot = options_.concurrency_budget->try_acquire_retry();
      if (!slot) return stop_on(r, attempt, retry_stop::budget);
    }

    retries_.fetch_add(1, std::memory_order_relaxed);
    if (auto e = publish([&] {
          retry_event ev = event_for(retry_event_kind::retry_scheduled, attempt, r);
          ev.delay = delay;
          return ev;
        })) {
      return finish(outcome<R>::from_exception(std::move(e)), retry_event_kind::aborted, attempt);
    }
    if (delay.count() > 0 && !clock_.sleep_until(wake, ctx.stop_token())) {
      return stop_on(r, attempt, retry_stop::cancelled);
    }

    ctx.set_attempt(attempt + 1);
    ctx.reset_start_time();
    last.emplace(next(ctx));
    std::tie(v, error) = cls.classify_noexcept(*last);
  }
}

template <resil::clock Clock>
template <class R>
std::pair<nanoseconds, std::exception_ptr> basic_retry<Clock>::delay_after(const outcome<R>& r,
                                                                           std::uint32_t attempt,
                                                                           backoff_state& state) {
  const nanoseconds proposed = options_.backoff.next(state, rng_);
  nanoseconds delay = std::max(proposed, r.retry_after());
  if (options_.delay_from_outcome) {
    retry_attempt_info info;
    info.attempt = attempt;
    info.backoff_delay = proposed;
    info.retry_after = r.retry_after();
    info.exception = r.exception();
    info.error = r.error();
    if constexpr (!std::is_void_v<R>) {
      if (r.has_value()) info.set_value(std::addressof(r.value()));
    }
#if RESIL_HAS_EXCEPTIONS
    try {
#endif
      if (const auto chosen = options_.delay_from_outcome(info)) {
        delay = chosen->count() > 0 ? *chosen : nanoseconds{0};  // a negative delay means "now"
      }
#if RESIL_HAS_EXCEPTIONS
    } catch (...) {
      return {nanoseconds{0}, std::current_exception()};
    }
#endif
  }
  return {std::min(delay, max_delay_), nullptr};
}

template <resil::clock Clock>
template <class R>
outcome<R> basic_retry<Clock>::finish(outcome<R> r, retry_event_kind kind, std::uint32_t attempt,
                                      retry_stop stop) {
  if (kind == retry_event_kind::succeeded) {
    if (options_.budget != nullptr) options_.budget->record_success();
    if (attempt > 1) successful_with_retry_.fetch_add(1, std::memory_order_relaxed);
  } else {
    count_failure(attempt);
  }
  if (auto e = publish([&] {
        retry_event ev = event_for(kind, attempt, r);
        ev.stop = stop;
        return ev;
      })) {
    return outcome<R>::from_exception(std::move(e));
  }
  return r;
}

template <resil::clock Clock>
template <class R>
outcome<R> basic_retry<Clock>::stop_on(outcome<R>& last, std::uint32_t attempt, retry_stop stop) {
  if (stop == retry_stop::budget) budget_denied_.fetch_add(1, std::memory_order_relaxed);
  count_failure(attempt);
  if (auto e = publish([&] {
        retry_event ev = event_for(retry_event_kind::exhausted, attempt, last);
        ev.stop = stop;
        return ev;
      })) {
    return outcome<R>::from_exception(std::move(e));
  }
  if (stop == retry_stop::cancelled) return outcome<R>::from_error(errc::cancelled);
  if (stop == retry_stop::max_attempts && options_.fail_after_max_attempts) {
    return outcome<R>::from_error(errc::retries_exhausted);
  }
  return std::move(last);
}

}  // namespace resil
