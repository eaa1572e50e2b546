// The deterministic simulation harness: seeds x steps, every failure reported with its seed and
// replayable bit for bit with RESIL_SIM_SEED=<n>.
// SPDX-License-Identifier: MIT
#pragma once

#include <resil/core/random.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

namespace resil_sim {

/// How much to simulate. RESIL_SIM_SEED=<n> runs only seed n (a replay); RESIL_SIM_SEEDS and
/// RESIL_SIM_STEPS change the figures (scripts/soak runs a million seeds).
struct figures {
  std::uint64_t first_seed = 1;
  std::uint64_t seeds = 2'000;
  std::uint64_t steps = 2'000;

  static figures from_env(std::uint64_t seeds, std::uint64_t steps) {
    figures f;
    f.seeds = read("RESIL_SIM_SEEDS").value_or(seeds);
    f.steps = read("RESIL_SIM_STEPS").value_or(steps);
    if (const auto one = read("RESIL_SIM_SEED")) {
      f.first_seed = *one;
      f.seeds = 1;
    }
    return f;
  }

 private:
  static std::optional<std::uint64_t> read(const char* name) {
    const char* v = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): single-threaded
    if (v == nullptr || *v == '\0') return std::nullopt;
    return std::strtoull(v, nullptr, 10);
  }
};

/// The result of one seed: empty, or what went wrong and at which step.
struct failure {
  std::uint64_t step = 0;
  std::string what;
};

/// Runs `one(seed, steps)` (returning std::optional<failure>) for every seed; prints the first
/// failing seed with the command that replays it. Returns the number of failing seeds (it stops
/// at the first).
template <class One>
std::uint64_t run(const char* name, const figures& f, One one) {
  for (std::uint64_t seed = f.first_seed; seed < f.first_seed + f.seeds; ++seed) {
    if (const std::optional<failure> bad = one(seed, f.steps)) {
      std::printf(
          "simulation %s FAILED: seed=%llu step=%llu: %s\n"
          "  replay: RESIL_SIM_SEED=%llu resil_simulation \"[simulation][%s]\"\n",
          name, static_cast<unsigned long long>(seed), static_cast<unsigned long long>(bad->step),
          bad->what.c_str(), static_cast<unsigned long long>(seed), name);
      std::fflush(stdout);
      return 1;
    }
  }
  std::printf("simulation %s: %llu seeds x %llu steps, no failure\n", name,
              static_cast<unsigned long long>(f.seeds), static_cast<unsigned long long>(f.steps));
  std::fflush(stdout);
  return 0;
}

/// A uniform pick in [0, n).
inline std::uint64_t pick(resil::splitmix64& rng, std::uint64_t n) {
  return rng() % n;
}

}  // namespace resil_sim
