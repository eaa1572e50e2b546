// Measurements of a run and their summaries.
// SPDX-License-Identifier: MIT
#include "metrics.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

namespace delivery {

std::string_view to_string(route r) noexcept {
  switch (r) {
    case route::restaurants:
      return "restaurants";
    case route::menu:
      return "menu";
    case route::profile:
      return "profile";
    case route::checkout:
      return "checkout";
    case route::order_status:
      return "order status";
  }
  return "?";
}

void recorder::record(const request_record& r) {
  std::lock_guard lock(mutex_);
  if (!frozen_) data_.requests.push_back(r);
}

void recorder::count(std::string_view name, std::uint64_t n) {
  std::lock_guard lock(mutex_);
  if (frozen_) return;
  auto it = data_.counters.find(name);
  if (it == data_.counters.end()) it = data_.counters.emplace(std::string(name), 0).first;
  it->second += n;
}

void recorder::record_transition(transition t) {
  std::lock_guard lock(mutex_);
  if (!frozen_) data_.transitions.push_back(std::move(t));
}

void recorder::record_sample(sample s) {
  std::lock_guard lock(mutex_);
  if (!frozen_) data_.samples.push_back(std::move(s));
}

void recorder::freeze() {
  std::lock_guard lock(mutex_);
  frozen_ = true;
}

recorder::data recorder::take() {
  std::lock_guard lock(mutex_);
  return std::move(data_);
}

double request_summary::success_pct() const {
  return requests == 0 ? 100.0
                       : 100.0 * static_cast<double>(ok + degraded) / static_cast<double>(requests);
}

double request_summary::degraded_pct() const {
  return requests == 0 ? 0.0
                       : 100.0 * static_cast<double>(degraded) / static_cast<double>(requests);
}

namespace {

// The nearest-rank percentile of sorted values, in milliseconds.
double percentile_ms(const std::vector<std::int64_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(sorted.size())));
  const std::size_t i = std::clamp<std::size_t>(rank, 1, sorted.size()) - 1;
  return static_cast<double>(sorted[i]) / 1e6;
}

void add(request_summary& s, const request_record& r) {
  ++s.requests;
  switch (r.result) {
    case result_class::ok:
      ++s.ok;
      break;
    case result_class::degraded:
      ++s.degraded;
      break;
    case result_class::rejected:
      ++s.rejected;
      break;
    case result_class::failed:
      ++s.failed;
      break;
  }
}

}  // namespace

request_summary summarize(const std::vector<request_record>& records,
                          const std::function<bool(const request_record&)>& keep) {
  request_summary s;
  std::vector<std::int64_t> latencies;
  latencies.reserve(records.size());
  for (const auto& r : records) {
    if (keep && !keep(r)) continue;
    add(s, r);
    latencies.push_back(r.latency_ns);
  }
  std::sort(latencies.begin(), latencies.end());
  s.latency = {percentile_ms(latencies, 0.50), percentile_ms(latencies, 0.95),
               percentile_ms(latencies, 0.99)};
  return s;
}

std::vector<second_bucket> timeline(const recorder::data& data, std::size_t seconds) {
  std::vector<second_bucket> buckets(seconds);
  std::vector<std::vector<std::int64_t>> latencies(seconds);
  for (const auto& r : data.requests) {
    const auto s = static_cast<std::size_t>(r.sent_ns / 1'000'000'000);
    if (s >= seconds) continue;
    auto& b = buckets[s];
    if (r.abusive) {
      ++b.abusive;
      if (r.result == result_class::rejected) ++b.abusive_rejected;
      continue;
    }
    ++b.requests;
    switch (r.result) {
      case result_class::ok:
        ++b.ok;
        break;
      case result_class::degraded:
        ++b.degraded;
        break;
      case result_class::rejected:
        ++b.rejected;
        break;
      case result_class::failed:
        ++b.failed;
        break;
    }
    latencies[s].push_back(r.latency_ns);
  }
  for (std::size_t s = 0; s < seconds; ++s) {
    std::sort(latencies[s].begin(), latencies[s].end());
    buckets[s].p99_ms = percentile_ms(latencies[s], 0.99);
  }
  for (std::size_t s = 0; s < seconds; ++s) {
    std::vector<std::int64_t> window;
    for (std::size_t k = s >= 4 ? s - 4 : 0; k <= s; ++k) {
      window.insert(window.end(), latencies[k].begin(), latencies[k].end());
    }
    std::sort(window.begin(), window.end());
    buckets[s].p99_5s_ms = percentile_ms(window, 0.99);
  }
  // Samples are taken at the end of each second; carry the last one forward over gaps.
  std::uint64_t previous = 0;
  std::size_t next_sample = 0;
  std::vector<std::uint8_t> states;
  std::uint64_t cumulative = 0;
  for (std::size_t s = 0; s < seconds; ++s) {
    const std::int64_t end_ns = static_cast<std::int64_t>(s + 1) * 1'000'000'000;
    while (next_sample < data.samples.size() && data.samples[next_sample].at_ns <= end_ns) {
      states = data.samples[next_sample].breakers;
      cumulative = data.samples[next_sample].calls_to_failing;
      ++next_sample;
    }
    buckets[s].breakers = states;
    buckets[s].calls_to_failing = cumulative - previous;
    previous = cumulative;
  }
  return buckets;
}

std::optional<double> time_to_recover(const std::vector<second_bucket>& buckets, double fault_end_s,
                                      double target, std::size_t window) {
  const auto first = static_cast<std::size_t>(std::max(0.0, std::floor(fault_end_s)));
  std::size_t streak = 0;
  for (std::size_t s = first; s < buckets.size(); ++s) {
    const auto& b = buckets[s];
    const bool good =
        b.requests == 0 || static_cast<double>(b.ok) >= target * static_cast<double>(b.requests);
    streak = good ? streak + 1 : 0;
    if (streak == window) return std::max(0.0, static_cast<double>(s + 1 - window) - fault_end_s);
  }
  return std::nullopt;
}

}  // namespace delivery
