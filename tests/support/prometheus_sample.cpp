// Prints the Prometheus exposition of the fixed observability scenario, for `promtool check
// metrics` (see promtool_check.sh).
// SPDX-License-Identifier: MIT
#include <cstdio>

#include "observability_scenario.hpp"

int main() {
  std::fputs(resil_test::observability_scenario().c_str(), stdout);
  return 0;
}
