// Tests for resil/registry.hpp: get-or-create from named configs, lifetime, iteration, run-time
// limit changes, the event logs and call counts it attaches, listener delivery under threads,
// and its health checks.
// SPDX-License-Identifier: MIT
#include <resil/registry.hpp>

#include <catch2/catch.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <latch>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/sanitizers.hpp"

using namespace std::chrono_literals;
using resil::manual_clock;
using manual_registry = resil::basic_registry<manual_clock>;

TEST_CASE("registry: get creates an instance on first use and returns it afterwards",
          "[registry]") {
  resil::registry reg;
  CHECK(reg.bulkheads.find("kitchen") == nullptr);
  resil::bulkhead& a = reg.bulkhead("kitchen");
  resil::bulkhead& b = reg.bulkheads.get("kitchen");
  CHECK(&a == &b);
  CHECK(reg.bulkheads.find("kitchen") == &a);
  CHECK(reg.bulkheads.size() == 1);
  CHECK(reg.bulkheads.names() == std::vector<std::string>{"kitchen"});
}

TEST_CASE("registry: an instance takes the config of its name, else default, else the defaults",
          "[registry]") {
  resil::registry reg;
  CHECK(reg.bulkhead("plain").max_concurrent() == resil::bulkhead_options{}.max_concurrent);
  reg.bulkheads.add_config("default", {.max_concurrent = 16});
  reg.bulkheads.add_config("payment", {.max_concurrent = 4, .max_wait = 20ms});
  CHECK(reg.bulkhead("search").max_concurrent() == 16);
  CHECK(reg.bulkhead("payment").max_concurrent() == 4);
  CHECK(reg.bulkhead("payment").max_wait() == 20ms);
  CHECK(reg.bulkheads.options_for("anything").max_concurrent == 16);
  // Configs are read at creation: existing instances keep their options.
  reg.bulkheads.add_config("default", {.max_concurrent = 32});
  CHECK(reg.bulkhead("plain").max_concurrent() == 25);
  CHECK(reg.bulkhead("search").max_concurrent() == 16);
  CHECK(reg.bulkhead("new").max_concurrent() == 32);
}

TEST_CASE("registry: a derived config is a copy of its base changed by a function", "[registry]") {
  resil::registry reg;
  reg.retries.add_config("default", {.max_attempts = 5, .max_total_duration = 10s});
  reg.retries.add_config("search", "default", [](resil::retry_options& o) { o.max_attempts = 2; });
  const auto search = reg.retries.config("search");
  REQUIRE(search);
  CHECK(search->max_attempts == 2);
  CHECK(search->max_total_duration == 10s);  // from the base
  CHECK(reg.retry("search").options().max_attempts == 2);
  // "default" stands for the defaults until it is added.
  reg.rate_limiters.add_config("api", "default", [](auto& o) { o.permits = 7; });
  CHECK(reg.rate_limiters.config("api")->period == resil::rate_limiter_options{}.period);
  CHECK(reg.rate_limiter("api").options().permits == 7);
}

TEST_CASE("registry: unknown configs and invalid options are config errors naming the field",
          "[registry]") {
  resil::registry reg;
  CHECK_THROWS_WITH(reg.bulkheads.add_config("x", "nope", [](auto&) {}),
                    Catch::Contains("registry.bulkheads.config") && Catch::Contains("nope"));
  CHECK_THROWS_AS(reg.bulkheads.get("x", std::string_view("nope")), resil::config_error);
  CHECK_THROWS_WITH(reg.bulkheads.add_config("x", {.max_concurrent = 0}),
                    Catch::Contains("bulkhead_options.max_concurrent"));
  CHECK_THROWS_WITH(
      reg.bulkheads.add_config("y", "default", [](auto& o) { o.max_concurrent = -1; }),
      Catch::Contains("bulkhead_options.max_concurrent"));
  CHECK_THROWS_AS(reg.rate_limiters.get("z", resil::rate_limiter_options{.permits = 0}),
                  resil::config_error);
  CHECK(reg.bulkheads.size() == 0);  // nothing half-made
  CHECK(reg.rate_limiters.size() == 0);
  CHECK_FALSE(reg.bulkheads.config("x"));
  CHECK_THROWS_WITH(resil::registry({.event_log_capacity = 2'000'000}),
                    Catch::Contains("registry_options.event_log_capacity"));
}

TEST_CASE("registry: explicit options or a config name choose the options of a new instance only",
          "[registry]") {
  resil::registry reg;
  reg.bulkheads.add_config("small", {.max_concurrent = 2});
  CHECK(reg.bulkheads.get("a", std::string_view("small")).max_concurrent() == 2);
  CHECK(reg.bulkheads.get("b", resil::bulkhead_options{.max_concurrent = 3}).max_concurrent() == 3);
  CHECK(reg.bulkheads.get("default-config", std::string_view("default")).max_concurrent() == 25);
  // The instance exists: it is returned as it is.
  CHECK(reg.bulkheads.get("b", resil::bulkhead_options{.max_concurrent = 9}).max_concurrent() == 3);
}

TEST_CASE("registry: names are per kind, and registries are independent", "[registry]") {
  resil::registry reg;
  resil::registry other;
  reg.circuit_breaker("payment");
  reg.retry("payment");
  reg.bulkhead("payment");
  reg.rate_limiter("payment");
  reg.keyed_rate_limiter("payment");
  reg.timeout("payment");
  reg.retry_budget("payment");
  CHECK(reg.circuit_breakers.size() == 1);
  CHECK(reg.retries.size() == 1);
  CHECK(reg.bulkheads.size() == 1);
  CHECK(reg.rate_limiters.size() == 1);
  CHECK(reg.keyed_rate_limiters.size() == 1);
  CHECK(reg.timeouts.size() == 1);
  CHECK(reg.retry_budgets.size() == 1);
  CHECK(&other.bulkhead("payment") != &reg.bulkhead("payment"));
}

TEST_CASE("registry: a config may point at an instance of the same registry", "[registry]") {
  resil::registry reg;
  reg.retries.add_config("default", {.max_attempts = 3, .budget = &reg.retry_budget("shared")});
  int calls = 0;
  auto r = reg.retry("search").try_execute([&]() -> int {
    ++calls;
    throw std::runtime_error("down");
  });
  CHECK(calls == 3);
  CHECK(reg.retry_budget("shared").milli_tokens() == 7000);  // three failed attempts
}

TEST_CASE("registry: 8 threads asking for the same name get one instance", "[registry]") {
  const int rounds = static_cast<int>(resil_test::scaled(50, 5));
  for (int round = 0; round < rounds; ++round) {
    resil::registry reg;
    reg.rate_limiters.add_config("api", {.permits = 5, .period = 1s});
    std::vector<const void*> seen(8, nullptr);
    std::vector<const void*> breakers(8, nullptr);
    std::latch start{8};
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < 8; ++t) {
      threads.emplace_back([&, t] {
        start.arrive_and_wait();
        const void* limiter = &reg.rate_limiter("api");
        const void* bulkhead = &reg.bulkhead(t % 2 == 0 ? "even" : "odd");
        breakers[t] = &reg.circuit_breaker("payment");
        seen[t] = t % 2 == 0 ? limiter : bulkhead;
      });
    }
    for (auto& t : threads) t.join();
    CHECK(reg.circuit_breakers.size() == 1);
    CHECK(std::set<const void*>(breakers.begin(), breakers.end()).size() == 1);
    CHECK(breakers[0] == &reg.circuit_breaker("payment"));
    CHECK(reg.rate_limiters.size() == 1);
    CHECK(reg.bulkheads.size() == 2);
    CHECK(std::set<const void*>(seen.begin(), seen.end()).size() == 2);  // "api" and "odd"
    CHECK(seen[0] == &reg.rate_limiter("api"));
    CHECK(seen[1] == &reg.bulkhead("odd"));
  }
}

TEST_CASE("registry: remove destroys an instance; a handle keeps it alive until dropped",
          "[registry]") {
  resil::registry reg;
  reg.bulkhead("a");
  reg.bulkhead("b");
  auto handle = reg.bulkheads.instance_of("a");
  REQUIRE(handle);
  CHECK(reg.bulkheads.remove("a"));
  CHECK_FALSE(reg.bulkheads.remove("a"));
  CHECK(reg.bulkheads.find("a") == nullptr);
  CHECK(handle->name() == "a");
  CHECK(handle->policy().available() == 25);       // still alive through the handle
  CHECK(&reg.bulkhead("a") != &handle->policy());  // a new instance under the old name
  CHECK(reg.bulkheads.names() == std::vector<std::string>{"a", "b"});
  CHECK_FALSE(reg.bulkheads.instance_of("zzz"));
}

TEST_CASE("registry: for_each visits instances in name order, outside the lock", "[registry]") {
  resil::registry reg;
  for (const char* n : {"c", "a", "b"}) reg.timeout(n);
  std::vector<std::string> order;
  reg.timeouts.for_each([&](const auto& i) {
    order.push_back(i.name());
    reg.timeout("created-" + i.name());  // reentrant use: no deadlock
    CHECK(i.policy().duration() == 30s);
  });
  CHECK(order == std::vector<std::string>{"a", "b", "c"});
  CHECK(reg.timeouts.size() == 6);
  CHECK(reg.timeouts.instances().size() == 6);
}

TEST_CASE("registry: limits change at run time through the instance, keeping state", "[registry]") {
  manual_clock clock;
  manual_registry reg{{}, clock};
  reg.rate_limiters.add_config("api", {.permits = 10, .period = 1s});
  auto& api = reg.rate_limiter("api");
  for (int i = 0; i < 6; ++i) CHECK(api.try_acquire());
  CHECK(api.metrics().available_permits == 4);
  api.set_limit(20, 1s);
  CHECK(&reg.rate_limiter("api") == &api);      // same instance, new limit
  CHECK(api.metrics().available_permits == 4);  // the permits taken stay taken
  CHECK(api.metrics().permits == 20);

  reg.bulkheads.add_config("db", {.max_concurrent = 4});
  auto& db = reg.bulkhead("db");
  auto p1 = db.try_acquire();
  auto p2 = db.try_acquire();
  auto p3 = db.try_acquire();
  db.set_max_concurrent(2);  // shrink below the calls running: they finish normally
  CHECK(db.metrics().in_flight == 3);
  CHECK_FALSE(db.try_acquire());
  p1.reset();
  p2.reset();
  CHECK(db.metrics().available == 1);
  p3.reset();
  CHECK(db.metrics().available == 2);
}

TEST_CASE("registry: with no option set, instances carry no listener", "[registry]") {
  resil::registry reg;
  CHECK_FALSE(reg.circuit_breaker("a").events().has_listeners());
  CHECK_FALSE(reg.bulkhead("a").events().has_listeners());
  CHECK_FALSE(reg.retry("a").events().has_listeners());
  CHECK_FALSE(reg.rate_limiter("a").events().has_listeners());
  CHECK_FALSE(reg.keyed_rate_limiter("a").events().has_listeners());
  CHECK_FALSE(reg.timeout("a").events().has_listeners());
  const auto i = reg.bulkheads.instance_of("a");
  CHECK(i->recent_events() == nullptr);
  CHECK_FALSE(i->counts());
}

TEST_CASE("registry: with event_log_capacity, each instance keeps its last N events",
          "[registry]") {
  manual_clock clock;
  manual_registry reg{{.event_log_capacity = 3}, clock};
  auto& kitchen = reg.bulkhead("kitchen");
  for (int i = 0; i < 5; ++i) {
    clock.advance(1s);
    (void)kitchen.try_execute([] { return 0; });  // permitted, then finished: 10 events
  }
  const auto log = reg.bulkheads.instance_of("kitchen")->recent_events();
  REQUIRE(log != nullptr);
  CHECK(log->capacity() == 3);
  CHECK(log->total() == 10);
  const auto kept = log->snapshot();
  REQUIRE(kept.size() == 3);
  CHECK(kept[0].seq == 8);
  CHECK(kept[0].event.kind == resil::bulkhead_event_kind::finished);
  CHECK(kept[1].event.kind == resil::bulkhead_event_kind::permitted);
  CHECK(kept[2].event.kind == resil::bulkhead_event_kind::finished);
  CHECK(kept[2].time == manual_clock::time_point{5s});  // on the registry's clock
  // Every kind with events of its own keeps a log; the keyed limiter's events point into it.
  reg.circuit_breaker("c");
  reg.retry("r");
  reg.rate_limiter("l");
  reg.timeout("t");
  reg.keyed_rate_limiter("k");
  CHECK(reg.circuit_breakers.instance_of("c")->recent_events() != nullptr);
  CHECK(reg.retries.instance_of("r")->recent_events() != nullptr);
  CHECK(reg.rate_limiters.instance_of("l")->recent_events() != nullptr);
  CHECK(reg.timeouts.instance_of("t")->recent_events() != nullptr);
  CHECK(reg.keyed_rate_limiters.instance_of("k")->recent_events() == nullptr);
  CHECK_FALSE(reg.retries.instance_of("r")->counts());
}

TEST_CASE("registry: with count_calls, calls are counted by kind", "[registry]") {
  manual_clock clock;
  manual_registry reg{{.count_calls = true}, clock};

  auto& breaker = reg.circuit_breakers.get(
      "c",
      resil::circuit_breaker_options{.window_size = 2,
                                     .minimum_calls = 2,
                                     .classify = resil::classifier{}.ignore<std::logic_error>()});
  (void)breaker.try_execute([] { return 1; });
  (void)breaker.try_execute([]() -> int { throw std::logic_error("ignored"); });
  (void)breaker.try_execute([]() -> int { throw std::runtime_error("x"); });  // 1/2: opens it
  (void)breaker.try_execute([] { return 1; });                                // not permitted
  const auto cc = *reg.circuit_breakers.instance_of("c")->counts();
  CHECK(cc.successful == 1);
  CHECK(cc.failed == 1);
  CHECK(cc.ignored == 1);
  CHECK(breaker.state() == resil::circuit_state::open);
  CHECK(breaker.metrics().not_permitted == 1);  // the breaker counts its rejections itself

  auto& retry = reg.retries.get("r", resil::retry_options{.max_attempts = 2});
  (void)retry.try_execute([] { return 1; });
  (void)retry.try_execute([] { return 2; });
  (void)retry.try_execute([]() -> int { throw std::runtime_error("x"); });
  CHECK(reg.retries.instance_of("r")->counts()->successful_without_retry == 2);
  CHECK(retry.metrics().failed_with_retry == 1);

  auto& limiter = reg.rate_limiters.get("l", resil::rate_limiter_options{.permits = 2});
  for (int i = 0; i < 5; ++i) (void)limiter.try_acquire();
  const auto lc = *reg.rate_limiters.instance_of("l")->counts();
  CHECK(lc.permitted == 2);
  CHECK(lc.rejected == 3);

  auto& keyed = reg.keyed_rate_limiters.get("k", {.limit = {.permits = 1}});
  for (int i = 0; i < 3; ++i) (void)keyed.try_acquire(std::string("client"));
  CHECK(reg.keyed_rate_limiters.instance_of("k")->counts()->permitted == 1);
  CHECK(reg.keyed_rate_limiters.instance_of("k")->counts()->rejected == 2);

  auto& bulkhead = reg.bulkheads.get("b", resil::bulkhead_options{.max_concurrent = 1});
  {
    auto held = bulkhead.try_acquire();
    (void)bulkhead.try_execute([] { return 0; });
  }
  (void)bulkhead.try_execute([] { return 0; });
  CHECK(reg.bulkheads.instance_of("b")->counts()->permitted == 2);
  CHECK(reg.bulkheads.instance_of("b")->counts()->rejected == 1);

  auto& timeout = reg.timeouts.get("t", resil::timeout_options{.duration = 1s});
  (void)timeout.try_execute([] { return 0; });
  (void)timeout.try_execute([&] {
    clock.advance(2s);
    return 0;
  });
  const auto tc = *reg.timeouts.instance_of("t")->counts();
  CHECK(tc.timed_out == 1);
  CHECK(tc.permitted == 0);  // fields of other kinds stay zero
  reg.retry_budget("rb");    // publishes no events: nothing to count
  CHECK_FALSE(reg.retry_budgets.instance_of("rb")->counts());
}

TEST_CASE("registry: 8 threads, every event reaches the counting listener exactly once",
          "[registry]") {
  resil::registry reg{{.count_calls = true}};
  auto& bulkhead = reg.bulkheads.get("b", resil::bulkhead_options{.max_concurrent = 3});
  auto& limiter = reg.rate_limiters.get("l", resil::rate_limiter_options{.permits = 1000});
  const int per_thread = static_cast<int>(resil_test::scaled(20'000, 10));
  std::atomic<std::uint64_t> ran{0};
  std::atomic<std::uint64_t> turned_away{0};
  std::atomic<std::uint64_t> granted{0};
  std::latch start{8};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      start.arrive_and_wait();
      for (int i = 0; i < per_thread; ++i) {
        const auto r = bulkhead.try_execute([&] {
          ran.fetch_add(1, std::memory_order_relaxed);
          if (i % 64 == 0) std::this_thread::yield();
          return 0;
        });
        if (!r.has_value()) turned_away.fetch_add(1, std::memory_order_relaxed);
        if (limiter.try_acquire()) granted.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  for (auto& t : threads) t.join();
  const auto b = *reg.bulkheads.instance_of("b")->counts();
  const auto l = *reg.rate_limiters.instance_of("l")->counts();
  const auto calls = static_cast<std::uint64_t>(8 * per_thread);
  CHECK(b.permitted == ran.load());
  CHECK(b.rejected == turned_away.load());
  CHECK(b.permitted + b.rejected == calls);
  CHECK(l.permitted == granted.load());
  CHECK(l.permitted + l.rejected == calls);
}

TEST_CASE(
    "registry: 8 threads driving a breaker through its states: exactly one transition event per "
    "transition, to every listener",
    "[registry]") {
  manual_clock clock;
  manual_registry reg{{.event_log_capacity = 16, .count_calls = true}, clock};
  reg.circuit_breakers.add_config(
      "default",
      {.window_size = 8, .minimum_calls = 4, .open_duration = 2ms, .half_open_calls = 2});
  auto& b = reg.circuit_breaker("flaky");
  constexpr std::size_t states = 6;
  std::array<std::atomic<std::uint64_t>, states> into{};
  std::array<std::atomic<std::uint64_t>, states> out_of{};
  std::atomic<std::uint64_t> moves{0};
  std::atomic<std::uint64_t> events{0};
  b.events().subscribe([&](const resil::circuit_breaker_event& e) {
    events.fetch_add(1, std::memory_order_relaxed);
    if (e.kind != resil::circuit_breaker_event::kind_t::state_transition) return;
    moves.fetch_add(1, std::memory_order_relaxed);
    into[static_cast<std::size_t>(e.state)].fetch_add(1, std::memory_order_relaxed);
    out_of[static_cast<std::size_t>(e.previous_state)].fetch_add(1, std::memory_order_relaxed);
  });
  const int per_thread = static_cast<int>(resil_test::scaled(10'000, 10));
  std::atomic<std::uint64_t> succeeded{0};
  std::atomic<std::uint64_t> failed{0};
  std::atomic<std::uint64_t> refused{0};
  std::latch start{8};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      resil::splitmix64 rng{static_cast<std::uint64_t>(t) + 1};
      start.arrive_and_wait();
      for (int i = 0; i < per_thread; ++i) {
        if (i % 8 == 0) clock.advance(1ms);  // open states expire while the threads run
        const bool fail = rng() % 3 == 0;
        const auto r = b.try_execute([fail]() -> int {
          if (fail) throw std::runtime_error("down");
          return 0;
        });
        if (r.has_value()) {
          succeeded.fetch_add(1, std::memory_order_relaxed);
        } else if (r.error() == resil::errc::circuit_open) {
          refused.fetch_add(1, std::memory_order_relaxed);
        } else {
          failed.fetch_add(1, std::memory_order_relaxed);
        }
      }
    });
  }
  for (auto& t : threads) t.join();

  const auto m = b.metrics();
  CHECK(moves.load() == m.transitions);
  CHECK(m.transitions >= 3);  // it opened, half-opened and closed or re-opened at least once
  // Every state is entered as often as it is left, except where the walk began and ended: a
  // lost or duplicated event breaks this balance.
  for (std::size_t s = 0; s < states; ++s) {
    INFO("state " << s);
    const auto balance =
        static_cast<std::int64_t>(into[s].load()) - static_cast<std::int64_t>(out_of[s].load());
    const std::int64_t expected = (s == static_cast<std::size_t>(m.state) ? 1 : 0) -
                                  (s == static_cast<std::size_t>(resil::circuit_state::closed));
    CHECK(balance == expected);
  }
  // The registry's own listeners saw the same events.
  const auto handle = reg.circuit_breakers.instance_of("flaky");
  const auto counts = *handle->counts();
  CHECK(counts.successful == succeeded.load());
  CHECK(counts.failed == failed.load());
  CHECK(m.not_permitted == refused.load());
  CHECK(handle->recent_events()->total() == events.load());
  CHECK(handle->recent_events()->snapshot().size() == 16);  // bounded
}

TEST_CASE("registry: health checks cover every instance, informational by default", "[registry]") {
  manual_clock clock;
  manual_registry reg{{}, clock};
  resil::basic_health_registry<manual_clock> health{clock};
  reg.register_health_checks(health, {.critical = false, .interval = 1s});
  CHECK(health.names() ==
        std::vector<std::string>{"circuit_breakers", "bulkheads", "rate_limiters"});
  CHECK(health.report().status == resil::health_status::healthy);  // no instance yet

  auto& kitchen = reg.bulkheads.get("kitchen", resil::bulkhead_options{.max_concurrent = 1});
  reg.bulkhead("bar");
  auto held = kitchen.try_acquire();  // created after registration: still covered
  clock.advance(1s);
  const auto report = health.report();
  CHECK(report.status == resil::health_status::degraded);
  CHECK(report.http_status() == 200);  // a saturated bulkhead keeps the service in rotation
  const auto& bulkheads = report.checks[1];
  CHECK(bulkheads.status == resil::health_status::degraded);
  CHECK_FALSE(bulkheads.critical);
  CHECK(bulkheads.message == "kitchen");
  REQUIRE(bulkheads.details.size() == 2);
  CHECK(bulkheads.details[0].first == "bar");
  CHECK(bulkheads.details[1] ==
        std::pair<std::string, std::string>{"kitchen", "saturated: 1/1 in use, 0 waiting"});
  CHECK_THROWS_AS(reg.register_health_checks(health), resil::config_error);  // names taken
}

TEST_CASE("registry: a tripped policy can be made to fail readiness", "[registry]") {
  manual_clock clock;
  manual_registry reg{{}, clock};
  resil::basic_health_registry<manual_clock> health{clock};
  reg.register_health_checks(health, {.critical = true},
                             {.tripped = resil::health_status::unhealthy});
  auto& api = reg.rate_limiters.get("api", resil::rate_limiter_options{.permits = 1});
  CHECK(api.try_acquire());
  const auto report = health.report();
  CHECK(report.status == resil::health_status::unhealthy);
  CHECK(report.http_status() == 503);
  CHECK(report.checks[2].message == "api");
}

TEST_CASE("registry: a health check that outlives its registry reports unknown", "[registry]") {
  manual_clock clock;
  resil::basic_health_registry<manual_clock> health{clock};
  {
    manual_registry reg{{}, clock};
    reg.bulkhead("a");
    health.add("bulkheads", reg.bulkheads.health_check());
    CHECK(health.report().status == resil::health_status::healthy);
  }
  clock.advance(10s);
  const auto report = health.report();
  CHECK(report.checks[0].last_result == resil::health_status::unknown);
  CHECK(report.checks[0].message == "registry destroyed");
}
