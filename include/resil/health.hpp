// Health checks: a user-owned registry of named checks with caching, timeouts, hysteresis,
// liveness/readiness groups, aggregation, and JSON / HTTP / gRPC renderings.
// SPDX-License-Identifier: MIT
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/clock.hpp"
#include "core/config.hpp"
#include "core/context.hpp"
#include "core/errors.hpp"
#include "core/time.hpp"
#include "core/virtual_clock.hpp"
#include "detail/config_check.hpp"
#include "detail/json.hpp"

namespace resil {

/**
 * The health of a check or of a whole group, from best to worst: `healthy`, `degraded` (works,
 * but impaired: keep serving), `unhealthy` (take out of rotation). `unknown` means "no answer
 * yet" and never outweighs a real answer.
 */
enum class health_status : std::uint8_t { healthy, degraded, unhealthy, unknown };

/// "healthy", "degraded", "unhealthy" or "unknown".
[[nodiscard]] constexpr std::string_view to_string(health_status s) noexcept {
  switch (s) {
    case health_status::healthy:
      return "healthy";
    case health_status::degraded:
      return "degraded";
    case health_status::unhealthy:
      return "unhealthy";
    case health_status::unknown:
      return "unknown";
  }
  return "unknown";
}

/// The gRPC health protocol's `ServingStatus` (grpc.health.v1).
enum class grpc_serving_status : std::uint8_t {
  unknown = 0,
  serving = 1,
  not_serving = 2,
  service_unknown = 3,  ///< For `Watch` of a name nobody registered.
};

/// The status as gRPC spells it: "UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN".
[[nodiscard]] constexpr std::string_view to_string(grpc_serving_status s) noexcept {
  switch (s) {
    case grpc_serving_status::unknown:
      return "UNKNOWN";
    case grpc_serving_status::serving:
      return "SERVING";
    case grpc_serving_status::not_serving:
      return "NOT_SERVING";
    case grpc_serving_status::service_unknown:
      return "SERVICE_UNKNOWN";
  }
  return "UNKNOWN";
}

/**
 * What one run of a check found: a status, an optional message, and key/value details.
 *
 *     return resil::health_result::degraded("replica lag").with("lag_ms", std::to_string(lag));
 */
struct health_result {
  health_status status = health_status::healthy;  ///< What the check found.
  std::string message{};  ///< A short human-readable explanation (may be empty).
  std::vector<std::pair<std::string, std::string>> details{};  ///< Key/value details.

  /// A healthy result with an optional message.
  [[nodiscard]] static health_result healthy(std::string message = {}) {
    return {health_status::healthy, std::move(message), {}};
  }
  /// A degraded result: working, with reduced quality.
  [[nodiscard]] static health_result degraded(std::string message = {}) {
    return {health_status::degraded, std::move(message), {}};
  }
  /// An unhealthy result: not working.
  [[nodiscard]] static health_result unhealthy(std::string message = {}) {
    return {health_status::unhealthy, std::move(message), {}};
  }
  /// An unknown result: the check could not tell.
  [[nodiscard]] static health_result unknown(std::string message = {}) {
    return {health_status::unknown, std::move(message), {}};
  }
  /// Adds a detail and returns the result, so calls chain.
  health_result& with(std::string key, std::string value) & {
    details.emplace_back(std::move(key), std::move(value));
    return *this;
  }
  /// The same, on a temporary: `health_result::healthy().with("k", "v")` chains by value.
  health_result with(std::string key, std::string value) && {
    return std::move(with(std::move(key), std::move(value)));
  }
};

/**
 * How a check is run and judged. Defaults follow Kubernetes probes (10 s period, success
 * threshold 1) with a 5 s timeout:
 *
 * | option | default | meaning |
 * |---|---|---|
 * | `tags` | none | groups the check belongs to, e.g. `{"liveness", "readiness"}` |
 * | `critical` | true | unhealthy makes the whole unhealthy (false: only degraded) |
 * | `timeout` | 5 s | a run that takes longer counts as unhealthy ("timed out") |
 * | `interval` | 10 s | results are cached: at most one run per interval |
 * | `unhealthy_threshold` | 1 | consecutive failed runs before the check turns unhealthy |
 * | `healthy_threshold` | 1 | consecutive good runs before an unhealthy check recovers |
 * | `background` | false | run at every interval on the check's own thread, not on demand |
 */
struct health_check_options {
  /// Groups the check belongs to, e.g. `{"liveness", "readiness"}` (none by default).
  std::vector<std::string> tags{};
  /// Unhealthy makes the whole unhealthy; false: it only makes the whole degraded.
  bool critical = true;
  /// A run that takes longer counts as unhealthy ("timed out").
  time_span timeout = std::chrono::seconds{5};
  /// Results are cached: at most one run per interval.
  time_span interval = std::chrono::seconds{10};
  /// Consecutive failed runs before the check turns unhealthy.
  std::uint32_t unhealthy_threshold = 1;
  /// Consecutive good runs before an unhealthy check recovers.
  std::uint32_t healthy_threshold = 1;
  /// Run at every interval on the check's own thread, instead of on demand.
  bool background = false;

  /// The first invalid option, if any.
  [[nodiscard]] std::optional<config_problem> validate(
      std::string_view name = "health_check_options") const {
    detail::config_check c{name};
    c.require_fits(timeout, "timeout");
    c.require_fits(interval, "interval");
    c.require(timeout.count() > 0, "timeout", timeout, "must be positive");
    c.require(interval.count() > 0, "interval", interval, "must be positive");
    c.require(unhealthy_threshold >= 1, "unhealthy_threshold", unhealthy_threshold,
              "must be at least 1");
    c.require(healthy_threshold >= 1, "healthy_threshold", healthy_threshold, "must be at least 1");
    return std::move(c).result();
  }
};

/// One check in a report.
struct health_check_report {
  std::string name;                                    ///< The name the check was added under.
  health_status status = health_status::unknown;       ///< After hysteresis.
  health_status last_result = health_status::unknown;  ///< What the last run said.
  bool critical = true;                                ///< The check's `critical` option.
  bool timed_out = false;                              ///< The last run overran its timeout.
  std::vector<std::string> tags;                       ///< The check's `tags` option.
  std::string message;                                 ///< The last run's message.
  std::vector<std::pair<std::string, std::string>> details;  ///< The last run's details.
  nanoseconds duration{0};                                   ///< How long the last run took.
  nanoseconds since_change{0};              ///< How long `status` has been what it is.
  nanoseconds since_run{0};                 ///< Age of the last result.
  std::uint32_t consecutive_failures = 0;   ///< Failed runs in a row (hysteresis input).
  std::uint32_t consecutive_successes = 0;  ///< Good runs in a row (hysteresis input).
  std::uint64_t runs = 0;                   ///< Runs since the check was added.
};

/**
 * A group's health: the aggregate status and every check's report.
 *
 * Aggregation: each check contributes its status, except that an unhealthy *non-critical* check
 * contributes `degraded`; the whole is the worst contribution in the order
 * unhealthy > degraded > healthy > unknown (so healthy + unknown = healthy, and a group with no
 * checks, or only unanswered ones, is unknown).
 */
struct health_report {
  health_status status = health_status::unknown;  ///< The aggregate status.
  std::vector<health_check_report> checks;        ///< One report per check, by name.

  /// HTTP mapping for probe endpoints: 503 when unhealthy, 200 otherwise.
  [[nodiscard]] int http_status() const noexcept {
    return status == health_status::unhealthy ? 503 : 200;
  }
  /// gRPC health mapping: healthy and degraded serve, unhealthy does not, unknown is unknown.
  [[nodiscard]] grpc_serving_status grpc_status() const noexcept {
    switch (status) {
      case health_status::healthy:
      case health_status::degraded:
        return grpc_serving_status::serving;
      case health_status::unhealthy:
        return grpc_serving_status::not_serving;
      case health_status::unknown:
        return grpc_serving_status::unknown;
    }
    return grpc_serving_status::unknown;
  }
  /// The report as JSON (durations in seconds, strings escaped).
  [[nodiscard]] std::string to_json() const {
    detail::json_writer w;
    w.begin_object();
    w.key("status").value(to_string(status));
    w.key("checks").begin_array();
    for (const auto& c : checks) {
      w.begin_object();
      w.key("name").value(c.name);
      w.key("status").value(to_string(c.status));
      w.key("last_result").value(to_string(c.last_result));
      w.key("critical").value(c.critical);
      w.key("timed_out").value(c.timed_out);
      w.key("tags").begin_array();
      for (const auto& t : c.tags) w.value(t);
      w.end_array();
      w.key("message").value(c.message);
      w.key("details").begin_object();
      for (const auto& [k, v] : c.details) w.key(k).value(v);
      w.end_object();
      w.key("duration_seconds").value(seconds(c.duration));
      w.key("since_change_seconds").value(seconds(c.since_change));
      w.key("since_run_seconds").value(seconds(c.since_run));
      w.key("consecutive_failures").value(c.consecutive_failures);
      w.key("consecutive_successes").value(c.consecutive_successes);
      w.key("runs").value(c.runs);
      w.end_object();
    }
    w.end_array();
    w.end_object();
    return std::move(w).str();
  }

 private:
  static double seconds(nanoseconds d) noexcept { return std::chrono::duration<double>(d).count(); }
};

namespace detail {
// Severity order for aggregation: unknown < healthy < degraded < unhealthy.
[[nodiscard]] inline int health_rank(health_status s) noexcept {
  switch (s) {
    case health_status::unknown:
      return 0;
    case health_status::healthy:
      return 1;
    case health_status::degraded:
      return 2;
    case health_status::unhealthy:
      return 3;
  }
  return 0;
}
}  // namespace detail

/// The aggregate of `checks` by the rule documented on `health_report`.
[[nodiscard]] inline health_status aggregate(const std::vector<health_check_report>& checks) {
  health_status worst = health_status::unknown;
  for (const auto& c : checks) {
    health_status s = c.status;
    if (s == health_status::unhealthy && !c.critical) s = health_status::degraded;
    if (detail::health_rank(s) > detail::health_rank(worst)) worst = s;
  }
  return worst;
}

/**
 * A registry of named health checks, owned by the user (no global instance).
 *
 * A check is any callable returning `health_result`, `health_status` or `bool` (true =
 * healthy), optionally taking `resil::context&` first (its deadline is the check's timeout and
 * its stop token fires when the registry shuts down). An exception from a check makes it
 * unhealthy, with the exception's message.
 *
 *     resil::health_registry health;
 *     health.add("db", [&] { return db.ping(); }, {.tags = {"readiness"}});
 *     health.add("event-loop", [&] { return loop.alive(); }, {.tags = {"liveness"}});
 *     auto ready = health.report("readiness");   // runs due checks, waits at most their timeout
 *     reply(ready.http_status(), ready.to_json());
 *
 * **Caching.** A check runs at most once per `interval`, however many callers ask: the first
 * caller after the interval starts a run; concurrent callers wait for that same run.
 *
 * **A hung check never blocks a report.** Every check runs on its own thread (started on first
 * use, or at `add` with `background = true`), never on the caller's. A report waits for a run at
 * most until the run's timeout, then reports the check unhealthy ("timed out after ...") while the
 * run continues; while it is still stuck, each further interval counts as another failure. A
 * check that honours `ctx.stop_token()` lets the registry's destructor (and `remove`) finish
 * promptly; they wait for a running check.
 *
 * **Hysteresis.** A check turns unhealthy after `unhealthy_threshold` consecutive failed runs
 * and recovers after `healthy_threshold` consecutive good ones; before its first run it is
 * `unknown`.
 *
 * Time, waits and the check threads go through `Clock` (the check threads are participants of a
 * `virtual_clock`). Thread-safe: add, remove and report from any thread.
 */
template <clock Clock = steady_clock>
class basic_health_registry {
 public:
  /// An empty registry on `clock`.
  explicit basic_health_registry(Clock clock = Clock{}) : clock_(std::move(clock)) {}
  basic_health_registry(const basic_health_registry&) = delete;
  basic_health_registry& operator=(const basic_health_registry&) = delete;
  ~basic_health_registry() = default;  // each check's thread is stopped and joined

  /**
   * Adds a check named `name`. Throws `config_error` for invalid options or a name already in
   * use. With `options.background`, the check starts running at once and then every interval.
   */
  template <class F>
  void add(std::string name, F check, health_check_options options = {}) {
    static_assert(std::is_invocable_v<F&, context&> || std::is_invocable_v<F&>,
                  "resil: a health check is callable as f() or f(resil::context&) and returns "
                  "health_result, health_status or bool");
    detail::raise_if(options.validate("health_check_options"));
    auto state = std::make_shared<check_state>(std::move(name), std::move(options),
                                               wrap(std::move(check)), clock_);
    {
      std::lock_guard lock(mutex_);
      const bool taken = std::any_of(checks_.begin(), checks_.end(),
                                     [&](const auto& c) { return c->name == state->name; });
      if (taken) {
        detail::config_check c{"health_registry"};
        c.require(false, "name", state->name, "is already registered");
        detail::raise_if(std::move(c).result());
      }
      checks_.push_back(state);
    }
    if (state->options.background) state->start_worker();
  }

  /// Removes the check `name` (waiting for a run in progress); false if there is none.
  bool remove(std::string_view name) {
    std::shared_ptr<check_state> removed;
    {
      std::lock_guard lock(mutex_);
      const auto it = std::find_if(checks_.begin(), checks_.end(),
                                   [&](const auto& c) { return c->name == name; });
      if (it == checks_.end()) return false;
      removed = std::move(*it);
      checks_.erase(it);
    }
    return true;  // `removed` stops and joins the check's thread here, outside the lock
  }

  /// The names of the registered checks, in registration order.
  [[nodiscard]] std::vector<std::string> names() const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    for (const auto& c : checks_) out.push_back(c->name);
    return out;
  }

  /**
   * The health of the checks tagged `group` (all checks when empty): runs the checks whose
   * interval has passed and waits for them, each at most until its timeout.
   */
  [[nodiscard]] health_report report(std::string_view group = {}) {
    const auto selected = select(group);
    for (const auto& c : selected) c->refresh();
    return assemble(selected);
  }

  /// The health from cached results only: never runs or waits for a check.
  [[nodiscard]] health_report cached_report(std::string_view group = {}) const {
    return assemble(select(group));
  }

  /// The report of one check, or nothing if no check has that name (gRPC's SERVICE_UNKNOWN).
  [[nodiscard]] std::optional<health_check_report> check(std::string_view name) {
    for (const auto& c : select({})) {
      if (c->name == name) {
        c->refresh();
        return c->snapshot();
      }
    }
    return std::nullopt;
  }

  /// The clock.
  [[nodiscard]] const Clock& clock() const noexcept { return clock_; }

 private:
  using check_fn = std::function<health_result(context&)>;

  template <class F>
  static check_fn wrap(F f) {
    return [f = std::move(f)](context& ctx) mutable -> health_result {
      auto normalize = [](auto r) -> health_result {
        using R = decltype(r);
        if constexpr (std::is_same_v<R, health_result>) {
          return r;
        } else if constexpr (std::is_same_v<R, health_status>) {
          return health_result{r, {}, {}};
        } else {
          static_assert(std::is_convertible_v<R, bool>,
                        "resil: a health check returns health_result, health_status or bool");
          return static_cast<bool>(r) ? health_result::healthy()
                                      : health_result::unhealthy("check returned false");
        }
      };
      if constexpr (std::is_invocable_v<F&, context&>) {
        return normalize(f(ctx));
      } else {
        return normalize(f());
      }
    };
  }

  struct check_state {
    check_state(std::string n, health_check_options o, check_fn f, const Clock& c)
        : name(std::move(n)), options(std::move(o)), fn(std::move(f)), clock(c) {}
    check_state(const check_state&) = delete;
    check_state& operator=(const check_state&) = delete;
    ~check_state() {
      if (worker.joinable()) {
        worker.request_stop();
        wake.notify();
        worker.join();
      }
    }

    const std::string name;
    const health_check_options options;
    check_fn fn;
    Clock clock;

    mutable std::mutex m;
    health_result last{health_status::unknown, {}, {}};
    health_status status = health_status::unknown;
    bool timed_out = false;
    bool in_flight = false;
    bool settled = true;
    bool run_requested = false;
    std::int64_t run_start = 0;
    std::int64_t run_deadline = 0;
    std::int64_t last_change = 0;
    std::int64_t last_result_at = 0;
    nanoseconds duration{0};
    std::uint32_t failures = 0;
    std::uint32_t successes = 0;
    std::uint64_t runs = 0;
    std::vector<waiter*> reporters;
    waiter wake;
    clock_thread<Clock> worker;  // last: joined before the members it uses are destroyed

    static std::int64_t ticks(typename Clock::time_point t) noexcept {
      return t.time_since_epoch().count();
    }

    void start_worker() {
      std::lock_guard lock(m);
      start_worker_locked();
    }

    void start_worker_locked() {
      if (worker.joinable()) return;
      worker = start_thread(clock, [this](std::stop_token st) { loop(st); });
    }

    // Brings the cached result up to date: starts a due run and waits for it, at most until its
    // timeout. Called by reporters.
    void refresh() {
      std::unique_lock lock(m);
      const std::int64_t now = ticks(clock.now());
      const bool due = runs == 0 || detail::sat_sub(now, run_start) >= options.interval.count();
      if (in_flight) {
        if (!settled && now >= run_deadline) settle_timeout_locked(now);
        if (settled && due) settle_timeout_locked(now);  // still stuck: another failed interval
      } else if (due) {
        begin_run_locked(now);
        run_requested = true;
        start_worker_locked();
        lock.unlock();
        wake.notify();
        lock.lock();
      }
      if (in_flight && !settled) {
        waiter w;
        reporters.push_back(&w);
        const std::int64_t deadline = run_deadline;
        lock.unlock();
        (void)clock.wait_until(w, typename Clock::time_point{nanoseconds{deadline}});
        lock.lock();
        std::erase(reporters, &w);
        if (!settled && ticks(clock.now()) >= run_deadline) {
          settle_timeout_locked(ticks(clock.now()));
        }
      }
    }

    void begin_run_locked(std::int64_t now) {
      in_flight = true;
      settled = false;
      run_start = now;
      run_deadline = detail::sat_add(now, options.timeout.count());
    }

    void loop(const std::stop_token& st) {
      for (;;) {
        std::unique_lock lock(m);
        if (st.stop_requested()) return;
        const std::int64_t now = ticks(clock.now());
        bool run = false;
        if (run_requested) {
          run_requested = false;
          run = true;
        } else if (options.background && !in_flight &&
                   (runs == 0 || detail::sat_sub(now, run_start) >= options.interval.count())) {
          begin_run_locked(now);
          run = true;
        }
        if (!run) {
          const std::int64_t next = options.background
                                        ? detail::sat_add(run_start, options.interval.count())
                                        : std::numeric_limits<std::int64_t>::max();
          wake.reset();
          lock.unlock();
          (void)clock.wait_until(wake, typename Clock::time_point{nanoseconds{next}}, st);
          continue;
        }
        const std::int64_t deadline = run_deadline;
        lock.unlock();
        health_result result = execute(deadline, st);
        lock.lock();
        in_flight = false;
        if (!settled) settle_locked(std::move(result), ticks(clock.now()), false);
      }
    }

    health_result execute(std::int64_t deadline, const std::stop_token& st) {
      context ctx{st};
      ctx.tighten_deadline(clock, typename Clock::time_point{nanoseconds{deadline}});
#if RESIL_HAS_EXCEPTIONS
      try {
        return fn(ctx);
      } catch (const std::exception& e) {
        return health_result::unhealthy(e.what());
      } catch (...) {
        return health_result::unhealthy("unknown exception");
      }
#else
      return fn(ctx);
#endif
    }

    void settle_timeout_locked(std::int64_t now) {
      health_result r = health_result::unhealthy(
          "timed out after " +
          detail::format_value(std::chrono::duration<double>(options.timeout).count()) + "s");
      if (settled) {  // a stuck run overstays another interval: count it as a new failure
        run_start = now;
        run_deadline = detail::sat_add(now, options.timeout.count());
      }
      settle_locked(std::move(r), now, true);
    }

    void settle_locked(health_result r, std::int64_t now, bool overran) {
      const bool failed = r.status == health_status::unhealthy;
      if (failed) {
        ++failures;
        successes = 0;
      } else {
        ++successes;
        failures = 0;
      }
      health_status next = status;
      if (failed) {
        if (failures >= options.unhealthy_threshold) next = health_status::unhealthy;
      } else if (status != health_status::unhealthy || successes >= options.healthy_threshold) {
        next = r.status;
      }
      if (next != status || runs == 0) last_change = now;
      status = next;
      timed_out = overran;
      duration = nanoseconds{detail::sat_sub(now, run_start)};
      last_result_at = now;
      last = std::move(r);
      ++runs;
      settled = true;
      for (waiter* w : reporters) w->notify();
    }

    [[nodiscard]] health_check_report snapshot() const {
      std::lock_guard lock(m);
      const std::int64_t now = ticks(clock.now());
      health_check_report out;
      out.name = name;
      out.status = status;
      out.last_result = runs == 0 ? health_status::unknown : last.status;
      out.critical = options.critical;
      out.timed_out = timed_out;
      out.tags = options.tags;
      out.message = last.message;
      out.details = last.details;
      out.duration = duration;
      out.since_change =
          runs == 0 ? nanoseconds{0} : nanoseconds{detail::sat_sub(now, last_change)};
      out.since_run =
          runs == 0 ? nanoseconds{0} : nanoseconds{detail::sat_sub(now, last_result_at)};
      out.consecutive_failures = failures;
      out.consecutive_successes = successes;
      out.runs = runs;
      return out;
    }
  };

  [[nodiscard]] std::vector<std::shared_ptr<check_state>> select(std::string_view group) const {
    std::lock_guard lock(mutex_);
    std::vector<std::shared_ptr<check_state>> out;
    for (const auto& c : checks_) {
      if (group.empty() || std::find(c->options.tags.begin(), c->options.tags.end(), group) !=
                               c->options.tags.end()) {
        out.push_back(c);
      }
    }
    return out;
  }

  [[nodiscard]] static health_report assemble(
      const std::vector<std::shared_ptr<check_state>>& selected) {
    health_report r;
    r.checks.reserve(selected.size());
    for (const auto& c : selected) r.checks.push_back(c->snapshot());
    r.status = aggregate(r.checks);
    return r;
  }

  Clock clock_;
  mutable std::mutex mutex_;
  std::vector<std::shared_ptr<check_state>> checks_;
};

/// `basic_health_registry` on the default clock.
using health_registry = basic_health_registry<>;

}  // namespace resil
