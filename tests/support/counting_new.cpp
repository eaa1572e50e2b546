// Replaces the global allocation functions with ones that count per thread.
// SPDX-License-Identifier: MIT
#include "counting_new.hpp"

#include <cstdlib>
#include <new>

namespace {
thread_local std::uint64_t thread_allocations = 0;

void* allocate(std::size_t n) {
  ++thread_allocations;
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
}  // namespace

std::uint64_t resil_test::allocations() noexcept {
  return thread_allocations;
}

void* operator new(std::size_t n) {
  return allocate(n);
}
void* operator new[](std::size_t n) {
  return allocate(n);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}
