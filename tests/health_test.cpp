// Tests for resil/health.hpp: the registry, caching, timeouts, hysteresis, groups, renderings.
// SPDX-License-Identifier: MIT
#include <resil/health.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <vector>

#include "support/enum_names.hpp"
#include "support/json_parse.hpp"

using namespace std::chrono_literals;
using resil::health_result;
using resil::health_status;
using resil::manual_clock;
using registry = resil::basic_health_registry<manual_clock>;

namespace {

resil::health_check_report entry(health_status s, bool critical = true) {
  resil::health_check_report r;
  r.status = s;
  r.critical = critical;
  return r;
}

// A check whose answers the test scripts, one per run.
struct scripted {
  std::shared_ptr<std::vector<health_status>> answers =
      std::make_shared<std::vector<health_status>>();
  std::shared_ptr<std::atomic<std::size_t>> calls = std::make_shared<std::atomic<std::size_t>>(0);
  health_status operator()() const {
    const auto i = calls->fetch_add(1);
    return i < answers->size() ? (*answers)[i] : answers->back();
  }
};

}  // namespace

TEST_CASE("health: aggregation takes the worst status; unknown never outweighs an answer",
          "[health]") {
  using S = health_status;
  CHECK(resil::aggregate({}) == S::unknown);
  CHECK(resil::aggregate({entry(S::unknown)}) == S::unknown);
  CHECK(resil::aggregate({entry(S::healthy), entry(S::unknown)}) == S::healthy);
  CHECK(resil::aggregate({entry(S::healthy), entry(S::degraded)}) == S::degraded);
  CHECK(resil::aggregate({entry(S::degraded), entry(S::unhealthy)}) == S::unhealthy);
  CHECK(resil::aggregate({entry(S::healthy), entry(S::unhealthy, false)}) == S::degraded);
  CHECK(resil::aggregate({entry(S::unhealthy, false), entry(S::unhealthy)}) == S::unhealthy);
  CHECK(resil::aggregate({entry(S::unknown), entry(S::unhealthy, false)}) == S::degraded);
}

TEST_CASE("health: HTTP and gRPC mappings", "[health]") {
  resil::health_report r;
  const std::vector<std::tuple<health_status, int, resil::grpc_serving_status>> table = {
      {health_status::healthy, 200, resil::grpc_serving_status::serving},
      {health_status::degraded, 200, resil::grpc_serving_status::serving},
      {health_status::unhealthy, 503, resil::grpc_serving_status::not_serving},
      {health_status::unknown, 200, resil::grpc_serving_status::unknown}};
  for (const auto& [status, http, grpc] : table) {
    r.status = status;
    CHECK(r.http_status() == http);
    CHECK(r.grpc_status() == grpc);
  }
}

TEST_CASE("health: a check may return a result, a status or a bool; exceptions are unhealthy",
          "[health]") {
  manual_clock clock;
  registry health{clock};
  health.add("result", [] { return health_result::degraded("lagging").with("lag_ms", "250"); });
  health.add("status", [] { return health_status::healthy; });
  health.add("bool", [] { return false; });
  health.add("throws", []() -> bool { throw std::runtime_error("db gone"); });
  health.add("context", [](resil::context& ctx) { return ctx.remaining() == 5s; });
  const auto r = health.report();
  REQUIRE(r.checks.size() == 5);
  CHECK(r.checks[0].status == health_status::degraded);
  CHECK(r.checks[0].message == "lagging");
  CHECK(r.checks[0].details == std::vector<std::pair<std::string, std::string>>{{"lag_ms", "250"}});
  CHECK(r.checks[1].status == health_status::healthy);
  CHECK(r.checks[2].status == health_status::unhealthy);
  CHECK(r.checks[3].status == health_status::unhealthy);
  CHECK(r.checks[3].message == "db gone");
  CHECK(r.checks[4].status == health_status::healthy);  // its deadline is the 5 s timeout
  CHECK(r.status == health_status::unhealthy);
}

TEST_CASE("health: a check is unknown before its first run", "[health]") {
  manual_clock clock;
  registry health{clock};
  health.add("db", [] { return true; });
  const auto cached = health.cached_report();
  CHECK(cached.status == health_status::unknown);
  CHECK(cached.checks[0].runs == 0);
  CHECK(health.report().status == health_status::healthy);
}

TEST_CASE("health: 8 concurrent callers share one run per interval", "[health]") {
  manual_clock clock;
  std::atomic<int> runs{0};
  registry health{clock};
  health.add("db",
             [&] {
               ++runs;
               return true;
             },
             {.interval = 10s});
  std::atomic<int> not_healthy{0};  // Catch2's assertions are not thread-safe: count, then CHECK
  const auto burst = [&] {
    std::vector<std::thread> callers;
    for (int i = 0; i < 8; ++i) {
      callers.emplace_back([&] {
        for (int k = 0; k < 50; ++k) {
          if (health.report().status != health_status::healthy) ++not_healthy;
        }
      });
    }
    for (auto& t : callers) t.join();
  };
  burst();
  CHECK(runs == 1);
  clock.advance(9s);
  burst();
  CHECK(runs == 1);
  clock.advance(1s);
  burst();
  CHECK(runs == 2);
  CHECK(not_healthy == 0);
}

TEST_CASE("health: hysteresis needs N failures to turn unhealthy and M successes to recover",
          "[health]") {
  using S = health_status;
  manual_clock clock;
  scripted check;
  registry health{clock};
  *check.answers = {S::healthy, S::unhealthy, S::unhealthy, S::unhealthy,
                    S::healthy, S::unhealthy, S::healthy,   S::healthy};
  health.add("payment", check, {.interval = 1s, .unhealthy_threshold = 3, .healthy_threshold = 2});
  std::vector<S> seen;
  std::vector<std::uint32_t> failures;
  for (std::size_t i = 0; i < check.answers->size(); ++i) {
    const auto r = health.report();
    seen.push_back(r.checks[0].status);
    failures.push_back(r.checks[0].consecutive_failures);
    clock.advance(1s);
  }
  CHECK(seen == std::vector<S>{S::healthy, S::healthy, S::healthy, S::unhealthy, S::unhealthy,
                               S::unhealthy, S::unhealthy, S::healthy});
  CHECK(failures == std::vector<std::uint32_t>{0, 1, 2, 3, 0, 1, 0, 0});
}

TEST_CASE("health: since_change tracks how long the status has held", "[health]") {
  using S = health_status;
  manual_clock clock;
  scripted check;
  registry health{clock};
  *check.answers = {S::healthy, S::healthy, S::unhealthy};
  health.add("db", check, {.interval = 1s});
  (void)health.report();
  clock.advance(1s);
  (void)health.report();
  clock.advance(1s);
  (void)health.report();
  clock.advance(500ms);
  const auto r = health.cached_report();
  CHECK(r.checks[0].status == S::unhealthy);
  CHECK(r.checks[0].since_change == 500ms);
  CHECK(r.checks[0].since_run == 500ms);
  CHECK(r.checks[0].runs == 3);
}

TEST_CASE("health: a hung check is reported unhealthy at its timeout and never blocks reports",
          "[health]") {
  manual_clock clock;
  std::atomic<bool> release{false};
  std::atomic<bool> entered{false};
  registry health{clock};
  health.add("stuck",
             [&] {
               entered = true;
               while (!release) std::this_thread::yield();
               return true;
             },
             {.timeout = 2s, .interval = 10s});
  resil::health_report first;
  std::thread reporter([&] { first = health.report(); });
  while (!entered || clock.waiting() < 1) std::this_thread::yield();
  clock.advance(2s);
  reporter.join();
  REQUIRE(first.checks.size() == 1);
  CHECK(first.status == health_status::unhealthy);
  CHECK(first.checks[0].timed_out);
  CHECK(first.checks[0].message == "timed out after 2s");
  // While still stuck, later reports return at once from the cache.
  CHECK(health.report().checks[0].timed_out);
  release = true;
}

TEST_CASE("health: a non-critical check only degrades the whole", "[health]") {
  manual_clock clock;
  registry health{clock};
  health.add("db", [] { return true; });
  health.add("recommendations", [] { return false; }, {.critical = false});
  CHECK(health.report().status == health_status::degraded);
}

TEST_CASE("health: liveness and readiness are reported separately", "[health]") {
  manual_clock clock;
  registry health{clock};
  health.add("event-loop", [] { return true; }, {.tags = {"liveness"}});
  health.add("database", [] { return false; }, {.tags = {"readiness"}});
  health.add("cache", [] { return true; }, {.tags = {"readiness", "liveness"}});
  const auto live = health.report("liveness");
  const auto ready = health.report("readiness");
  CHECK(live.status == health_status::healthy);
  CHECK(live.checks.size() == 2);
  CHECK(ready.status == health_status::unhealthy);
  CHECK(ready.http_status() == 503);
  CHECK(health.report("nonexistent").status == health_status::unknown);
  CHECK(health.report().checks.size() == 3);
}

TEST_CASE("health: background checks run at every interval on their own", "[health]") {
  manual_clock clock;
  std::atomic<int> runs{0};
  registry health{clock};
  health.add("db",
             [&] {
               ++runs;
               return true;
             },
             {.interval = 5s, .background = true});
  while (runs < 1) std::this_thread::yield();
  while (clock.waiting() < 1) std::this_thread::yield();  // the prober sleeps until 5 s
  clock.advance(5s);
  while (runs < 2) std::this_thread::yield();
  CHECK(health.cached_report().status == health_status::healthy);
}

TEST_CASE("health: checks can be added and removed at run time", "[health]") {
  manual_clock clock;
  registry health{clock};
  health.add("a", [] { return true; });
  health.add("b", [] { return false; });
  CHECK(health.names() == std::vector<std::string>{"a", "b"});
  CHECK(health.remove("b"));
  CHECK_FALSE(health.remove("b"));
  CHECK(health.report().status == health_status::healthy);
  CHECK(health.check("a").has_value());
  CHECK_FALSE(health.check("b").has_value());  // gRPC: SERVICE_UNKNOWN
}

TEST_CASE("health: invalid options and duplicate names are rejected", "[health]") {
  manual_clock clock;
  registry health{clock};
  health.add("db", [] { return true; });
  CHECK_THROWS_WITH(health.add("db", [] { return true; }),
                    Catch::Contains("health_registry.name = \"db\" is invalid"));
  CHECK_THROWS_WITH(health.add("x", [] { return true; }, {.interval = 0s}),
                    Catch::Contains("health_check_options.interval"));
  CHECK_THROWS_AS(health.add("x", [] { return true; }, {.timeout = -1s}), resil::config_error);
  CHECK_THROWS_WITH(health.add("x", [] { return true; }, {.unhealthy_threshold = 0}),
                    Catch::Contains("unhealthy_threshold"));
  CHECK_THROWS_AS(health.add("x", [] { return true; }, {.healthy_threshold = 0}),
                  resil::config_error);
}

TEST_CASE("health: the JSON report is valid, escaped, and reads back", "[health]") {
  manual_clock clock;
  registry health{clock};
  health.add(
      "db \"primary\"\n",
      [] {
        return health_result::degraded("lag\t\x01 high").with("path", "C:\\data").with("é", "ü");
      },
      {.tags = {"readiness"}});
  health.add("cache", [] { return true; }, {.critical = false});
  const auto r = health.report();
  const auto j = resil_test::parse_json(r.to_json());
  CHECK(j["status"].str() == "degraded");
  REQUIRE(j["checks"].size() == 2);
  const auto& db = j["checks"][0];
  CHECK(db["name"].str() == "db \"primary\"\n");
  CHECK(db["status"].str() == "degraded");
  CHECK(db["message"].str() == "lag\t\x01 high");
  CHECK(db["details"]["path"].str() == "C:\\data");
  CHECK(db["details"]["é"].str() == "ü");
  CHECK(db["tags"][0].str() == "readiness");
  CHECK(db["critical"].boolean());
  CHECK(db["runs"].num() == 1);
  CHECK(db["duration_seconds"].num() == 0);
  CHECK_FALSE(j["checks"][1]["critical"].boolean());
}

TEST_CASE("health: the registry's destructor stops a check through its stop token", "[health]") {
  manual_clock clock;
  std::atomic<bool> stopped{false};
  std::atomic<bool> entered{false};
  {
    registry health{clock};
    health.add("long-poll",
               [&](resil::context& ctx) {
                 entered = true;
                 while (!ctx.stop_requested()) std::this_thread::yield();
                 stopped = true;
                 return true;
               },
               {.background = true});
    while (!entered) std::this_thread::yield();
  }
  CHECK(stopped);
}

TEST_CASE("health: adding, removing and reporting from many threads is safe", "[health]") {
  manual_clock clock;
  std::atomic<bool> done{false};
  std::atomic<int> oversized{0};
  std::vector<std::thread> reporters;
  registry health{clock};
  for (int i = 0; i < 3; ++i) {
    reporters.emplace_back([&] {
      while (!done) {
        const auto r = health.report();
        if (r.checks.size() > 4) ++oversized;
        (void)r.to_json();
      }
    });
  }
  for (int round = 0; round < 300; ++round) {
    const std::string name = "check-" + std::to_string(round % 4);
    if (!health.remove(name)) health.add(name, [round] { return round % 3 != 0; });
    clock.advance(1s);
  }
  done = true;
  for (auto& t : reporters) t.join();
  CHECK(oversized == 0);
  CHECK(health.names().size() <= 4);
}

TEST_CASE("health: background probing runs on virtual time", "[health]") {
  resil::virtual_clock clock;
  std::atomic<int> runs{0};
  std::vector<health_status> seen;
  clock.run(1, [&](std::size_t) {
    resil::basic_health_registry<resil::virtual_clock> health{clock};
    health.add("db",
               [&] {
                 ++runs;
                 return runs % 2 == 0;
               },
               {.interval = 10s, .background = true});
    for (int i = 0; i < 6; ++i) {
      clock.sleep_until(resil::virtual_clock::time_point{std::chrono::seconds{10 * i + 5}});
      seen.push_back(health.cached_report().status);
    }
  });
  CHECK(runs >= 6);
  CHECK(seen == std::vector<health_status>{health_status::unhealthy, health_status::healthy,
                                           health_status::unhealthy, health_status::healthy,
                                           health_status::unhealthy, health_status::healthy});
}

TEST_CASE("health: gRPC serving statuses are named as gRPC spells them", "[health]") {
  CHECK(resil_test::enum_names<resil::grpc_serving_status>(4) ==
        std::vector<std::string_view>{"UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"});
  CHECK(to_string(static_cast<resil::grpc_serving_status>(4)) == "UNKNOWN");
}
