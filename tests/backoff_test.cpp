// Tests for resil/backoff.hpp.
// SPDX-License-Identifier: MIT
#include <resil/backoff.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <limits>
#include <random>
#include <string_view>
#include <vector>

#include "support/enum_names.hpp"

using namespace std::chrono_literals;
using resil::backoff;
using resil::backoff_state;
using resil::nanoseconds;

namespace {

std::vector<nanoseconds> first(const backoff& b, int n, std::uint64_t seed = 1) {
  resil::splitmix64 rng{seed};
  backoff_state s;
  std::vector<nanoseconds> out;
  for (int i = 0; i < n; ++i) out.push_back(b.next(s, rng));
  return out;
}

std::vector<backoff> every_kind(const backoff& shape) {
  return {shape,
          shape.full_jitter(),
          shape.equal_jitter(),
          shape.decorrelated_jitter(),
          shape.decorrelated_jitter_v2(),
          shape.jitter(0.5),
          shape.jitter(1.0)};
}

}  // namespace

TEST_CASE("backoff: a default backoff never waits", "[backoff]") {
  CHECK(first(backoff{}, 3) == std::vector<nanoseconds>{0ns, 0ns, 0ns});
}

TEST_CASE("backoff: constant waits the same delay every time", "[backoff]") {
  const auto b = backoff::constant(500ms);
  CHECK(first(b, 4) == std::vector<nanoseconds>{500ms, 500ms, 500ms, 500ms});
  CHECK(b.cap() == 500ms);
}

TEST_CASE("backoff: linear grows by its step up to the cap", "[backoff]") {
  const auto b = backoff::linear(100ms, 50ms, 220ms);
  CHECK(first(b, 5) == std::vector<nanoseconds>{100ms, 150ms, 200ms, 220ms, 220ms});
}

TEST_CASE("backoff: exponential multiplies up to the cap", "[backoff]") {
  const auto b = backoff::exponential(100ms, 2.0, 1s);
  CHECK(first(b, 6) == std::vector<nanoseconds>{100ms, 200ms, 400ms, 800ms, 1s, 1s});
  const auto g = backoff::exponential(1s, 1.6, 120s);  // gRPC connection backoff
  CHECK(g.base_delay(2) == 1600ms);
  CHECK(g.base_delay(3) == 2560ms);
  CHECK(g.base_delay(0) == g.base_delay(1));
}

TEST_CASE("backoff: without jitter the sequence never decreases, for 10^4 attempts and beyond",
          "[backoff]") {
  for (const auto& b : {backoff::constant(3ms), backoff::linear(1ns, 7ns, nanoseconds::max()),
                        backoff::exponential(1ns, 10.0, nanoseconds::max()),
                        backoff::exponential(250ms, 1.5, 30s)}) {
    nanoseconds last{0};
    for (std::uint32_t n = 1; n <= 10'000; ++n) {
      const auto d = b.base_delay(n);
      REQUIRE(d >= last);
      REQUIRE(d <= b.cap());
      last = d;
    }
    CHECK(b.base_delay(std::numeric_limits<std::uint32_t>::max()) >= last);
  }
}

TEST_CASE("backoff: every delay of every jitter is in [0, cap] for attempts 1..10^4 and beyond",
          "[backoff]") {
  const std::vector<backoff> shapes = {backoff::constant(1s), backoff::linear(10ms, 10ms, 5s),
                                       backoff::exponential(1ns, 10.0, nanoseconds::max()),
                                       backoff::exponential(100ms, 2.0, 30s),
                                       backoff::exponential(0ns, 2.0, 1s)};
  for (const auto& shape : shapes) {
    for (const auto& b : every_kind(shape)) {
      resil::splitmix64 rng{7};
      backoff_state s;
      for (int i = 0; i < 10'000; ++i) {
        const auto d = b.next(s, rng);
        REQUIRE(d >= 0ns);
        REQUIRE(d <= b.cap());
      }
      s.attempt = std::numeric_limits<std::uint32_t>::max() - 2;
      for (int i = 0; i < 5; ++i) {
        const auto d = b.next(s, rng);
        REQUIRE(d >= 0ns);
        REQUIRE(d <= b.cap());
      }
      CHECK(s.attempt == std::numeric_limits<std::uint32_t>::max());
    }
  }
}

TEST_CASE("backoff: full jitter is uniform in [0, d]", "[backoff]") {
  const auto b = backoff::constant(1s).full_jitter();
  resil::splitmix64 rng{3};
  backoff_state s;
  double sum = 0;
  nanoseconds lo = 1s;
  nanoseconds hi = 0s;
  constexpr int n = 20'000;
  for (int i = 0; i < n; ++i) {
    const auto d = b.next(s, rng);
    sum += std::chrono::duration<double>(d).count();
    lo = std::min(lo, d);
    hi = std::max(hi, d);
  }
  CHECK(sum / n == Approx(0.5).margin(0.02));
  CHECK(lo < 10ms);
  CHECK(hi > 990ms);
}

TEST_CASE("backoff: equal jitter stays in [d/2, d]", "[backoff]") {
  for (const auto d : first(backoff::exponential(100ms, 2.0, 10s).equal_jitter(), 50)) {
    CHECK(d >= 50ms);
    CHECK(d <= 10s);
  }
  const auto e = first(backoff::constant(1s).equal_jitter(), 1000);
  CHECK(*std::min_element(e.begin(), e.end()) >= 500ms);
  CHECK(*std::max_element(e.begin(), e.end()) <= 1s);
}

TEST_CASE("backoff: proportional jitter stays within the factor, and within the cap", "[backoff]") {
  const auto b = backoff::constant(1s).jitter(0.2);
  CHECK(b.cap() == 1200ms);  // symmetric around a constant delay, as Resilience4j and Polly
  const auto cs = first(b, 1000);
  CHECK(*std::min_element(cs.begin(), cs.end()) >= 800ms);
  CHECK(*std::max_element(cs.begin(), cs.end()) <= 1200ms);
  CHECK(*std::max_element(cs.begin(), cs.end()) > 1100ms);
  CHECK(*std::min_element(cs.begin(), cs.end()) < 900ms);
  CHECK(b.full_jitter().cap() == 1s);  // another jitter replaces it, with the plain cap
  const auto u = backoff::linear(1s, 0ns, 2s).jitter(0.2);
  const auto ds = first(u, 1000);
  CHECK(*std::min_element(ds.begin(), ds.end()) >= 800ms);
  CHECK(*std::max_element(ds.begin(), ds.end()) <= 1200ms);
  CHECK(*std::max_element(ds.begin(), ds.end()) > 1100ms);
}

TEST_CASE("backoff: decorrelated jitter draws from [base, 3 * previous], capped", "[backoff]") {
  const auto b = backoff::exponential(100ms, 2.0, 5s).decorrelated_jitter();
  resil::splitmix64 rng{11};
  backoff_state s;
  nanoseconds prev = 100ms;
  for (int i = 0; i < 1000; ++i) {
    const auto d = b.next(s, rng);
    REQUIRE(d >= 100ms);
    REQUIRE(d <= std::min<nanoseconds>(5s, 3 * prev));
    prev = d;
  }
}

TEST_CASE("backoff: decorrelated jitter v2 has medians that double from attempt to attempt",
          "[backoff]") {
  const auto b = backoff::exponential(100ms, 2.0, nanoseconds::max()).decorrelated_jitter_v2();
  std::vector<std::vector<nanoseconds>> by_attempt(6);
  for (std::uint64_t seed = 1; seed <= 2001; ++seed) {
    const auto seq = first(b, 6, seed);
    for (std::size_t i = 0; i < seq.size(); ++i) by_attempt[i].push_back(seq[i]);
  }
  std::vector<double> medians;
  for (auto& v : by_attempt) {
    std::nth_element(v.begin(), v.begin() + static_cast<long>(v.size() / 2), v.end());
    medians.push_back(std::chrono::duration<double, std::milli>(v[v.size() / 2]).count());
  }
  // The first retries wait about `base`; from attempt 3 on, attempt n's median is close to
  // base * 2^(n-2), doubling from attempt to attempt, as Polly's V2 formula intends.
  CHECK(medians[0] == Approx(100.0).epsilon(0.2));
  for (std::size_t i = 2; i < medians.size(); ++i) {
    const double target = 100.0 * std::exp2(static_cast<double>(i) - 1.0);
    CHECK(medians[i] == Approx(target).epsilon(0.25));
    CHECK(medians[i] / medians[i - 1] == Approx(2.0).epsilon(0.25));
  }
}

TEST_CASE("backoff: the same seed replays the same jittered delays", "[backoff]") {
  for (const auto& b : every_kind(backoff::exponential(10ms, 3.0, 1min))) {
    CHECK(first(b, 20, 99) == first(b, 20, 99));
  }
  CHECK(first(backoff::constant(1s).full_jitter(), 5, 1) !=
        first(backoff::constant(1s).full_jitter(), 5, 2));
}

TEST_CASE("backoff: any standard generator works too", "[backoff]") {
  std::mt19937 rng{5};
  backoff_state s;
  const auto b = backoff::exponential(1ms, 2.0, 1s).full_jitter();
  for (int i = 0; i < 100; ++i) {
    const auto d = b.next(s, rng);
    REQUIRE(d >= 0ns);
    REQUIRE(d <= 1s);
  }
}

TEST_CASE("backoff: invalid parameters are reported with the field and value", "[backoff]") {
  CHECK_FALSE(backoff::exponential(100ms, 2.0, 10s).full_jitter().validate());
  CHECK_FALSE(backoff::constant(0ns).validate());

  const auto neg = backoff::constant(-1ms).validate();
  REQUIRE(neg);
  CHECK(neg->field == "backoff.base");
  CHECK(neg->message == "resil: backoff.base = -1000000ns is invalid: must not be negative");

  const auto slow = backoff::exponential(1ms, 0.5, 1s).validate("retry_options.backoff");
  REQUIRE(slow);
  CHECK(slow->field == "retry_options.backoff.multiplier");

  const double nan = std::numeric_limits<double>::quiet_NaN();
  CHECK(backoff::exponential(1ms, nan, 1s).validate()->field == "backoff.multiplier");
  CHECK(backoff::exponential(1ms, std::numeric_limits<double>::infinity(), 1s).validate()->field ==
        "backoff.multiplier");
  CHECK(backoff::linear(1ms, -1ms, 1s).validate()->field == "backoff.step");
  CHECK(backoff::exponential(2s, 2.0, 1s).validate()->field == "backoff.cap");
  CHECK(backoff::constant(1s).jitter(1.5).validate()->field == "backoff.jitter_factor");
  CHECK(backoff::constant(1s).jitter(nan).validate()->field == "backoff.jitter_factor");
}

TEST_CASE("backoff: base_delay stays within the cap even for a backoff that validate() rejects",
          "[backoff]") {
  const auto flat = backoff::exponential(2s, 1.0, 1s);  // cap below base: invalid, yet bounded
  REQUIRE(flat.validate());
  for (const std::uint32_t n : {0U, 1U, 2U, 10U}) CHECK(flat.base_delay(n) == 1s);
  CHECK(backoff::exponential(2s, 2.0, 1s).base_delay(1) == 1s);
  CHECK(backoff::linear(2s, 1s, 1s).base_delay(3) == 1s);
}

TEST_CASE("backoff: exponential delays never turn NaN or negative past attempt 1025 (Polly #2163)",
          "[backoff]") {
  // Polly v8 computed 2^n in double; from attempt 1025 on it overflowed to infinity, the delay
  // became NaN, then negative, and retries ran back to back. Every shape and jitter here stays in
  // [0, cap] and, without jitter, never decreases, through and far beyond that point.
  for (const auto& shape :
       {backoff::exponential(1ms, 2.0, nanoseconds::max()), backoff::exponential(2s, 2.0, 30min)}) {
    nanoseconds last{0};
    for (std::uint32_t n = 1; n <= 10'000; ++n) {
      const auto d = shape.base_delay(n);
      REQUIRE(d >= last);
      REQUIRE(d <= shape.cap());
      last = d;
    }
    CHECK(last == shape.cap());
    for (const auto& b : every_kind(shape)) {
      resil::splitmix64 rng{2163};
      backoff_state s;
      for (int i = 0; i < 10'000; ++i) {
        const auto d = b.next(s, rng);
        REQUIRE(d >= 0ns);
        REQUIRE(d <= b.cap());
      }
    }
  }
  // Decorrelated v2 is the formula that broke: 2^t at t = n + U(0, 1) crosses double's range at
  // n = 1024. Walk attempts 1000..1100 one by one: finite, non-negative, capped.
  const auto v2 = backoff::exponential(1s, 2.0, 1h).decorrelated_jitter_v2();
  resil::splitmix64 rng{1025};
  backoff_state s;
  for (std::uint32_t n = 1; n <= 1100; ++n) {
    const auto d = v2.next(s, rng);
    REQUIRE(d >= 0ns);
    REQUIRE(d <= 1h);
    if (n >= 1000) CHECK(d == 1h);  // past the cap long before; the overflow guard answers cap
  }
}

TEST_CASE(
    "backoff: a delay that overflows is capped at the maximum delay, not the largest duration "
    "(Polly #1866)",
    "[backoff]") {
  // Polly v8 returned TimeSpan.MaxValue once the exponential overflowed, ignoring MaxDelay. Here
  // the cap is 5 minutes and the base is large enough for base * 2^n to overflow int64 nanoseconds
  // at n = 40 and double at n = 1024: every delay of every jitter stays at or below 5 minutes.
  const auto shape = backoff::exponential(1h, 2.0, 5min);
  CHECK(shape.base_delay(1) == 5min);  // a base above the cap is invalid, see below ...
  CHECK(shape.validate()->field == "backoff.cap");
  const auto b = backoff::exponential(100ms, 2.0, 5min);  // ... so start below it
  CHECK(b.base_delay(40) == 5min);
  CHECK(b.base_delay(1025) == 5min);
  CHECK(b.base_delay(std::numeric_limits<std::uint32_t>::max()) == 5min);
  for (const auto& k : every_kind(b)) {
    resil::splitmix64 rng{1866};
    backoff_state s;
    nanoseconds top{0};
    for (int i = 0; i < 10'000; ++i) top = std::max(top, k.next(s, rng));
    CHECK(top <= 5min);
    CHECK(top > 0ns);
  }
  const auto lin = backoff::linear(1min, nanoseconds::max(), 5min);  // base + step overflows
  CHECK(lin.base_delay(3) == 5min);
}

TEST_CASE("backoff: jitter kinds are named as their enumerators", "[backoff]") {
  CHECK(resil_test::enum_names<resil::jitter_kind>(6) ==
        std::vector<std::string_view>{"none", "full", "equal", "decorrelated", "decorrelated_v2",
                                      "proportional"});
  CHECK(to_string(static_cast<resil::jitter_kind>(6)) == "unknown");
}
