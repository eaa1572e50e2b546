// The report: fmt tables for the terminal, a CSV timeline per run, an SVG chart per scenario.
// SPDX-License-Identifier: MIT
#pragma once

#include <string>
#include <vector>

#include "scenarios.hpp"
#include "system.hpp"

namespace delivery {

/// A scenario's two runs, same seed and load.
struct scenario_result {
  const scenario* definition = nullptr;
  run_result naive;
  run_result resilient;
};

/// The terminal report of every scenario: tables, and what each one shows in numbers.
[[nodiscard]] std::string render_report(const std::vector<scenario_result>& results);

/// The per-second timeline of one run as CSV (a header line, then one line per second).
[[nodiscard]] std::string render_csv(const run_result& run);

/// The chart of one scenario as a standalone SVG: success rate, calls reaching failing
/// instances, and breaker states over time, naive against resilient.
[[nodiscard]] std::string render_svg(const scenario_result& result);

}  // namespace delivery
