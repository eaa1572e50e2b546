// The circuit breaker's state word: state, generation and per-state counters in one atomic
// 64-bit value. Not API.
// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>

namespace resil::detail {

// [generation:21 | payload:40 | state:3]. Every transition bumps the generation, so a permit
// (which remembers the word's generation and state) can tell whether its state still stands;
// comparisons ignore only the payload. The payload is:
// - closed and metrics_only: the consecutive-failure count (saturating);
// - half_open: four 10-bit counters: probes reserved, recorded, failed, slow;
// - otherwise zero.
// The generation wraps after 2²¹ transitions; a permit would have to stay out for that many
// transitions to be mistaken for a current one.
struct breaker_word {
  static constexpr unsigned payload_shift = 3;
  static constexpr unsigned gen_shift = 43;
  static constexpr std::uint64_t state_mask = 0x7;
  static constexpr std::uint64_t payload_max = (1ULL << 40U) - 1U;
  static constexpr std::uint64_t payload_mask = payload_max << payload_shift;
  static constexpr std::uint64_t id_mask = ~payload_mask;  // generation and state
  static constexpr std::uint64_t gen_max = (1ULL << 21U) - 1U;

  // Half-open payload fields.
  static constexpr unsigned field_bits = 10;
  static constexpr std::uint64_t field_max = (1ULL << field_bits) - 1U;
  static constexpr unsigned reserved_at = 0;
  static constexpr unsigned recorded_at = 10;
  static constexpr unsigned failed_at = 20;
  static constexpr unsigned slow_at = 30;

  static constexpr std::uint64_t make(std::uint64_t gen, unsigned state,
                                      std::uint64_t payload) noexcept {
    return ((gen & gen_max) << gen_shift) | ((payload & payload_max) << payload_shift) |
           (state & state_mask);
  }
  static constexpr unsigned state(std::uint64_t w) noexcept {
    return static_cast<unsigned>(w & state_mask);
  }
  static constexpr std::uint64_t payload(std::uint64_t w) noexcept {
    return (w & payload_mask) >> payload_shift;
  }
  static constexpr std::uint64_t gen(std::uint64_t w) noexcept { return w >> gen_shift; }
  static constexpr std::uint64_t id(std::uint64_t w) noexcept { return w & id_mask; }
  static constexpr std::uint64_t with_payload(std::uint64_t w, std::uint64_t p) noexcept {
    return (w & id_mask) | ((p & payload_max) << payload_shift);
  }
  static constexpr std::uint64_t field(std::uint64_t payload, unsigned at) noexcept {
    return (payload >> at) & field_max;
  }
  static constexpr std::uint64_t one(unsigned at) noexcept { return 1ULL << at; }
};

}  // namespace resil::detail
