// Tests for resil/window_rate_limiter.hpp: fixed and sliding windows against a naive model and
// their stated bounds.
// SPDX-License-Identifier: MIT
#include <resil/compose.hpp>
#include <resil/core/random.hpp>
#include <resil/window_rate_limiter.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <deque>
#include <thread>
#include <vector>

#include "support/grant_log.hpp"
#include "support/sanitizers.hpp"

using namespace std::chrono_literals;
using resil::manual_clock;
using resil::nanoseconds;
using resil_test::grant;

namespace {

using fixed = resil::basic_fixed_window_rate_limiter<manual_clock>;
using sliding = resil::basic_sliding_window_rate_limiter<manual_clock>;

std::int64_t ticks(manual_clock::time_point t) {
  return t.time_since_epoch().count();
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  return a / b - (a % b < 0 ? 1 : 0);
}

// The specification, naively: grants are kept as (segment, n); a request at time t counts in
// the newest segment seen and is granted if the last `segments` segments plus n stay within
// the limit.
struct window_model {
  std::uint64_t limit;
  std::int64_t segment;
  std::int64_t segments;
  std::deque<std::pair<std::int64_t, std::uint64_t>> grants;
  std::int64_t newest = std::numeric_limits<std::int64_t>::min();

  std::uint64_t used(std::int64_t at_segment) const {
    std::uint64_t sum = 0;
    for (const auto& [s, n] : grants) {
      if (s > at_segment - segments && s <= at_segment) sum += n;
    }
    return sum;
  }
  bool take(std::int64_t t, std::uint64_t n) {
    newest = std::max(newest, floor_div(t, segment));
    while (!grants.empty() && grants.front().first <= newest - segments) grants.pop_front();
    if (n > limit || used(newest) + n > limit) return false;
    grants.emplace_back(newest, n);
    return true;
  }
};

// Checks the stated bound of a window limiter: every interval of length (k*S - 1) segments
// holds at most k * limit grants, for k = 1..4.
void check_window_bound(std::vector<grant>& log, std::uint64_t limit, std::int64_t segment,
                        std::int64_t segments) {
  resil_test::sort_log(log);
  for (std::int64_t k = 1; k <= 4; ++k) {
    const std::int64_t length = (k * segments - 1) * segment;
    const auto worst = resil_test::max_in_window(log, length);
    INFO("k " << k << ": worst " << worst.describe());
    REQUIRE(worst.granted <= static_cast<std::uint64_t>(k) * limit);
  }
}

void until_done(std::atomic<bool>& flag) {
  while (!flag.load()) std::this_thread::yield();
}

}  // namespace

TEST_CASE("window_rate_limiter: a fixed window grants its limit, then waits for the next window",
          "[window_rate_limiter]") {
  const manual_clock clock{manual_clock::time_point{250ms}};
  fixed l{{.limit = 3, .window = 1s}, clock};
  CHECK(l.try_acquire(2));
  CHECK(l.try_acquire());
  CHECK_FALSE(l.try_acquire());
  CHECK(l.retry_after() == 750ms);  // windows are aligned to the clock's epoch
  CHECK(l.metrics().available_permits == 0);
  clock.advance(749ms);
  CHECK_FALSE(l.try_acquire());
  clock.advance(1ms);
  CHECK(l.metrics().available_permits == 3);
  CHECK(l.try_acquire(3));
}

TEST_CASE(
    "window_rate_limiter: a fixed window allows up to twice its limit across a boundary, "
    "as documented",
    "[window_rate_limiter]") {
  const manual_clock clock{manual_clock::time_point{999ms}};
  fixed l{{.limit = 5, .window = 1s}, clock};
  CHECK(l.try_acquire(5));
  clock.advance(1ms);
  CHECK(l.try_acquire(5));  // 10 permits within 1 ms
}

TEST_CASE("window_rate_limiter: a sliding window frees a segment's permits a window later",
          "[window_rate_limiter]") {
  const manual_clock clock;
  sliding l{{.limit = 4, .window = 1s, .segments = 4}, clock};
  CHECK(l.try_acquire(1));  // segment 0
  clock.advance(250ms);
  CHECK(l.try_acquire(3));  // segment 1
  CHECK_FALSE(l.try_acquire());
  CHECK(l.retry_after() == 750ms);  // segment 0 leaves at 1 s
  CHECK(l.retry_after(2) == 1s);    // segment 1 leaves at 1.25 s
  clock.advance(750ms);
  CHECK(l.try_acquire());
  CHECK_FALSE(l.try_acquire());
  CHECK(l.metrics().segments == 4);
  CHECK(l.metrics().window == 1s);
}

TEST_CASE(
    "window_rate_limiter: both kinds agree with a naive model and keep their stated bound "
    "over random operations",
    "[window_rate_limiter]") {
  resil::splitmix64 rng{77};
  const std::uint64_t ops = resil_test::scaled(300'000);
  for (int run = 0; run < 12; ++run) {
    const std::uint64_t limit = 1 + rng() % 20;
    const auto segments = static_cast<std::uint32_t>(run % 3 == 0 ? 1 : 1 + rng() % 12);
    const std::int64_t segment = 1'000 + static_cast<std::int64_t>(rng() % 1'000'000);
    const nanoseconds window{segment * segments};
    const std::int64_t start = run % 4 == 0   ? std::numeric_limits<std::int64_t>::min() + 5
                               : run % 4 == 1 ? -7 * segment - 3
                                              : static_cast<std::int64_t>(rng() >> 2);
    const manual_clock clock{manual_clock::time_point{nanoseconds{start}}};
    sliding l{{.limit = limit, .window = window, .segments = segments}, clock};
    window_model model{limit, segment, segments, {}, std::numeric_limits<std::int64_t>::min()};
    std::vector<grant> log;
    INFO("limit " << limit << " segment " << segment << " segments " << segments << " start "
                  << start);
    for (std::uint64_t i = 0; i < ops / 12; ++i) {
      const auto dice = rng() % 100;
      if (dice < 40) {
        clock.advance(nanoseconds{
            static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(segment / 2 + 1))});
      } else if (dice < 50) {
        clock.advance(nanoseconds{
            static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(3 * segment * segments))});
      } else if (dice < 51) {
        clock.advance(-nanoseconds{
            static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(2 * segment))});
      } else if (dice < 52) {
        clock.advance(nanoseconds{static_cast<std::int64_t>(rng() % (1ULL << 50))});
      }
      const std::int64_t now = ticks(clock.now());
      const std::uint64_t n =
          rng() % 8 == 0 ? limit + 1 : 1 + rng() % std::max<std::uint64_t>(1, limit / 2);
      if (rng() % 10 == 0) {  // retry_after is exact
        const nanoseconds wait = l.retry_after(n);
        if (n > limit) {
          REQUIRE(wait == nanoseconds::max());
        } else if (wait > 0ns && model.newest <= floor_div(now, segment)) {
          clock.advance(wait - 1ns);
          REQUIRE_FALSE(l.try_acquire(n));
          REQUIRE_FALSE(model.take(ticks(clock.now()), n));
          clock.advance(1ns);
        }
      }
      const std::int64_t at = ticks(clock.now());
      auto p = l.try_acquire(n);
      REQUIRE(p.has_value() == model.take(at, n));
      if (p) {
        REQUIRE(floor_div(ticks(p->token().ready_at), segment) == model.newest);
        log.push_back({ticks(p->token().ready_at), n});
      }
    }
    check_window_bound(log, limit, segment, segments);
  }
}

TEST_CASE("window_rate_limiter: a clock going backwards counts in the newest segment seen",
          "[window_rate_limiter]") {
  const manual_clock clock{manual_clock::time_point{10s}};
  fixed l{{.limit = 2, .window = 1s}, clock};
  REQUIRE(l.try_acquire());
  clock.advance(-3s);
  auto p = l.try_acquire();
  REQUIRE(p);
  CHECK(p->token().ready_at == manual_clock::time_point{10s});
  CHECK_FALSE(l.try_acquire());  // the window of 10 s is full, even seen from 7 s
  CHECK(l.retry_after() == 4s);
}

TEST_CASE("window_rate_limiter: a request for more than the limit is refused at once",
          "[window_rate_limiter]") {
  const manual_clock clock;
  sliding l{{.limit = 3, .window = 1s, .segments = 2}, clock};
  CHECK_FALSE(l.try_acquire(4));
  CHECK(l.retry_after(4) == nanoseconds::max());
  CHECK(l.try_acquire(3));
  CHECK(l.try_acquire(0));
}

TEST_CASE("window_rate_limiter: try_execute rejects with errc::rate_limited and the retry-after",
          "[window_rate_limiter]") {
  const manual_clock clock;
  fixed l{{.limit = 1, .window = 1s}, clock};
  std::vector<resil::rate_limiter_event> events;
  l.events().subscribe([&](const resil::rate_limiter_event& e) { events.push_back(e); });
  auto pipeline = resil::compose(l);
  CHECK(pipeline.try_execute([] { return 1; }).value() == 1);
  const auto r = pipeline.try_execute([] { return 2; });
  CHECK(r.error() == resil::errc::rate_limited);
  CHECK(r.retry_after() == 1s);
  CHECK_THROWS_AS(l.execute([] { return 3; }), resil::rate_limited_error);
  REQUIRE(events.size() == 3);
  CHECK(events[0].kind == resil::rate_limiter_event_kind::permitted);
  CHECK(events[1].kind == resil::rate_limiter_event_kind::rejected);
  CHECK(events[1].retry_after == 1s);
}

TEST_CASE("window_rate_limiter: set_limit changes the limit, keeping what was counted",
          "[window_rate_limiter]") {
  const manual_clock clock;
  sliding l{{.limit = 2, .window = 1s, .segments = 10}, clock};
  REQUIRE(l.try_acquire(2));
  l.set_limit(5);
  CHECK(l.metrics().available_permits == 3);
  CHECK(l.try_acquire(3));
  l.set_limit(1);
  CHECK(l.metrics().available_permits == 0);
  CHECK_THROWS_AS(l.set_limit(0), resil::config_error);
  CHECK(l.metrics().limit == 1);
}

TEST_CASE("window_rate_limiter: 8 threads never exceed the stated bound", "[window_rate_limiter]") {
  constexpr std::uint64_t limit = 50;
  constexpr std::int64_t segment = 200'000;  // 200 us, 5 segments
  resil::sliding_window_rate_limiter l{
      {.limit = limit, .window = nanoseconds{5 * segment}, .segments = 5}};
  const std::uint64_t iterations = resil_test::scaled(20'000, 4);
  std::vector<std::vector<grant>> logs(8);
  std::atomic<int> started{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> pool;
  for (std::size_t i = 0; i < 8; ++i) {
    pool.emplace_back([&, i] {
      ++started;
      until_done(go);
      resil::splitmix64 rng{i};
      for (std::uint64_t k = 0; k < iterations; ++k) {
        const std::uint64_t n = 1 + rng() % 3;
        if (auto p = l.try_acquire(n)) {
          logs[i].push_back({p->token().ready_at.time_since_epoch().count(), n});
        }
      }
    });
  }
  while (started.load() < 8) std::this_thread::yield();
  go = true;
  for (auto& t : pool) t.join();
  std::vector<grant> all;
  for (const auto& log : logs) all.insert(all.end(), log.begin(), log.end());
  CHECK(all.size() > limit);
  check_window_bound(all, limit, segment, 5);
}

TEST_CASE("window_rate_limiter: invalid options throw config_error naming the field",
          "[window_rate_limiter]") {
  const auto fixed_field = [](const resil::fixed_window_rate_limiter_options& o) -> std::string {
    try {
      resil::fixed_window_rate_limiter l{o};
      return "";
    } catch (const resil::config_error& e) {
      return e.field();
    }
  };
  const auto sliding_field =
      [](const resil::sliding_window_rate_limiter_options& o) -> std::string {
    try {
      resil::sliding_window_rate_limiter l{o};
      return "";
    } catch (const resil::config_error& e) {
      return e.field();
    }
  };
  CHECK(fixed_field({}).empty());
  CHECK(fixed_field({.limit = 0}) == "fixed_window_rate_limiter_options.limit");
  CHECK(fixed_field({.window = 999ns}) == "fixed_window_rate_limiter_options.window");
  CHECK(fixed_field({.window = -1s}) == "fixed_window_rate_limiter_options.window");
  CHECK(sliding_field({}).empty());
  CHECK(sliding_field({.limit = 0}) == "sliding_window_rate_limiter_options.limit");
  CHECK(sliding_field({.segments = 0}) == "sliding_window_rate_limiter_options.segments");
  CHECK(sliding_field({.segments = 10'001}) == "sliding_window_rate_limiter_options.segments");
  CHECK(sliding_field({.window = 10'000'001ns, .segments = 10}) ==
        "sliding_window_rate_limiter_options.window");  // not whole segments
  CHECK(sliding_field({.window = 10us, .segments = 20}) ==
        "sliding_window_rate_limiter_options.window");  // segments below 1 us
}
