// Tests for resil/detail/gcra.hpp: the fixed-point time of the rate limiters, and the portable
// 128-bit arithmetic against __int128.
// SPDX-License-Identifier: MIT
#include <resil/core/random.hpp>
#include <resil/detail/gcra.hpp>

#include <catch2/catch.hpp>

#include <limits>

using resil::detail::gcra_params;
using resil::detail::make_gcra;
using resil::detail::native_ops;
using resil::detail::portable_ops;
using resil::detail::unit_time;

namespace {

__extension__ typedef __int128 i128;           // NOLINT(modernize-use-using)
__extension__ typedef unsigned __int128 u128;  // NOLINT(modernize-use-using)

constexpr std::int64_t int64_max = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t int64_min = std::numeric_limits<std::int64_t>::min();

i128 as_native(resil::detail::int128_pair v) {
  return static_cast<i128>(static_cast<u128>(static_cast<std::uint64_t>(v.hi)) << 64U | v.lo);
}

std::int64_t random_int64(resil::splitmix64& rng) {
  switch (rng() % 6) {
    case 0:
      return int64_max - static_cast<std::int64_t>(rng() % 1000);
    case 1:
      return int64_min + static_cast<std::int64_t>(rng() % 1000);
    case 2:
      return static_cast<std::int64_t>(rng() % 2000) - 1000;
    case 3:
      return static_cast<std::int64_t>(rng()) >> (rng() % 63);
    default:
      return static_cast<std::int64_t>(rng());
  }
}

gcra_params random_params(resil::splitmix64& rng) {
  for (;;) {
    const auto period = 1 + static_cast<std::int64_t>(rng() >> (1 + rng() % 62));
    const std::uint64_t permits = 1 + rng() % static_cast<std::uint64_t>(period);
    const std::uint64_t burst = 1 + rng() % 1000;
    if (resil::detail::gcra_unrepresentable(permits, period, burst) == nullptr) {
      return make_gcra(permits, period, burst);
    }
  }
}

// floor and ceil of d * mp / period, exactly.
unit_time exact_units(std::int64_t d, const gcra_params& p) {
  const i128 num = static_cast<i128>(d) * p.mp;
  i128 q = num / p.period;
  if (num % p.period != 0 && num < 0) --q;
  const i128 hi = num % p.period == 0 ? q : q + 1;
  const auto clamp = [](i128 v) {
    return static_cast<std::int64_t>(v > resil::detail::unit_limit    ? resil::detail::unit_limit
                                     : v < -resil::detail::unit_limit ? -resil::detail::unit_limit
                                                                      : v);
  };
  return {clamp(q),
          q >= resil::detail::unit_limit || q < -resil::detail::unit_limit ? clamp(q) : clamp(hi)};
}

}  // namespace

TEST_CASE("gcra: the portable 128-bit arithmetic agrees with __int128", "[gcra]") {
  resil::splitmix64 rng{99};
  for (int i = 0; i < 50'000; ++i) {
    const std::int64_t a = random_int64(rng);
    const std::int64_t b = random_int64(rng);
    const auto pa = portable_ops::mul(a, b);
    REQUIRE(as_native(pa) == native_ops::mul(a, b));
    const auto pb = portable_ops::mul(random_int64(rng) >> 2, random_int64(rng) >> 2);
    REQUIRE(as_native(pa - pb) == native_ops::mul(a, b) - as_native(pb));
    REQUIRE(as_native(pa + pb) == native_ops::mul(a, b) + as_native(pb));
    REQUIRE((pa < pb) == (as_native(pa) < as_native(pb)));
    const std::int64_t d = 1 + (random_int64(rng) & int64_max) % int64_max;
    for (const bool up : {false, true}) {
      INFO(a << " * " << b << " / " << d << (up ? " up" : " down"));
      REQUIRE(portable_ops::div(pa, d, up) == native_ops::div(native_ops::mul(a, b), d, up));
    }
    const auto small = portable_ops::mul(a >> 2, b >> 2);  // |small| < 2^124: shr62 fits
    REQUIRE(portable_ops::shr62(small) == native_ops::shr62(as_native(small)));
  }
}

TEST_CASE("gcra: the native division rounds exactly and saturates", "[gcra]") {
  CHECK(native_ops::div(7, 2, false) == 3);
  CHECK(native_ops::div(7, 2, true) == 4);
  CHECK(native_ops::div(-7, 2, false) == -4);
  CHECK(native_ops::div(-7, 2, true) == -3);
  CHECK(native_ops::div(-8, 2, true) == -4);
  CHECK(native_ops::div(native_ops::mul(int64_max, int64_max), 1, true) == int64_max);
  CHECK(native_ops::div(native_ops::mul(int64_max, int64_min), 3, false) == int64_min);
  CHECK(portable_ops::div(portable_ops::mul(int64_max, int64_max), 1, true) == int64_max);
  CHECK(portable_ops::div(portable_ops::mul(int64_max, int64_min), 3, false) == int64_min);
}

TEST_CASE("gcra: an emission interval is an exact whole number of units of 1 to 2 ns", "[gcra]") {
  const auto p = make_gcra(3, 1'000'000'000, 3);  // T = 333'333'333.3 ns
  CHECK(p.m == 333'333'333);
  CHECK(p.mp == 999'999'999);
  CHECK(p.tolerance == 3 * p.m);
  const auto whole = make_gcra(100, 1'000'000'000, 100);  // T = 10 ms: units are nanoseconds
  CHECK(whole.m == 10'000'000);
  CHECK(whole.mp == whole.period);
  CHECK(resil::detail::to_units(12'345, 0, whole).lo == 12'345);
  CHECK(resil::detail::to_units(12'345, 0, whole).hi == 12'345);
  const auto finest = make_gcra(1'000'000'000, 1'000'000'000, 1);  // one per ns
  CHECK(finest.m == 1);
  CHECK(resil::detail::gcra_unrepresentable(1'000'000'001, 1'000'000'000, 1) != nullptr);
  CHECK(resil::detail::gcra_unrepresentable(1, 1'000'000'000, 1ULL << 30) != nullptr);
  CHECK(resil::detail::gcra_unrepresentable(1, 1'000'000'000, 1ULL << 29) == nullptr);
}

TEST_CASE("gcra: time converts to units exactly (floor and ceiling), for any limit and time",
          "[gcra]") {
  resil::splitmix64 rng{5};
  for (int i = 0; i < 100'000; ++i) {
    const gcra_params p = random_params(rng);
    const gcra_params q = make_gcra<portable_ops>(p.permits, p.period, p.burst);
    REQUIRE(q.rate == p.rate);
    REQUIRE(q.m == p.m);
    REQUIRE(q.tolerance == p.tolerance);
    const std::int64_t t = random_int64(rng);
    const std::int64_t epoch = random_int64(rng);
    const i128 wide_d = static_cast<i128>(t) - epoch;
    const auto native = resil::detail::to_units<native_ops>(t, epoch, p);
    const auto portable = resil::detail::to_units<portable_ops>(t, epoch, p);
    INFO("permits " << p.permits << " period " << p.period << " t " << t << " epoch " << epoch);
    REQUIRE(native.lo == portable.lo);
    REQUIRE(native.hi == portable.hi);
    if (wide_d > int64_max || wide_d < int64_min) {
      REQUIRE(std::abs(native.lo) == resil::detail::unit_limit);
      continue;
    }
    const auto expected = exact_units(static_cast<std::int64_t>(wide_d), p);
    REQUIRE(native.lo == expected.lo);
    REQUIRE(native.hi == expected.hi);
  }
}

TEST_CASE("gcra: from_units is the earliest time whose units reach a value", "[gcra]") {
  resil::splitmix64 rng{6};
  for (int i = 0; i < 100'000; ++i) {
    const gcra_params p = random_params(rng);
    const std::int64_t epoch = static_cast<std::int64_t>(rng()) >> 2;
    const std::int64_t a = static_cast<std::int64_t>(rng() % (1ULL << 61)) - (1LL << 60);
    const std::int64_t t = resil::detail::from_units(a, epoch, p);
    INFO("permits " << p.permits << " period " << p.period << " a " << a << " epoch " << epoch);
    REQUIRE(t == resil::detail::from_units<portable_ops>(a, epoch, p));
    if (t == int64_max) continue;
    REQUIRE(resil::detail::to_units(t, epoch, p).lo >= a);
    REQUIRE(resil::detail::to_units(t - 1, epoch, p).lo < a);
  }
}

TEST_CASE("gcra: unit time saturates beyond 2^60 units from the epoch instead of wrapping",
          "[gcra]") {
  const auto p = make_gcra(3, 1'000'000'000, 3);
  CHECK(resil::detail::to_units(int64_max, int64_min, p).lo == resil::detail::unit_limit);
  CHECK(resil::detail::to_units(int64_min, int64_max, p).lo == -resil::detail::unit_limit);
  CHECK(resil::detail::to_units(int64_max, 0, p).hi == resil::detail::unit_limit);
  CHECK(resil::detail::from_units(resil::detail::unit_limit + 1, 0, p) == int64_max);
  CHECK(resil::detail::from_units(1, int64_max, p) == int64_max);
}

TEST_CASE("gcra: a busy chain advances by exactly m units per permit", "[gcra]") {
  const auto p = make_gcra(7, 1'000'000'003, 7);
  std::int64_t tat = resil::detail::tat_min;
  const unit_time start = resil::detail::to_units(0, 0, p);
  for (int i = 0; i < 7; ++i) {
    tat = resil::detail::gcra_next(p, tat, start, 1);
    REQUIRE(tat == (i + 1) * p.m);
  }
  CHECK(resil::detail::gcra_next(p, tat, start, 1) == resil::detail::gcra_refused);
  CHECK(resil::detail::gcra_available(p, tat, start) == 0);
  const std::int64_t due = resil::detail::gcra_ready(p, tat, 0, 0, start, 1);
  CHECK(due == (1'000'000'003 + 6) / 7);  // ceil(T)
  const unit_time at_due = resil::detail::to_units(due, 0, p);
  CHECK(resil::detail::gcra_next(p, tat, at_due, 1) == 8 * p.m);
}

TEST_CASE("gcra: converting between limits keeps the permits available", "[gcra]") {
  const auto ten = make_gcra(10, 1'000'000'000, 10);
  const auto hundred = make_gcra(100, 1'000'000'000, 50);
  const unit_time now = resil::detail::to_units(0, 0, ten);
  std::int64_t tat = resil::detail::tat_min;
  for (int i = 0; i < 4; ++i) tat = resil::detail::gcra_next(ten, tat, now, 1);
  REQUIRE(resil::detail::gcra_available(ten, tat, now) == 6);
  const std::int64_t converted = resil::detail::gcra_convert(ten, hundred, tat, 0, 0);
  CHECK(resil::detail::gcra_available(hundred, converted, now) == 6);
  CHECK(resil::detail::gcra_convert(ten, hundred, resil::detail::tat_min, 0, 0) ==
        40 * hundred.m);  // full at 10: 10 of 50 available
  // Full stays full when the burst shrinks: full as of the change, not before it.
  CHECK(resil::detail::gcra_convert(hundred, ten, resil::detail::tat_min, 5'000, 0) == 5'000);
  CHECK(resil::detail::gcra_available(ten, 5'000, resil::detail::to_units(5'000, 0, ten)) == 10);
  CHECK(resil::detail::gcra_available(ten, 5'000, resil::detail::to_units(0, 0, ten)) < 10);
}
