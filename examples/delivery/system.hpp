// One run of the delivery system: build it (naive or resilient), drive the scenario's load on
// virtual time, and collect what happened.
// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "metrics.hpp"
#include "scenarios.hpp"

namespace delivery {

/// How the system calls its dependencies.
enum class mode : std::uint8_t {
  naive,      ///< Direct calls, immediate retries (3 attempts at every layer), nothing else.
  resilient,  ///< The plan (plan.hpp).
};
[[nodiscard]] std::string_view to_string(mode m) noexcept;

/// Everything a run measured, and its summary.
struct run_result {
  std::string scenario;
  delivery::mode mode = mode::naive;
  load_options load;
  std::size_t seconds = 0;  ///< Length of the timeline.
  recorder::data data;
  std::vector<std::string> breaker_names;
  std::vector<second_bucket> buckets;

  request_summary all;      ///< Every request.
  request_summary clients;  ///< The regular clients (without the abusive one).
  request_summary abusive;  ///< The abusive client's requests.
  /// The regular clients' requests sent while the scenario's trouble lasted (its faults, or the
  /// abusive client); empty for a scenario without trouble.
  std::optional<request_summary> during;
  std::uint64_t calls_to_failing = 0;  ///< Business calls that reached a faulty instance.
  std::optional<double> recovery_s;    ///< After the faults end (see `time_to_recover`).

  /// A counter (0 when absent).
  [[nodiscard]] std::uint64_t counter(std::string_view name) const;
  /// The sum of the counters whose name ends with `suffix` (e.g. " attempt.timeout").
  [[nodiscard]] std::uint64_t sum_ending(std::string_view suffix) const;
};

/// Runs `s` once in mode `m`. Deterministic: the same arguments give the same result.
[[nodiscard]] run_result run_scenario(const scenario& s, mode m, const load_options& load,
                                      const topology& topo = {});

}  // namespace delivery
