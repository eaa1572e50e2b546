// Tests for resil/chaos.hpp: fault, latency, outcome and behaviour injection.
// SPDX-License-Identifier: MIT
#include <resil/chaos.hpp>
#include <resil/compose.hpp>
#include <resil/core/virtual_clock.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <vector>

#include "support/enum_names.hpp"
#include "support/test_policies.hpp"

using namespace std::chrono_literals;
using resil::manual_clock;

namespace {

struct http_response {
  int status;
};

// Counts how many of n calls a policy affected.
template <class P, class F>
int affected(P& policy, int n, F call) {
  int count = 0;
  for (int i = 0; i < n; ++i) count += call(policy) ? 1 : 0;
  return count;
}

bool faulted(resil::chaos_fault& f) {
  return f.try_execute([] { return 1; }).has_error();
}

}  // namespace

TEST_CASE("chaos: a fault at rate 0 never fires and at rate 1 always fires", "[chaos]") {
  resil::chaos_fault never{{.injection_rate = 0.0}, resil::errc::timeout};
  resil::chaos_fault always{{.injection_rate = 1.0}, resil::errc::timeout};
  CHECK(affected(never, 10'000, faulted) == 0);
  CHECK(affected(always, 10'000, faulted) == 10'000);
  CHECK(always.injected() == 10'000);
}

TEST_CASE("chaos: observed injection rates match the configured rate over 10^5 draws", "[chaos]") {
  for (const double rate : {0.001, 0.05, 0.5, 0.9}) {
    resil::chaos_fault f{{.injection_rate = rate, .seed = 12345}, resil::errc::timeout};
    constexpr int n = 100'000;
    const int hits = affected(f, n, faulted);
    // Binomial: within 5 standard deviations (a false alarm about once in 3.5 million runs,
    // and the seed is fixed anyway).
    const double mean = n * rate;
    const double sd = std::sqrt(n * rate * (1 - rate));
    CHECK(std::abs(hits - mean) < 5 * sd);
  }
}

TEST_CASE("chaos: the same seed injects into the same calls", "[chaos]") {
  auto pattern = [](std::uint64_t seed) {
    resil::chaos_fault f{{.injection_rate = 0.3, .seed = seed}, resil::errc::timeout};
    std::vector<bool> hits;
    for (int i = 0; i < 200; ++i) hits.push_back(faulted(f));
    return hits;
  };
  CHECK(pattern(9) == pattern(9));
  CHECK(pattern(9) != pattern(10));
}

TEST_CASE("chaos: the switch turns injection off and on at run time", "[chaos]") {
  resil::chaos_fault f{{.injection_rate = 1.0, .enabled = false}, resil::errc::timeout};
  CHECK_FALSE(f.enabled());
  CHECK(affected(f, 100, faulted) == 0);
  f.set_enabled(true);
  CHECK(affected(f, 100, faulted) == 100);
  f.set_injection_rate(0.0);
  CHECK(affected(f, 100, faulted) == 0);
  CHECK_THROWS_AS(f.set_injection_rate(1.5), resil::config_error);
}

TEST_CASE("chaos: an injected fault skips the call and reports the configured failure", "[chaos]") {
  int calls = 0;
  const auto call = [&] {
    ++calls;
    return 1;
  };
  resil::chaos_fault refused{{.injection_rate = 1.0},
                             std::make_error_code(std::errc::connection_refused)};
  CHECK(refused.try_execute(call).error() == std::errc::connection_refused);
  resil::chaos_fault crash{{.injection_rate = 1.0}, std::runtime_error("pod evicted")};
  CHECK_THROWS_WITH(crash.execute(call), "pod evicted");
  resil::chaos_fault custom{{.injection_rate = 1.0}, [] { return std::make_exception_ptr(42); }};
  CHECK(custom.try_execute(call).has_exception());
  CHECK(calls == 0);
}

TEST_CASE("chaos: injected latency waits through the clock, then calls", "[chaos]") {
  manual_clock clock;
  resil::basic_chaos_latency<manual_clock> slow{{.injection_rate = 1.0}, 800ms, clock};
  resil::nanoseconds seen{};
  const int r = slow.execute([&] {
    seen = clock.now().time_since_epoch();
    return 7;
  });
  CHECK(r == 7);
  CHECK(seen == 800ms);
  CHECK(slow.injected() == 1);
}

TEST_CASE("chaos: a stopped latency wait abandons the call as cancelled", "[chaos]") {
  manual_clock clock;
  resil::basic_chaos_latency<manual_clock> slow{{.injection_rate = 1.0}, 800ms, clock};
  std::stop_source stop;
  stop.request_stop();
  resil::context ctx{stop.get_token()};
  bool called = false;
  const auto r = slow.try_execute_in(ctx, [&] { called = true; });
  CHECK(r.error() == resil::errc::cancelled);
  CHECK_FALSE(called);
  CHECK(clock.now() == manual_clock::time_point{});
}

TEST_CASE("chaos: a fake outcome replaces the result without calling", "[chaos]") {
  resil::chaos_outcome<http_response> flaky{{.injection_rate = 1.0}, http_response{503}};
  bool called = false;
  const auto r = flaky.execute([&] {
    called = true;
    return http_response{200};
  });
  CHECK(r.status == 503);
  CHECK_FALSE(called);
  resil::chaos_outcome<http_response> counted{
      {.injection_rate = 1.0},
      [](resil::context& ctx) { return http_response{500 + static_cast<int>(ctx.attempt())}; }};
  CHECK(counted.execute([] { return http_response{200}; }).status == 501);
}

TEST_CASE("chaos: a behaviour runs its side effect and then the call", "[chaos]") {
  int evictions = 0;
  resil::chaos_behavior evict{{.injection_rate = 1.0}, [&](resil::context&) { ++evictions; }};
  CHECK(evict.execute([] { return 5; }) == 5);
  CHECK(evictions == 1);
  resil::chaos_behavior broken{{.injection_rate = 1.0},
                               [](resil::context&) { throw std::logic_error("chaos bug"); }};
  bool called = false;
  CHECK(broken.try_execute([&] { called = true; }).has_exception());
  CHECK_FALSE(called);
}

TEST_CASE("chaos: a timeline injects only inside its phases, edges included and excluded",
          "[chaos]") {
  manual_clock clock;
  resil::basic_chaos_fault<manual_clock> payment{
      {.injection_rate = 0.0, .schedule = {{60s, 120s, 1.0}}}, resil::errc::timeout, clock};
  const auto at = [&](resil::nanoseconds t) {
    clock.set(manual_clock::time_point{t});
    return payment.try_execute([] { return 1; }).has_error();
  };
  CHECK_FALSE(at(0s));
  CHECK_FALSE(at(60s - 1ns));
  CHECK(at(60s));
  CHECK(at(90s));
  CHECK(at(120s - 1ns));
  CHECK_FALSE(at(120s));
  CHECK_FALSE(at(1h));
}

TEST_CASE("chaos: a scenario is data: two services, two phases", "[chaos]") {
  // payment fails 100% from 60 s to 120 s; the restaurant adds 800 ms from 30 s to 50 s.
  manual_clock clock;
  resil::basic_chaos_fault<manual_clock> payment{
      {.injection_rate = 0, .schedule = {{60s, 120s, 1.0}}}, resil::errc::timeout, clock};
  resil::basic_chaos_latency<manual_clock> restaurant{
      {.injection_rate = 0, .schedule = {{30s, 50s, 1.0}}}, 800ms, clock};
  int payment_failures = 0;
  resil::nanoseconds restaurant_delay{0};
  for (int s = 0; s < 180; ++s) {
    clock.set(manual_clock::time_point{std::chrono::seconds{s}});
    payment_failures += payment.try_execute([] { return 1; }).has_error() ? 1 : 0;
    const auto before = clock.now();
    restaurant.execute([] {});
    restaurant_delay += clock.now() - before;
  }
  CHECK(payment_failures == 60);
  CHECK(restaurant_delay == 20 * 800ms);
}

TEST_CASE("chaos: restart_schedule measures phases from a new origin", "[chaos]") {
  manual_clock clock{manual_clock::time_point{1h}};
  resil::basic_chaos_fault<manual_clock> f{
      {.injection_rate = 0, .schedule = {{10s, 20s, 1.0}}}, resil::errc::timeout, clock};
  clock.advance(15s);
  CHECK(f.try_execute([] { return 1; }).has_error());
  f.restart_schedule(clock.now());
  CHECK_FALSE(f.try_execute([] { return 1; }).has_error());
  clock.advance(10s);
  CHECK(f.try_execute([] { return 1; }).has_error());
}

TEST_CASE("chaos: injections are published as events", "[chaos]") {
  resil::chaos_latency slow{{.injection_rate = 1.0}, 0ns};
  std::vector<resil::chaos_event> seen;
  slow.events().subscribe([&](const resil::chaos_event& e) { seen.push_back(e); });
  slow.execute([] {});
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].kind == resil::chaos_event::kind_t::latency);
  CHECK(seen[0].attempt == 1);
}

TEST_CASE("chaos: chaos policies compose with others", "[chaos]") {
  resil_test::repeating_policy twice;
  resil::chaos_fault fail_all{{.injection_rate = 1.0}, resil::errc::timeout};
  auto pipeline = resil::compose(twice, fail_all);
  CHECK(pipeline.try_execute([] { return 1; }).error() == resil::errc::timeout);
  CHECK(fail_all.injected() == 2);
}

TEST_CASE("chaos: invalid options are rejected with the field and value", "[chaos]") {
  using opts = resil::chaos_options;
  CHECK_THROWS_WITH(resil::chaos_fault(opts{.injection_rate = 1.5}, resil::errc::timeout),
                    Catch::Contains("chaos_fault_options.injection_rate = 1.5"));
  CHECK_THROWS_AS(resil::chaos_fault(opts{.injection_rate = std::nan("")}, resil::errc::timeout),
                  resil::config_error);
  CHECK_THROWS_WITH(resil::chaos_fault(opts{.schedule = {{20s, 10s, 1.0}}}, resil::errc::timeout),
                    Catch::Contains("schedule.until"));
  CHECK_THROWS_AS(resil::chaos_fault(opts{.schedule = {{0s, 10s, -0.1}}}, resil::errc::timeout),
                  resil::config_error);
  CHECK_THROWS_WITH(resil::chaos_latency(opts{}, -1ms), Catch::Contains("chaos_latency.latency"));
  CHECK_THROWS_AS(resil::chaos_fault(opts{}, std::error_code{}), resil::config_error);
}

TEST_CASE("chaos: latency on a virtual clock costs simulated time only", "[chaos]") {
  resil::virtual_clock clock;
  resil::basic_chaos_latency<resil::virtual_clock> slow{{.injection_rate = 1.0}, 30s, clock};
  long calls = 0;
  clock.run(4, [&](std::size_t) {
    for (int i = 0; i < 20; ++i) slow.execute([&] { ++calls; });
  });
  CHECK(calls == 80);
  CHECK(clock.now() == resil::virtual_clock::time_point{20 * 30s});
}

TEST_CASE("chaos: concurrent calls share one generator safely", "[chaos]") {
  resil::chaos_fault f{{.injection_rate = 0.5}, resil::errc::timeout};
  std::atomic<int> hits{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 5000; ++i) hits += faulted(f) ? 1 : 0;
    });
  }
  for (auto& t : threads) t.join();
  CHECK(hits.load() == static_cast<int>(f.injected()));
  CHECK(std::abs(hits.load() - 10'000) < 5 * 71);  // sd = sqrt(20000 * .25) ≈ 71
}

TEST_CASE("chaos: injection kinds are named as their enumerators", "[chaos]") {
  CHECK(resil_test::enum_names<resil::chaos_event::kind_t>(4) ==
        std::vector<std::string_view>{"fault", "latency", "outcome", "behavior"});
  CHECK(to_string(static_cast<resil::chaos_event::kind_t>(4)) == "unknown");
}
