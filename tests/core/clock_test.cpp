// Tests for resil/core/clock.hpp: the clock concept, real clocks, the manual clock, waiters.
// SPDX-License-Identifier: MIT
#include <resil/core/clock.hpp>

#include <catch2/catch.hpp>

#include <string_view>
#include <thread>
#include <vector>

#include "support/enum_names.hpp"

using namespace std::chrono_literals;
using resil::manual_clock;
using resil::wait_status;

namespace {
// Lets another thread reach its blocking wait without sleeping: yield until it is waiting.
void until_waiting(const manual_clock& clock, std::size_t n = 1) {
  while (clock.waiting() < n) std::this_thread::yield();
}
}  // namespace

TEST_CASE("clock: the library's clocks model resil::clock", "[clock]") {
  STATIC_REQUIRE(resil::clock<resil::steady_clock>);
  STATIC_REQUIRE(resil::clock<resil::coarse_clock>);
  STATIC_REQUIRE(resil::clock<resil::manual_clock>);
  STATIC_REQUIRE_FALSE(resil::clock<std::chrono::system_clock>);
}

TEST_CASE("clock: coarse_clock shares steady_clock's timeline within a few milliseconds",
          "[clock]") {
  const auto a = resil::steady_clock::now();
  const auto c = resil::coarse_clock::now();
  const auto b = resil::steady_clock::now();
  CHECK(c >= a - 20ms);
  CHECK(c <= b + 20ms);
  auto last = resil::coarse_clock::now();
  for (int i = 0; i < 10'000; ++i) {
    const auto now = resil::coarse_clock::now();
    REQUIRE(now >= last);
    last = now;
  }
}

TEST_CASE("clock: manual_clock starts where it is told and moves only when told", "[clock]") {
  manual_clock clock{manual_clock::time_point{5s}};
  CHECK(clock.now() == manual_clock::time_point{5s});
  clock.advance(250ms);
  CHECK(clock.now() == manual_clock::time_point{5250ms});
  clock.set(manual_clock::time_point{1s});
  CHECK(clock.now() == manual_clock::time_point{1s});
}

TEST_CASE("clock: manual_clock copies share one timeline", "[clock]") {
  manual_clock a;
  const manual_clock b = a;  // NOLINT(performance-unnecessary-copy-initialization)
  a.advance(3s);
  CHECK(b.now() == a.now());
  CHECK(a == b);
  CHECK_FALSE(a == manual_clock{});
}

TEST_CASE("clock: manual_clock saturates instead of overflowing", "[clock]") {
  manual_clock clock{manual_clock::time_point{1s}};
  clock.advance(resil::nanoseconds::max());
  CHECK(clock.now() == manual_clock::time_point::max());
  clock.set(manual_clock::time_point::min());
  clock.advance(-1s);
  CHECK(clock.now() == manual_clock::time_point::min());
}

TEST_CASE("clock: sleeping on manual_clock advances its timeline and returns at once", "[clock]") {
  manual_clock clock;
  CHECK(clock.sleep_until(manual_clock::time_point{30s}));
  CHECK(clock.now() == manual_clock::time_point{30s});
  CHECK(clock.sleep_until(manual_clock::time_point{10s}));  // in the past: no change
  CHECK(clock.now() == manual_clock::time_point{30s});
  CHECK(clock.sleeps() == 2);
}

TEST_CASE("clock: a stopped sleep on manual_clock returns false and leaves time alone", "[clock]") {
  manual_clock clock;
  std::stop_source stop;
  stop.request_stop();
  CHECK_FALSE(clock.sleep_until(manual_clock::time_point{30s}, stop.get_token()));
  CHECK(clock.now() == manual_clock::time_point{});
}

TEST_CASE("clock: a waiter notified before the wait returns notified at once", "[clock]") {
  manual_clock clock;
  resil::waiter w;
  w.notify();
  CHECK(clock.wait_until(w, manual_clock::time_point{1h}) == wait_status::notified);
  CHECK(w.notified());
  w.reset();
  CHECK_FALSE(w.notified());
}

TEST_CASE("clock: a wait whose deadline already passed returns deadline at once", "[clock]") {
  manual_clock clock{manual_clock::time_point{10s}};
  resil::waiter w;
  CHECK(clock.wait_until(w, manual_clock::time_point{10s}) == wait_status::deadline);
  CHECK(clock.waiting() == 0);
}

TEST_CASE("clock: a manual_clock wait ends when another thread advances past its deadline",
          "[clock]") {
  manual_clock clock;
  resil::waiter w;
  wait_status status = wait_status::notified;
  std::thread t([&] { status = clock.wait_until(w, manual_clock::time_point{5s}); });
  until_waiting(clock);
  clock.advance(4s);  // not yet
  CHECK(clock.waiting() == 1);
  clock.advance(1s);
  t.join();
  CHECK(status == wait_status::deadline);
  CHECK(clock.waiting() == 0);
}

TEST_CASE("clock: a manual_clock wait ends when another thread notifies it", "[clock]") {
  manual_clock clock;
  resil::waiter w;
  wait_status status = wait_status::deadline;
  std::thread t([&] { status = clock.wait_until(w, manual_clock::time_point::max()); });
  until_waiting(clock);
  w.notify();
  t.join();
  CHECK(status == wait_status::notified);
}

TEST_CASE("clock: a manual_clock wait ends when its stop token is triggered", "[clock]") {
  manual_clock clock;
  resil::waiter w;
  std::stop_source stop;
  wait_status status = wait_status::deadline;
  std::thread t(
      [&] { status = clock.wait_until(w, manual_clock::time_point::max(), stop.get_token()); });
  until_waiting(clock);
  stop.request_stop();
  t.join();
  CHECK(status == wait_status::stopped);
}

TEST_CASE("clock: real clocks wait for a notification, a deadline or a stop", "[clock]") {
  resil::waiter w;
  CHECK(resil::steady_clock::wait_until(w, resil::steady_clock::now() - 1s) ==
        wait_status::deadline);
  CHECK(resil::coarse_clock::wait_until(w, resil::coarse_clock::now()) == wait_status::deadline);

  std::stop_source stop;
  stop.request_stop();
  CHECK(resil::steady_clock::wait_until(w, resil::steady_clock::time_point::max(),
                                        stop.get_token()) == wait_status::stopped);
  CHECK_FALSE(
      resil::steady_clock::sleep_until(resil::steady_clock::time_point::max(), stop.get_token()));

  resil::waiter n;
  std::thread t([&] { n.notify(); });
  CHECK(resil::steady_clock::wait_until(n, resil::steady_clock::time_point::max()) ==
        wait_status::notified);
  t.join();
}

TEST_CASE("clock: a real sleep with a live stop token sleeps until the deadline", "[clock]") {
  std::stop_source stop;
  const auto start = resil::steady_clock::now();
  CHECK(resil::steady_clock::sleep_until(start + 2ms, stop.get_token()));
  CHECK(resil::steady_clock::now() >= start + 2ms);
}

TEST_CASE("clock: wait statuses are named as their enumerators", "[clock]") {
  CHECK(resil_test::enum_names<resil::wait_status>(3) ==
        std::vector<std::string_view>{"notified", "deadline", "stopped"});
  CHECK(to_string(static_cast<resil::wait_status>(3)) == "unknown");
}
