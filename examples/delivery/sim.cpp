// Service instances on virtual time: request queues, worker threads, chaos on a timeline.
// SPDX-License-Identifier: MIT
#include "sim.hpp"

#include <algorithm>

namespace delivery {

namespace {

class net_category_impl final : public std::error_category {
 public:
  [[nodiscard]] const char* name() const noexcept override { return "net"; }
  [[nodiscard]] std::string message(int ev) const override {
    switch (static_cast<net_errc>(ev)) {
      case net_errc::unavailable:
        return "service unavailable";
      case net_errc::overloaded:
        return "overloaded: request queue full";
      case net_errc::no_instance:
        return "no instance available";
    }
    return "unknown network error";
  }
};

// The chaos options for the faults of one kind and scope: a phase per fault, nothing outside.
resil::chaos_options chaos_for(const std::vector<fault>& faults, fault::kind_t kind,
                               bool health_scope, std::uint64_t seed) {
  resil::chaos_options o{.injection_rate = 0, .enabled = false, .seed = seed, .schedule = {}};
  for (const auto& f : faults) {
    if (f.kind != kind || f.affects_health != health_scope) continue;
    o.schedule.push_back({f.from, f.until, f.rate});
    o.enabled = true;
  }
  return o;
}

nanoseconds latency_for(const std::vector<fault>& faults, bool health_scope) {
  nanoseconds latency{0};
  for (const auto& f : faults) {
    if (f.kind == fault::kind_t::latency && f.affects_health == health_scope) {
      latency = std::max(latency, f.latency);
    }
  }
  return latency;
}

}  // namespace

const std::error_category& net_category() noexcept {
  static const net_category_impl category;
  return category;
}

instance::instance(const sim_clock& clock, std::string id, std::string service, std::string version,
                   instance_sizing sizing, const std::vector<fault>& faults, std::uint64_t seed)
    : clock_(clock),
      id_(std::move(id)),
      service_(std::move(service)),
      version_(std::move(version)),
      sizing_(sizing),
      faults_(faults),
      rng_(mix_seed(seed, 0)),
      process_latency_(chaos_for(faults, fault::kind_t::latency, true, mix_seed(seed, 1)),
                       latency_for(faults, true), clock),
      process_fault_(chaos_for(faults, fault::kind_t::error, true, mix_seed(seed, 2)),
                     net_errc::unavailable, clock),
      app_latency_(chaos_for(faults, fault::kind_t::latency, false, mix_seed(seed, 3)),
                   latency_for(faults, false), clock),
      app_fault_(chaos_for(faults, fault::kind_t::error, false, mix_seed(seed, 4)),
                 net_errc::unavailable, clock),
      queue_(clock, sizing.queue_limit) {}

instance::~instance() {
  request_stop();
  join();
}

bool instance::submit(job j, bool probe, sim_time deadline) {
  {
    std::lock_guard lock(mutex_);
    if (probe) {
      ++counters_.probes;
      if (faulty_at(clock_.now())) ++counters_.probes_while_faulty;
    } else {
      ++counters_.calls;
      if (faulty_at(clock_.now())) ++counters_.while_faulty;
    }
  }
  if (queue_.push({std::move(j), probe, deadline})) return true;
  std::lock_guard lock(mutex_);
  ++counters_.shed;
  return false;
}

bool instance::faulty_at(sim_time t) const noexcept {
  const auto since_start = t.time_since_epoch();
  return std::any_of(faults_.begin(), faults_.end(), [&](const fault& f) {
    return f.rate > 0 && since_start >= f.from && since_start < f.until;
  });
}

void instance::start() {
  for (std::size_t w = 0; w < sizing_.workers; ++w) {
    workers_.push_back(clock_.spawn_daemon([this](std::stop_token st) { work_loop(st); }));
  }
}

void instance::request_stop() {
  for (auto& w : workers_) w.request_stop();
}

void instance::join() {
  for (auto& w : workers_) {
    if (w.joinable()) w.join();
  }
  workers_.clear();
}

void instance::work_loop(const std::stop_token& st) {
  clock_runtime rt{clock_, rng_, st};
  while (auto next = queue_.pop(st)) {
    if (next->deadline <= clock_.now()) continue;  // the caller has given up already
    request_scope& scope = request_scope::current();
    scope = {next->deadline, st};
    next->run(*this, rt);
    scope = {};
    std::lock_guard lock(mutex_);
    ++counters_.served;
  }
}

instance_counters instance::counters() const {
  std::lock_guard lock(mutex_);
  return counters_;
}

}  // namespace delivery
