// How one service calls another: an edge (discovery, load balancing, and either naive retries or
// the plan's pipeline) and the typed clients built on it, with their fallback caches.
// SPDX-License-Identifier: MIT
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "discovery.hpp"
#include "metrics.hpp"
#include "plan.hpp"
#include "services.hpp"
#include "sim.hpp"

namespace delivery {

/// The instances of one service, by registry id (the address book a real client gets from DNS).
template <class S>
using pool = std::map<std::string, service_instance<S>*, std::less<>>;

/// A short name for an error, for counters and reports ("timeout", "circuit_open", ...).
[[nodiscard]] std::string error_name(const std::error_code& ec);

/**
 * One caller → callee dependency. Every attempt asks the load balancer for an instance and sends
 * the call there. Naive mode (`policies == nullptr`): up to `naive_attempts` immediate attempts.
 * Resilient mode: the edge's pipeline from the plan, with an optional fallback. Counts attempts
 * and failures into the recorder under the edge's name.
 */
template <class S>
class edge {
 public:
  edge(std::string name, const sim_clock& clock, const pool<S>& callee,
       const service_registry& registry, std::string service, std::string version,
       const balancer_options& balancing, edge_policies* policies, int naive_attempts,
       recorder& rec)
      : name_(std::move(name)),
        clock_(clock),
        callee_(&callee),
        balancer_(registry, std::move(service), std::move(version), balancing,
                  [c = clock] { return c.now().time_since_epoch(); }),
        policies_(policies),
        naive_attempts_(naive_attempts),
        rec_(&rec) {}

  /// Calls `f(S&, runtime&) -> R` on some instance, with the fallback `fallback() ->
  /// std::optional<R>` (resilient mode only).
  template <class R, class F, class Fallback>
  reply<R> call(const F& f, Fallback&& fallback) {
    request_scope& scope = request_scope::current();
    resil::context ctx{scope.stop};
    if (scope.deadline != sim_time::max()) ctx.tighten_deadline(clock_, scope.deadline);
    auto attempt = [&](resil::context& c) -> resil::outcome<R> { return attempt_once<R>(c, f); };
    rec_->count(name_ + " calls");
    if (policies_ != nullptr) {
      bool degraded = false;
      resil::outcome<R> out = policies_->template run<R>(ctx, attempt, fallback, degraded);
      if (degraded) rec_->count(name_ + " fallbacks");
      if (out.has_value()) return reply<R>::success(std::move(*out), degraded);
      return failed<R>(out);
    }
    for (int n = 1;; ++n) {
      resil::outcome<R> out = attempt(ctx);
      if (out.has_value()) return reply<R>::success(std::move(*out));
      if (n >= naive_attempts_) return failed<R>(out);
      rec_->count(name_ + " retries");
    }
  }

  /// The same, without a fallback.
  template <class R, class F>
  reply<R> call(const F& f) {
    return call<R>(f, [] { return std::optional<R>{}; });
  }

  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  [[nodiscard]] load_balancer& balancer() noexcept { return balancer_; }
  [[nodiscard]] edge_policies* policies() const noexcept { return policies_; }

 private:
  template <class R, class F>
  resil::outcome<R> attempt_once(resil::context& ctx, const F& f) {
    rec_->count(name_ + " attempts");
    const std::string id = balancer_.pick();
    if (id.empty()) {
      rec_->count(name_ + " attempt.no_instance");
      return resil::outcome<R>::from_error(net_errc::no_instance);
    }
    service_instance<S>& target = *callee_->find(id)->second;
    // Deadline propagation (gRPC's) is part of the plan: naive callees never learn it.
    resil::outcome<R> out = send<R>(target, ctx, f, false, policies_ != nullptr);
    balancer_.done(id, out.has_value());
    if (!out.has_value()) rec_->count(name_ + " attempt." + error_name(out.error()));
    return out;
  }

  template <class R>
  reply<R> failed(const resil::outcome<R>& out) {
    const std::error_code ec =
        out.has_error() ? out.error() : std::error_code{net_errc::unavailable};
    rec_->count(name_ + " failed." + error_name(ec));
    return reply<R>::failure(ec);
  }

  std::string name_;
  sim_clock clock_;
  const pool<S>* callee_;
  load_balancer balancer_;
  edge_policies* policies_;
  int naive_attempts_;
  recorder* rec_;
};

/**
 * A last-known-good cache for fallbacks: `put` on every fresh answer, `get` when the dependency
 * fails (entries older than the TTL are not served). Thread-safe.
 */
template <class K, class V>
class stale_cache {
 public:
  stale_cache(const sim_clock& clock, nanoseconds ttl) : clock_(clock), ttl_(ttl) {}

  void put(const K& key, const V& value) {
    std::lock_guard lock(mutex_);
    entries_.insert_or_assign(key, entry{value, clock_.now()});
  }
  [[nodiscard]] std::optional<V> get(const K& key) const {
    std::lock_guard lock(mutex_);
    const auto it = entries_.find(key);
    if (it == entries_.end() || clock_.now() - it->second.stored > ttl_) return std::nullopt;
    return it->second.value;
  }

 private:
  struct entry {
    V value;
    sim_time stored;
  };
  sim_clock clock_;
  nanoseconds ttl_;
  mutable std::mutex mutex_;
  std::map<K, entry, std::less<>> entries_;
};

/// Calls the user service: token checks (a cache of recent ones as the fallback) and profiles.
class user_client {
 public:
  user_client(edge<user_service>& e, const sim_clock& clock, nanoseconds cache_ttl,
              bool use_fallbacks)
      : edge_(&e),
        tokens_(clock, cache_ttl),
        profiles_(clock, cache_ttl),
        fallbacks_(use_fallbacks) {}

  /// The user id of `token`, or nothing (the token is invalid).
  reply<std::optional<std::uint32_t>> authenticate(const std::string& token);
  reply<user_profile> profile(std::uint32_t user_id);

 private:
  edge<user_service>* edge_;
  stale_cache<std::string, std::optional<std::uint32_t>> tokens_;
  stale_cache<std::uint32_t, user_profile> profiles_;
  bool fallbacks_;
};

/// Calls the restaurant service (one version): lists and menus, cached as fallbacks.
class restaurant_client final : public restaurant_port {
 public:
  restaurant_client(edge<restaurant_service>& e, const sim_clock& clock, nanoseconds cache_ttl,
                    bool use_fallbacks)
      : edge_(&e), lists_(clock, cache_ttl), menus_(clock, cache_ttl), fallbacks_(use_fallbacks) {}

  reply<std::vector<restaurant_summary>> list();
  reply<menu> menu_of(std::uint32_t restaurant_id) override;
  /// Whether the plan's breaker for this edge refuses calls now and is not due for a probe
  /// (the canary rollback reads it).
  [[nodiscard]] bool circuit_open() const;

 private:
  edge<restaurant_service>* edge_;
  stale_cache<int, std::vector<restaurant_summary>> lists_;
  stale_cache<std::uint32_t, std::optional<menu>> menus_;
  bool fallbacks_;
};

/// Calls the order service.
class order_client {
 public:
  explicit order_client(edge<order_service>& e) : edge_(&e) {}
  reply<order> place(const order_request& request);
  reply<std::optional<order>> find(std::uint64_t id);

 private:
  edge<order_service>* edge_;
};

/// Calls the payment service; with fallbacks, a charge that may be deferred becomes "pending".
class payment_client final : public payment_port {
 public:
  payment_client(edge<payment_service>& e, bool use_fallbacks)
      : edge_(&e), fallbacks_(use_fallbacks) {}
  reply<receipt> charge(const charge_request& request, charge_mode mode) override;

 private:
  edge<payment_service>* edge_;
  bool fallbacks_;
};

}  // namespace delivery
