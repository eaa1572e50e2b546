// The scenarios. Each is data: a timeline of chaos faults on named instances, and a load shape.
// SPDX-License-Identifier: MIT
#include "scenarios.hpp"

#include <algorithm>

namespace delivery {

namespace {

using namespace std::chrono_literals;

fault error_between(nanoseconds from, nanoseconds until, double rate = 1.0,
                    bool affects_health = true) {
  return {fault::kind_t::error, from, until, rate, 0s, affects_health};
}

fault latency_between(nanoseconds from, nanoseconds until, nanoseconds latency,
                      bool affects_health = true) {
  return {fault::kind_t::latency, from, until, 1.0, latency, affects_health};
}

std::vector<scenario> make_scenarios() {
  std::vector<scenario> all;

  scenario steady;
  steady.name = "steady";
  steady.title = "Steady state";
  steady.story = "Nothing fails: the baseline.";
  steady.shows = "the plan costs nothing when all is well";
  all.push_back(steady);

  scenario outage;
  outage.name = "payment-outage";
  outage.title = "Payment outage";
  outage.story = "Every payment instance hangs 300 ms then fails, from 60 s to 120 s.";
  outage.shows = "the breaker stops calling payment; orders are accepted as 'payment pending'";
  for (const char* id : {"payment-1", "payment-2", "payment-3"}) {
    outage.faults[id] = {latency_between(60s, 120s, 300ms), error_between(60s, 120s)};
  }
  outage.fault_from = 60s;
  outage.fault_until = 120s;
  outage.focus = "payment";
  all.push_back(outage);

  scenario slow;
  slow.name = "slow-restaurant";
  slow.title = "One slow restaurant instance";
  slow.story = "restaurant-2 takes 2.5 s longer on every call, from 60 s to 120 s.";
  slow.shows = "timeouts, least-in-flight balancing, ejection and health checks route around it";
  slow.faults["restaurant-2"] = {latency_between(60s, 120s, 2500ms)};
  slow.fault_from = 60s;
  slow.fault_until = 120s;
  slow.focus = "restaurant";
  all.push_back(slow);

  scenario storm;
  storm.name = "retry-storm";
  storm.title = "Retry storm";
  storm.story = "Every restaurant v1 instance slows down by 1.2 s from 60 s to 120 s; queues fill.";
  storm.shows = "a retry budget and the breaker stop retries from multiplying the load";
  for (const char* id : {"restaurant-1", "restaurant-2", "restaurant-3"}) {
    storm.faults[id] = {latency_between(60s, 120s, 1200ms)};
  }
  storm.fault_from = 60s;
  storm.fault_until = 120s;
  storm.focus = "restaurant";
  all.push_back(storm);

  scenario abusive;
  abusive.name = "abusive-client";
  abusive.title = "Abusive client";
  abusive.story = "From 60 s to 120 s a scraper hammers menus over 24 connections, 40 ms apart.";
  abusive.shows = "the per-client limit stops the scraper; everyone else is served as usual";
  abusive.abusive_connections = 24;
  abusive.abuse_from = 60s;
  abusive.abuse_until = 120s;
  all.push_back(abusive);

  scenario canary;
  canary.name = "buggy-canary";
  canary.title = "Buggy canary";
  canary.story = "restaurant v2 (10 % of restaurant traffic) fails half its calls from 30 s on.";
  canary.shows = "the canary's breaker opens and its traffic rolls back to v1";
  canary.faults["restaurant-v2-1"] = {error_between(30s, 24h, 0.5, false)};
  canary.fault_from = 30s;
  canary.fault_until = 24h;
  canary.focus = "restaurant-v2";
  all.push_back(canary);

  return all;
}

}  // namespace

const std::vector<scenario>& all_scenarios() {
  static const std::vector<scenario> all = make_scenarios();
  return all;
}

const scenario* find_scenario(std::string_view name) {
  const auto& all = all_scenarios();
  const auto it =
      std::find_if(all.begin(), all.end(), [&](const scenario& s) { return s.name == name; });
  return it == all.end() ? nullptr : &*it;
}

}  // namespace delivery
