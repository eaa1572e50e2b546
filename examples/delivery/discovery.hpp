// Service discovery: a Consul/Eureka-like registry (register, deregister, heartbeat, health per
// instance; only healthy instances returned) and client-side load balancing with outlier
// ejection (round-robin or least-in-flight).
// SPDX-License-Identifier: MIT
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace delivery {

/// One registered instance of a service.
struct instance_info {
  std::string id;       ///< Unique, e.g. "payment-2".
  std::string service;  ///< e.g. "payment".
  std::string version;  ///< e.g. "v1"; a canary runs "v2".
};

/// What the registry knows of an instance's health (Consul's check states).
enum class health_state : std::uint8_t { passing, critical };

/// A discovery query: instances of `service` (of `version` when not empty).
struct discovery_query {
  std::string_view service;
  std::string_view version{};
  bool healthy_only = true;  ///< Only passing instances with a live heartbeat (if they have a TTL).
};

/**
 * A service registry. The simulation uses the in-process one; an adapter to Consul, Eureka or
 * Kubernetes endpoints implements the same interface.
 */
class service_registry {
 public:
  virtual ~service_registry() = default;

  /// Registers (or re-registers) an instance, passing. With a positive `ttl` the instance must
  /// `heartbeat` at least every `ttl` or it counts as critical (Consul's TTL check).
  virtual void register_instance(const instance_info& info, std::chrono::nanoseconds ttl) = 0;
  /// Removes an instance; false if it was not registered.
  virtual bool deregister(std::string_view id) = 0;
  /// Refreshes an instance's TTL; false if it is not registered.
  virtual bool heartbeat(std::string_view id) = 0;
  /// Records the result of a health check; false if the instance is not registered.
  virtual bool set_health(std::string_view id, health_state state) = 0;
  /// The instances matching `q`, in registration order.
  [[nodiscard]] virtual std::vector<instance_info> lookup(const discovery_query& q) const = 0;
  /// A number that changes whenever a lookup's answer may have changed (for caching clients).
  [[nodiscard]] virtual std::uint64_t generation() const = 0;
};

/**
 * The in-process registry. Time (for TTLs) comes from `now`, so the registry runs on the
 * simulation's virtual clock. Thread-safe.
 */
class in_process_registry final : public service_registry {
 public:
  explicit in_process_registry(std::function<std::chrono::nanoseconds()> now)
      : now_(std::move(now)) {}

  void register_instance(const instance_info& info, std::chrono::nanoseconds ttl) override;
  bool deregister(std::string_view id) override;
  bool heartbeat(std::string_view id) override;
  bool set_health(std::string_view id, health_state state) override;
  [[nodiscard]] std::vector<instance_info> lookup(const discovery_query& q) const override;
  [[nodiscard]] std::uint64_t generation() const override;

  /// Health changes recorded so far (passing <-> critical).
  [[nodiscard]] std::uint64_t health_changes() const;

 private:
  struct entry {
    instance_info info;
    health_state state = health_state::passing;
    std::chrono::nanoseconds ttl{0};
    std::chrono::nanoseconds last_heartbeat{0};
    std::uint64_t order = 0;
  };
  [[nodiscard]] bool alive(const entry& e, std::chrono::nanoseconds now) const;

  std::function<std::chrono::nanoseconds()> now_;
  mutable std::mutex mutex_;
  std::map<std::string, entry, std::less<>> entries_;
  std::uint64_t next_order_ = 0;
  std::uint64_t generation_ = 0;
  std::uint64_t health_changes_ = 0;
};

/// How a balancer chooses among the instances discovery returns.
enum class balancing : std::uint8_t {
  round_robin,      ///< In turn.
  least_in_flight,  ///< The one with the fewest calls in flight from this client (ties: in turn).
};

/**
 * Outlier ejection (Envoy's consecutive-5xx detection): an instance that fails
 * `consecutive_failures` calls in a row is skipped for `base_ejection` times the number of times
 * it was ejected, capped at `max_ejection`; at most `max_ejected_fraction` of the instances are
 * ejected at once (at least one may be).
 */
struct ejection_options {
  bool enabled = false;
  std::uint32_t consecutive_failures = 5;
  std::chrono::nanoseconds base_ejection = std::chrono::seconds{30};
  std::chrono::nanoseconds max_ejection = std::chrono::seconds{300};
  double max_ejected_fraction = 0.5;
};

struct balancer_options {
  balancing strategy = balancing::round_robin;
  ejection_options ejection{};
  bool healthy_only = true;  ///< Ask discovery for passing instances only.
};

/**
 * A client-side load balancer over the instances of one service (and version), as seen through a
 * `service_registry`. `pick` returns the index of an instance among the candidates `resolve`
 * maps registry ids to; the caller reports the call's end with `done`. Thread-safe.
 */
class load_balancer {
 public:
  load_balancer(const service_registry& registry, std::string service, std::string version,
                balancer_options options, std::function<std::chrono::nanoseconds()> now);

  /// The id of the instance to call, or empty when discovery has none (counts it in flight).
  [[nodiscard]] std::string pick();
  /// The call to `id` ended (`ok`: a usable answer). Drives least-in-flight and ejection.
  void done(const std::string& id, bool ok);

  struct stats {
    std::uint64_t picks = 0;
    std::uint64_t empty = 0;      ///< Picks that found no instance.
    std::uint64_t ejections = 0;  ///< Instances ejected (counted per ejection).
  };
  [[nodiscard]] stats snapshot() const;
  /// Whether `id` is ejected now.
  [[nodiscard]] bool ejected(std::string_view id) const;

 private:
  struct host {
    std::uint32_t in_flight = 0;
    std::uint32_t consecutive_failures = 0;
    std::uint32_t times_ejected = 0;
    std::chrono::nanoseconds ejected_until{0};
  };
  void refresh_locked();

  const service_registry* registry_;
  std::string service_;
  std::string version_;
  balancer_options options_;
  std::function<std::chrono::nanoseconds()> now_;
  mutable std::mutex mutex_;
  std::uint64_t seen_generation_ = ~std::uint64_t{0};
  std::vector<std::string> candidates_;
  std::map<std::string, host, std::less<>> hosts_;
  std::uint64_t next_ = 0;
  stats stats_;
};

}  // namespace delivery
