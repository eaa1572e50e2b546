// Tests for resil/core/virtual_clock.hpp: simulated time for multi-threaded simulations.
// SPDX-License-Identifier: MIT
#include <resil/core/random.hpp>
#include <resil/core/virtual_clock.hpp>

#include <catch2/catch.hpp>

#include <array>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using resil::virtual_clock;
using resil::wait_status;
using tp = virtual_clock::time_point;

namespace {

// Fails the test (instead of hanging CI) if `body` does not finish within a generous real-time
// limit: the deadlock-freedom watchdog.
template <class F>
void within_watchdog(F body) {
  std::mutex m;
  std::condition_variable cv;
  bool done = false;
  std::thread worker([&] {
    body();
    std::lock_guard lock(m);
    done = true;
    cv.notify_all();
  });
  {
    std::unique_lock lock(m);
    const bool finished = cv.wait_for(lock, 60s, [&] { return done; });
    if (!finished) {
      std::fputs("virtual_clock test: watchdog expired (deadlock)\n", stderr);
      std::abort();
    }
  }
  worker.join();
}

}  // namespace

TEST_CASE("virtual_clock: models resil::clock", "[virtual_clock]") {
  STATIC_REQUIRE(resil::clock<virtual_clock>);
}

TEST_CASE("virtual_clock: a sleeping participant jumps straight to its deadline",
          "[virtual_clock]") {
  virtual_clock clock{tp{1s}};
  tp woke{};
  bool slept = false;
  within_watchdog([&] {
    auto t = clock.spawn([&] {
      slept = clock.sleep_until(clock.now() + 10min);
      woke = clock.now();
    });
  });
  CHECK(slept);
  CHECK(woke == tp{1s + 10min});
  CHECK(clock.participants() == 0);
}

TEST_CASE("virtual_clock: sleepers wake in deadline order at their exact times",
          "[virtual_clock]") {
  virtual_clock clock;
  std::vector<std::pair<int, tp>> log;
  within_watchdog([&] {
    clock.run(3, [&](std::size_t i) {
      const int s = std::array{30, 10, 20}[i];
      clock.sleep_until(tp{std::chrono::seconds{s}});
      log.emplace_back(s, clock.now());
    });
  });
  REQUIRE(log.size() == 3);
  CHECK(log[0] == std::pair{10, tp{10s}});
  CHECK(log[1] == std::pair{20, tp{20s}});
  CHECK(log[2] == std::pair{30, tp{30s}});
}

TEST_CASE("virtual_clock: participants run one at a time", "[virtual_clock]") {
  virtual_clock clock;
  int inside = 0;  // deliberately not atomic: the clock serializes participants
  int max_inside = 0;
  long total = 0;
  within_watchdog([&] {
    clock.run(8, [&](std::size_t i) {
      for (int k = 0; k < 200; ++k) {
        ++inside;
        max_inside = std::max(max_inside, inside);
        total += k;
        --inside;
        clock.sleep_until(clock.now() +
                          std::chrono::milliseconds{1 + (static_cast<long>(i) + k) % 5});
      }
    });
  });
  CHECK(max_inside == 1);
  CHECK(total == 8L * 199 * 200 / 2);
}

TEST_CASE("virtual_clock: time does not pass while a participant computes", "[virtual_clock]") {
  virtual_clock clock;
  tp before{};
  tp after{};
  within_watchdog([&] {
    auto t = clock.spawn([&] {
      before = clock.now();
      volatile long sink = 0;
      for (long i = 0; i < 1'000'000; ++i) sink = sink + i;
      after = clock.now();
    });
  });
  CHECK(before == after);
}

TEST_CASE("virtual_clock: a notified waiter wakes at the notifier's time", "[virtual_clock]") {
  virtual_clock clock;
  resil::waiter w;
  wait_status status = wait_status::deadline;
  tp woke{};
  within_watchdog([&] {
    clock.run(2, [&](std::size_t i) {
      if (i == 0) {
        status = clock.wait_until(w, tp{1h});
        woke = clock.now();
      } else {
        clock.sleep_until(tp{5s});
        w.notify();
      }
    });
  });
  CHECK(status == wait_status::notified);
  CHECK(woke == tp{5s});
}

TEST_CASE("virtual_clock: a wait ends when its stop token is triggered", "[virtual_clock]") {
  virtual_clock clock;
  std::stop_source stop;
  bool slept = true;
  tp woke{};
  within_watchdog([&] {
    clock.run(2, [&](std::size_t i) {
      if (i == 0) {
        slept = clock.sleep_until(tp::max(), stop.get_token());
        woke = clock.now();
      } else {
        clock.sleep_until(tp{3s});
        stop.request_stop();
      }
    });
  });
  CHECK_FALSE(slept);
  CHECK(woke == tp{3s});
}

TEST_CASE("virtual_clock: a wait whose deadline has passed returns at once", "[virtual_clock]") {
  virtual_clock clock{tp{10s}};
  wait_status status = wait_status::notified;
  within_watchdog([&] {
    auto t = clock.spawn([&] {
      resil::waiter w;
      status = clock.wait_until(w, tp{5s});
    });
  });
  CHECK(status == wait_status::deadline);
  CHECK(clock.now() == tp{10s});
}

TEST_CASE("virtual_clock: waiting without being a participant is a clear error",
          "[virtual_clock]") {
  virtual_clock clock;
  CHECK_THROWS_WITH(clock.sleep_until(tp{1s}), Catch::Contains("without being a participant"));
  resil::waiter w;
  CHECK_THROWS_AS(clock.wait_until(w, tp{1s}), std::logic_error);
}

TEST_CASE("virtual_clock: a participant object admits the current thread", "[virtual_clock]") {
  virtual_clock clock;
  within_watchdog([&] {
    virtual_clock::participant me{clock};
    CHECK(clock.participants() == 1);
    clock.sleep_until(tp{2min});
    CHECK(clock.now() == tp{2min});
  });
  CHECK(clock.participants() == 0);
}

TEST_CASE("virtual_clock: spawning from a participant admits in spawn order", "[virtual_clock]") {
  virtual_clock clock;
  std::vector<int> order;
  within_watchdog([&] {
    std::vector<virtual_clock::thread> threads;
    {
      virtual_clock::participant me{clock};
      for (int i = 0; i < 5; ++i) threads.push_back(clock.spawn([&, i] { order.push_back(i); }));
    }
  });
  CHECK(order == std::vector<int>{0, 1, 2, 3, 4});
}

TEST_CASE("virtual_clock: a participant joining another waits through the clock",
          "[virtual_clock]") {
  virtual_clock clock;
  tp child_done{};
  tp joined_at{};
  within_watchdog([&] {
    clock.run(1, [&](std::size_t) {
      auto child = clock.spawn([&] {
        clock.sleep_until(tp{7s});
        child_done = clock.now();
      });
      child.join();  // would stall the simulation if it blocked outside the clock
      joined_at = clock.now();
    });
  });
  CHECK(child_done == tp{7s});
  CHECK(joined_at == tp{7s});
}

TEST_CASE("virtual_clock: a deadlock is reported to the handler", "[virtual_clock]") {
  virtual_clock clock;
  std::atomic<std::size_t> reported{0};
  clock.on_deadlock([&](std::size_t n) {
    std::size_t none = 0;
    reported.compare_exchange_strong(none, n);  // keep the first report
  });
  resil::waiter a;
  resil::waiter b;
  within_watchdog([&] {
    std::vector<virtual_clock::thread> threads;
    {
      virtual_clock::participant me{clock};
      threads.push_back(clock.spawn([&] { (void)clock.wait_until(a, tp::max()); }));
      threads.push_back(clock.spawn([&] { (void)clock.wait_until(b, tp::max()); }));
    }
    while (reported.load() == 0) std::this_thread::yield();
    CHECK(clock.deadlocks() >= 1);
    a.notify();  // a non-participant may still wake them
    b.notify();
  });
  CHECK(reported == 2);
}

TEST_CASE("virtual_clock: start_thread makes a daemon participant on a virtual clock only",
          "[virtual_clock]") {
  virtual_clock clock;
  tp woke{};
  within_watchdog([&] {
    clock.run(1, [&](std::size_t) {
      auto t = resil::start_thread(clock, [&] {
        clock.sleep_until(tp{42s});
        woke = clock.now();
      });
      clock.sleep_until(tp{50s});
    });
  });
  CHECK(woke == tp{42s});
  CHECK(clock.now() == tp{50s});
  resil::manual_clock manual;
  bool ran = false;
  {
    auto t = resil::start_thread(manual, [&] { ran = true; });
  }
  CHECK(ran);
}

namespace {

// Ten users, each with its own seeded generator, sleep random think times and take turns on a
// shared "service" for ten simulated minutes; the log records who ran when.
std::vector<std::string> simulate(std::uint64_t seed) {
  virtual_clock clock;
  std::vector<std::string> log;
  long served = 0;
  clock.run(10, [&](std::size_t u) {
    resil::splitmix64 rng{seed + u};
    const tp end = tp{10min};
    while (clock.now() < end) {
      const auto think = std::chrono::milliseconds{100 + static_cast<long>(rng() % 2000)};
      clock.sleep_until(clock.now() + think);
      ++served;
      log.push_back(std::to_string(clock.now().time_since_epoch().count()) + ":" +
                    std::to_string(u));
    }
  });
  log.push_back("served=" + std::to_string(served) +
                " end=" + std::to_string(clock.now().time_since_epoch().count()));
  return log;
}

}  // namespace

TEST_CASE("virtual_clock: the same seed replays ten minutes of ten threads identically",
          "[virtual_clock]") {
  std::vector<std::string> first;
  std::vector<std::string> second;
  std::vector<std::string> other;
  within_watchdog([&] {
    first = simulate(7);
    second = simulate(7);
    other = simulate(8);
  });
  REQUIRE(first.size() > 5000);
  CHECK(first == second);
  CHECK(first != other);
}

TEST_CASE("virtual_clock: a daemon waiting forever is neither a deadlock nor a time machine",
          "[virtual_clock]") {
  virtual_clock clock;
  std::atomic<int> ticks{0};
  within_watchdog([&] {
    auto idle = clock.spawn_daemon([&](std::stop_token st) {
      resil::waiter w;
      (void)clock.wait_until(w, tp::max(), st);  // waits for work that never comes
    });
    auto ticker = clock.spawn_daemon([&](std::stop_token st) {
      while (clock.sleep_until(clock.now() + 1s, st)) ++ticks;
    });
    clock.run(1, [&](std::size_t) { clock.sleep_until(tp{10s}); });
    CHECK(clock.now() == tp{10s});  // with only daemons left, time stands still
    CHECK(clock.deadlocks() == 0);
  });
  CHECK(ticks >= 9);
  CHECK(ticks <= 10);
}
