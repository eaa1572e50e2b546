// Tests for resil/core/event_log.hpp: a bounded ring of the last N events.
// SPDX-License-Identifier: MIT
#include <resil/core/event_log.hpp>

#include <catch2/catch.hpp>

#include <thread>

using namespace std::chrono_literals;

namespace {
struct ev {
  int n;
};
std::vector<int> values(const auto& entries) {
  std::vector<int> out;
  for (const auto& e : entries) out.push_back(e.event.n);
  return out;
}
}  // namespace

TEST_CASE("event_log: keeps events in order until full", "[event_log]") {
  resil::event_log<ev> log{4};
  for (int i = 1; i <= 3; ++i) log.record(ev{i});
  CHECK(values(log.snapshot()) == std::vector<int>{1, 2, 3});
  CHECK(log.total() == 3);
  CHECK(log.capacity() == 4);
}

TEST_CASE("event_log: never holds more than its capacity, keeping the newest", "[event_log]") {
  resil::event_log<ev> log{3};
  for (int i = 1; i <= 10; ++i) log.record(ev{i});
  const auto s = log.snapshot();
  CHECK(values(s) == std::vector<int>{8, 9, 10});
  CHECK(s.front().seq == 8);
  CHECK(s.back().seq == 10);
  CHECK(log.total() == 10);
}

TEST_CASE("event_log: records the time on its clock", "[event_log]") {
  resil::manual_clock clock;
  resil::event_log<ev, resil::manual_clock> log{2, clock};
  log.record(ev{1});
  clock.advance(5s);
  log.record(ev{2});
  const auto s = log.snapshot();
  CHECK(s[0].time == resil::manual_clock::time_point{});
  CHECK(s[1].time == resil::manual_clock::time_point{5s});
}

TEST_CASE("event_log: attaches to a publisher and can be cleared", "[event_log]") {
  resil::event_publisher<ev> publisher;
  resil::event_log<ev> log{8};
  const auto sub = log.attach(publisher);
  publisher.publish(ev{7});
  publisher.publish(ev{8});
  CHECK(values(log.snapshot()) == std::vector<int>{7, 8});
  log.clear();
  CHECK(log.snapshot().empty());
  publisher.publish(ev{9});
  for (int i = 10; i < 20; ++i) publisher.publish(ev{i});
  CHECK(values(log.snapshot()) == std::vector<int>{12, 13, 14, 15, 16, 17, 18, 19});
  CHECK(log.snapshot().back().seq == 13);
  publisher.unsubscribe(sub);
  publisher.publish(ev{99});
  CHECK(log.total() == 13);
}

TEST_CASE("event_log: concurrent recording keeps every sequence number once", "[event_log]") {
  resil::event_log<ev> log{64};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 5000; ++i) log.record(ev{i});
    });
  }
  for (auto& t : threads) t.join();
  CHECK(log.total() == 20'000);
  const auto s = log.snapshot();
  REQUIRE(s.size() == 64);
  for (std::size_t i = 1; i < s.size(); ++i) CHECK(s[i].seq == s[i - 1].seq + 1);
  CHECK(s.back().seq == 20'000);
}

TEST_CASE("event_log: a capacity of zero keeps the newest event", "[event_log]") {
  resil::event_log<ev> log{0};
  CHECK(log.capacity() == 1);
  for (int i = 1; i <= 3; ++i) log.record(ev{i});
  CHECK(values(log.snapshot()) == std::vector<int>{3});
  CHECK(log.snapshot().front().seq == 3);
  CHECK(log.total() == 3);
}
