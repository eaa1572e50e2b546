// The scenarios, as data: which instances misbehave when (chaos timelines) and the load shape.
// SPDX-License-Identifier: MIT
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sim.hpp"

namespace delivery {

/// How many instances of each service run, and how big each is.
struct topology {
  std::uint32_t users = 1000;
  std::uint32_t restaurants = 40;
  struct service {
    std::size_t instances;
    instance_sizing sizing;
  };
  service user{2, {8, 32}};
  service restaurant{3, {2, 16}};  ///< The stable version, v1.
  service canary{1, {2, 16}};      ///< restaurant v2, the canary.
  service order{2, {6, 24}};
  service payment{3, {2, 12}};
  std::size_t notification_consumers = 2;
};

/// One scenario: a story, its faults and its load. Times are measured from the run's start.
struct scenario {
  std::string name;   ///< For --scenario, e.g. "payment-outage".
  std::string title;  ///< e.g. "Payment outage".
  std::string story;  ///< What happens, one sentence.
  std::string shows;  ///< What the resilient run should show, one sentence.
  /// Faults by instance id ("payment-1", "restaurant-v2-1", ...).
  std::map<std::string, std::vector<fault>> faults;
  /// The window the faults cover (shaded in charts; recovery is measured from its end).
  nanoseconds fault_from{0};
  nanoseconds fault_until{0};
  /// The instance group whose calls "reach a failing dependency" (for the report's focus).
  std::string focus;
  /// An abusive client: this many connections sending back to back from `abuse_from` until
  /// `abuse_until`.
  std::uint32_t abusive_connections = 0;
  nanoseconds abuse_from{0};
  nanoseconds abuse_until{0};
  /// The share of restaurant traffic sent to the canary (v2).
  std::uint32_t canary_percent = 10;

  [[nodiscard]] bool has_faults() const noexcept { return fault_until > fault_from; }
  /// When the trouble lasts in a run of length `duration`: the faults, or the abusive client's
  /// activity (an empty window when neither).
  [[nodiscard]] std::pair<nanoseconds, nanoseconds> trouble(nanoseconds duration) const noexcept {
    if (has_faults()) return {fault_from, std::min(fault_until, duration)};
    if (abusive_connections > 0) return {abuse_from, std::min(abuse_until, duration)};
    return {nanoseconds{0}, nanoseconds{0}};
  }
};

/**
 * The load: how many users, how long, and the seed every random draw derives from. Each user
 * thinks (an exponential pause, `think_time` on average), sends a request, and gives up on it
 * after `patience` (the app's own timeout: the request counts as failed).
 */
struct load_options {
  std::uint32_t clients = 100;
  nanoseconds duration = std::chrono::seconds{240};
  std::uint64_t seed = 42;
  nanoseconds think_time = std::chrono::seconds{5};
  nanoseconds patience = std::chrono::seconds{5};
};

/// The length of each run of `delivery --quick`, which the tests use.
inline constexpr std::chrono::seconds quick_duration{150};

/// Every scenario, in the order the report shows them.
[[nodiscard]] const std::vector<scenario>& all_scenarios();
/// The scenario named `name`, or null.
[[nodiscard]] const scenario* find_scenario(std::string_view name);

}  // namespace delivery
