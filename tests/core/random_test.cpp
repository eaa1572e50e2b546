// Tests for resil/core/random.hpp.
// SPDX-License-Identifier: MIT
#include <resil/core/random.hpp>

#include <catch2/catch.hpp>

#include <random>
#include <set>
#include <thread>
#include <vector>

TEST_CASE("random: splitmix64 is a uniform random bit generator", "[random]") {
  STATIC_REQUIRE(std::uniform_random_bit_generator<resil::splitmix64>);
}

TEST_CASE("random: the same seed replays the same sequence", "[random]") {
  resil::splitmix64 a{42};
  resil::splitmix64 b{42};
  resil::splitmix64 c{43};
  bool differs = false;
  for (int i = 0; i < 1000; ++i) {
    const auto x = a();
    REQUIRE(x == b());
    differs = differs || x != c();
  }
  CHECK(differs);
  a.seed(42);
  b.seed(42);
  CHECK(a() == b());
}

TEST_CASE("random: uniform() stays in 0 <= u < 1 and covers it", "[random]") {
  resil::splitmix64 rng{7};
  double lo = 1;
  double hi = 0;
  for (int i = 0; i < 100'000; ++i) {
    const double u = rng.uniform();
    REQUIRE(u >= 0.0);
    REQUIRE(u < 1.0);
    lo = std::min(lo, u);
    hi = std::max(hi, u);
  }
  CHECK(lo < 0.001);
  CHECK(hi > 0.999);
}

TEST_CASE("random: a copy continues the sequence independently", "[random]") {
  resil::splitmix64 a{5};
  (void)a();
  resil::splitmix64 b = a;
  CHECK(a() == b());
}

TEST_CASE("random: two threads drawing concurrently never get the same draw", "[random]") {
  resil::splitmix64 rng{1};
  std::vector<std::uint64_t> xs(20'000);
  std::vector<std::uint64_t> ys(20'000);
  std::thread t([&] {
    for (auto& y : ys) y = rng();
  });
  for (auto& x : xs) x = rng();
  t.join();
  std::set<std::uint64_t> all(xs.begin(), xs.end());
  all.insert(ys.begin(), ys.end());
  CHECK(all.size() == 40'000);
}
