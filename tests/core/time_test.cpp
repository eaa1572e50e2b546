// Tests for resil/core/time.hpp: saturating conversions and arithmetic.
// SPDX-License-Identifier: MIT
#include <resil/core/clock.hpp>
#include <resil/core/time.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <limits>

using namespace std::chrono_literals;
using resil::nanoseconds;

TEST_CASE("time: durations convert to nanoseconds exactly when they fit", "[time]") {
  CHECK(resil::saturating_nanoseconds(1500ms) == 1'500'000'000ns);
  CHECK(resil::saturating_nanoseconds(-3s) == -3'000'000'000ns);
  CHECK(resil::saturating_nanoseconds(std::chrono::duration<double>{0.25}) == 250ms);
  CHECK(resil::fits_nanoseconds(std::chrono::hours{2'000'000}));
}

TEST_CASE("time: durations too large for nanoseconds clamp instead of overflowing", "[time]") {
  CHECK(resil::saturating_nanoseconds(std::chrono::hours::max()) == nanoseconds::max());
  CHECK(resil::saturating_nanoseconds(std::chrono::hours::min()) == nanoseconds::min());
  CHECK(resil::saturating_nanoseconds(std::chrono::seconds::max()) == nanoseconds::max());
  CHECK_FALSE(resil::fits_nanoseconds(std::chrono::hours::max()));
  CHECK_FALSE(resil::fits_nanoseconds(std::chrono::duration<double>{1e300}));
}

TEST_CASE("time: a NaN or infinite floating-point duration never reaches a cast", "[time]") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  CHECK(resil::saturating_nanoseconds(std::chrono::duration<double>{nan}) == 0ns);
  CHECK(resil::saturating_nanoseconds(std::chrono::duration<double>{inf}) == nanoseconds::max());
  CHECK(resil::saturating_nanoseconds(std::chrono::duration<double>{-inf}) == nanoseconds::min());
  CHECK_FALSE(resil::fits_nanoseconds(std::chrono::duration<double>{nan}));
  CHECK_FALSE(resil::fits_nanoseconds(std::chrono::duration<double>{inf}));
}

TEST_CASE("time: now + nanoseconds::max() is time_point::max(), not an overflow", "[time]") {
  using tp = resil::manual_clock::time_point;
  const tp now{5s};
  CHECK(resil::saturating_add(now, nanoseconds::max()) == tp::max());
  CHECK(resil::saturating_add(tp::max(), 1ns) == tp::max());
  CHECK(resil::saturating_add(tp::min(), -1ns) == tp::min());
  CHECK(resil::saturating_add(now, 2s) == tp{7s});
}

TEST_CASE("time: saturating_add is exact up to max - d and clamps from max - d + 1", "[time]") {
  using tp = resil::manual_clock::time_point;
  constexpr auto d = nanoseconds{1'000};
  const tp edge{nanoseconds::max() - d};
  CHECK(resil::saturating_add(edge, d) == tp::max());
  CHECK(resil::saturating_add(tp{edge.time_since_epoch() - 1ns}, d).time_since_epoch() ==
        nanoseconds::max() - 1ns);
  CHECK(resil::saturating_add(tp{edge.time_since_epoch() + 1ns}, d) == tp::max());
}

TEST_CASE("time: saturating_sub clamps differences of extreme time points", "[time]") {
  using tp = resil::manual_clock::time_point;
  CHECK(resil::saturating_sub(tp::max(), tp::min()) == nanoseconds::max());
  CHECK(resil::saturating_sub(tp::min(), tp::max()) == nanoseconds::min());
  CHECK(resil::saturating_sub(tp{10s}, tp{4s}) == 6s);
}
