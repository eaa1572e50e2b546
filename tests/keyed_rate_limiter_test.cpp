// Tests for resil/keyed_rate_limiter.hpp: a GCRA bound per key, bounded memory, eviction.
// SPDX-License-Identifier: MIT
#include <resil/compose.hpp>
#include <resil/core/random.hpp>
#include <resil/keyed_rate_limiter.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <barrier>
#include <map>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "support/enum_names.hpp"
#include "support/grant_log.hpp"
#include "support/sanitizers.hpp"

using namespace std::chrono_literals;
using resil::manual_clock;
using resil::nanoseconds;
using resil_test::grant;

namespace {

template <class Key>
using keyed = resil::basic_keyed_rate_limiter<Key, manual_clock>;

std::int64_t ticks(const manual_clock& c) {
  return c.now().time_since_epoch().count();
}

struct string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>{}(s);
  }
};

std::string ip(std::uint64_t i) {
  return "10." + std::to_string((i >> 16U) & 255U) + "." + std::to_string((i >> 8U) & 255U) + "." +
         std::to_string(i & 255U);
}

}  // namespace

TEST_CASE("keyed_rate_limiter: each key has its own bucket, full at first sight",
          "[keyed_rate_limiter]") {
  const manual_clock clock;
  keyed<std::string> l{{.limit = {.permits = 10, .period = 1s, .burst = 3}}, clock};
  CHECK(l.try_acquire(std::string("a"), 3));
  CHECK_FALSE(l.try_acquire(std::string("a")));
  CHECK(l.try_acquire(std::string("b"), 3));
  const auto refused = l.try_acquire(std::string("a"));
  CHECK_FALSE(refused.permitted);
  CHECK(refused.retry_after == 100ms);
  CHECK(l.retry_after(std::string("a")) == 100ms);
  CHECK(l.retry_after(std::string("never seen")) == 0ns);
  clock.advance(100ms);
  CHECK(l.try_acquire(std::string("a")));
  CHECK(l.metrics().keys == 2);
}

TEST_CASE("keyed_rate_limiter: a request for more than the burst is refused at once",
          "[keyed_rate_limiter]") {
  const manual_clock clock;
  keyed<int> l{{.limit = {.permits = 10, .period = 1s, .burst = 3}}, clock};
  const auto d = l.try_acquire(7, 4);
  CHECK_FALSE(d);
  CHECK(d.retry_after == nanoseconds::max());
  CHECK(l.metrics().keys == 0);  // a refused new key is not stored
  CHECK(l.try_acquire(7, 0));
  CHECK(l.metrics().keys == 0);
}

TEST_CASE("keyed_rate_limiter: every key obeys the rate_limiter bound while it is tracked",
          "[keyed_rate_limiter]") {
  resil::splitmix64 rng{31};
  const manual_clock clock{manual_clock::time_point{nanoseconds{-5'000'000'000'000}}};
  constexpr std::uint64_t permits = 7;
  constexpr std::int64_t period = 1'000'000'003;
  constexpr std::uint64_t burst = 5;
  keyed<int> l{{.limit = {.permits = permits, .period = nanoseconds{period}, .burst = burst},
                .max_keys = 64,
                .shards = 4},
               clock};
  std::map<int, std::vector<grant>> logs;
  const std::uint64_t ops = resil_test::scaled(200'000);
  for (std::uint64_t i = 0; i < ops; ++i) {
    switch (rng() % 4) {
      case 0:
        break;
      case 1:
        clock.advance(nanoseconds{static_cast<std::int64_t>(rng() % 300'000'000)});
        break;
      default:
        clock.advance(nanoseconds{static_cast<std::int64_t>(rng() % 1'000)});
        break;
    }
    const int key = static_cast<int>(rng() % 40);  // fewer keys than the cap: none is lost
    const std::uint64_t n = 1 + rng() % (burst + 1);
    if (l.try_acquire(key, n)) logs[key].push_back({ticks(clock), n});
  }
  CHECK(l.metrics().evicted_active == 0);
  for (auto& [key, log] : logs) {
    INFO("key " << key);
    resil_test::sort_log(log);
    const auto report = resil_test::check_gcra_bound(log, permits, period, burst);
    INFO(report.describe());
    REQUIRE(report.ok);
  }
  CHECK(logs.size() == 40);
}

TEST_CASE("keyed_rate_limiter: a scan of a million keys keeps at most max_keys (bounded memory)",
          "[keyed_rate_limiter]") {
  const manual_clock clock;
  keyed<std::string> l{{.limit = {.permits = 1, .period = 1s}, .max_keys = 1000, .shards = 8},
                       clock};
  const auto scan = [&](std::uint64_t from, std::uint64_t count) {
    for (std::uint64_t i = from; i < from + count; ++i) {
      CHECK(l.try_acquire(ip(i)));  // every new key starts full
      if (i % 1000 == 0) {
        REQUIRE(l.metrics().keys <= 1000);
        clock.advance(1ms);
      }
    }
  };
  scan(0, 5000);
#if defined(__GLIBC__) && !RESIL_TEST_SANITIZED
  const std::size_t in_use = mallinfo2().uordblks;
#endif
  scan(5000, resil_test::scaled(1'000'000, 10));
  const auto m = l.metrics();
  CHECK(m.keys <= 1000);
  CHECK(m.max_keys == 1000);
  CHECK(m.evicted_idle + m.evicted_active + m.keys == 5000 + resil_test::scaled(1'000'000, 10));
#if defined(__GLIBC__) && !RESIL_TEST_SANITIZED
  // After the table filled up, a million more keys did not grow the heap.
  const auto grown = static_cast<std::ptrdiff_t>(mallinfo2().uordblks - in_use);
  CHECK(grown < 16 * 1024);
#endif
}

TEST_CASE(
    "keyed_rate_limiter: at the cap, a key whose bucket refilled is evicted first, "
    "losslessly",
    "[keyed_rate_limiter]") {
  const manual_clock clock;
  keyed<int> l{{.limit = {.permits = 10, .period = 1s, .burst = 2}, .max_keys = 4, .shards = 1},
               clock};
  std::vector<resil::keyed_rate_limiter_event<int>> evictions;
  std::vector<int> evicted_keys;
  l.events().subscribe([&](const resil::keyed_rate_limiter_event<int>& e) {
    if (e.kind == resil::keyed_rate_limiter_event_kind::evicted) {
      evictions.push_back(e);
      evicted_keys.push_back(*e.key);
    }
  });
  REQUIRE(l.try_acquire(1, 1));  // refills in 100 ms
  REQUIRE(l.try_acquire(2, 2));  // refills in 200 ms
  REQUIRE(l.try_acquire(3, 2));
  REQUIRE(l.try_acquire(4, 2));
  clock.advance(150ms);  // key 1 is full again; the others are not
  REQUIRE(l.try_acquire(5, 2));
  REQUIRE(evictions.size() == 1);
  CHECK(evicted_keys[0] == 1);
  CHECK(evictions[0].lossless);
  CHECK(l.metrics().evicted_idle == 1);
  CHECK(l.retry_after(2, 2) == 50ms);  // the active keys kept their state

  // No idle key left: the one closest to full goes, and the metrics say state was lost.
  REQUIRE(l.try_acquire(6, 1));
  REQUIRE(evictions.size() == 2);
  CHECK_FALSE(evictions[1].lossless);
  CHECK(l.metrics().evicted_active == 1);
  CHECK(l.metrics().keys == 4);
}

TEST_CASE("keyed_rate_limiter: prune forgets exactly the keys whose bucket is full",
          "[keyed_rate_limiter]") {
  const manual_clock clock;
  keyed<int> l{{.limit = {.permits = 10, .period = 1s, .burst = 5}}, clock};
  for (int k = 0; k < 10; ++k) REQUIRE(l.try_acquire(k, static_cast<std::uint64_t>(1 + k % 5)));
  clock.advance(200ms);  // keys that took 1 or 2 permits are full again
  CHECK(l.prune() == 4);
  CHECK(l.metrics().keys == 6);
  CHECK(l.retry_after(4, 5) == 300ms);  // took 5: still refilling
  clock.advance(300ms);
  CHECK(l.prune() == 6);
  CHECK(l.metrics().keys == 0);
}

TEST_CASE("keyed_rate_limiter: transparent hashing looks up string keys by string_view",
          "[keyed_rate_limiter]") {
  const manual_clock clock;
  resil::basic_keyed_rate_limiter<std::string, manual_clock, string_hash, std::equal_to<>> l{
      {.limit = {.permits = 10, .period = 1s, .burst = 1}}, clock};
  const std::string_view tenant = "tenant-with-a-name-longer-than-the-small-string-buffer";
  std::string seen;
  l.events().subscribe([&](const auto& e) { seen = *e.key; });
  CHECK(l.try_acquire(tenant));
  CHECK(seen == tenant);
  CHECK_FALSE(l.try_acquire(tenant));
  CHECK(l.retry_after(tenant) == 100ms);
  CHECK(l.try_acquire(std::string(tenant)).retry_after == 100ms);
}

TEST_CASE("keyed_rate_limiter: for_key is a policy that rejects with the retry-after",
          "[keyed_rate_limiter]") {
  const manual_clock clock;
  keyed<std::string> l{{.limit = {.permits = 4, .period = 1s, .burst = 1}}, clock};
  auto tenant = l.for_key("acme");
  auto pipeline = resil::compose(tenant);
  CHECK(pipeline.try_execute([] { return 1; }).value() == 1);
  const auto r = pipeline.try_execute([] { return 2; });
  CHECK(r.error() == resil::errc::rate_limited);
  CHECK(r.retry_after() == 250ms);
  CHECK(l.for_key("other").try_execute([] { return 3; }).value() == 3);
  CHECK(tenant.key() == "acme");
  CHECK_THROWS_AS(tenant.execute([] { return 4; }), resil::rate_limited_error);
}

TEST_CASE("keyed_rate_limiter: set_limit converts every key's state", "[keyed_rate_limiter]") {
  const manual_clock clock;
  keyed<int> l{{.limit = {.permits = 10, .period = 1s, .burst = 10}}, clock};
  REQUIRE(l.try_acquire(1, 10));
  REQUIRE(l.try_acquire(2, 4));
  l.set_limit(100, 1s, 20);
  CHECK_FALSE(l.try_acquire(1));  // still empty, now refilling every 10 ms
  CHECK(l.retry_after(1) == 10ms);
  CHECK(l.try_acquire(2, 6));  // kept its 6
  CHECK_FALSE(l.try_acquire(2));
  CHECK(l.try_acquire(3, 20));  // a new key gets the new burst
  CHECK(l.metrics().permits == 100);
  CHECK_THROWS_AS(l.set_limit(0, 1s), resil::config_error);
}

TEST_CASE("keyed_rate_limiter: 8 threads on shared keys never exceed any key's bound",
          "[keyed_rate_limiter]") {
  // The clock moves only between phases (a barrier), so each grant's time is its phase's time.
  const manual_clock clock;
  constexpr std::uint64_t permits = 50;
  constexpr std::uint64_t burst = 4;
  keyed<int> l{{.limit = {.permits = permits, .period = 1s, .burst = burst}, .shards = 4}, clock};
  constexpr std::size_t threads = 8;
  const std::uint64_t phases = resil_test::scaled(400, 4);
  std::vector<std::vector<std::pair<int, grant>>> logs(threads);
  std::vector<std::int64_t> phase_time(phases);
  resil::splitmix64 step_rng{3};
  std::uint64_t phase = 0;
  std::barrier sync(static_cast<std::ptrdiff_t>(threads), [&]() noexcept {
    phase_time[phase] = ticks(clock);
    clock.advance(nanoseconds{static_cast<std::int64_t>(step_rng() % 30'000'000)});
    ++phase;
  });
  std::vector<std::thread> pool;
  for (std::size_t i = 0; i < threads; ++i) {
    pool.emplace_back([&, i] {
      resil::splitmix64 rng{i};
      for (std::uint64_t p = 0; p < phases; ++p) {
        const std::int64_t now = ticks(clock);
        for (int k = 0; k < 20; ++k) {
          const int key = static_cast<int>(rng() % 6);
          const std::uint64_t n = 1 + rng() % 2;
          if (l.try_acquire(key, n)) logs[i].push_back({key, {now, n}});
        }
        sync.arrive_and_wait();
      }
    });
  }
  for (auto& t : pool) t.join();
  std::map<int, std::vector<grant>> per_key;
  for (const auto& log : logs) {
    for (const auto& [key, g] : log) per_key[key].push_back(g);
  }
  REQUIRE(per_key.size() == 6);
  for (auto& [key, log] : per_key) {
    resil_test::sort_log(log);
    const auto report = resil_test::check_gcra_bound(log, permits, 1'000'000'000, burst);
    INFO("key " << key << ": " << report.describe());
    CHECK(report.ok);
  }
}

TEST_CASE("keyed_rate_limiter: invalid options throw config_error naming the field",
          "[keyed_rate_limiter]") {
  const auto field_of = [](const resil::keyed_rate_limiter_options& o) -> std::string {
    try {
      resil::keyed_rate_limiter<int> l{o};
      return "";
    } catch (const resil::config_error& e) {
      return e.field();
    }
  };
  CHECK(field_of({}).empty());
  CHECK(field_of({.limit = {.permits = 0}}) == "keyed_rate_limiter_options.limit.permits");
  CHECK(field_of({.limit = {.period = 10ns}}) == "keyed_rate_limiter_options.limit.period");
  CHECK(field_of({.limit = {.max_wait = 1ms}}) == "keyed_rate_limiter_options.limit.max_wait");
  CHECK(field_of({.max_keys = 0}) == "keyed_rate_limiter_options.max_keys");
  CHECK(field_of({.shards = 0}) == "keyed_rate_limiter_options.shards");
  CHECK(field_of({.max_keys = 4, .shards = 8}) == "keyed_rate_limiter_options.shards");
  try {
    resil::keyed_rate_limiter<int> l{{.limit = {.burst = 0}}};
  } catch (const resil::config_error& e) {
    CHECK(std::string(e.what()) ==
          "resil: keyed_rate_limiter_options.limit.burst = 0 is invalid: must be positive");
  }
}

TEST_CASE("keyed_rate_limiter: a key forgotten as full is not backdated by an older clock reading",
          "[keyed_rate_limiter]") {
  const manual_clock clock;
  keyed<int> l{{.limit = {.permits = 1, .period = 1ms, .burst = 2}}, clock};
  auto policy = l.for_key(7);
  REQUIRE(l.try_acquire(7, 2));
  resil::context stale;  // reads the clock once, now
  REQUIRE_FALSE(policy.try_execute_in(stale, [] { return 1; }).has_value());
  clock.advance(2ms);
  REQUIRE(l.prune() == 1);                                                  // full again: forgotten
  CHECK_FALSE(policy.try_execute_in(stale, [] { return 1; }).has_value());  // at t = 0: empty
  CHECK(l.try_acquire(7, 2));                                               // now: full
}

TEST_CASE("keyed_rate_limiter: event kinds are named as their enumerators",
          "[keyed_rate_limiter]") {
  CHECK(resil_test::enum_names<resil::keyed_rate_limiter_event_kind>(3) ==
        std::vector<std::string_view>{"permitted", "rejected", "evicted"});
  CHECK(to_string(static_cast<resil::keyed_rate_limiter_event_kind>(3)) == "unknown");
}
