// A global operator new that counts allocations per thread, to prove "zero allocations per call".
// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>

namespace resil_test {

/// Allocations made by the calling thread since it started.
std::uint64_t allocations() noexcept;

/// Counts the calling thread's allocations during a scope.
class allocation_counter {
 public:
  allocation_counter() noexcept : start_(allocations()) {}
  [[nodiscard]] std::uint64_t count() const noexcept { return allocations() - start_; }

 private:
  std::uint64_t start_;
};

}  // namespace resil_test
