// Tests for resil/rate_limiter.hpp: the GCRA limiter's bound, waiting, cancellation, limits.
// SPDX-License-Identifier: MIT
#include <resil/compose.hpp>
#include <resil/core/random.hpp>
#include <resil/rate_limiter.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <type_traits>
#include <vector>

#include "support/enum_names.hpp"
#include "support/grant_log.hpp"
#include "support/sanitizers.hpp"
#include "support/test_policies.hpp"

using namespace std::chrono_literals;
using resil::manual_clock;
using resil::nanoseconds;
using resil_test::grant;

namespace {

using limiter = resil::basic_rate_limiter<manual_clock>;
constexpr std::int64_t int64_max = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t int64_min = std::numeric_limits<std::int64_t>::min();

manual_clock clock_at(std::int64_t ns) {
  return manual_clock{manual_clock::time_point{nanoseconds{ns}}};
}
std::int64_t ticks(manual_clock::time_point t) {
  return t.time_since_epoch().count();
}

void until_waiting(const manual_clock& clock, std::size_t n = 1) {
  while (clock.waiting() < n) std::this_thread::yield();
}

// Drains every permit available now; returns how many were granted.
std::uint64_t drain(limiter& l) {
  std::uint64_t n = 0;
  while (l.try_acquire()) ++n;
  return n;
}

struct random_config {
  std::uint64_t permits;
  std::int64_t period;
  std::uint64_t burst;
  std::int64_t emission;  // period / permits, rounded down
};

// A valid random configuration: integer and fractional emission intervals, from 4 ns (the
// finest) to seconds, bursts from 1 to several periods' worth.
random_config random_limit(resil::splitmix64& rng) {
  for (;;) {
    random_config c{};
    switch (rng() % 5) {
      case 0:  // a few per second, fractional interval
        c.permits = 1 + rng() % 10;
        c.period = 1'000'000'000 + static_cast<std::int64_t>(rng() % 7);
        break;
      case 1:  // whole-nanosecond interval
        c.permits = 1 + rng() % 1000;
        c.period =
            static_cast<std::int64_t>(c.permits) * (1 + static_cast<std::int64_t>(rng() % 100'000));
        break;
      case 2:  // the finest intervals: 1 to 3 ns
        c.period = 1000 + static_cast<std::int64_t>(rng() % 1'000'000);
        c.permits = static_cast<std::uint64_t>(c.period) / (1 + rng() % 3);
        break;
      case 3:  // anything
        c.period = 1000 + static_cast<std::int64_t>(rng() % 10'000'000'000ULL);
        c.permits = 1 + rng() % static_cast<std::uint64_t>(c.period);
        break;
      default:  // slow: minutes per permit
        c.permits = 1 + rng() % 3;
        c.period = 60'000'000'000LL * (1 + static_cast<std::int64_t>(rng() % 100));
        break;
    }
    switch (rng() % 4) {
      case 0:
        c.burst = 1;
        break;
      case 1:
        c.burst = c.permits;
        break;
      default:
        c.burst = 1 + rng() % std::min<std::uint64_t>(3 * c.permits + 3, 5000);
        break;
    }
    if (resil::detail::gcra_unrepresentable(c.permits, c.period, c.burst) != nullptr) continue;
    c.emission = c.period / static_cast<std::int64_t>(c.permits);
    return c;
  }
}

std::int64_t random_start(resil::splitmix64& rng) {
  switch (rng() % 4) {
    case 0:
      return int64_min + static_cast<std::int64_t>(rng() % 1'000'000);
    case 1:
      return 0;
    case 2:  // room for a few hundred thousand emission intervals of up to 10 s
      return int64_max - static_cast<std::int64_t>(rng() % (1ULL << 62));
    default:
      return static_cast<std::int64_t>(rng());
  }
}

nanoseconds random_step(resil::splitmix64& rng, const random_config& c) {
  const auto below = [&](std::int64_t n) {
    return n <= 0 ? 0 : static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(n));
  };
  const auto dice = rng() % 1000;
  if (dice < 300) return nanoseconds::zero();
  if (dice < 350) return nanoseconds{1};
  if (dice < 600) return nanoseconds{below(2 * c.emission + 2)};
  if (dice < 750) return nanoseconds{below(2 * c.period)};
  if (dice < 850) return nanoseconds{c.emission + below(3) - 1};  // right at a permit boundary
  if (dice < 990)
    return nanoseconds{below(static_cast<std::int64_t>(c.burst) * c.emission * 2 + 2)};
  return nanoseconds{below(10'000'000'000'000'000LL)};  // a huge jump: up to 116 days
}

}  // namespace

TEST_CASE(
    "rate_limiter: in every window of length W grants stay within burst + floor(permits * W / "
    "period), over 10^6 random operations (R4j #822)",
    "[rate_limiter]") {
  // Random limits, request sizes, time steps (zero, 1 ns, around one permit, huge jumps) and
  // clocks starting near the representable extremes. Reservations count at their ready time;
  // reservations dropped before it are returned and do not count. 10^6 operations in plain
  // builds, 2 * 10^5 under sanitizers.
  resil::splitmix64 rng{20240611};
  const std::uint64_t total_ops = resil_test::scaled(1'000'000);
  const std::uint64_t ops_per_limiter = 20'000;
  std::uint64_t ops = 0;
  std::uint64_t granted_total = 0;
  std::uint64_t refused_total = 0;
  while (ops < total_ops) {
    const random_config c = random_limit(rng);
    const manual_clock clock = clock_at(random_start(rng));
    limiter l{{.permits = c.permits, .period = nanoseconds{c.period}, .burst = c.burst}, clock};
    std::vector<grant> log;
    std::vector<limiter::permit_type> pending;  // reservations not yet due, dropped at random
    INFO("permits " << c.permits << " period " << c.period << " burst " << c.burst << " start "
                    << ticks(clock.now()));
    for (std::uint64_t i = 0; i < ops_per_limiter; ++i, ++ops) {
      clock.advance(random_step(rng, c));
      const std::int64_t now = ticks(clock.now());
      // Reservations whose time came are used; one not yet due may be abandoned (returned).
      std::erase_if(pending, [&](limiter::permit_type& p) {
        if (ticks(p.token().ready_at) > now) return false;
        p.record_success();
        log.push_back({ticks(p.token().ready_at), p.token().permits});
        return true;
      });
      if (!pending.empty() && rng() % 4 == 0) {
        pending.erase(pending.begin() + static_cast<std::ptrdiff_t>(rng() % pending.size()));
      }
      const auto kind = rng() % 20;
      std::uint64_t n = 1;
      switch (rng() % 10) {
        case 0:
        case 1:
        case 2:
          n = 1 + rng() % c.burst;
          break;
        case 3:
          n = c.burst + 1 + rng() % 3;
          break;
        default:
          break;
      }
      if (kind < 13) {  // try_acquire
        if (auto p = l.try_acquire(n)) {
          REQUIRE(ticks(p->token().ready_at) == now);
          log.push_back({now, n});
        } else {
          ++refused_total;
          REQUIRE(n <= c.burst + 3);
        }
      } else if (kind < 17) {  // try_reserve, kept or dropped at once
        const nanoseconds max_wait{static_cast<std::int64_t>(
            rng() % static_cast<std::uint64_t>(3 * c.emission * static_cast<std::int64_t>(n) + 1))};
        if (auto p = l.try_reserve(n, max_wait)) {
          const std::int64_t ready = ticks(p->token().ready_at);
          REQUIRE(ready >= now);
          REQUIRE(ready - now <= max_wait.count());
          if (!p->token().reservation) {
            log.push_back({ready, n});
          } else if (rng() % 3 != 0) {
            pending.push_back(std::move(*p));
          }  // else abandoned at once
        }
      } else if (kind < 19) {  // retry_after is exact: refused one ns before, granted at it
        const nanoseconds wait = l.retry_after(n);
        if (n > c.burst) {
          REQUIRE(wait == nanoseconds::max());
        } else if (wait > nanoseconds::zero() && wait < 1'000'000'000'000'000ns) {
          clock.advance(wait - 1ns);
          REQUIRE_FALSE(l.try_acquire(n));
          clock.advance(1ns);
          auto p = l.try_acquire(n);
          REQUIRE(p);
          log.push_back({ticks(clock.now()), n});
        }
      } else {  // metrics().available_permits is exact
        const std::uint64_t available = l.metrics().available_permits;
        REQUIRE(available <= c.burst);
        if (available < c.burst) REQUIRE_FALSE(l.try_acquire(available + 1));
        if (available > 0) {
          REQUIRE(l.try_acquire(available));
          log.push_back({ticks(clock.now()), available});
        }
      }
    }
    for (auto& p : pending) log.push_back({ticks(p.token().ready_at), p.token().permits});
    for (auto& p : pending) p.record_success();
    granted_total += log.size();
    resil_test::sort_log(log);
    const auto report = resil_test::check_gcra_bound(log, c.permits, c.period, c.burst);
    INFO(report.describe());
    REQUIRE(report.ok);
  }
  CHECK(granted_total > total_ops / 10);
  CHECK(refused_total > total_ops / 20);
}

TEST_CASE(
    "rate_limiter: no drift: over 10^6 periods of saturated demand the total stays within one "
    "period's permits of burst + permits * elapsed / period",
    "[rate_limiter]") {
  struct limit {
    std::uint64_t permits;
    std::int64_t period;
  };
  // Fractional intervals of 1/7 s + a bit, 3333.33 ns, and 1.501 ns (one unit per permit).
  const limit limits[] = {{7, 1'000'000'003}, {3, 10'000}, {1000, 1501}};
  const std::uint64_t periods = resil_test::scaled(1'000'000, 10);
  resil::splitmix64 rng{7};
  for (const limit& lim : limits) {
    const manual_clock clock = clock_at(static_cast<std::int64_t>(rng() >> 2));
    limiter l{{.permits = lim.permits, .period = nanoseconds{lim.period}}, clock};
    const std::int64_t start = ticks(clock.now());
    std::uint64_t granted = 0;
    std::uint64_t inconsistent = 0;  // counted, checked once: millions of assertions are slow
    std::int64_t elapsed = 0;
    const auto end = static_cast<std::int64_t>(periods) * lim.period;
    for (std::uint64_t step = 0; elapsed < end; ++step) {
      // Saturate: take everything available in one request, and now and then make sure that
      // nothing more would have been granted.
      const std::uint64_t n = l.metrics().available_permits;
      if (n > 0) {
        if (l.try_acquire(n)) {
          granted += n;
        } else {
          ++inconsistent;
        }
      }
      if (step % 64 == 0 && l.try_acquire()) ++inconsistent;
      // Steps of a third to a half of a period: below the time the bucket takes to fill from
      // what is left after a request ((burst - 1) emission intervals, two thirds of a period
      // for the smallest burst here, 3), so no refill is ever lost to a full bucket.
      const std::int64_t sixth = lim.period / 6;
      clock.advance(nanoseconds{
          2 * sixth + static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(sixth))});
      elapsed = ticks(clock.now()) - start;
    }
    granted += l.metrics().available_permits;
    const long double ideal =
        static_cast<long double>(lim.permits) + static_cast<long double>(lim.permits) *
                                                    static_cast<long double>(elapsed) /
                                                    static_cast<long double>(lim.period);
    INFO("permits " << lim.permits << " period " << lim.period << " granted " << granted
                    << " ideal " << static_cast<double>(ideal));
    CHECK(inconsistent == 0);
    CHECK(static_cast<long double>(granted) <= ideal);
    CHECK(static_cast<long double>(granted) >= ideal - static_cast<long double>(lim.permits));
  }
}

TEST_CASE("rate_limiter: starts full: the whole burst is available at construction",
          "[rate_limiter]") {
  const manual_clock clock = clock_at(123);
  limiter l{{.permits = 10, .period = 1s, .burst = 4}, clock};
  CHECK(l.metrics().available_permits == 4);
  CHECK(l.try_acquire(4));
  CHECK_FALSE(l.try_acquire());
  CHECK(l.metrics().available_permits == 0);

  limiter by_default{{.permits = 5, .period = 1s}, clock};  // burst = permits
  CHECK(drain(by_default) == 5);
}

TEST_CASE("rate_limiter: refills one permit per emission interval, exactly", "[rate_limiter]") {
  const manual_clock clock;
  limiter l{{.permits = 3, .period = 1s, .burst = 2}, clock};  // one per 333'333'333.3 ns
  REQUIRE(l.try_acquire(2));
  // The k-th next permit is due at ceil(k * 10^9 / 3) ns: no rounding error accumulates.
  for (std::int64_t k = 1; k <= 300; ++k) {
    const std::int64_t due = (k * 1'000'000'000 + 2) / 3;
    clock.set(manual_clock::time_point{nanoseconds{due - 1}});
    REQUIRE_FALSE(l.try_acquire());
    REQUIRE(l.retry_after() == 1ns);
    clock.set(manual_clock::time_point{nanoseconds{due}});
    REQUIRE(l.retry_after() == 0ns);
    REQUIRE(l.try_acquire());
  }
}

TEST_CASE("rate_limiter: a burst of 1 spreads grants evenly, a larger burst allows bursts",
          "[rate_limiter]") {
  const manual_clock clock;
  limiter smooth{{.permits = 100, .period = 1s, .burst = 1}, clock};
  limiter bursty{{.permits = 100, .period = 1s}, clock};
  CHECK(drain(smooth) == 1);
  CHECK(drain(bursty) == 100);
  clock.advance(10ms);
  CHECK(drain(smooth) == 1);
  CHECK(drain(bursty) == 1);
  clock.advance(1s);
  CHECK(drain(smooth) == 1);  // capacity 1: the idle second is not saved up
  CHECK(drain(bursty) == 100);
}

TEST_CASE("rate_limiter: a refusal changes nothing", "[rate_limiter]") {
  const manual_clock clock;
  limiter l{{.permits = 2, .period = 1s}, clock};
  REQUIRE(drain(l) == 2);
  const auto before = l.retry_after();
  for (int i = 0; i < 100; ++i) REQUIRE_FALSE(l.try_acquire());
  CHECK_FALSE(l.try_reserve(1, before - 1ns));
  CHECK(l.retry_after() == before);
  clock.advance(before);
  CHECK(l.try_acquire());
}

TEST_CASE("rate_limiter: a request for more than the burst is refused at once and never waits",
          "[rate_limiter]") {
  const manual_clock clock;
  limiter l{{.permits = 10, .period = 1s, .burst = 5}, clock};
  CHECK_FALSE(l.try_acquire(6));
  CHECK(l.retry_after(6) == nanoseconds::max());
  CHECK_FALSE(l.try_reserve(6, nanoseconds::max()));
  const auto r = l.acquire_for(6, nanoseconds::max());  // returns at once: no thread needed
  REQUIRE(r.error() == resil::errc::rate_limited);
  CHECK(r.retry_after() == nanoseconds::max());
  CHECK(l.metrics().available_permits == 5);  // nothing was taken
  CHECK(l.try_acquire(5));
}

TEST_CASE("rate_limiter: a request for zero permits is granted and consumes nothing",
          "[rate_limiter]") {
  const manual_clock clock;
  limiter l{{.permits = 1, .period = 1s}, clock};
  REQUIRE(l.try_acquire());
  CHECK(l.try_acquire(0));
  CHECK(l.acquire_for(0, 0ns).has_value());
  CHECK(l.retry_after(0) == 0ns);
  CHECK(l.retry_after(1) == 1s);
}

TEST_CASE(
    "rate_limiter: clocks at the representable extremes saturate, never overflow (R4j PR #66)",
    "[rate_limiter]") {
  for (const std::int64_t start : {int64_min, int64_min + 1, std::int64_t{-1}, std::int64_t{0},
                                   int64_max - 10'000'000'000, int64_max}) {
    INFO("start " << start);
    const manual_clock clock = clock_at(start);
    limiter l{{.permits = 10, .period = 1s}, clock};
    CHECK(drain(l) == 10);
    std::vector<grant> log{{start, 10}};
    for (int i = 0; i < 50; ++i) {
      clock.advance(37ms);
      while (auto p = l.try_acquire()) log.push_back({ticks(clock.now()), 1});
    }
    CHECK(resil_test::check_gcra_bound(log, 10, 1'000'000'000, 10).ok);
    if (start < int64_max) {
      CHECK(log.size() == 1 + 18);  // the first 10, then one per 100 ms over 1.85 s
      CHECK(l.retry_after() <= 100ms);
    } else {
      CHECK(log.size() == 1);  // time cannot move past its end: no refill, ever
      CHECK(l.retry_after() == nanoseconds::max());
    }
  }
}

TEST_CASE("rate_limiter: a clock going backwards grants nothing extra", "[rate_limiter]") {
  const manual_clock clock = clock_at(1'000'000'000'000);
  limiter l{{.permits = 10, .period = 1s}, clock};
  REQUIRE(drain(l) == 10);
  for (const nanoseconds back : {nanoseconds{1ns}, nanoseconds{1s}, nanoseconds{1h}}) {
    clock.advance(-back);
    CHECK_FALSE(l.try_acquire());
    clock.advance(back);
    CHECK_FALSE(l.try_acquire());
  }
  clock.advance(100ms);
  CHECK(drain(l) == 1);
}

TEST_CASE("rate_limiter: acquire_for waits through the clock until the reserved time",
          "[rate_limiter]") {
  const manual_clock clock;
  limiter l{{.permits = 10, .period = 1s, .burst = 1}, clock};
  REQUIRE(l.try_acquire());
  std::optional<resil::outcome<limiter::permit_type>> result;
  std::thread t([&] { result.emplace(l.acquire_for(1, 1s)); });
  until_waiting(clock);
  CHECK(l.metrics().waiting_callers == 1);
  clock.advance(99ms);
  CHECK(clock.waiting() == 1);
  clock.advance(1ms);
  t.join();
  REQUIRE(result->has_value());
  CHECK((*result)->token().ready_at == manual_clock::time_point{100ms});
  CHECK(l.metrics().waiting_callers == 0);
  CHECK_FALSE(l.try_acquire());  // the slot at 100 ms went to the waiter
}

TEST_CASE(
    "rate_limiter: acquire_for refuses at once, reserving nothing, when the slot is beyond "
    "max_wait",
    "[rate_limiter]") {
  const manual_clock clock;
  limiter l{{.permits = 10, .period = 1s, .burst = 1}, clock};
  REQUIRE(l.try_acquire());
  const auto r = l.acquire_for(1, 99ms);
  REQUIRE(r.error() == resil::errc::rate_limited);
  CHECK(r.retry_after() == 100ms);
  clock.advance(100ms);
  CHECK(l.try_acquire());
}

TEST_CASE("rate_limiter: a stopped wait returns cancelled and gives its reservation back",
          "[rate_limiter]") {
  const manual_clock clock;
  limiter l{{.permits = 10, .period = 1s, .burst = 1}, clock};
  REQUIRE(l.try_acquire());
  std::stop_source stop;
  std::optional<resil::outcome<limiter::permit_type>> result;
  std::thread t([&] { result.emplace(l.acquire_for(1, 1s, stop.get_token())); });
  until_waiting(clock);
  CHECK(l.retry_after() == 200ms);  // the waiter holds the slot at 100 ms
  stop.request_stop();
  t.join();
  CHECK(result->error() == resil::errc::cancelled);
  CHECK(l.retry_after() == 100ms);  // ... and gave it back

  stop = std::stop_source{};
  stop.request_stop();
  CHECK(l.acquire_for(1, 1s, stop.get_token()).error() == resil::errc::cancelled);
  CHECK(l.retry_after() == 100ms);
}

TEST_CASE(
    "rate_limiter: abandoned waiters do not consume capacity, whatever order they leave in "
    "(failsafe #393)",
    "[rate_limiter]") {
  // Capacity 8, drained: 8 callers wait for the next 8 slots, then all give up. Afterwards the
  // limiter is exactly where it was: the next permit is due one interval after the drain.
  enum class order { reverse, forward, random };
  for (const order o : {order::reverse, order::forward, order::random}) {
    const manual_clock clock;
    limiter l{{.permits = 8, .period = 800ms}, clock};
    REQUIRE(drain(l) == 8);
    std::vector<std::stop_source> stops(8);
    std::vector<std::thread> threads;
    std::atomic<int> cancelled{0};
    for (std::size_t i = 0; i < 8; ++i) {
      threads.emplace_back([&, i] {
        if (l.acquire_for(1, 10s, stops[i].get_token()).error() == resil::errc::cancelled) {
          ++cancelled;
        }
      });
      until_waiting(clock, i + 1);  // one at a time, so waiter i holds slot i
    }
    CHECK(l.retry_after() == 900ms);
    std::vector<std::size_t> leave{0, 1, 2, 3, 4, 5, 6, 7};
    if (o == order::reverse) std::reverse(leave.begin(), leave.end());
    if (o == order::random) std::swap(leave[1], leave[6]), std::swap(leave[0], leave[3]);
    for (const std::size_t i : leave) {
      stops[i].request_stop();
      threads[i].join();
    }
    CHECK(cancelled == 8);
    CHECK(l.metrics().waiting_callers == 0);
    CHECK(l.retry_after() == 100ms);
    clock.advance(100ms);
    CHECK(drain(l) == 1);
    clock.advance(800ms);
    CHECK(drain(l) == 8);  // later 8 acquisitions succeed
  }
}

TEST_CASE("rate_limiter: an abandoned slot that cannot be returned is only delayed, never lost",
          "[rate_limiter]") {
  const manual_clock clock;
  limiter l{{.permits = 10, .period = 1s, .burst = 1}, clock};
  REQUIRE(l.try_acquire());
  auto first = l.try_reserve(1, 1s);   // the slot at 100 ms
  auto second = l.try_reserve(1, 1s);  // the slot at 200 ms, kept
  REQUIRE(first);
  REQUIRE(second);
  second->record_success();
  first.reset();  // returned too late to be undone: the 200 ms slot is taken after it
  CHECK(l.retry_after() == 300ms);
  clock.advance(300ms);
  CHECK(drain(l) == 1);
  clock.advance(1s);
  CHECK(drain(l) == 1);
}

TEST_CASE("rate_limiter: try_reserve reserves a future slot, and an unused reservation goes back",
          "[rate_limiter]") {
  const manual_clock clock;
  limiter l{{.permits = 10, .period = 1s, .burst = 1}, clock};
  {
    auto now = l.try_reserve(1, 0ns);
    REQUIRE(now);
    CHECK(now->token().ready_at == manual_clock::time_point{});
    CHECK_FALSE(now->token().reservation);
  }
  CHECK_FALSE(l.try_acquire());  // an immediate grant is used even if dropped
  {
    auto later = l.try_reserve(1, 100ms);
    REQUIRE(later);
    CHECK(later->token().ready_at == manual_clock::time_point{100ms});
    CHECK(later->token().reservation);
  }  // dropped before 100 ms: returned
  CHECK(l.retry_after() == 100ms);
  {
    auto kept = l.try_reserve(1, 100ms);
    REQUIRE(kept);
    clock.advance(100ms);
  }  // dropped at its time: used
  CHECK(l.retry_after() == 100ms);
  {
    auto recorded = l.try_reserve(1, 100ms);
    REQUIRE(recorded);
    recorded->record_success();
  }  // recorded: used
  CHECK(l.retry_after() == 200ms);
}

TEST_CASE("rate_limiter: try_execute rejects with errc::rate_limited and the retry-after",
          "[rate_limiter]") {
  const manual_clock clock;
  limiter l{{.permits = 4, .period = 1s, .burst = 1}, clock};
  CHECK(l.try_execute([] { return 1; }).value() == 1);
  const auto r = l.try_execute([] { return 2; });
  REQUIRE(r.has_error());
  CHECK(r.error() == resil::errc::rate_limited);
  CHECK(resil::is_rejection(r.error()));
  CHECK(r.retry_after() == 250ms);
  try {
    (void)l.execute([] { return 3; });
    FAIL("expected rate_limited_error");
  } catch (const resil::rate_limited_error& e) {
    CHECK(e.retry_after() == 250ms);
    CHECK(e.code() == resil::errc::rate_limited);
  }
}

TEST_CASE("rate_limiter: execute waits up to max_wait for a permit", "[rate_limiter]") {
  const manual_clock clock;
  limiter l{{.permits = 4, .period = 1s, .burst = 1, .max_wait = 300ms}, clock};
  REQUIRE(l.try_acquire());
  std::optional<resil::outcome<int>> r;
  std::thread t([&] { r.emplace(l.try_execute([] { return 7; })); });
  until_waiting(clock);
  clock.advance(250ms);
  t.join();
  CHECK(r->value() == 7);
  // The next slot (500 ms) is 250 ms away: within max_wait. Two more would be 750 ms: beyond.
  CHECK(l.acquire_for(1, 0ns).error() == resil::errc::rate_limited);
  l.set_max_wait(0ns);
  CHECK(l.try_execute([] { return 1; }).error() == resil::errc::rate_limited);
  CHECK(l.options().max_wait == 0ns);
}

TEST_CASE("rate_limiter: execute never waits past the call's deadline", "[rate_limiter]") {
  const manual_clock clock;
  limiter l{{.permits = 4, .period = 1s, .burst = 1, .max_wait = 10s}, clock};
  REQUIRE(l.try_acquire());
  resil_test::deadline_policy deadline;
  deadline.clock = clock;
  deadline.budget = 200ms;  // the next slot is at 250 ms
  auto pipeline = resil::compose(deadline, l);
  const auto r = pipeline.try_execute([] { return 1; });
  REQUIRE(r.has_error());
  CHECK(r.error() == resil::errc::rate_limited);
  CHECK(r.retry_after() == 250ms);
  CHECK(clock.now() == manual_clock::time_point{});  // refused at once: nothing waited
  deadline.budget = 250ms;
  std::optional<resil::outcome<int>> ok;
  std::thread t([&] { ok.emplace(pipeline.try_execute([] { return 2; })); });
  until_waiting(clock);
  clock.advance(250ms);
  t.join();
  CHECK(ok->value() == 2);
}

TEST_CASE("rate_limiter: a stop during execute's wait returns errc::cancelled", "[rate_limiter]") {
  const manual_clock clock;
  limiter l{{.permits = 4, .period = 1s, .burst = 1, .max_wait = 10s}, clock};
  REQUIRE(l.try_acquire());
  std::stop_source stop;
  std::optional<resil::outcome<int>> r;
  int calls = 0;
  std::thread t([&] {
    resil::context ctx{stop.get_token()};
    r.emplace(l.try_execute_in(ctx, [&] { return ++calls; }));
  });
  until_waiting(clock);
  stop.request_stop();
  t.join();
  CHECK(r->error() == resil::errc::cancelled);
  CHECK(calls == 0);
  CHECK(l.retry_after() == 250ms);  // the reservation went back
}

TEST_CASE(
    "rate_limiter: a wait of nanoseconds::max() is unbounded, not an overflow "
    "(R4j #1701, Guava #1622)",
    "[rate_limiter]") {
  const manual_clock clock = clock_at(int64_max - 1'000'000'000);
  limiter l{{.permits = 4, .period = 1s, .burst = 1, .max_wait = nanoseconds::max()}, clock};
  REQUIRE(l.try_acquire());
  auto reserved = l.try_reserve(1, nanoseconds::max());
  REQUIRE(reserved);
  CHECK(reserved->token().ready_at - clock.now() == 250ms);
  std::optional<resil::outcome<limiter::permit_type>> r;
  std::thread t([&] { r.emplace(l.acquire_for(1, nanoseconds::max())); });
  until_waiting(clock);
  clock.advance(500ms);
  t.join();
  CHECK(r->has_value());
  // Near the end of time the slots run out rather than wrap around.
  clock.set(manual_clock::time_point::max());
  CHECK(l.try_acquire());
  CHECK(l.retry_after() == nanoseconds::max());
}

TEST_CASE(
    "rate_limiter: at the end of time retry_after agrees with try_acquire (found by fuzz_config)",
    "[rate_limiter]") {
  const manual_clock clock;
  limiter l{{.permits = 10, .period = 1s, .burst = 3}, clock};
  clock.set(manual_clock::time_point::max());
  for (int i = 0; i < 3; ++i) {
    CHECK(l.retry_after() == nanoseconds::zero());  // was "never" while a permit was there
    CHECK(l.try_acquire());
  }
  CHECK(l.retry_after() == nanoseconds::max());
  CHECK_FALSE(l.try_acquire());
}

TEST_CASE("rate_limiter: set_limit changes the rate at run time, keeping the permits available",
          "[rate_limiter]") {
  const manual_clock clock;
  limiter l{{.permits = 10, .period = 1s}, clock};
  REQUIRE(l.try_acquire(4));  // 6 left
  l.set_limit(100, 1s, 50);
  CHECK(l.metrics().available_permits == 6);  // carried over, not refilled
  CHECK(l.metrics().permits == 100);
  CHECK(l.metrics().burst == 50);
  clock.advance(10ms);
  CHECK(l.metrics().available_permits == 7);  // and refilling at the new rate
  l.set_limit(10, 1s, 3);
  CHECK(l.metrics().available_permits == 3);  // capped at the new burst
  CHECK(drain(l) == 3);
  CHECK(l.retry_after() == 100ms);
  l.set_limit(10, 1s);
  CHECK(l.options().burst == 10u);
  CHECK(l.retry_after() == 100ms);
  CHECK_THROWS_AS(l.set_limit(0, 1s), resil::config_error);
  CHECK(l.metrics().permits == 10);
}

TEST_CASE("rate_limiter: waiting reservations carry over a limit change as debt",
          "[rate_limiter]") {
  const manual_clock clock;
  limiter l{{.permits = 10, .period = 1s, .burst = 1}, clock};
  REQUIRE(l.try_acquire());
  auto a = l.try_reserve(1, 1s);  // 100 ms
  auto b = l.try_reserve(1, 1s);  // 200 ms
  REQUIRE(a);
  REQUIRE(b);
  a->record_success();
  b->record_success();
  l.set_limit(20, 1s, 1);  // two slots of debt at the new rate: 50 ms each
  CHECK(l.retry_after() == 150ms);
  CHECK(l.metrics().available_permits == 0);
}

TEST_CASE("rate_limiter: events report grants, rejections with their retry-after, and cancels",
          "[rate_limiter]") {
  const manual_clock clock;
  limiter l{{.permits = 10, .period = 1s, .burst = 1}, clock};
  std::vector<resil::rate_limiter_event> events;
  l.events().subscribe([&](const resil::rate_limiter_event& e) { events.push_back(e); });
  REQUIRE(l.try_acquire());
  REQUIRE_FALSE(l.try_acquire(1));
  REQUIRE_FALSE(l.try_acquire(2));
  REQUIRE(l.try_reserve(1, 1s));
  l.set_limit(20, 1s);
  REQUIRE(events.size() == 5);
  CHECK(events[0].kind == resil::rate_limiter_event_kind::permitted);
  CHECK(events[0].waited == 0ns);
  CHECK(events[1].kind == resil::rate_limiter_event_kind::rejected);
  CHECK(events[1].retry_after == 100ms);
  CHECK(events[2].retry_after == nanoseconds::max());
  CHECK(events[2].permits == 2);
  CHECK(events[3].kind == resil::rate_limiter_event_kind::permitted);
  CHECK(events[3].waited == 100ms);
  CHECK(events[4].kind == resil::rate_limiter_event_kind::limit_changed);
  CHECK(events[4].permits == 20);
}

TEST_CASE("rate_limiter: invalid options throw config_error naming the field and value",
          "[rate_limiter]") {
  const auto field_of = [](const resil::rate_limiter_options& o) -> std::string {
    try {
      resil::rate_limiter l{o};
      return "";
    } catch (const resil::config_error& e) {
      return e.field();
    }
  };
  CHECK(field_of({.permits = 0}) == "rate_limiter_options.permits");
  CHECK(field_of({.period = 0ns}) == "rate_limiter_options.period");
  CHECK(field_of({.period = -1s}) == "rate_limiter_options.period");
  CHECK(field_of({.period = 999ns}) == "rate_limiter_options.period");  // a tiny period
  CHECK(field_of({.permits = 1001, .period = 1us}) == "rate_limiter_options.permits");  // > 1/ns
  CHECK(field_of({.permits = 1000, .period = 1us}).empty());
  CHECK(field_of({.burst = 0}) == "rate_limiter_options.burst");
  CHECK(field_of({.permits = 1, .period = 1h, .burst = 100'000}).empty());  // 11 years to refill
  CHECK(field_of({.permits = 1, .period = 1h, .burst = 200'000}) ==
        "rate_limiter_options.burst");  // 23 years: the fixed-point form would overflow
  CHECK(field_of({.max_wait = -1ns}) == "rate_limiter_options.max_wait");
  CHECK(field_of({.permits = 1, .period = std::chrono::hours{100'000}}).empty());
  try {
    resil::rate_limiter l{{.permits = 0}};
  } catch (const resil::config_error& e) {
    CHECK(std::string(e.what()) ==
          "resil: rate_limiter_options.permits = 0 is invalid: must be positive");
  }
  CHECK_THROWS_AS(resil::rate_limiter{{}}.set_max_wait(-1ms), resil::config_error);
}

TEST_CASE(
    "rate_limiter: per_second takes a floating-point rate and rejects NaN, infinities, "
    "zero and denormals",
    "[rate_limiter]") {
  const auto o = resil::rate_limiter_options::per_second(2.5);
  CHECK(o.permits == 2500);
  CHECK(o.period == 1000s);
  CHECK(o.effective_burst() == 3);
  const auto whole = resil::rate_limiter_options::per_second(40);
  CHECK(whole.permits == 40);
  CHECK(whole.period == 1s);
  CHECK(whole.effective_burst() == 40);
  CHECK_FALSE(o.validate());
  for (const double bad : {std::nan(""), std::numeric_limits<double>::infinity(),
                           -std::numeric_limits<double>::infinity(), 0.0, -1.0,
                           std::numeric_limits<double>::denorm_min(), 0.0005, 2e9}) {
    INFO(bad);
    CHECK_THROWS_AS(resil::rate_limiter_options::per_second(bad), resil::config_error);
  }
  const manual_clock clock;
  limiter l{resil::rate_limiter_options::per_second(2.5), clock};
  CHECK(drain(l) == 3);
  clock.advance(400ms);
  CHECK(drain(l) == 1);
}

namespace {

// Runs `threads` threads of `body(thread_index, log)` from a common start; returns the merged,
// sorted grant log.
template <class Body>
std::vector<grant> run_threads(std::size_t threads, Body body) {
  std::vector<std::vector<grant>> logs(threads);
  std::atomic<std::size_t> ready{0};
  std::vector<std::thread> pool;
  for (std::size_t i = 0; i < threads; ++i) {
    pool.emplace_back([&, i] {
      ++ready;
      while (ready.load() < threads) std::this_thread::yield();
      body(i, logs[i]);
    });
  }
  for (auto& t : pool) t.join();
  std::vector<grant> all;
  for (const auto& l : logs) all.insert(all.end(), l.begin(), l.end());
  resil_test::sort_log(all);
  return all;
}

std::int64_t steady_ticks(resil::steady_clock::time_point t) {
  return t.time_since_epoch().count();
}

}  // namespace

TEST_CASE("rate_limiter: 8 threads acquiring, reserving and abandoning never exceed the bound",
          "[rate_limiter]") {
  constexpr std::uint64_t permits = 2'000'000;
  constexpr std::uint64_t burst = 20;
  resil::rate_limiter l{{.permits = permits, .period = 1s, .burst = burst}};
  const std::uint64_t iterations = resil_test::scaled(20'000, 4);
  const auto log = run_threads(8, [&](std::size_t index, std::vector<grant>& out) {
    resil::splitmix64 rng{index};
    for (std::uint64_t i = 0; i < iterations; ++i) {
      const std::uint64_t n = 1 + rng() % 3;
      if (rng() % 4 != 0) {
        if (auto p = l.try_acquire(n)) out.push_back({steady_ticks(p->token().ready_at), n});
      } else if (auto p = l.try_reserve(n, 5us)) {
        if (rng() % 3 == 0 && p->token().reservation) continue;  // abandoned: returned or lost
        out.push_back({steady_ticks(p->token().ready_at), n});
        p->record_success();
      }
      if (rng() % 64 == 0) std::this_thread::yield();
    }
  });
  const auto report = resil_test::check_gcra_bound(log, permits, 1'000'000'000, burst);
  INFO(report.describe());
  CHECK(report.ok);
  CHECK(log.size() > burst);
}

TEST_CASE("rate_limiter: a limit changed while 8 threads acquire stays within the larger limit",
          "[rate_limiter]") {
  resil::rate_limiter l{{.permits = 1'000'000, .period = 1s, .burst = 10}};
  std::atomic<bool> done{false};
  std::thread changer([&] {
    for (int i = 0; !done.load(); ++i) {
      if (i % 2 == 0) {
        l.set_limit(2'000'000, 1s, 30);
      } else {
        l.set_limit(1'000'000, 1s, 10);
      }
      std::this_thread::yield();
    }
  });
  const std::uint64_t iterations = resil_test::scaled(20'000, 4);
  const auto log = run_threads(7, [&](std::size_t index, std::vector<grant>& out) {
    resil::splitmix64 rng{index + 100};
    for (std::uint64_t i = 0; i < iterations; ++i) {
      const std::uint64_t n = 1 + rng() % 2;
      if (auto p = l.try_acquire(n)) out.push_back({steady_ticks(p->token().ready_at), n});
    }
  });
  done = true;
  changer.join();
  const auto report = resil_test::check_gcra_bound(log, 2'000'000, 1'000'000'000, 30);
  INFO(report.describe());
  CHECK(report.ok);
  CHECK(log.size() > 30);
}

TEST_CASE(
    "rate_limiter: concurrent waiters on a real clock stay within the bound and leave no waiter",
    "[rate_limiter]") {
  constexpr std::uint64_t permits = 100'000;  // one per 10 us
  resil::rate_limiter l{{.permits = permits, .period = 1s, .burst = 2}};
  const std::uint64_t iterations = resil_test::scaled(200, 2);
  std::atomic<int> cancelled{0};
  std::atomic<int> early{0};  // Catch2 assertions are not thread-safe: count, check after
  const auto log = run_threads(8, [&](std::size_t index, std::vector<grant>& out) {
    resil::splitmix64 rng{index + 7};
    for (std::uint64_t i = 0; i < iterations; ++i) {
      std::stop_source stop;
      if (rng() % 8 == 0) stop.request_stop();
      auto r = l.acquire_for(1, 200us, stop.get_token());
      if (r) {
        if (resil::steady_clock::now() < r->token().ready_at) ++early;
        out.push_back({steady_ticks(r->token().ready_at), 1});
      } else if (r.error() == resil::errc::cancelled) {
        ++cancelled;
      }
    }
  });
  const auto report = resil_test::check_gcra_bound(log, permits, 1'000'000'000, 2);
  INFO(report.describe());
  CHECK(report.ok);
  CHECK(cancelled > 0);
  CHECK(early == 0);
  CHECK(l.metrics().waiting_callers == 0);
}

TEST_CASE("rate_limiter: a clock jump of years refills at most the burst", "[rate_limiter]") {
  const manual_clock clock;
  limiter l{{.permits = 10, .period = 1s}, clock};
  REQUIRE(drain(l) == 10);
  clock.advance(std::chrono::hours{24 * 365 * 3});
  CHECK(drain(l) == 10);
  // Beyond 36 years from construction the limiter's time stands still: no refill, the bound
  // holds.
  clock.advance(std::chrono::hours{24 * 365 * 100});
  CHECK(drain(l) == 10);
  clock.advance(1h);
  CHECK(drain(l) == 0);
}

TEST_CASE("rate_limiter: limiters are neither copyable nor movable", "[rate_limiter]") {
  STATIC_REQUIRE_FALSE(std::is_copy_constructible_v<resil::rate_limiter>);
  STATIC_REQUIRE_FALSE(std::is_move_constructible_v<resil::rate_limiter>);
  STATIC_REQUIRE_FALSE(std::is_copy_assignable_v<resil::rate_limiter>);
  STATIC_REQUIRE(resil::policy<resil::rate_limiter>);
  STATIC_REQUIRE(std::is_move_constructible_v<resil::rate_limiter::permit_type>);
}

TEST_CASE("rate_limiter: a call may use the same limiter again from inside (no lock is held)",
          "[rate_limiter]") {
  const manual_clock clock;
  limiter l{{.permits = 10, .period = 1s, .burst = 3}, clock};
  const auto r = l.try_execute([&] {
    return l.try_execute([&] { return l.try_execute([] { return 7; }).value(); }).value();
  });
  CHECK(r.value() == 7);
  CHECK(l.metrics().available_permits == 0);
  CHECK(l.try_execute([] { return 1; }).error() == resil::errc::rate_limited);
}

TEST_CASE("rate_limiter: a throwing listener reaches its caller after the grant is committed",
          "[rate_limiter]") {
  const manual_clock clock;
  limiter l{{.permits = 10, .period = 1s, .burst = 2}, clock};
  const auto id = l.events().subscribe([](const resil::rate_limiter_event& e) {
    if (e.kind == resil::rate_limiter_event_kind::permitted) throw std::runtime_error("listener");
  });
  CHECK_THROWS_AS((void)l.try_acquire(), std::runtime_error);
  CHECK(l.metrics().available_permits == 1);  // the grant stood
  l.events().unsubscribe(id);
  CHECK(l.try_acquire());
  CHECK_FALSE(l.try_acquire());
}

TEST_CASE(
    "rate_limiter: after a limit change, a caller with an older clock reading finds no "
    "fuller bucket",
    "[rate_limiter]") {
  // A converted state is known at the time of the change only: "full" must mean full from then
  // on, not at any time, or a caller whose reading predates the change is granted backdated
  // permits on top of those already granted then.
  const manual_clock clock;
  limiter l{{.permits = 1, .period = 1ms, .burst = 10}, clock};
  std::vector<grant> log{{0, 10}};
  REQUIRE(l.try_acquire(10));
  resil::context stale;  // its start time is read once, now, and reused by later calls
  REQUIRE_FALSE(l.try_execute_in(stale, [] { return 1; }).has_value());
  clock.advance(10ms);  // full again
  l.set_limit(1, 1ms, 10);
  CHECK_FALSE(l.try_execute_in(stale, [] { return 1; }).has_value());  // at t = 0: still empty
  while (auto p = l.try_acquire()) log.push_back({ticks(clock.now()), 1});
  CHECK(log.size() == 11);
  CHECK(resil_test::check_gcra_bound(log, 1, 1'000'000, 10).ok);
}

TEST_CASE("rate_limiter: event kinds are named as their enumerators", "[rate_limiter]") {
  CHECK(resil_test::enum_names<resil::rate_limiter_event_kind>(4) ==
        std::vector<std::string_view>{"permitted", "rejected", "cancelled", "limit_changed"});
  CHECK(to_string(static_cast<resil::rate_limiter_event_kind>(4)) == "unknown");
}
