// Service discovery: the in-process registry and the load balancer.
// SPDX-License-Identifier: MIT
#include "discovery.hpp"

#include <algorithm>
#include <cmath>

namespace delivery {

// -- registry -----------------------------------------------------------------------------------

void in_process_registry::register_instance(const instance_info& info,
                                            std::chrono::nanoseconds ttl) {
  std::lock_guard lock(mutex_);
  auto [it, fresh] = entries_.try_emplace(info.id);
  it->second.info = info;
  it->second.state = health_state::passing;
  it->second.ttl = ttl;
  it->second.last_heartbeat = now_();
  if (fresh) it->second.order = next_order_++;
  ++generation_;
}

bool in_process_registry::deregister(std::string_view id) {
  std::lock_guard lock(mutex_);
  const auto it = entries_.find(id);
  if (it == entries_.end()) return false;
  entries_.erase(it);
  ++generation_;
  return true;
}

bool in_process_registry::heartbeat(std::string_view id) {
  std::lock_guard lock(mutex_);
  const auto it = entries_.find(id);
  if (it == entries_.end()) return false;
  const bool was_alive = alive(it->second, now_());
  it->second.last_heartbeat = now_();
  if (!was_alive) ++generation_;
  return true;
}

bool in_process_registry::set_health(std::string_view id, health_state state) {
  std::lock_guard lock(mutex_);
  const auto it = entries_.find(id);
  if (it == entries_.end()) return false;
  if (it->second.state != state) {
    it->second.state = state;
    ++generation_;
    ++health_changes_;
  }
  return true;
}

bool in_process_registry::alive(const entry& e, std::chrono::nanoseconds now) const {
  return e.ttl.count() <= 0 || now - e.last_heartbeat <= e.ttl;
}

std::vector<instance_info> in_process_registry::lookup(const discovery_query& q) const {
  std::lock_guard lock(mutex_);
  const auto now = now_();
  std::vector<const entry*> found;
  for (const auto& [id, e] : entries_) {
    if (e.info.service != q.service) continue;
    if (!q.version.empty() && e.info.version != q.version) continue;
    if (q.healthy_only && (e.state != health_state::passing || !alive(e, now))) continue;
    found.push_back(&e);
  }
  std::sort(found.begin(), found.end(),
            [](const entry* a, const entry* b) { return a->order < b->order; });
  std::vector<instance_info> out;
  out.reserve(found.size());
  for (const entry* e : found) out.push_back(e->info);
  return out;
}

std::uint64_t in_process_registry::generation() const {
  std::lock_guard lock(mutex_);
  // A TTL that expires changes answers without a call: fold the expired count in.
  std::uint64_t expired = 0;
  const auto now = now_();
  for (const auto& [id, e] : entries_) expired += alive(e, now) ? 0U : 1U;
  return generation_ * 1024 + expired;
}

std::uint64_t in_process_registry::health_changes() const {
  std::lock_guard lock(mutex_);
  return health_changes_;
}

// -- load balancer ------------------------------------------------------------------------------

load_balancer::load_balancer(const service_registry& registry, std::string service,
                             std::string version, balancer_options options,
                             std::function<std::chrono::nanoseconds()> now)
    : registry_(&registry),
      service_(std::move(service)),
      version_(std::move(version)),
      options_(options),
      now_(std::move(now)) {}

void load_balancer::refresh_locked() {
  const auto generation = registry_->generation();
  if (generation == seen_generation_) return;
  seen_generation_ = generation;
  candidates_.clear();
  for (auto& info : registry_->lookup({service_, version_, options_.healthy_only})) {
    hosts_.try_emplace(info.id);
    candidates_.push_back(std::move(info.id));
  }
}

std::string load_balancer::pick() {
  std::lock_guard lock(mutex_);
  refresh_locked();
  ++stats_.picks;
  if (candidates_.empty()) {
    ++stats_.empty;
    return {};
  }
  const auto now = now_();
  const std::size_t n = candidates_.size();
  // Skip ejected hosts, unless every candidate is ejected (then use them all: Envoy's panic mode).
  std::vector<std::size_t> usable;
  usable.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    if (hosts_[candidates_[i]].ejected_until <= now) usable.push_back(i);
  }
  if (usable.empty()) {
    for (std::size_t i = 0; i < n; ++i) usable.push_back(i);
  }
  const std::size_t start = static_cast<std::size_t>(next_++ % usable.size());
  std::size_t chosen = usable[start];
  if (options_.strategy == balancing::least_in_flight) {
    for (std::size_t k = 1; k < usable.size(); ++k) {
      const std::size_t i = usable[(start + k) % usable.size()];
      if (hosts_[candidates_[i]].in_flight < hosts_[candidates_[chosen]].in_flight) chosen = i;
    }
  }
  host& h = hosts_[candidates_[chosen]];
  ++h.in_flight;
  return candidates_[chosen];
}

void load_balancer::done(const std::string& id, bool ok) {
  std::lock_guard lock(mutex_);
  const auto it = hosts_.find(id);
  if (it == hosts_.end()) return;
  host& h = it->second;
  if (h.in_flight > 0) --h.in_flight;
  if (ok) {
    h.consecutive_failures = 0;
    return;
  }
  ++h.consecutive_failures;
  const auto& e = options_.ejection;
  const auto now = now_();
  if (!e.enabled || h.consecutive_failures < e.consecutive_failures || h.ejected_until > now) {
    return;
  }
  std::size_t ejected_now = 0;
  for (const auto& c : candidates_) ejected_now += hosts_[c].ejected_until > now ? 1U : 0U;
  const auto allowed = std::max<std::size_t>(
      1, static_cast<std::size_t>(
             std::floor(e.max_ejected_fraction * static_cast<double>(candidates_.size()))));
  if (ejected_now >= allowed) return;
  ++h.times_ejected;
  const auto duration = std::min(e.max_ejection, e.base_ejection * h.times_ejected);
  h.ejected_until = now + duration;
  h.consecutive_failures = 0;
  ++stats_.ejections;
}

load_balancer::stats load_balancer::snapshot() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

bool load_balancer::ejected(std::string_view id) const {
  std::lock_guard lock(mutex_);
  const auto it = hosts_.find(id);
  return it != hosts_.end() && it->second.ejected_until > now_();
}

}  // namespace delivery
