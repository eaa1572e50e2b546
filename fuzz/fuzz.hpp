// Shared by the libFuzzer targets: an input reader (clang's FuzzedDataProvider), a failure
// report that aborts (libFuzzer saves the input), and the time steps every target draws from.
// SPDX-License-Identifier: MIT
#pragma once

#include <fuzzer/FuzzedDataProvider.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace resil_fuzz {

/// The most actions decoded from one input.
inline constexpr int max_actions = 256;

/// Reports a broken invariant and aborts: libFuzzer records the input as a crash.
[[noreturn]] inline void fail(const char* what, const std::string& detail, int action) {
  std::fprintf(stderr, "resil fuzz: invariant broken at action %d: %s %s\n", action, what,
               detail.c_str());
  std::abort();
}

/// With RESIL_FUZZ_TRACE set, prints each action (to read a saved crash input step by step).
inline bool tracing() {
  static const bool on =
      std::getenv("RESIL_FUZZ_TRACE") != nullptr;  // NOLINT(concurrency-mt-unsafe)
  return on;
}
#define RESIL_FUZZ_TRACE(...)            \
  do {                                   \
    if (::resil_fuzz::tracing()) {       \
      std::fprintf(stderr, __VA_ARGS__); \
      std::fprintf(stderr, "\n");        \
    }                                    \
  } while (0)

/// Checks `ok` after an action.
inline void check(bool ok, const char* what, int action, const std::string& detail = {}) {
  if (!ok) fail(what, detail, action);
}

inline constexpr std::int64_t years = 10LL * 365 * 24 * 3600 * 1'000'000'000;

/// A time step: 0, 1 ns, a bucket (or interval), a window (or period), or ten years.
inline std::int64_t time_step(FuzzedDataProvider& in, std::int64_t bucket, std::int64_t window) {
  const std::array<std::int64_t, 6> steps{0, 1, bucket, window, years, bucket - 1};
  return steps[in.ConsumeIntegralInRange<std::size_t>(0, steps.size() - 1)];
}

}  // namespace resil_fuzz
