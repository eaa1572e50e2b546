// resil::registry: named policy instances owned by the user, built from named option sets, for
// exporters (Prometheus), health checks and run-time changes.
// SPDX-License-Identifier: MIT
#pragma once

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "bulkhead.hpp"
#include "circuit_breaker.hpp"
#include "core/clock.hpp"
#include "core/event_log.hpp"
#include "detail/config_check.hpp"
#include "detail/registry_traits.hpp"
#include "health.hpp"
#include "keyed_rate_limiter.hpp"
#include "policy_health.hpp"
#include "rate_limiter.hpp"
#include "retry.hpp"
#include "retry_budget.hpp"
#include "timeout.hpp"

namespace resil {

/**
 * Options of a `resil::registry`: what it attaches to every instance it creates. Both are off
 * by default, so an instance made by a registry costs exactly what a hand-made one costs.
 *
 * | option | default | meaning |
 * |---|---|---|
 * | `event_log_capacity` | 0 (none) | keep each instance's last N events (`resil::event_log`) |
 * | `count_calls` | false | count calls by kind from events: the `_calls_total` families |
 *
 * `event_log_capacity` is Resilience4j's `eventConsumerBufferSize` (100 there).
 *
 * Either one subscribes a listener, so the instance's events are built and delivered: a few
 * tens of nanoseconds per call (see docs/observability.md), and a mutex per event for the log.
 *
 *     resil::registry reg{{.event_log_capacity = 100, .count_calls = true}};
 */
struct registry_options {
  /// The largest accepted `event_log_capacity`.
  static constexpr std::size_t max_event_log_capacity = 1'000'000;

  /// Events kept per instance (0: no log).
  std::size_t event_log_capacity = 0;
  /// Count calls by kind (`call_counts`) with a listener on every instance.
  bool count_calls = false;

  /// The first invalid option, if any.
  [[nodiscard]] std::optional<config_problem> validate() const {
    detail::config_check c{"registry_options"};
    c.require(event_log_capacity <= max_event_log_capacity, "event_log_capacity",
              event_log_capacity, "must be at most 1000000");
    return std::move(c).result();
  }
};

/**
 * Calls a registry counted for one instance from its events, when
 * `registry_options::count_calls` is set. Each kind of policy fills the fields that apply to it;
 * the others stay zero. Counters only grow (they are cumulative, for Prometheus `_total`).
 */
struct call_counts {
  std::uint64_t successful = 0;  ///< Circuit breaker: calls recorded as successes.
  std::uint64_t failed = 0;      ///< Circuit breaker: calls recorded as failures.
  std::uint64_t ignored = 0;     ///< Circuit breaker: calls the classifier ignored.
  /// Retry: calls that returned a value at their first attempt. The retry itself does not count
  /// these (a shared write on its hot path); this listener does, at a listener's cost.
  std::uint64_t successful_without_retry = 0;
  std::uint64_t permitted = 0;  ///< Rate limiters and bulkheads: requests granted.
  std::uint64_t rejected = 0;   ///< Rate limiters and bulkheads: requests refused.
  std::uint64_t timed_out = 0;  ///< Timeout: calls that ran past their deadline.
};

/**
 * The named instances of one kind of policy in a registry, with their named option sets
 * ("configs"). A registry has one table per kind (`registry.bulkheads`, `registry.retries`, ...);
 * Resilience4j's per-kind registries are the model.
 *
 *     reg.bulkheads.add_config("default", {.max_concurrent = 16});
 *     reg.bulkheads.add_config("payment", "default", [](auto& o) { o.max_wait = 20ms; });
 *     resil::bulkhead& b = reg.bulkheads.get("payment");   // created on first use
 *     b.set_max_concurrent(8);                              // limits change in place
 *
 * **Get-or-create.** `get(name)` returns the instance called `name`, creating it on first use
 * from the config called `name` if there is one, else the config `"default"`, else the options'
 * defaults. Concurrent callers asking for the same name get the same instance (a mutex: this is
 * not a hot path; keep the reference). `get(name, options)` and `get(name, config_name)` choose
 * the options of a new instance; an existing instance is returned as it is.
 *
 * **Configs** are plain option structs. A config derived from another ("base plus overrides") is
 * a copy of the base changed by a function: `add_config(name, base, tweak)`. A config is read
 * when an instance is created; changing it later does not change existing instances (change
 * their limits through the instance: `set_limit`, `set_max_concurrent`, ...).
 *
 * **Lifetime.** A reference from `get` stays valid until the registry is destroyed or the
 * instance is `remove`d (and while an `instance` handle for it exists). Policies are neither
 * copyable nor movable; the table owns them.
 *
 * Thread-safe. `for_each` calls its function outside the table's lock, on a snapshot.
 */
template <class Policy, clock Clock>
class registry_table {
  using traits = detail::registry_traits<Policy>;

 public:
  using policy_type = Policy;                     ///< The policy type it holds.
  using options_type = typename traits::options;  ///< The policy's options struct.
  /// The policy's event type (`void` for a retry budget, which publishes none).
  using event_type = typename traits::event;
  /// Whether instances can keep an event log (`registry_options::event_log_capacity`).
  static constexpr bool keeps_events = traits::loggable && !std::is_void_v<event_type>;
  /// The type of an instance's event log.
  using event_log_type = event_log<std::conditional_t<keeps_events, event_type, int>, Clock>;

 private:
  struct entry {
    std::string name;
    // Declared before the policy, so they outlive the listeners the policy holds.
    std::unique_ptr<event_log_type> log;
    std::unique_ptr<detail::call_counters> counters;
    std::unique_ptr<Policy> policy;
  };

 public:
  /**
   * A handle on one instance: its name, the policy, its event log and counts. Copyable; keeps
   * the instance alive while it exists (even after `remove`).
   */
  class instance {
   public:
    /// The instance's name.
    [[nodiscard]] const std::string& name() const noexcept { return e_->name; }
    /// The policy.
    [[nodiscard]] Policy& policy() const noexcept { return *e_->policy; }
    /// Its last events, or null when the registry keeps no event log (or the kind has none).
    [[nodiscard]] const event_log_type* recent_events() const noexcept { return e_->log.get(); }
    /// Its call counts, or nothing when the registry does not count calls (or the kind has no
    /// events).
    [[nodiscard]] std::optional<call_counts> counts() const noexcept {
      if (!e_->counters) return std::nullopt;
      const auto& c = *e_->counters;
      const auto get = [](const std::atomic<std::uint64_t>& a) {
        return a.load(std::memory_order_relaxed);
      };
      return call_counts{
          get(c.successful), get(c.failed),   get(c.ignored),  get(c.successful_without_retry),
          get(c.permitted),  get(c.rejected), get(c.timed_out)};
    }

   private:
    friend class registry_table;
    explicit instance(std::shared_ptr<const entry> e) : e_(std::move(e)) {}
    std::shared_ptr<const entry> e_;
  };

  /// A table creating instances on `clock`, with what `options` attaches. Used by
  /// `basic_registry`; throws `config_error` for invalid options.
  explicit registry_table(registry_options options = {}, Clock clock = Clock{})
      : state_(std::make_shared<state>(checked(options), std::move(clock))) {}
  registry_table(const registry_table&) = delete;
  registry_table& operator=(const registry_table&) = delete;

  /// Adds (or replaces) the config `name`. Throws `config_error` if `options` are invalid.
  void add_config(std::string name, options_type options) {
    detail::raise_if(options.validate());
    std::lock_guard lock(state_->mutex);
    state_->configs.insert_or_assign(std::move(name), std::move(options));
  }

  /**
   * Adds (or replaces) the config `name` as a copy of the config `base` changed by `tweak`
   * (called as `tweak(options_type&)`). `base` must be a config, except `"default"`, which
   * stands for the options' defaults until it is added. Throws `config_error` for an unknown
   * base or invalid resulting options.
   *
   *     reg.retries.add_config("search", "default", [](resil::retry_options& o) {
   *       o.max_attempts = 5;
   *     });
   */
  template <class Tweak>
  requires std::invocable<Tweak&, options_type&>
  void add_config(std::string name, std::string_view base, Tweak tweak) {
    options_type options = config_or_throw(base);
    tweak(options);  // outside the lock: user code
    add_config(std::move(name), std::move(options));
  }

  /// The config `name`, if added.
  [[nodiscard]] std::optional<options_type> config(std::string_view name) const {
    std::lock_guard lock(state_->mutex);
    const auto it = state_->configs.find(name);
    if (it == state_->configs.end()) return std::nullopt;
    return it->second;
  }

  /// The options `get(name)` would create an instance with: the config `name`, else
  /// `"default"`, else the defaults.
  [[nodiscard]] options_type options_for(std::string_view name) const {
    std::lock_guard lock(state_->mutex);
    return options_for_locked(name);
  }

  /// The instance `name`, created on first use from `options_for(name)`.
  Policy& get(std::string_view name) {
    std::lock_guard lock(state_->mutex);
    if (const auto it = state_->instances.find(name); it != state_->instances.end()) {
      return *it->second->policy;
    }
    return create_locked(name, options_for_locked(name));
  }

  /// The instance `name`, created on first use from `options` (validated then: `config_error`).
  Policy& get(std::string_view name, const options_type& options) {
    std::lock_guard lock(state_->mutex);
    if (const auto it = state_->instances.find(name); it != state_->instances.end()) {
      return *it->second->policy;
    }
    return create_locked(name, options);
  }

  /// The instance `name`, created on first use from the config `config_name` (which must exist,
  /// except `"default"`; `config_error` otherwise).
  Policy& get(std::string_view name, std::string_view config_name) {
    const options_type options = config_or_throw(config_name);
    return get(name, options);
  }

  /// The instance `name`, or null; never creates one.
  [[nodiscard]] Policy* find(std::string_view name) const {
    std::lock_guard lock(state_->mutex);
    const auto it = state_->instances.find(name);
    return it == state_->instances.end() ? nullptr : it->second->policy.get();
  }

  /// A handle on the instance `name` (with its event log and counts), or nothing.
  [[nodiscard]] std::optional<instance> instance_of(std::string_view name) const {
    std::lock_guard lock(state_->mutex);
    const auto it = state_->instances.find(name);
    if (it == state_->instances.end()) return std::nullopt;
    return instance(it->second);
  }

  /// Removes the instance `name`; false if there is none. References to it dangle afterwards
  /// (unless an `instance` handle keeps it alive); calls must not be running through it.
  bool remove(std::string_view name) {
    std::shared_ptr<entry> removed;  // destroyed after the lock is released
    std::lock_guard lock(state_->mutex);
    const auto it = state_->instances.find(name);
    if (it == state_->instances.end()) return false;
    removed = std::move(it->second);
    state_->instances.erase(it);
    return true;
  }

  /// Every instance, in name order (a snapshot).
  [[nodiscard]] std::vector<instance> instances() const { return snapshot(*state_); }

  /// Calls `f(const instance&)` for every instance, in name order, outside the lock (so `f` may
  /// use the registry).
  template <class F>
  void for_each(F&& f) const {
    for (const instance& i : instances()) f(i);
  }

  /// The names of the instances, in order.
  [[nodiscard]] std::vector<std::string> names() const {
    std::lock_guard lock(state_->mutex);
    std::vector<std::string> out;
    out.reserve(state_->instances.size());
    for (const auto& [name, e] : state_->instances) out.push_back(name);
    return out;
  }

  /// The number of instances.
  [[nodiscard]] std::size_t size() const {
    std::lock_guard lock(state_->mutex);
    return state_->instances.size();
  }

  /**
   * A health check over every instance of the table at the time it runs (instances created
   * later included), for `health_registry::add`: the worst of `health_of(policy, o)` over them,
   * the names of the tripped ones in the message and each instance's state in the details.
   * Healthy with no instance. Holds the table weakly: after the registry is gone it reports
   * `unknown`. Only for kinds that `health_of` understands.
   */
  [[nodiscard]] auto health_check(policy_health_options o = {}) const {
    return [weak = std::weak_ptr<state>(state_), o]() -> health_result {
      const auto s = weak.lock();
      if (!s) return health_result::unknown("registry destroyed");
      return detail::aggregate_health(snapshot(*s), o);
    };
  }

 private:
  struct state {
    state(registry_options o, Clock c) : options(o), clock(std::move(c)) {}
    const registry_options options;
    const Clock clock;
    mutable std::mutex mutex;
    std::map<std::string, options_type, std::less<>> configs;
    std::map<std::string, std::shared_ptr<entry>, std::less<>> instances;
  };

  static registry_options checked(registry_options o) {
    detail::raise_if(o.validate());
    return o;
  }

  static std::vector<instance> snapshot(const state& s) {
    std::lock_guard lock(s.mutex);
    std::vector<instance> out;
    out.reserve(s.instances.size());
    for (const auto& [name, e] : s.instances) out.push_back(instance(e));
    return out;
  }

  options_type options_for_locked(std::string_view name) const {
    if (const auto it = state_->configs.find(name); it != state_->configs.end()) return it->second;
    if (const auto it = state_->configs.find("default"); it != state_->configs.end()) {
      return it->second;
    }
    return options_type{};
  }

  options_type config_or_throw(std::string_view name) const {
    if (auto o = config(name)) return std::move(*o);
    if (name != "default") {
      detail::config_check c{traits::table};
      c.require(false, "config", name, "is not a registered configuration");
      detail::raise_if(std::move(c).result());
    }
    return options_type{};
  }

  Policy& create_locked(std::string_view name, const options_type& options) {
    auto e = std::make_shared<entry>();
    e->name = std::string(name);
    e->policy = detail::make_policy<Policy>(options, state_->clock);
    if constexpr (!std::is_void_v<event_type>) {
      auto& events = e->policy->events();
      if constexpr (keeps_events) {
        if (state_->options.event_log_capacity > 0) {
          e->log =
              std::make_unique<event_log_type>(state_->options.event_log_capacity, state_->clock);
          e->log->attach(events);
        }
      }
      if (state_->options.count_calls) {
        e->counters = std::make_unique<detail::call_counters>();
        events.subscribe([c = e->counters.get()](const event_type& ev) noexcept { c->count(ev); });
      }
    }
    Policy& p = *e->policy;
    state_->instances.emplace(e->name, std::move(e));
    return p;
  }

  std::shared_ptr<state> state_;
};

/**
 * A registry of named policy instances, owned by the user (not a singleton): one
 * `registry_table` per kind, each with named configs and get-or-create.
 *
 *     resil::registry reg;
 *     reg.retries.add_config("default", {.max_attempts = 3});
 *     reg.bulkheads.add_config("payment", {.max_concurrent = 8, .max_wait = 20ms});
 *
 *     auto pipeline = resil::compose(reg.retry("payment"), reg.bulkhead("payment"));
 *     std::string metrics = resil::render_prometheus(reg);   // <resil/prometheus.hpp>
 *     reg.register_health_checks(health);                    // informational by default
 *
 * Names are per kind: a retry and a bulkhead may both be called `"payment"` (and usually are:
 * one name per dependency). Every instance is built on the registry's clock. `count_calls` and
 * `event_log_capacity` (see `registry_options`) attach listeners to every instance.
 *
 * Thread-safe. Neither copyable nor movable. Destroy it after the calls using its policies.
 */
template <clock Clock = steady_clock>
class basic_registry {
 public:
  using clock_type = Clock;  ///< The clock every policy of the registry runs on.
  /// The circuit breakers, by name.
  using circuit_breaker_table = registry_table<basic_circuit_breaker<Clock>, Clock>;
  /// The retries, by name.
  using retry_table = registry_table<basic_retry<Clock>, Clock>;
  /// The rate limiters, by name.
  using rate_limiter_table = registry_table<basic_rate_limiter<Clock>, Clock>;
  /// The keyed rate limiters (string keys), by name.
  using keyed_rate_limiter_table =
      registry_table<basic_keyed_rate_limiter<std::string, Clock>, Clock>;
  /// The bulkheads, by name.
  using bulkhead_table = registry_table<basic_bulkhead<Clock>, Clock>;
  /// The timeouts, by name.
  using timeout_table = registry_table<basic_timeout<Clock>, Clock>;
  /// The retry budgets, by name (shared by the retries that name them).
  using retry_budget_table = registry_table<resil::retry_budget, Clock>;

  /// A registry with `options` whose instances read `clock`. Throws `config_error` for invalid
  /// options.
  explicit basic_registry(registry_options options = {}, Clock clock = Clock{})
      : circuit_breakers(options, clock),
        retries(options, clock),
        rate_limiters(options, clock),
        keyed_rate_limiters(options, clock),
        bulkheads(options, clock),
        timeouts(options, clock),
        retry_budgets(options, clock),
        options_(options),
        clock_(std::move(clock)) {}
  basic_registry(const basic_registry&) = delete;
  basic_registry& operator=(const basic_registry&) = delete;
  ~basic_registry() = default;

  circuit_breaker_table circuit_breakers;        ///< `circuit_breaker`s by name.
  retry_table retries;                           ///< `retry` policies by name.
  rate_limiter_table rate_limiters;              ///< `rate_limiter`s by name.
  keyed_rate_limiter_table keyed_rate_limiters;  ///< `keyed_rate_limiter<std::string>`s by name.
  bulkhead_table bulkheads;                      ///< `bulkhead`s by name.
  timeout_table timeouts;                        ///< `timeout`s by name.
  retry_budget_table retry_budgets;              ///< `retry_budget`s by name.

  /// `circuit_breakers.get(name)`.
  basic_circuit_breaker<Clock>& circuit_breaker(std::string_view name) {
    return circuit_breakers.get(name);
  }
  /// `retries.get(name)`.
  basic_retry<Clock>& retry(std::string_view name) { return retries.get(name); }
  /// `rate_limiters.get(name)`.
  basic_rate_limiter<Clock>& rate_limiter(std::string_view name) { return rate_limiters.get(name); }
  /// `keyed_rate_limiters.get(name)`.
  basic_keyed_rate_limiter<std::string, Clock>& keyed_rate_limiter(std::string_view name) {
    return keyed_rate_limiters.get(name);
  }
  /// `bulkheads.get(name)`.
  basic_bulkhead<Clock>& bulkhead(std::string_view name) { return bulkheads.get(name); }
  /// `timeouts.get(name)`.
  basic_timeout<Clock>& timeout(std::string_view name) { return timeouts.get(name); }
  /// `retry_budgets.get(name)`.
  resil::retry_budget& retry_budget(std::string_view name) { return retry_budgets.get(name); }

  /**
   * Adds three checks to `health`: `"circuit_breakers"`, `"bulkheads"` and `"rate_limiters"`,
   * each over every instance of its table when it runs (see `registry_table::health_check`).
   * By default they are informational: `critical = false` and a tripped policy reports
   * `degraded` (a breaker opened by a dependency's outage must not take this service out of
   * its load balancer). Throws `config_error` if `health` already has a check of those names.
   */
  template <class HealthClock>
  void register_health_checks(basic_health_registry<HealthClock>& health,
                              const health_check_options& check_options = {.critical = false},
                              policy_health_options o = {}) const {
    health.add("circuit_breakers", circuit_breakers.health_check(o), check_options);
    health.add("bulkheads", bulkheads.health_check(o), check_options);
    health.add("rate_limiters", rate_limiters.health_check(o), check_options);
  }

  /// The options the registry was built with.
  [[nodiscard]] const registry_options& options() const noexcept { return options_; }
  /// The clock its instances read.
  [[nodiscard]] const Clock& clock() const noexcept { return clock_; }

 private:
  registry_options options_;
  Clock clock_;
};

/// A registry on the default clock (`steady_clock`).
using registry = basic_registry<>;

}  // namespace resil
