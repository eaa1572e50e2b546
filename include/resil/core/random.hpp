// resil::splitmix64: the seedable, thread-safe random generator policies draw from by default.
// SPDX-License-Identifier: MIT
#pragma once

#include <atomic>
#include <concepts>
#include <cstdint>
#include <limits>
#include <type_traits>

namespace resil {

/**
 * A source of uniformly distributed random bits, as `std::uniform_random_bit_generator` (same
 * requirements; spelled out here so resil's headers need not include `<random>`).
 * `resil::splitmix64` models it, and so do `std::mt19937_64` and friends.
 */
template <class G>
concept random_generator =
    std::invocable<G&> && std::unsigned_integral<std::invoke_result_t<G&>> && requires {
  { G::min() } -> std::same_as<std::invoke_result_t<G&>>;
  { G::max() } -> std::same_as<std::invoke_result_t<G&>>;
  requires std::bool_constant<(G::min() < G::max())>::value;
};

/**
 * A small, fast, seedable random bit generator (SplitMix64) that is safe to share between
 * threads: each draw is one relaxed `fetch_add` on the state plus a few multiplies, with no lock
 * and no allocation. Models `std::uniform_random_bit_generator`.
 *
 * Policies that draw random numbers (jitter, chaos injection) take one in their options, so a
 * test or simulation that fixes the seed replays bit for bit (single-threaded use; with several
 * threads the sequence is shared, so which thread gets which draw depends on scheduling).
 *
 *     resil::splitmix64 rng{42};
 *     double u = rng.uniform();   // in [0, 1)
 *
 * Copying snapshots the state: the copy continues the same sequence independently.
 */
class splitmix64 {
 public:
  using result_type = std::uint64_t;  ///< 64 random bits per draw.

  /// A generator seeded with `seed` (the same seed gives the same sequence).
  explicit splitmix64(std::uint64_t seed = 0x5EED5EED5EED5EEDULL) noexcept : state_(seed) {}
  /// A generator that continues from `other`'s current state, independently.
  splitmix64(const splitmix64& other) noexcept
      : state_(other.state_.load(std::memory_order_relaxed)) {}
  /// Continues from `other`'s current state.
  splitmix64& operator=(const splitmix64& other) noexcept {
    state_.store(other.state_.load(std::memory_order_relaxed), std::memory_order_relaxed);
    return *this;
  }

  /// Smallest value (0): UniformRandomBitGenerator requirement.
  static constexpr result_type min() noexcept { return 0; }
  /// Largest value (2^64 - 1): UniformRandomBitGenerator requirement.
  static constexpr result_type max() noexcept { return std::numeric_limits<result_type>::max(); }

  /// The next 64 random bits.
  result_type operator()() noexcept {
    std::uint64_t z =
        state_.fetch_add(0x9E3779B97F4A7C15ULL, std::memory_order_relaxed) + 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30U)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27U)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31U);
  }

  /// A uniform double in [0, 1) (53 random bits).
  double uniform() noexcept { return static_cast<double>((*this)() >> 11U) * 0x1.0p-53; }

  /// Restarts the sequence from `seed`.
  void seed(std::uint64_t seed) noexcept { state_.store(seed, std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> state_;
};

}  // namespace resil
