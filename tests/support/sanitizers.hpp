// Lets long-running tests scale their work down under sanitizers (5x-15x slower).
// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define RESIL_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define RESIL_TEST_SANITIZED 1
#endif
#endif
#ifndef RESIL_TEST_SANITIZED
#define RESIL_TEST_SANITIZED 0
#endif

namespace resil_test {

/// `n` in plain builds, `n / divisor` under a sanitizer.
constexpr std::uint64_t scaled(std::uint64_t n, std::uint64_t divisor = 5) noexcept {
  return RESIL_TEST_SANITIZED ? n / divisor : n;
}

}  // namespace resil_test
