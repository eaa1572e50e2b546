// resil_bench's main, the protected function, and a global operator new that counts allocations.
// SPDX-License-Identifier: MIT
#include <cstdlib>
#include <new>

#include "support.hpp"

namespace {
thread_local std::uint64_t thread_allocations = 0;
}  // namespace

int resil_bench::work(int x) noexcept {
  benchmark::DoNotOptimize(x);
  return x + 1;
}

std::uint64_t resil_bench::allocations() noexcept {
  return thread_allocations;
}

void* operator new(std::size_t n) {
  ++thread_allocations;
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}

BENCHMARK_MAIN();
