// The protected function of every benchmark, in a translation unit of its own so that it is
// never inlined into a loop.
// SPDX-License-Identifier: MIT
#include "support.hpp"

int resil_bench::work(int x) noexcept {
  benchmark::DoNotOptimize(x);
  return x + 1;
}
