// Tests for resil/core/events.hpp.
// SPDX-License-Identifier: MIT
#include <resil/core/events.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <stdexcept>
#include <thread>
#include <vector>

namespace {
struct tick {
  int n;
};
}  // namespace

TEST_CASE("events: with no listener nothing is built or called", "[events]") {
  resil::event_publisher<tick> p;
  CHECK_FALSE(p.has_listeners());
  bool built = false;
  p.publish_with([&] {
    built = true;
    return tick{1};
  });
  CHECK_FALSE(built);
}

TEST_CASE("events: listeners are called in registration order", "[events]") {
  resil::event_publisher<tick> p;
  std::vector<int> seen;
  p.subscribe([&](const tick& t) { seen.push_back(t.n); });
  p.subscribe([&](const tick& t) { seen.push_back(t.n * 10); });
  CHECK(p.has_listeners());
  p.publish(tick{2});
  p.publish_with([] { return tick{3}; });
  CHECK(seen == std::vector<int>{2, 20, 3, 30});
}

TEST_CASE("events: unsubscribing stops delivery; unknown ids are refused", "[events]") {
  resil::event_publisher<tick> p;
  int a = 0;
  int b = 0;
  const auto sa = p.subscribe([&](const tick&) { ++a; });
  const auto sb = p.subscribe([&](const tick&) { ++b; });
  CHECK(p.unsubscribe(sa));
  CHECK_FALSE(p.unsubscribe(sa));
  p.publish(tick{1});
  CHECK(a == 0);
  CHECK(b == 1);
  CHECK(p.unsubscribe(sb));
  CHECK_FALSE(p.has_listeners());
}

TEST_CASE("events: a listener may subscribe from inside a publish without deadlock", "[events]") {
  resil::event_publisher<tick> p;
  int inner = 0;
  bool added = false;
  p.subscribe([&](const tick&) {
    if (!added) {
      added = true;
      p.subscribe([&](const tick&) { ++inner; });
    }
  });
  p.publish(tick{1});  // the new listener joins from the next event
  CHECK(inner == 0);
  p.publish(tick{2});
  CHECK(inner == 1);
}

TEST_CASE("events: a listener's exception reaches the publisher's caller", "[events]") {
  resil::event_publisher<tick> p;
  p.subscribe([](const tick&) { throw std::runtime_error("listener bug"); });
  CHECK_THROWS_WITH(p.publish(tick{1}), "listener bug");
  CHECK(p.has_listeners());
}

TEST_CASE("events: publishing races safely with subscribing and unsubscribing", "[events]") {
  resil::event_publisher<tick> p;
  std::atomic<long> total{0};
  std::atomic<bool> done{false};
  p.subscribe([&](const tick& t) { total += t.n; });
  std::thread publisher([&] {
    for (int i = 0; i < 20'000; ++i) p.publish(tick{1});
    done = true;
  });
  while (!done) {
    const auto s = p.subscribe([](const tick&) {});
    p.unsubscribe(s);
  }
  publisher.join();
  CHECK(total == 20'000);
}
