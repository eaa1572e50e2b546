// The delivery simulation's acceptance test: the quick scenarios tell the story the docs tell,
// bit for bit the same for the same seed; plus the parts (discovery, ledger, metrics) on their own.
// SPDX-License-Identifier: MIT
#include <catch2/catch.hpp>

#include <chrono>
#include <string>

#include "bus.hpp"
#include "discovery.hpp"
#include "metrics.hpp"
#include "report.hpp"
#include "scenarios.hpp"
#include "services.hpp"
#include "system.hpp"

using namespace std::chrono_literals;
using namespace delivery;

namespace {

// What `delivery --quick` runs.
load_options quick() {
  load_options load;
  load.duration = quick_duration;
  return load;
}

const scenario& named(std::string_view name) {
  const scenario* s = find_scenario(name);
  REQUIRE(s != nullptr);
  return *s;
}

}  // namespace

TEST_CASE("delivery: in the payment outage the plan keeps checkouts going and spares payment",
          "[delivery]") {
  const scenario& s = named("payment-outage");
  const run_result naive = run_scenario(s, mode::naive, quick());
  const run_result resilient = run_scenario(s, mode::resilient, quick());

  // Fallbacks ("payment pending") count as degraded successes.
  CHECK(naive.clients.success_pct() < 99.0);
  CHECK(resilient.clients.success_pct() > naive.clients.success_pct());
  CHECK(resilient.clients.degraded > 0);
  // The calls that reach the failing payment instances drop by at least 10x.
  REQUIRE(naive.calls_to_failing > 0);
  CHECK(naive.calls_to_failing >= 10 * resilient.calls_to_failing);
  // Every order accepted as "payment pending" is charged after the outage, exactly once.
  CHECK(resilient.counter("bus payment.pending") > 0);
  CHECK(resilient.counter("payments settled later") == resilient.counter("bus payment.pending"));
  CHECK(naive.counter("ledger double charges") == 0);
  CHECK(resilient.counter("ledger double charges") == 0);
  CHECK(resilient.counter("ledger charges") == resilient.counter("orders created"));
  // The breaker opened and closed again.
  CHECK(resilient.counter("order->payment breaker transitions") >= 2);
  CHECK(naive.data.transitions.empty());
}

TEST_CASE("delivery: the abusive client is limited while the other clients are not", "[delivery]") {
  const scenario& s = named("abusive-client");
  const run_result naive = run_scenario(s, mode::naive, quick());
  const run_result resilient = run_scenario(s, mode::resilient, quick());

  REQUIRE(resilient.abusive.requests > 0);
  CHECK(resilient.abusive.rejected * 2 > resilient.abusive.requests);  // mostly 429
  CHECK(resilient.clients.rejected == 0);                              // nobody else
  CHECK(resilient.clients.success_pct() == 100.0);
  CHECK(naive.abusive.rejected == 0);  // naive has no limiter...
  // ...so, while it runs, the scraper takes the capacity everyone else needs.
  REQUIRE(naive.during.has_value());
  REQUIRE(resilient.during.has_value());
  CHECK(resilient.during->requests > 0);
  CHECK(resilient.during->rejected == 0);
  CHECK(resilient.during->success_pct() == 100.0);
  CHECK(naive.during->latency.p50 > resilient.during->latency.p50);
  CHECK(naive.during->latency.p99 > resilient.during->latency.p99);
}

TEST_CASE("delivery: the same seed gives bit-identical results, another seed does not",
          "[delivery]") {
  const scenario& s = named("retry-storm");
  auto load = quick();
  load.duration = 90s;
  const run_result a = run_scenario(s, mode::resilient, load);
  const run_result b = run_scenario(s, mode::resilient, load);
  CHECK(a.data.counters == b.data.counters);
  CHECK(a.data.requests.size() == b.data.requests.size());
  CHECK(render_csv(a) == render_csv(b));
  const scenario_result ra{&s, run_scenario(s, mode::naive, load), a};
  const scenario_result rb{&s, run_scenario(s, mode::naive, load), b};
  CHECK(render_report({ra}) == render_report({rb}));
  CHECK(render_svg(ra) == render_svg(rb));

  load.seed += 1;
  const run_result c = run_scenario(s, mode::resilient, load);
  CHECK(render_csv(a) != render_csv(c));
}

TEST_CASE("delivery: in steady state both modes serve every request", "[delivery]") {
  auto load = quick();
  load.duration = 60s;
  load.clients = 40;
  for (const mode m : {mode::naive, mode::resilient}) {
    const run_result r = run_scenario(named("steady"), m, load);
    CHECK(r.clients.requests > 300);
    CHECK(r.clients.ok == r.clients.requests);
    CHECK(r.calls_to_failing == 0);
    CHECK(r.data.transitions.empty());
  }
}

// -- the parts ----------------------------------------------------------------------------------

TEST_CASE("delivery: the registry returns healthy, live instances in registration order",
          "[delivery]") {
  nanoseconds now{0};
  in_process_registry registry{[&] { return now; }};
  registry.register_instance({"pay-1", "payment", "v1"}, 0s);
  registry.register_instance({"pay-2", "payment", "v1"}, 10s);  // with a TTL
  registry.register_instance({"menu-1", "restaurant", "v2"}, 0s);
  const auto ids = [&](discovery_query q) {
    std::string out;
    for (const auto& i : registry.lookup(q)) out += i.id + " ";
    return out;
  };
  CHECK(ids({"payment"}) == "pay-1 pay-2 ");
  CHECK(ids({"restaurant", "v1"}).empty());
  CHECK(ids({"restaurant", "v2"}) == "menu-1 ");

  const auto g0 = registry.generation();
  CHECK(registry.set_health("pay-1", health_state::critical));
  CHECK(registry.generation() != g0);
  CHECK(ids({"payment"}) == "pay-2 ");
  CHECK(ids({"payment", "", false}) == "pay-1 pay-2 ");  // all, healthy or not

  now = 11s;  // pay-2 missed its heartbeat
  CHECK(ids({"payment"}).empty());
  CHECK(registry.heartbeat("pay-2"));
  CHECK(ids({"payment"}) == "pay-2 ");

  CHECK(registry.deregister("pay-2"));
  CHECK_FALSE(registry.deregister("pay-2"));
  CHECK_FALSE(registry.heartbeat("nobody"));
  CHECK_FALSE(registry.set_health("nobody", health_state::passing));
  CHECK(ids({"payment", "", false}) == "pay-1 ");
  CHECK(registry.health_changes() == 1);
}

TEST_CASE("delivery: the balancer goes round-robin or to the least busy instance", "[delivery]") {
  nanoseconds now{0};
  const auto clock = [&] { return now; };
  in_process_registry registry{clock};
  for (const char* id : {"a", "b", "c"}) registry.register_instance({id, "s", "v1"}, 0s);

  load_balancer rr{registry, "s", "", {}, clock};
  std::string order;
  for (int i = 0; i < 6; ++i) {
    const auto id = rr.pick();
    order += id;
    rr.done(id, true);
  }
  CHECK(order == "abcabc");

  load_balancer lif{registry, "s", "", {.strategy = balancing::least_in_flight}, clock};
  const auto first = lif.pick();   // a: in flight
  const auto second = lif.pick();  // b: in flight
  CHECK(first == "a");
  CHECK(second == "b");
  CHECK(lif.pick() == "c");
  lif.done("b", true);  // only b is free now
  CHECK(lif.pick() == "b");

  registry.set_health("b", health_state::critical);
  load_balancer healthy{registry, "s", "", {}, clock};
  for (int i = 0; i < 4; ++i) CHECK(healthy.pick() != "b");
  registry.set_health("a", health_state::critical);
  registry.set_health("c", health_state::critical);
  CHECK(healthy.pick().empty());
  CHECK(healthy.snapshot().empty == 1);
}

TEST_CASE("delivery: outlier ejection skips a failing instance for a while, within a limit",
          "[delivery]") {
  nanoseconds now{0};
  const auto clock = [&] { return now; };
  in_process_registry registry{clock};
  for (const char* id : {"a", "b", "c", "d"}) registry.register_instance({id, "s", "v1"}, 0s);
  const balancer_options options{.strategy = balancing::round_robin,
                                 .ejection = {.enabled = true,
                                              .consecutive_failures = 3,
                                              .base_ejection = 30s,
                                              .max_ejection = 300s,
                                              .max_ejected_fraction = 0.25},
                                 .healthy_only = true};
  load_balancer lb{registry, "s", "", options, clock};
  (void)lb.pick();
  lb.done("a", false);
  lb.done("a", false);
  CHECK_FALSE(lb.ejected("a"));
  lb.done("a", true);  // a success resets the count
  lb.done("a", false);
  lb.done("a", false);
  CHECK_FALSE(lb.ejected("a"));
  lb.done("a", false);
  CHECK(lb.ejected("a"));
  for (int i = 0; i < 6; ++i) {
    const auto id = lb.pick();
    CHECK(id != "a");
    lb.done(id, true);
  }
  // At most a quarter of four instances at once: b is not ejected while a is.
  for (int i = 0; i < 5; ++i) lb.done("b", false);
  CHECK_FALSE(lb.ejected("b"));
  CHECK(lb.snapshot().ejections == 1);

  now = 31s;  // a is back; a second ejection lasts twice as long
  CHECK_FALSE(lb.ejected("a"));
  for (int i = 0; i < 3; ++i) lb.done("a", false);
  CHECK(lb.ejected("a"));
  now = 31s + 59s;
  CHECK(lb.ejected("a"));
  now = 31s + 61s;
  CHECK_FALSE(lb.ejected("a"));
}

TEST_CASE("delivery: each consumer group gets every event of its topics once", "[delivery]") {
  sim_clock clock;
  message_bus bus{clock};
  auto& notifications = bus.group("notification", {"order.created"});
  auto& audit = bus.group("audit", {"order.created", "payment.processed"});
  std::string got_notifications;
  std::string got_audit;
  clock.run(1, [&](std::size_t) {
    bus.publish({"order.created", 1, 7, {}});
    bus.publish({"payment.processed", 1, 7, {}});
    bus.publish({"ignored.topic", 2, 7, {}});
    const std::stop_token none;
    while (auto e = notifications.pop_until(clock.now(), none)) got_notifications += e->topic + " ";
    while (auto e = audit.pop_until(clock.now(), none)) got_audit += e->topic + " ";
  });
  CHECK(got_notifications == "order.created ");
  CHECK(got_audit == "order.created payment.processed ");
  CHECK(bus.published().at("ignored.topic") == 1);
}

TEST_CASE("delivery: the ledger charges an idempotency key once", "[delivery]") {
  payment_ledger ledger;
  const charge_request first{"app-1/req-1", 7, 1, 1250};
  const receipt a = ledger.charge(first);
  const receipt b = ledger.charge(first);  // a retry, by any instance
  CHECK_FALSE(a.replayed);
  CHECK(b.replayed);
  CHECK(a.charge_id == b.charge_id);
  (void)ledger.charge({"app-1/req-2", 8, 1, 500});
  const auto totals = ledger.snapshot();
  CHECK(totals.charges == 2);
  CHECK(totals.replays == 1);
  CHECK(totals.double_charges == 0);
  CHECK(totals.amount_cents == 1750);
}

TEST_CASE("delivery: recovery is measured from the end of the faults", "[delivery]") {
  std::vector<second_bucket> buckets(40);
  for (std::size_t s = 0; s < buckets.size(); ++s) {
    buckets[s].requests = 10;
    buckets[s].ok = s >= 10 && s < 23 ? 5 : 10;  // bad from 10 s to 23 s
  }
  CHECK(time_to_recover(buckets, 20.0) == Approx(3.0));
  CHECK(time_to_recover(buckets, 25.0) == Approx(0.0));
  CHECK_FALSE(time_to_recover(buckets, 35.0).has_value());  // not 10 s of data left
  buckets[38].ok = 0;
  CHECK_FALSE(time_to_recover(buckets, 30.0).has_value());
}

TEST_CASE("delivery: summaries count degraded answers as successes", "[delivery]") {
  std::vector<request_record> records;
  for (int i = 0; i < 100; ++i) {
    request_record r;
    r.latency_ns = (i + 1) * 1'000'000;  // 1 .. 100 ms
    r.result = i < 90 ? result_class::ok : i < 95 ? result_class::degraded : result_class::failed;
    records.push_back(r);
  }
  const auto s = summarize(records);
  CHECK(s.requests == 100);
  CHECK(s.success_pct() == Approx(95.0));
  CHECK(s.degraded_pct() == Approx(5.0));
  CHECK(s.latency.p50 == Approx(50.0));
  CHECK(s.latency.p99 == Approx(99.0));
}
