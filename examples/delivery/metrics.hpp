// What a run measures: every request (as its client saw it), named counters, breaker transitions
// and a per-second sample of the system; and the summary the report prints.
// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sim.hpp"

namespace delivery {

/// What a client asked for.
enum class route : std::uint8_t { restaurants, menu, profile, checkout, order_status };
inline constexpr std::size_t route_count = 5;
[[nodiscard]] std::string_view to_string(route r) noexcept;

/// How a request ended, as its client sees it.
enum class result_class : std::uint8_t {
  ok,        ///< 2xx with fresh data.
  degraded,  ///< 2xx served by a fallback (cached menu, "payment pending", ...).
  rejected,  ///< 429: the client was rate limited.
  failed,    ///< 5xx (or no answer).
};

/// One request of one client.
struct request_record {
  std::int64_t sent_ns = 0;
  std::int64_t latency_ns = 0;
  std::uint32_t client = 0;
  route what = route::restaurants;
  result_class result = result_class::ok;
  std::uint16_t status = 0;
  bool abusive = false;  ///< Sent by the abusive client.
};

/// A circuit breaker changed state (states are 0 closed, 1 open, 2 half-open).
struct transition {
  std::int64_t at_ns = 0;
  std::string breaker;
  std::uint8_t from = 0;
  std::uint8_t to = 0;
};

/// The system once a second: breaker states (in `breaker_names` order) and cumulative counts.
struct sample {
  std::int64_t at_ns = 0;
  std::vector<std::uint8_t> breakers;
  std::uint64_t calls_to_failing = 0;  ///< Cumulative business calls that reached a faulty
                                       ///< instance.
};

/**
 * Collects a run's measurements; thread-safe. `freeze()` ends the run: later records (work still
 * draining at shutdown) are ignored, so a report never depends on how shutdown interleaves.
 */
class recorder {
 public:
  void record(const request_record& r);
  /// Adds `n` to the counter `name` (e.g. "rejected.circuit_open").
  void count(std::string_view name, std::uint64_t n = 1);
  void record_transition(transition t);
  void record_sample(sample s);
  void freeze();

  struct data {
    std::vector<request_record> requests;
    std::map<std::string, std::uint64_t, std::less<>> counters;
    std::vector<transition> transitions;
    std::vector<sample> samples;
  };
  /// The data recorded (call after the run).
  [[nodiscard]] data take();

 private:
  std::mutex mutex_;
  bool frozen_ = false;
  data data_;
};

/// One second of a run's timeline: the regular clients' requests by the second they were sent
/// (the abusive client's are counted apart).
struct second_bucket {
  std::uint32_t requests = 0;
  std::uint32_t ok = 0;
  std::uint32_t degraded = 0;
  std::uint32_t rejected = 0;
  std::uint32_t failed = 0;
  double p99_ms = 0;                   ///< Of the requests sent in this second.
  double p99_5s_ms = 0;                ///< Of the requests sent in the 5 s ending with this second.
  std::uint32_t abusive = 0;           ///< The abusive client's requests.
  std::uint32_t abusive_rejected = 0;  ///< ... refused with 429.
  std::uint64_t calls_to_failing = 0;  ///< In this second.
  std::vector<std::uint8_t> breakers;  ///< State at the end of the second.
};

/// Latency percentiles, in milliseconds.
struct latency_summary {
  double p50 = 0;
  double p95 = 0;
  double p99 = 0;
};

/// Counts of one group of requests.
struct request_summary {
  std::uint64_t requests = 0;
  std::uint64_t ok = 0;
  std::uint64_t degraded = 0;
  std::uint64_t rejected = 0;
  std::uint64_t failed = 0;
  latency_summary latency{};
  /// (ok + degraded) / requests, in percent: degraded answers are successes.
  [[nodiscard]] double success_pct() const;
  [[nodiscard]] double degraded_pct() const;
};

/// The summary of the records `keep` accepts (all when `keep` is empty).
[[nodiscard]] request_summary summarize(
    const std::vector<request_record>& records,
    const std::function<bool(const request_record&)>& keep = {});

/// Per-second buckets from `data`, for `seconds` seconds.
[[nodiscard]] std::vector<second_bucket> timeline(const recorder::data& data, std::size_t seconds);

/**
 * Seconds from `fault_end` until the strict success rate (fresh 2xx of all non-abusive
 * requests) stays at or above `target` for `window` consecutive seconds; nothing if it never does
 * before the end of the run.
 */
[[nodiscard]] std::optional<double> time_to_recover(const std::vector<second_bucket>& buckets,
                                                    double fault_end_s, double target = 0.95,
                                                    std::size_t window = 10);

}  // namespace delivery
