// resil::circuit_breaker: stops calling a dependency that keeps failing, then lets a few probe
// calls through until it recovers.
// SPDX-License-Identifier: MIT
#pragma once

#include <atomic>
#include <cassert>
#include <chrono>
#include <cstdint>
#include <exception>
#include <limits>
#include <mutex>
#include <optional>
#include <string_view>
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
#include "core/permit.hpp"
#include "core/policy.hpp"
#include "core/random.hpp"
#include "core/sliding_window.hpp"
#include "core/time.hpp"
#include "detail/breaker_word.hpp"
#include "detail/config_check.hpp"
#include "detail/striped_counter.hpp"

namespace resil {

/**
 * The states of a circuit breaker. The first three are automatic; the last three are entered
 * only by a manual call (`disable()`, `force_open()`, `metrics_only()`) and left only by another
 * (`close()` or `reset()` return to normal operation).
 */
enum class circuit_state : std::uint8_t {
  closed,        ///< Calls pass; outcomes are recorded; too many failures open it.
  open,          ///< Calls are rejected until the open duration has passed.
  half_open,     ///< Up to `half_open_calls` probes pass; their outcomes close or re-open it.
  disabled,      ///< Manual: every call passes, nothing is recorded.
  forced_open,   ///< Manual: every call is rejected, until `close()` or `reset()`.
  metrics_only,  ///< Manual: every call passes and is recorded, but it never opens.
};

/// The state's name: "closed", "open", "half_open", "disabled", "forced_open", "metrics_only".
[[nodiscard]] constexpr std::string_view to_string(circuit_state s) noexcept {
  switch (s) {
    case circuit_state::closed:
      return "closed";
    case circuit_state::open:
      return "open";
    case circuit_state::half_open:
      return "half_open";
    case circuit_state::disabled:
      return "disabled";
    case circuit_state::forced_open:
      return "forced_open";
    case circuit_state::metrics_only:
      return "metrics_only";
  }
  return "unknown";
}

/// Which sliding window a breaker keeps while closed.
enum class window_type : std::uint8_t {
  count,  ///< The last `window_size` calls (Resilience4j's COUNT_BASED; the default).
  time,   ///< The calls of the last `window_size` buckets of `time_bucket` (TIME_BASED).
  none,   ///< No window: only `consecutive_failures` opens the breaker (the cheapest mode).
};

/// The window type's name: "count", "time" or "none".
[[nodiscard]] constexpr std::string_view to_string(window_type w) noexcept {
  switch (w) {
    case window_type::count:
      return "count";
    case window_type::time:
      return "time";
    case window_type::none:
      return "none";
  }
  return "unknown";
}

/**
 * Options of a circuit breaker; the member initialisers are the defaults (Resilience4j's, except
 * where noted). Use designated initialisers:
 *
 *     resil::circuit_breaker breaker{{.failure_rate_threshold = 0.25, .window_size = 20,
 *                                     .minimum_calls = 10, .open_duration = 30s}};
 *
 * | option | default | meaning |
 * |---|---|---|
 * | `failure_rate_threshold` | 0.5 | open when failed/calls >= this (a fraction in (0, 1]) |
 * | `slow_call_rate_threshold` | 1.0 | open when slow/calls >= this (a fraction in (0, 1]) |
 * | `slow_call_duration` | 0 (off) | a call taking longer is slow; 0 disables slow-call tracking |
 * | `consecutive_failures` | 0 (off) | also open after this many failures in a row |
 * | `window` | `window_type::count` | count, time, or none (consecutive failures only) |
 * | `window_size` | 100 | calls (count window) or buckets (time window) |
 * | `time_bucket` | 1 s | width of a time window's bucket |
 * | `minimum_calls` | 100 | calls the window needs before a rate can open the breaker |
 * | `open_duration` | 60 s | how long it stays open (exact, unless `open_backoff` is set) |
 * | `open_backoff` | none | the n-th consecutive opening waits `open_backoff->next(...)` |
 * | `open_backoff_seed` | 0x5EED | seed of the generator `open_backoff`'s jitter draws from |
 * | `half_open_calls` | 10 | probes admitted at once in half-open; their rates decide |
 * | `max_half_open_duration` | 0 (off) | re-open a half-open state whose probes never finish |
 * | `classify` | `classifier{}` | what counts as a failure (rejections are ignored) |
 *
 * `validate()` reports the first invalid option; the breaker's constructor throws it as
 * `resil::config_error`.
 */
struct circuit_breaker_options {
  /// Open when the window's failure rate is at least this fraction, in (0, 1].
  double failure_rate_threshold = 0.5;
  /// Open when the window's slow-call rate is at least this fraction, in (0, 1].
  double slow_call_rate_threshold = 1.0;
  /// A call that takes longer than this is slow. Zero (the default) turns slow-call tracking
  /// off, and with it every clock read on the closed-state path of a count window.
  time_span slow_call_duration = nanoseconds{0};
  /// Also open after this many failures in a row while closed (0 = off). With
  /// `window = window_type::none` it is the only trip, and the closed path costs one load.
  std::uint32_t consecutive_failures = 0;
  /// The sliding window kept while closed.
  window_type window = window_type::count;
  /// Calls (count window, 1 .. 65535) or buckets (time window, 1 .. 65535) in the window.
  std::uint32_t window_size = 100;
  /// The width of a time window's bucket: the window spans `window_size × time_bucket`.
  time_span time_bucket = std::chrono::seconds{1};
  /// The number of calls the window must hold before its rates may open the breaker; at most
  /// `window_size` for a count window.
  std::uint32_t minimum_calls = 100;
  /// How long the breaker stays open before admitting probes.
  time_span open_duration = std::chrono::seconds{60};
  /// If set, the n-th consecutive opening (counted since the breaker last closed) waits
  /// `open_backoff->next(state, rng)` instead of `open_duration`: each re-open waits longer,
  /// up to the backoff's cap.
  std::optional<backoff> open_backoff{};
  /// Seed of the `resil::splitmix64` that `open_backoff`'s jitter draws from.
  std::uint64_t open_backoff_seed = 0x5EED;
  /// Probes admitted in half-open (1 .. 1023), reserved atomically. Once that many have
  /// completed, their failure and slow-call rates decide: open again, or close.
  std::uint32_t half_open_calls = 10;
  /// If positive, a half-open state that has lasted this long with no probe slot free opens
  /// again (its probes never finished). Zero (the default) waits for the probes.
  time_span max_half_open_duration = nanoseconds{0};
  /// What counts as a failure. By default any exception or error code, except other policies'
  /// rejections and cancellations, which are ignored.
  classifier classify{};

  /// The first invalid option, if any.
  [[nodiscard]] std::optional<config_problem> validate() const {
    detail::config_check c{"circuit_breaker_options"};
    c.require_fits(slow_call_duration, "slow_call_duration");
    c.require_fits(time_bucket, "time_bucket");
    c.require_fits(open_duration, "open_duration");
    c.require_fits(max_half_open_duration, "max_half_open_duration");
    const auto fraction = [](double x) { return x > 0.0 && x <= 1.0; };  // false for NaN
    c.require(fraction(failure_rate_threshold), "failure_rate_threshold", failure_rate_threshold,
              "must be in (0, 1]");
    c.require(fraction(slow_call_rate_threshold), "slow_call_rate_threshold",
              slow_call_rate_threshold, "must be in (0, 1]");
    c.require(slow_call_duration.count() >= 0, "slow_call_duration", slow_call_duration,
              "must not be negative (0 turns slow-call tracking off)");
    c.require(
        window == window_type::count || window == window_type::time || window == window_type::none,
        "window", window, "must be window_type::count, time or none");
    c.require(window_size >= 1 && window_size <= count_window::max_size, "window_size", window_size,
              "must be in [1, 65535]");
    c.require(minimum_calls >= 1, "minimum_calls", minimum_calls, "must be at least 1");
    c.require(window != window_type::count || minimum_calls <= window_size, "minimum_calls",
              minimum_calls, "must not exceed window_size for a count window");
    c.require(time_bucket.count() > 0, "time_bucket", time_bucket, "must be positive");
    c.require(window != window_type::time || window_size == 0 ||
                  time_bucket.count() <= nanoseconds::max().count() / window_size,
              "time_bucket", time_bucket,
              "window_size x time_bucket must be representable in nanoseconds (~292 years)");
    c.require(window != window_type::none || consecutive_failures >= 1, "consecutive_failures",
              consecutive_failures,
              "must be at least 1 when window is window_type::none (nothing else opens it)");
    c.require(half_open_calls >= 1 && half_open_calls <= detail::breaker_word::field_max,
              "half_open_calls", half_open_calls, "must be in [1, 1023]");
    c.require(open_duration.count() > 0, "open_duration", open_duration, "must be positive");
    c.require(max_half_open_duration.count() >= 0, "max_half_open_duration", max_half_open_duration,
              "must not be negative (0 turns it off)");
    if (!c.ok() || !open_backoff) return std::move(c).result();
    if (auto p = open_backoff->validate("circuit_breaker_options.open_backoff")) return p;
    c.require(open_backoff->cap().count() > 0, "open_backoff.cap", open_backoff->cap(),
              "must be positive");
    return std::move(c).result();
  }
};

/**
 * What a circuit breaker tells its listeners (`breaker.events().subscribe(f)`).
 *
 * | kind | when | fields |
 * |---|---|---|
 * | `state_transition` | every transition, exactly once | `previous_state`, `state` |
 * | `success` | a call recorded as a success | `elapsed`, `slow` (when measured) |
 * | `failure` | a call recorded as a failure | `elapsed`, `slow` (when measured) |
 * | `ignored` | a call classified as neither | `elapsed` |
 * | `not_permitted` | a call rejected | `remaining_delay` |
 * | `failure_rate_exceeded` | the failure rate reached its threshold (before it opens) | `rate` |
 * | `slow_call_rate_exceeded` | the slow-call rate reached its threshold | `rate` |
 * | `consecutive_failures_exceeded` | `consecutive_failures` failures in a row | `count` |
 * | `reset` | `reset()` was called | — |
 */
struct circuit_breaker_event {
  /// The kinds of event (see the table above).
  enum class kind_t : std::uint8_t {
    state_transition,
    success,
    failure,
    ignored,
    not_permitted,
    failure_rate_exceeded,
    slow_call_rate_exceeded,
    consecutive_failures_exceeded,
    reset,
  };
  kind_t kind;                     ///< What happened.
  circuit_state state;             ///< The state (after a transition: the new one).
  circuit_state previous_state;    ///< For `state_transition`: the state left; else `state`.
  nanoseconds elapsed{0};          ///< The call's duration, when slow-call tracking measured it.
  bool slow = false;               ///< The call was slow.
  double rate = 0.0;               ///< For `*_rate_exceeded`: the rate, a fraction.
  std::uint64_t count = 0;         ///< For `consecutive_failures_exceeded`: the count.
  nanoseconds remaining_delay{0};  ///< For `not_permitted`: time until probes are admitted.
};

/// The event kind's name, as the enumerator reads: "state_transition", "failure", ...
[[nodiscard]] constexpr std::string_view to_string(circuit_breaker_event::kind_t k) noexcept {
  using kind = circuit_breaker_event::kind_t;
  switch (k) {
    case kind::state_transition:
      return "state_transition";
    case kind::success:
      return "success";
    case kind::failure:
      return "failure";
    case kind::ignored:
      return "ignored";
    case kind::not_permitted:
      return "not_permitted";
    case kind::failure_rate_exceeded:
      return "failure_rate_exceeded";
    case kind::slow_call_rate_exceeded:
      return "slow_call_rate_exceeded";
    case kind::consecutive_failures_exceeded:
      return "consecutive_failures_exceeded";
    case kind::reset:
      return "reset";
  }
  return "unknown";
}

/**
 * A consistent snapshot of a circuit breaker (`breaker.metrics()`). The counts are those of the
 * closed-state window, or, in half-open, of the probes (also shown while open after failed
 * probes).
 */
struct circuit_breaker_metrics {
  circuit_state state = circuit_state::closed;                       ///< The state at the snapshot.
  double failure_rate = std::numeric_limits<double>::quiet_NaN();    ///< NaN with no calls.
  double slow_call_rate = std::numeric_limits<double>::quiet_NaN();  ///< NaN with no calls.
  std::uint64_t calls = 0;                 ///< Calls in the window (or probes recorded).
  std::uint64_t failed = 0;                ///< Of which failed.
  std::uint64_t slow = 0;                  ///< Of which were slow.
  std::uint64_t not_permitted = 0;         ///< Calls rejected since construction or `reset()`.
  std::uint64_t consecutive_failures = 0;  ///< Failures in a row (closed, metrics_only).
  std::uint32_t probes_in_flight = 0;      ///< Half-open probes admitted and not yet finished.
  std::uint64_t transitions = 0;           ///< State transitions since construction.
};

/**
 * A circuit breaker: Resilience4j's state machine, with lock-free calls.
 *
 *     resil::circuit_breaker breaker{{.failure_rate_threshold = 0.5, .window_size = 20,
 *                                     .minimum_calls = 10, .open_duration = 30s}};
 *     auto r = breaker.try_execute(fetch_menu, restaurant_id);     // outcome<menu>
 *     if (r.error() == resil::errc::circuit_open) serve_cached(r.retry_after());
 *
 * **Closed**: calls pass and their outcomes go into a sliding window. When the window holds at
 * least `minimum_calls` and its failure rate (or slow-call rate) reaches its threshold, or after
 * `consecutive_failures` failures in a row, it **opens**: calls are rejected with
 * `errc::circuit_open` (`circuit_open_error` from `execute`) carrying the remaining delay. After
 * `open_duration` the next call moves it to **half-open** (lazily: no timer), where at most
 * `half_open_calls` probes are admitted at once, each slot reserved atomically; when that many
 * have completed, their rates decide: open again (waiting longer if `open_backoff` is set), or
 * close with a fresh window. Manual states: `disable()`, `force_open()`, `metrics_only()`, and
 * `close()` / `reset()` to return.
 *
 * The state, a generation counter and the per-state counters share one atomic word; a result
 * from a call admitted in an earlier generation never changes the current one's counts, and
 * every transition publishes exactly one event. Ignored outcomes, dropped permits and throwing
 * classifiers give a half-open probe slot back.
 *
 * Cost: closed with a count window and no slow-call tracking, one CAS and one store per call
 * and no clock read; `window_type::none` (consecutive failures only), two loads; a rejection, one
 * clock read and no write except the rejection counter. No lock unless the call causes a
 * transition (a mutex serialises transitions), no allocation, nothing held while user code runs.
 * Thread-safe; neither copyable nor movable.
 */
template <clock Clock = steady_clock>
class basic_circuit_breaker : public policy_base<basic_circuit_breaker<Clock>> {
  using word = detail::breaker_word;

 public:
  using clock_type = Clock;                       ///< The clock it reads and waits on.
  using time_point = typename Clock::time_point;  ///< A time on that clock.

  /// What a permit remembers: the generation and state it was admitted in, and its start time
  /// (when slow-call tracking needs it).
  class permit_token {
   public:
    permit_token() = default;
    /// The state the call was admitted in (`half_open` for a probe).
    [[nodiscard]] circuit_state state() const noexcept {
      return static_cast<circuit_state>(word::state(id_));
    }
    /// True for a half-open probe.
    [[nodiscard]] bool probe() const noexcept { return state() == circuit_state::half_open; }
    /// The generation (transition count modulo 2²¹) the call was admitted in.
    [[nodiscard]] std::uint64_t generation() const noexcept { return word::gen(id_); }

   private:
    friend class basic_circuit_breaker;
    permit_token(std::uint64_t id, std::int64_t start) noexcept : id_(id), start_(start) {}
    std::uint64_t id_ = 0;
    std::int64_t start_ = 0;
  };
  /// The permit `try_acquire` hands out.
  using permit_type = permit<basic_circuit_breaker>;

  /// A breaker with options `o` on `clock` (`config_error` if an option is invalid).
  explicit basic_circuit_breaker(circuit_breaker_options o = {}, const Clock& clock = Clock{})
      : options_((detail::raise_if(o.validate()), std::move(o))),
        clock_(clock),
        slow_tracking_(options_.slow_call_duration.count() > 0),
        needs_end_time_(slow_tracking_ || options_.window == window_type::time),
        rng_(options_.open_backoff_seed) {
    if (options_.window == window_type::count) count_.emplace(options_.window_size);
    if (options_.window == window_type::time) {
      time_.emplace(options_.window_size, options_.time_bucket);
    }
  }
  basic_circuit_breaker(const basic_circuit_breaker&) = delete;
  basic_circuit_breaker& operator=(const basic_circuit_breaker&) = delete;
  /// Debug builds assert that no half-open probe is still running: its permit would outlive
  /// the breaker.
  ~basic_circuit_breaker() {
    assert(probes_running(state_.load()) == 0 &&
           "resil::circuit_breaker destroyed while half-open probes run");
  }

  /// The current state (one atomic load).
  [[nodiscard]] circuit_state state() const noexcept {
    return to_state(state_.load(std::memory_order_acquire));
  }

  /// Admits a call or a half-open probe, or returns nothing (rejected: counted and published).
  /// The permit must be settled with `record_success()`, `record_failure()`, `record(verdict)`
  /// or dropped (released uncounted).
  [[nodiscard]] std::optional<permit_type> try_acquire() { return acquire(nullptr); }

  /// As `try_acquire()`, reading the start time through `ctx` (shared with a pipeline).
  [[nodiscard]] std::optional<permit_type> try_acquire(context& ctx) { return acquire(&ctx); }

  /// While open: the time until probes are admitted; zero in every other state.
  [[nodiscard]] nanoseconds remaining_delay() const {
    if (to_state(state_.load()) != circuit_state::open) return nanoseconds{0};
    const auto left = detail::sat_sub(open_until_.load(), ticks(clock_.now()));
    return nanoseconds{left > 0 ? left : 0};
  }

  /// A consistent snapshot of the state and its counts.
  [[nodiscard]] circuit_breaker_metrics metrics() const;

  /// Opens the breaker until `close()` or `reset()` (Polly's "isolate"): every call is rejected.
  void force_open() { manual(circuit_state::forced_open); }
  /// Lets every call through without recording anything, until `close()` or `reset()`.
  void disable() { manual(circuit_state::disabled); }
  /// Records every call but never opens, until `close()` or `reset()`.
  void metrics_only() { manual(circuit_state::metrics_only); }
  /// Returns to normal operation: closed, with an empty window (no-op when already closed).
  void close() { manual(circuit_state::closed); }
  /// Closed with an empty window, zeroed rejection count and a fresh open backoff, whatever the
  /// state; publishes `reset` (and a transition if the state changes).
  void reset() { manual(circuit_state::closed, true); }

  /// The breaker's listeners.
  [[nodiscard]] event_publisher<circuit_breaker_event>& events() noexcept { return events_; }
  /// The options it was built with.
  [[nodiscard]] const circuit_breaker_options& options() const noexcept { return options_; }
  /// Its clock.
  [[nodiscard]] const Clock& clock() const noexcept { return clock_; }

  /// The policy protocol: admits, runs `next`, classifies and records; a rejection is
  /// `errc::circuit_open` with the remaining delay.
  template <class R, class Next>
  outcome<R> invoke(context& ctx, Next&& next) {
    const std::uint64_t w = state_.load(std::memory_order_acquire);
    if (RESIL_LIKELY(passes(w) && !slow_tracking_)) return run<R>(ctx, next, {word::id(w), 0});
    const admission a = admit_slow(&ctx, w);
    if (RESIL_UNLIKELY(!a.admitted || a.moved.done)) {
      guard g{a.admitted ? this : nullptr, a.token};  // a throwing listener releases it
#if RESIL_HAS_EXCEPTIONS
      try {
        publish_admission(a);
      } catch (...) {  // a listener threw: the call does not run
        return outcome<R>::from_exception(std::current_exception());
      }
#else
      publish_admission(a);
#endif
      g.owner = nullptr;
      if (!a.admitted) return outcome<R>::from_error(errc::circuit_open, a.remaining);
    }
    return run<R>(ctx, next, a.token);
  }

 private:
  friend class permit<basic_circuit_breaker>;
  using event = circuit_breaker_event;
  using kind = event::kind_t;

  // What a transition did, for the events published after it.
  struct transition_result {
    bool done = false;
    circuit_state from = circuit_state::closed;
    circuit_state to = circuit_state::closed;
  };
  // An admission decision, and what it did: events are published only once the permit exists,
  // so that a throwing listener cannot strand a probe slot.
  struct admission {
    bool admitted = false;
    permit_token token{};
    nanoseconds remaining{0};                  // rejected: until probes are admitted
    circuit_state in = circuit_state::closed;  // rejected: the state that refused
    transition_result moved{};                 // a transition this admission made
  };
  // Events a recorded outcome caused, published after the state change, in this order. Filled
  // through a reference (never returned by value: the hot path must not copy it).
  struct effects {
    std::optional<kind> rate_kind{};  // failure_rate_exceeded or slow_call_rate_exceeded
    double rate = 0.0;
    std::uint64_t run = 0;  // consecutive failures, when they reached the threshold
    circuit_state in = circuit_state::closed;
    transition_result moved{};
  };

  // Releases an admission if the scope is left before it is settled (no permit object on the
  // decorator's path).
  struct guard {
    basic_circuit_breaker* owner;
    permit_token token;
    guard(basic_circuit_breaker* o, permit_token t) noexcept : owner(o), token(t) {}
    guard(const guard&) = delete;
    guard& operator=(const guard&) = delete;
    ~guard() {
      if (owner != nullptr) owner->release(token);
    }
  };

  static circuit_state to_state(std::uint64_t w) noexcept {
    return static_cast<circuit_state>(word::state(w));
  }
  // Half-open probes admitted and not yet recorded (0 in any other state).
  static std::uint64_t probes_running(std::uint64_t w) noexcept {
    if (to_state(w) != circuit_state::half_open) return 0;
    const std::uint64_t p = word::payload(w);
    return word::field(p, word::reserved_at) - word::field(p, word::recorded_at);
  }
  static unsigned code(circuit_state s) noexcept {
    return static_cast<unsigned>(s);
  }
  static std::int64_t ticks(time_point t) noexcept {
    return t.time_since_epoch().count();
  }
  std::int64_t now_ticks(context* ctx) const {
    return ctx != nullptr ? ticks(ctx->start_time(clock_)) : ticks(clock_.now());
  }

  // -- the call path: small and inline; everything rare is out of line ------------------------

  static bool passes(std::uint64_t w) noexcept {
    const auto s = to_state(w);
    return s == circuit_state::closed || s == circuit_state::metrics_only ||
           s == circuit_state::disabled;
  }

  // Runs an admitted call, classifies its outcome and records it. For a move-assignable
  // outcome every path returns `r`, so that the compiler builds it in the caller's return slot
  // instead of copying it there.
  template <class R, class Next>
  outcome<R> run(context& ctx, Next& next, permit_token t) {
    guard g{this, t};
    outcome<R> r = std::forward<Next>(next)(ctx);
    auto [v, error] = ctx.effective_classifier(options_.classify).classify_noexcept(r);
    if (RESIL_UNLIKELY(error != nullptr)) {  // a predicate threw: released by the guard
      if constexpr (std::is_move_assignable_v<outcome<R>>) {
        r = outcome<R>::from_exception(std::move(error));
      } else {
        return outcome<R>::from_exception(std::move(error));
      }
    } else {
      g.owner = nullptr;
      if (std::exception_ptr thrown = complete_noexcept(t, v); RESIL_UNLIKELY(thrown != nullptr)) {
        if constexpr (std::is_move_assignable_v<outcome<R>>) {
          r = outcome<R>::from_exception(std::move(thrown));
        } else {
          return outcome<R>::from_exception(std::move(thrown));
        }
      }
    }
    return r;
  }

  // complete(), with a listener's exception returned (the state change stands).
  std::exception_ptr complete_noexcept(const permit_token& t, verdict v) noexcept {
#if RESIL_HAS_EXCEPTIONS
    try {
      complete(t, v);
    } catch (...) {
      return std::current_exception();
    }
#else
    complete(t, v);
#endif
    return nullptr;
  }

  admission admit(context* ctx) {
    const std::uint64_t w = state_.load(std::memory_order_acquire);
    if (RESIL_LIKELY(passes(w))) return {true, {word::id(w), slow_tracking_ ? now_ticks(ctx) : 0}};
    return admit_slow(ctx, w);
  }

  std::optional<permit_type> acquire(context* ctx) {
    const admission a = admit(ctx);
    std::optional<permit_type> p;
    if (a.admitted) p.emplace(*this, a.token);
    if (!a.admitted || a.moved.done) publish_admission(a);  // may throw: p releases the slot
    return p;
  }

  // Called by the permit. The common case, a success in the closed state with nobody listening,
  // is a few loads (plus the window's record); everything else goes the general way.
  void complete(const permit_token& t, verdict v) {
    if (RESIL_LIKELY(v == verdict::success && !needs_end_time_ &&
                     t.state() == circuit_state::closed && !events_.has_listeners())) {
      const std::uint64_t w = state_.load(std::memory_order_acquire);
      if (word::id(w) != t.id_) return;           // admitted in an earlier generation: not counted
      if (RESIL_LIKELY(word::payload(w) == 0)) {  // no failure run to clear
        if (count_) {
          const window_update u = count_->record({}, word::gen(t.id_), false);
          // A success opens the breaker only by completing minimum_calls with failures in it.
          if (RESIL_UNLIKELY(u.has_totals && u.totals.failed != 0 &&
                             u.totals.calls >= options_.minimum_calls)) {
            evaluate(t, u.totals);
          }
        }
        return;
      }
    }
    complete_general(t, v);
  }

  void release(const permit_token& t) noexcept {
    give_back_probe(t);
  }

  // Which rate of `t` reached its threshold, if any (failure rate first).
  [[nodiscard]] std::optional<kind> exceeded(const window_totals& t) const noexcept {
    if (t.failure_rate() >= options_.failure_rate_threshold) return kind::failure_rate_exceeded;
    if (slow_tracking_ && t.slow_call_rate() >= options_.slow_call_rate_threshold) {
      return kind::slow_call_rate_exceeded;
    }
    return std::nullopt;
  }
  static double rate_of(kind k, const window_totals& t) noexcept {
    return k == kind::failure_rate_exceeded ? t.failure_rate() : t.slow_call_rate();
  }

  // -- out of line (circuit_breaker_impl.hpp) -------------------------------------------------

  admission admit_slow(context* ctx, std::uint64_t w);
  void complete_general(const permit_token& t, verdict v);
  void record_closed(const permit_token& t, bool failed, bool slow, std::int64_t end, effects& f);
  void evaluate(const permit_token& t, const window_totals& totals);
  admission reject(circuit_state s, nanoseconds remaining, transition_result moved = {});
  void give_back_probe(const permit_token& t) noexcept;
  bool count_run(const permit_token& t, bool failed, std::uint64_t w, effects& f);
  void announce(effects& f);
  void trip(const permit_token& t, std::int64_t end, effects& f);
  void record_probe(const permit_token& t, bool failed, bool slow, effects& f);
  transition_result transition(std::uint64_t expected_id, circuit_state to,
                               std::optional<std::int64_t> now, bool reserve_probe = false,
                               bool reset = false);
  void manual(circuit_state to, bool reset = false);
  void publish_admission(const admission& a);
  void publish_effects(const effects& f);
  void publish_transition(const transition_result& r);
  void publish_exceeded(kind k, double rate, std::uint64_t n, circuit_state s);

  circuit_breaker_options options_;
  Clock clock_;
  bool slow_tracking_;
  bool needs_end_time_;
  std::optional<count_window> count_;
  mutable std::optional<time_window> time_;  // totals() slides it forward
  event_publisher<circuit_breaker_event> events_;

  alignas(detail::cache_line) std::atomic<std::uint64_t> state_{0};
  detail::striped_counter not_permitted_;  // rejections: no line shared by rejecting threads
  // Written under mutex_ before the transition that uses them is published through state_.
  alignas(detail::cache_line) std::atomic<std::int64_t> open_until_{0};
  std::atomic<std::int64_t> half_open_since_{0};
  std::atomic<bool> exceeded_{false};  // metrics_only: "rate above threshold" was announced

  // Transition bookkeeping, guarded by mutex_ (held only by transitions and metrics(), never
  // while user code runs).
  mutable std::mutex mutex_;
  std::uint64_t transitions_ = 0;
  std::uint64_t probe_tally_ = 0;  // half-open counters carried into the open state they caused
  backoff_state backoff_{};
  splitmix64 rng_;
};

/// `basic_circuit_breaker` on the default clock (`resil::steady_clock`).
using circuit_breaker = basic_circuit_breaker<>;

}  // namespace resil

#include "detail/circuit_breaker_impl.hpp"
