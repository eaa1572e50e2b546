// Tests for resil/prometheus.hpp: the text format writer (grouping, escaping, values) and the
// exposition of policies, registries and health reports, with a golden output.
// SPDX-License-Identifier: MIT
#include <resil/prometheus.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "support/enum_names.hpp"
#include "support/observability_scenario.hpp"

using namespace std::chrono_literals;
using resil::prometheus_text;

namespace {

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// The metric name of a sample line.
std::string metric_of(const std::string& line) {
  return line.substr(0, line.find_first_of("{ "));
}

}  // namespace

TEST_CASE("prometheus: samples are grouped by family, each with HELP and TYPE, in first-seen order",
          "[prometheus]") {
  prometheus_text out;
  CHECK(out.empty());
  CHECK(out.str().empty());
  out.gauge("b_gauge", "A gauge.", {{"name", "x"}}, 1);
  out.counter("a_total", "A counter.", {}, 2);
  out.gauge("b_gauge", "Ignored: the first help stays.", {{"name", "y"}}, 3);
  out.add("c_untyped", resil::prometheus_type::untyped, "Untyped.", {{"k", "v"}, {"l", "w"}}, 4);
  CHECK(out.str() ==
        "# HELP b_gauge A gauge.\n"
        "# TYPE b_gauge gauge\n"
        "b_gauge{name=\"x\"} 1\n"
        "b_gauge{name=\"y\"} 3\n"
        "# HELP a_total A counter.\n"
        "# TYPE a_total counter\n"
        "a_total 2\n"
        "# HELP c_untyped Untyped.\n"
        "# TYPE c_untyped untyped\n"
        "c_untyped{k=\"v\",l=\"w\"} 4\n");
  CHECK(prometheus_text::content_type == "text/plain; version=0.0.4; charset=utf-8");
}

TEST_CASE(
    "prometheus: label values escape backslash, quote and newline, help texts backslash and "
    "newline",
    "[prometheus]") {
  prometheus_text out;
  out.gauge("g", "Help with \\ and \"quotes\"\nand a second line.", {{"name", "a\\b\"c\nd"}}, 0);
  CHECK(out.str() ==
        "# HELP g Help with \\\\ and \"quotes\"\\nand a second line.\n"
        "# TYPE g gauge\n"
        "g{name=\"a\\\\b\\\"c\\nd\"} 0\n");
  prometheus_text utf8;
  utf8.gauge("g", "h", {{"name", "caf\xc3\xa9"}}, 1);  // UTF-8 passes through
  CHECK(utf8.str().find("g{name=\"caf\xc3\xa9\"} 1\n") != std::string::npos);
}

TEST_CASE("prometheus: values are exact integers, shortest doubles, NaN and infinities",
          "[prometheus]") {
  const auto line = [](auto v) {
    prometheus_text t;
    t.gauge("v", "v", {}, v);
    return lines(t.str()).back();
  };
  CHECK(line(std::uint64_t{18'446'744'073'709'551'615ULL}) == "v 18446744073709551615");
  CHECK(line(std::int64_t{-42}) == "v -42");
  CHECK(line(0.6) == "v 0.6");
  CHECK(line(0.1 + 0.2) == "v 0.30000000000000004");
  CHECK(line(1e-9) == "v 1e-09");
  CHECK(line(2.0) == "v 2");
  CHECK(line(std::numeric_limits<double>::quiet_NaN()) == "v NaN");
  CHECK(line(std::numeric_limits<double>::infinity()) == "v +Inf");
  CHECK(line(-std::numeric_limits<double>::infinity()) == "v -Inf");
  CHECK(line(true) == "v 1");
  CHECK(line(false) == "v 0");
}

TEST_CASE("prometheus: each policy writes its families, with call counts when given",
          "[prometheus]") {
  resil::manual_clock clock;
  resil::basic_bulkhead<resil::manual_clock> b{{.max_concurrent = 4}, clock};
  auto held = b.try_acquire();
  prometheus_text out;
  resil::write_prometheus(out, "db", b);
  CHECK(out.str() ==
        "# HELP resil_bulkhead_available_concurrent_calls Free slots.\n"
        "# TYPE resil_bulkhead_available_concurrent_calls gauge\n"
        "resil_bulkhead_available_concurrent_calls{name=\"db\"} 3\n"
        "# HELP resil_bulkhead_max_allowed_concurrent_calls The limit of calls at once.\n"
        "# TYPE resil_bulkhead_max_allowed_concurrent_calls gauge\n"
        "resil_bulkhead_max_allowed_concurrent_calls{name=\"db\"} 4\n"
        "# HELP resil_bulkhead_waiting_calls Callers waiting in line for a slot.\n"
        "# TYPE resil_bulkhead_waiting_calls gauge\n"
        "resil_bulkhead_waiting_calls{name=\"db\"} 0\n");
  resil::call_counts counts;
  counts.permitted = 7;
  counts.rejected = 2;
  resil::write_prometheus(out, "cache", b, counts);
  const std::string text = out.str();
  CHECK(text.find("resil_bulkhead_available_concurrent_calls{name=\"cache\"} 3\n") <
        text.find("# HELP resil_bulkhead_max_allowed"));  // grouped with "db"
  CHECK(text.find("resil_bulkhead_calls_total{name=\"cache\",kind=\"permitted\"} 7\n") !=
        std::string::npos);
  CHECK(text.find("resil_bulkhead_calls_total{name=\"cache\",kind=\"rejected\"} 2\n") !=
        std::string::npos);
  CHECK(text.find("resil_bulkhead_calls_total{name=\"db\"") == std::string::npos);
  // A timeout keeps no counters: nothing without counts.
  prometheus_text timeouts;
  resil::basic_timeout<resil::manual_clock> t{{.duration = 1s}, clock};
  resil::write_prometheus(timeouts, "pricing", t);
  CHECK(timeouts.empty());
}

TEST_CASE("prometheus: window limiters share the rate limiter's families", "[prometheus]") {
  resil::manual_clock clock;
  resil::basic_sliding_window_rate_limiter<resil::manual_clock> l{{.limit = 5}, clock};
  CHECK(l.try_acquire(2));
  prometheus_text out;
  resil::write_prometheus(out, "search", l);
  CHECK(out.str() ==
        "# HELP resil_ratelimiter_available_permissions Permits available now.\n"
        "# TYPE resil_ratelimiter_available_permissions gauge\n"
        "resil_ratelimiter_available_permissions{name=\"search\"} 3\n");
}

TEST_CASE("prometheus: a health report is one gauge per check and status", "[prometheus]") {
  resil::health_report report;
  report.checks.push_back({});
  report.checks[0].name = "db";
  report.checks[0].status = resil::health_status::unhealthy;
  prometheus_text out;
  resil::write_prometheus(out, report);
  CHECK(out.str() ==
        "# HELP resil_health_status 1 for the check's status, 0 for the others.\n"
        "# TYPE resil_health_status gauge\n"
        "resil_health_status{check=\"db\",status=\"healthy\"} 0\n"
        "resil_health_status{check=\"db\",status=\"degraded\"} 0\n"
        "resil_health_status{check=\"db\",status=\"unhealthy\"} 1\n"
        "resil_health_status{check=\"db\",status=\"unknown\"} 0\n");
}

TEST_CASE("prometheus: golden output of a fixed manual-clock scenario", "[prometheus]") {
  CHECK(resil_test::observability_scenario() ==
        R"(# HELP resil_circuitbreaker_state 1 for the breaker's state, 0 for the others.
# TYPE resil_circuitbreaker_state gauge
resil_circuitbreaker_state{name="payment",state="closed"} 0
resil_circuitbreaker_state{name="payment",state="open"} 1
resil_circuitbreaker_state{name="payment",state="half_open"} 0
resil_circuitbreaker_state{name="payment",state="disabled"} 0
resil_circuitbreaker_state{name="payment",state="forced_open"} 0
resil_circuitbreaker_state{name="payment",state="metrics_only"} 0
resil_circuitbreaker_state{name="search",state="closed"} 1
resil_circuitbreaker_state{name="search",state="open"} 0
resil_circuitbreaker_state{name="search",state="half_open"} 0
resil_circuitbreaker_state{name="search",state="disabled"} 0
resil_circuitbreaker_state{name="search",state="forced_open"} 0
resil_circuitbreaker_state{name="search",state="metrics_only"} 0
# HELP resil_circuitbreaker_calls_total Calls recorded by the breaker, by outcome.
# TYPE resil_circuitbreaker_calls_total counter
resil_circuitbreaker_calls_total{name="payment",kind="successful"} 2
resil_circuitbreaker_calls_total{name="payment",kind="failed"} 2
resil_circuitbreaker_calls_total{name="payment",kind="ignored"} 0
resil_circuitbreaker_calls_total{name="search",kind="successful"} 1
resil_circuitbreaker_calls_total{name="search",kind="failed"} 0
resil_circuitbreaker_calls_total{name="search",kind="ignored"} 0
# HELP resil_circuitbreaker_not_permitted_calls_total Calls the breaker rejected.
# TYPE resil_circuitbreaker_not_permitted_calls_total counter
resil_circuitbreaker_not_permitted_calls_total{name="payment"} 1
resil_circuitbreaker_not_permitted_calls_total{name="search"} 0
# HELP resil_circuitbreaker_buffered_calls Calls in the sliding window (or half-open probes).
# TYPE resil_circuitbreaker_buffered_calls gauge
resil_circuitbreaker_buffered_calls{name="payment",kind="successful"} 2
resil_circuitbreaker_buffered_calls{name="payment",kind="failed"} 2
resil_circuitbreaker_buffered_calls{name="search",kind="successful"} 1
resil_circuitbreaker_buffered_calls{name="search",kind="failed"} 0
# HELP resil_circuitbreaker_slow_calls Slow calls in the sliding window.
# TYPE resil_circuitbreaker_slow_calls gauge
resil_circuitbreaker_slow_calls{name="payment"} 0
resil_circuitbreaker_slow_calls{name="search"} 0
# HELP resil_circuitbreaker_failure_ratio Failed calls / calls in the window, 0..1 (NaN below the minimum number of calls).
# TYPE resil_circuitbreaker_failure_ratio gauge
resil_circuitbreaker_failure_ratio{name="payment"} 0.5
resil_circuitbreaker_failure_ratio{name="search"} NaN
# HELP resil_circuitbreaker_slow_call_ratio Slow calls / calls in the window, 0..1 (NaN below the minimum number of calls).
# TYPE resil_circuitbreaker_slow_call_ratio gauge
resil_circuitbreaker_slow_call_ratio{name="payment"} 0
resil_circuitbreaker_slow_call_ratio{name="search"} NaN
# HELP resil_circuitbreaker_state_transitions_total State transitions of the breaker.
# TYPE resil_circuitbreaker_state_transitions_total counter
resil_circuitbreaker_state_transitions_total{name="payment"} 1
resil_circuitbreaker_state_transitions_total{name="search"} 0
# HELP resil_retry_calls_total Calls through the retry, by outcome and retrying.
# TYPE resil_retry_calls_total counter
resil_retry_calls_total{name="inventory",kind="successful_without_retry"} 1
resil_retry_calls_total{name="inventory",kind="successful_with_retry"} 1
resil_retry_calls_total{name="inventory",kind="failed_without_retry"} 0
resil_retry_calls_total{name="inventory",kind="failed_with_retry"} 1
# HELP resil_retry_attempts_total Retry attempts made (first attempts not included).
# TYPE resil_retry_attempts_total counter
resil_retry_attempts_total{name="inventory"} 3
# HELP resil_retry_budget_denied_total Retries a retry budget refused.
# TYPE resil_retry_budget_denied_total counter
resil_retry_budget_denied_total{name="inventory"} 0
# HELP resil_ratelimiter_available_permissions Permits available now.
# TYPE resil_ratelimiter_available_permissions gauge
resil_ratelimiter_available_permissions{name="partner-api"} 7
# HELP resil_ratelimiter_waiting_threads Callers waiting for a permit.
# TYPE resil_ratelimiter_waiting_threads gauge
resil_ratelimiter_waiting_threads{name="partner-api"} 0
# HELP resil_ratelimiter_calls_total Requests, by whether they were granted.
# TYPE resil_ratelimiter_calls_total counter
resil_ratelimiter_calls_total{name="partner-api",kind="permitted"} 3
resil_ratelimiter_calls_total{name="partner-api",kind="rejected"} 0
# HELP resil_keyed_ratelimiter_keys Keys tracked now.
# TYPE resil_keyed_ratelimiter_keys gauge
resil_keyed_ratelimiter_keys{name="per-client"} 1
# HELP resil_keyed_ratelimiter_max_keys The most keys tracked at once.
# TYPE resil_keyed_ratelimiter_max_keys gauge
resil_keyed_ratelimiter_max_keys{name="per-client"} 10000
# HELP resil_keyed_ratelimiter_evicted_keys_total Keys dropped: idle (bucket full, nothing lost) or active (at the key cap).
# TYPE resil_keyed_ratelimiter_evicted_keys_total counter
resil_keyed_ratelimiter_evicted_keys_total{name="per-client",kind="idle"} 0
resil_keyed_ratelimiter_evicted_keys_total{name="per-client",kind="active"} 0
# HELP resil_keyed_ratelimiter_calls_total Requests, by whether they were granted.
# TYPE resil_keyed_ratelimiter_calls_total counter
resil_keyed_ratelimiter_calls_total{name="per-client",kind="permitted"} 2
resil_keyed_ratelimiter_calls_total{name="per-client",kind="rejected"} 1
# HELP resil_bulkhead_available_concurrent_calls Free slots.
# TYPE resil_bulkhead_available_concurrent_calls gauge
resil_bulkhead_available_concurrent_calls{name="kitchen"} 0
# HELP resil_bulkhead_max_allowed_concurrent_calls The limit of calls at once.
# TYPE resil_bulkhead_max_allowed_concurrent_calls gauge
resil_bulkhead_max_allowed_concurrent_calls{name="kitchen"} 2
# HELP resil_bulkhead_waiting_calls Callers waiting in line for a slot.
# TYPE resil_bulkhead_waiting_calls gauge
resil_bulkhead_waiting_calls{name="kitchen"} 0
# HELP resil_bulkhead_calls_total Requests, by whether they were granted.
# TYPE resil_bulkhead_calls_total counter
resil_bulkhead_calls_total{name="kitchen",kind="permitted"} 2
resil_bulkhead_calls_total{name="kitchen",kind="rejected"} 1
# HELP resil_timelimiter_calls_total Calls that ran past their deadline.
# TYPE resil_timelimiter_calls_total counter
resil_timelimiter_calls_total{name="pricing",kind="timeout"} 1
# HELP resil_retrybudget_tokens Tokens left in the retry budget.
# TYPE resil_retrybudget_tokens gauge
resil_retrybudget_tokens{name="shared \"budget\" \\ v1\n"} 9
# HELP resil_retrybudget_max_tokens The retry budget's size in tokens.
# TYPE resil_retrybudget_max_tokens gauge
resil_retrybudget_max_tokens{name="shared \"budget\" \\ v1\n"} 10
# HELP resil_retrybudget_retry_allowed 1 while retries are allowed, else 0.
# TYPE resil_retrybudget_retry_allowed gauge
resil_retrybudget_retry_allowed{name="shared \"budget\" \\ v1\n"} 1
# HELP resil_health_status 1 for the check's status, 0 for the others.
# TYPE resil_health_status gauge
resil_health_status{check="circuit_breakers",status="healthy"} 0
resil_health_status{check="circuit_breakers",status="degraded"} 1
resil_health_status{check="circuit_breakers",status="unhealthy"} 0
resil_health_status{check="circuit_breakers",status="unknown"} 0
resil_health_status{check="bulkheads",status="healthy"} 0
resil_health_status{check="bulkheads",status="degraded"} 1
resil_health_status{check="bulkheads",status="unhealthy"} 0
resil_health_status{check="bulkheads",status="unknown"} 0
resil_health_status{check="rate_limiters",status="healthy"} 1
resil_health_status{check="rate_limiters",status="degraded"} 0
resil_health_status{check="rate_limiters",status="unhealthy"} 0
resil_health_status{check="rate_limiters",status="unknown"} 0
resil_health_status{check="database",status="healthy"} 0
resil_health_status{check="database",status="degraded"} 0
resil_health_status{check="database",status="unhealthy"} 1
resil_health_status{check="database",status="unknown"} 0
)");
}

TEST_CASE("prometheus: without call counting, only the listener-counted series are missing",
          "[prometheus]") {
  const auto counted = lines(resil_test::observability_scenario(true));
  const auto plain = lines(resil_test::observability_scenario(false));
  std::vector<std::string> missing;
  const std::set<std::string> have(plain.begin(), plain.end());
  for (const auto& l : counted) {
    if (have.count(l) == 0) missing.push_back(l);
  }
  for (const auto& l : missing) {
    const bool counted_family = l.find("_calls_total") != std::string::npos;
    CHECK(counted_family);
  }
  CHECK(have.count(
            "resil_retry_calls_total{name=\"inventory\",kind=\"successful_with_retry\"} 1") == 1);
  CHECK(std::none_of(plain.begin(), plain.end(), [](const std::string& l) {
    return l.find("successful_without_retry") != std::string::npos ||
           l.find("resil_timelimiter") != std::string::npos;
  }));
}

TEST_CASE("prometheus: every sample has one HELP and TYPE before it, counters end in _total",
          "[prometheus]") {
  std::map<std::string, std::string> types;
  std::set<std::string> helped;
  std::string current;
  const auto all = lines(resil_test::observability_scenario());
  REQUIRE_FALSE(all.empty());
  for (const auto& l : all) {
    if (l.rfind("# HELP ", 0) == 0) {
      const auto name = l.substr(7, l.find(' ', 7) - 7);
      CHECK(helped.insert(name).second);  // one HELP per family
    } else if (l.rfind("# TYPE ", 0) == 0) {
      const auto rest = l.substr(7);
      current = rest.substr(0, rest.find(' '));
      CHECK(types.emplace(current, rest.substr(rest.find(' ') + 1)).second);
      CHECK(helped.count(current) == 1);
    } else {
      CHECK(metric_of(l) == current);  // samples follow their own TYPE line
      CHECK(l.rfind("resil_", 0) == 0);
    }
  }
  for (const auto& [name, type] : types) {
    const bool total = name.size() > 6 && name.compare(name.size() - 6, 6, "_total") == 0;
    CHECK(total == (type == "counter"));
  }
}

TEST_CASE("prometheus: metric types are named as the exposition format spells them",
          "[prometheus]") {
  CHECK(resil_test::enum_names<resil::prometheus_type>(3) ==
        std::vector<std::string_view>{"counter", "gauge", "untyped"});
  CHECK(to_string(static_cast<resil::prometheus_type>(3)) == "untyped");
}
