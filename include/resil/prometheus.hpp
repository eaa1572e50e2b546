// Prometheus text exposition (format 0.0.4) of resil's policies, registries and health reports,
// with resil_ names modelled on Resilience4j's Micrometer families. No dependency.
// SPDX-License-Identifier: MIT
#pragma once

#include <cassert>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "bulkhead.hpp"
#include "circuit_breaker.hpp"
#include "core/clock.hpp"
#include "health.hpp"
#include "keyed_rate_limiter.hpp"
#include "rate_limiter.hpp"
#include "registry.hpp"
#include "retry.hpp"
#include "retry_budget.hpp"
#include "timeout.hpp"
#include "window_rate_limiter.hpp"

namespace resil {

/// The kind of a Prometheus metric family (`# TYPE` line).
enum class prometheus_type : std::uint8_t { counter, gauge, untyped };

/// The type as the exposition format's `# TYPE` line spells it: "counter", "gauge", "untyped".
[[nodiscard]] constexpr std::string_view to_string(prometheus_type t) noexcept {
  switch (t) {
    case prometheus_type::counter:
      return "counter";
    case prometheus_type::gauge:
      return "gauge";
    case prometheus_type::untyped:
      return "untyped";
  }
  return "untyped";
}

/**
 * A Prometheus text exposition (format 0.0.4) under construction: samples are added in any
 * order and grouped by family on output, each family once with its `# HELP` and `# TYPE` lines,
 * families in the order they first appeared and samples in the order they were added.
 *
 *     resil::prometheus_text out;
 *     out.gauge("resil_bulkhead_available_concurrent_calls", "Free slots.", {{"name", "db"}}, 3);
 *     out.counter("app_requests_total", "Requests served.", {}, 1027);
 *     reply(200, resil::prometheus_text::content_type, out.str());
 *
 * Label values and help texts are escaped (backslash, double quote in label values, newline);
 * values are written exactly: integers as integers, floating-point numbers in the shortest form
 * that reads back identically, `NaN`, `+Inf` and `-Inf`. Metric and label names must match
 * `[a-zA-Z_:][a-zA-Z0-9_:]*` (checked by assertion); counters' names should end in `_total`.
 * A family keeps the type and help it was first given. Not thread-safe (build it on one thread).
 */
class prometheus_text {
 public:
  /// The HTTP `Content-Type` of the text format.
  static constexpr std::string_view content_type = "text/plain; version=0.0.4; charset=utf-8";

  /// One label of a sample.
  struct label {
    std::string_view name;   ///< The label's name, e.g. `name` or `kind`.
    std::string_view value;  ///< Its value (escaped when rendered).
  };

  /// Adds a sample with `value` (integral, floating-point or bool) to the family `name`.
  template <class V>
  requires std::is_arithmetic_v<V> prometheus_text& add(std::string_view name, prometheus_type type,
                                                        std::string_view help,
                                                        std::initializer_list<label> labels,
                                                        V value) {
    assert(valid_name(name) && "resil::prometheus_text: invalid metric name");
    family& f = family_for(name, type, help);
    f.samples += name;
    if (labels.size() != 0) {
      char separator = '{';
      for (const label& l : labels) {
        assert(valid_name(l.name) && l.name.find(':') == std::string_view::npos &&
               "resil::prometheus_text: invalid label name");
        f.samples += separator;
        f.samples += l.name;
        f.samples += "=\"";
        escape(f.samples, l.value, true);
        f.samples += '"';
        separator = ',';
      }
      f.samples += '}';
    }
    f.samples += ' ';
    append_value(f.samples, value);
    f.samples += '\n';
    return *this;
  }

  /// Adds a sample to the counter family `name`.
  template <class V>
  requires std::is_arithmetic_v<V> prometheus_text& counter(std::string_view name,
                                                            std::string_view help,
                                                            std::initializer_list<label> labels,
                                                            V value) {
    return add(name, prometheus_type::counter, help, labels, value);
  }

  /// Adds a sample to the gauge family `name`.
  template <class V>
  requires std::is_arithmetic_v<V> prometheus_text& gauge(std::string_view name,
                                                          std::string_view help,
                                                          std::initializer_list<label> labels,
                                                          V value) {
    return add(name, prometheus_type::gauge, help, labels, value);
  }

  /// The exposition: every family with its `# HELP` and `# TYPE` lines, ending in a newline
  /// (empty when nothing was added).
  [[nodiscard]] std::string str() const {
    std::string out;
    for (const family& f : families_) {
      out += "# HELP ";
      out += f.name;
      out += ' ';
      escape(out, f.help, false);
      out += "\n# TYPE ";
      out += f.name;
      out += ' ';
      out += to_string(f.type);
      out += '\n';
      out += f.samples;
    }
    return out;
  }

  /// True when no sample was added.
  [[nodiscard]] bool empty() const noexcept { return families_.empty(); }

 private:
  struct family {
    std::string name;
    prometheus_type type;
    std::string help;
    std::string samples;
  };

  family& family_for(std::string_view name, prometheus_type type, std::string_view help) {
    if (const auto it = index_.find(name); it != index_.end()) {
      assert(families_[it->second].type == type &&
             "resil::prometheus_text: a family was given two types");
      return families_[it->second];
    }
    index_.emplace(std::string(name), families_.size());
    families_.push_back(family{std::string(name), type, std::string(help), {}});
    return families_.back();
  }

  static constexpr bool valid_name(std::string_view n) noexcept {
    if (n.empty()) return false;
    for (std::size_t i = 0; i < n.size(); ++i) {
      const char c = n[i];
      const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
      if (!letter && !(i > 0 && c >= '0' && c <= '9')) return false;
    }
    return true;
  }

  // Label values escape backslash, double quote and newline; help texts backslash and newline.
  static void escape(std::string& out, std::string_view s, bool quote) {
    for (const char c : s) {
      if (c == '\\') {
        out += "\\\\";
      } else if (c == '\n') {
        out += "\\n";
      } else if (c == '"' && quote) {
        out += "\\\"";
      } else {
        out += c;
      }
    }
  }

  template <class V>
  static void append_value(std::string& out, V v) {
    if constexpr (std::is_same_v<V, bool>) {
      out += v ? '1' : '0';
    } else {
      if constexpr (std::is_floating_point_v<V>) {
        if (std::isnan(v)) {
          out += "NaN";
          return;
        }
        if (std::isinf(v)) {
          out += v > 0 ? "+Inf" : "-Inf";
          return;
        }
      }
      char buf[64];
      const auto r = std::to_chars(buf, buf + sizeof buf, v);
      out.append(buf, r.ptr);
    }
  }

  std::vector<family> families_;
  std::map<std::string, std::size_t, std::less<>> index_;
};

namespace detail {

// `<family>{name,kind="permitted|rejected"}` from a registry's counts.
inline void write_admissions(prometheus_text& out, std::string_view family, std::string_view name,
                             const call_counts& counts) {
  constexpr std::string_view help = "Requests, by whether they were granted.";
  out.counter(family, help, {{"name", name}, {"kind", "permitted"}}, counts.permitted);
  out.counter(family, help, {{"name", name}, {"kind", "rejected"}}, counts.rejected);
}

}  // namespace detail

// -- policies ---------------------------------------------------------------------------------
// Each writes the families of one named policy; `counts` (from a registry that counts calls)
// adds the `_calls_total` families that only listeners can count.

/**
 * A circuit breaker: `resil_circuitbreaker_state{name,state}` (1 for the current state, 0 for the
 * five others), `resil_circuitbreaker_not_permitted_calls_total{name}`,
 * `resil_circuitbreaker_buffered_calls{name,kind="successful|failed"}` (the window, or the
 * probes), `resil_circuitbreaker_slow_calls{name}`, `resil_circuitbreaker_failure_ratio{name}`
 * and `resil_circuitbreaker_slow_call_ratio{name}` (fractions; NaN until the breaker has enough
 * calls to judge: `minimum_calls` while closed, `half_open_calls` probes while half-open),
 * `resil_circuitbreaker_state_transitions_total{name}`, and with `counts`
 * `resil_circuitbreaker_calls_total{name,kind="successful|failed|ignored"}`.
 */
template <clock Clock>
void write_prometheus(prometheus_text& out, std::string_view name,
                      const basic_circuit_breaker<Clock>& b,
                      const std::optional<call_counts>& counts = std::nullopt) {
  const circuit_breaker_metrics m = b.metrics();
  constexpr circuit_state states[] = {circuit_state::closed,      circuit_state::open,
                                      circuit_state::half_open,   circuit_state::disabled,
                                      circuit_state::forced_open, circuit_state::metrics_only};
  for (const circuit_state s : states) {
    out.gauge("resil_circuitbreaker_state", "1 for the breaker's state, 0 for the others.",
              {{"name", name}, {"state", to_string(s)}}, m.state == s);
  }
  if (counts) {
    constexpr std::string_view calls = "resil_circuitbreaker_calls_total";
    constexpr std::string_view help = "Calls recorded by the breaker, by outcome.";
    out.counter(calls, help, {{"name", name}, {"kind", "successful"}}, counts->successful);
    out.counter(calls, help, {{"name", name}, {"kind", "failed"}}, counts->failed);
    out.counter(calls, help, {{"name", name}, {"kind", "ignored"}}, counts->ignored);
  }
  out.counter("resil_circuitbreaker_not_permitted_calls_total", "Calls the breaker rejected.",
              {{"name", name}}, m.not_permitted);
  constexpr std::string_view buffered = "resil_circuitbreaker_buffered_calls";
  constexpr std::string_view buffered_help = "Calls in the sliding window (or half-open probes).";
  out.gauge(buffered, buffered_help, {{"name", name}, {"kind", "successful"}}, m.calls - m.failed);
  out.gauge(buffered, buffered_help, {{"name", name}, {"kind", "failed"}}, m.failed);
  out.gauge("resil_circuitbreaker_slow_calls", "Slow calls in the sliding window.",
            {{"name", name}}, m.slow);
  const std::uint64_t needed =
      m.state == circuit_state::half_open ? b.options().half_open_calls
      : m.state == circuit_state::closed || m.state == circuit_state::metrics_only
          ? b.options().minimum_calls
          : 0;
  const double unknown = std::numeric_limits<double>::quiet_NaN();
  out.gauge("resil_circuitbreaker_failure_ratio",
            "Failed calls / calls in the window, 0..1 (NaN below the minimum number of calls).",
            {{"name", name}}, m.calls < needed ? unknown : m.failure_rate);
  out.gauge("resil_circuitbreaker_slow_call_ratio",
            "Slow calls / calls in the window, 0..1 (NaN below the minimum number of calls).",
            {{"name", name}}, m.calls < needed ? unknown : m.slow_call_rate);
  out.counter("resil_circuitbreaker_state_transitions_total", "State transitions of the breaker.",
              {{"name", name}}, m.transitions);
}

/**
 * A retry: `resil_retry_calls_total{name,kind}` with Resilience4j's kinds
 * (`successful_without_retry` only when `counts` is given: the retry does not count first-attempt
 * successes itself), `resil_retry_attempts_total{name}` (retry attempts, first attempts not
 * included), `resil_retry_budget_denied_total{name}`.
 */
template <clock Clock>
void write_prometheus(prometheus_text& out, std::string_view name, const basic_retry<Clock>& r,
                      const std::optional<call_counts>& counts = std::nullopt) {
  constexpr std::string_view calls = "resil_retry_calls_total";
  constexpr std::string_view calls_help = "Calls through the retry, by outcome and retrying.";
  const retry_metrics m = r.metrics();
  if (counts) {
    out.counter(calls, calls_help, {{"name", name}, {"kind", "successful_without_retry"}},
                counts->successful_without_retry);
  }
  out.counter(calls, calls_help, {{"name", name}, {"kind", "successful_with_retry"}},
              m.successful_with_retry);
  out.counter(calls, calls_help, {{"name", name}, {"kind", "failed_without_retry"}},
              m.failed_without_retry);
  out.counter(calls, calls_help, {{"name", name}, {"kind", "failed_with_retry"}},
              m.failed_with_retry);
  out.counter("resil_retry_attempts_total", "Retry attempts made (first attempts not included).",
              {{"name", name}}, m.retries);
  out.counter("resil_retry_budget_denied_total", "Retries a retry budget refused.",
              {{"name", name}}, m.budget_denied);
}

/**
 * A rate limiter: `resil_ratelimiter_available_permissions{name}`,
 * `resil_ratelimiter_waiting_threads{name}`, and with `counts`
 * `resil_ratelimiter_calls_total{name,kind="permitted|rejected"}` (requests, not permits).
 */
template <clock Clock>
void write_prometheus(prometheus_text& out, std::string_view name,
                      const basic_rate_limiter<Clock>& l,
                      const std::optional<call_counts>& counts = std::nullopt) {
  const rate_limiter_metrics m = l.metrics();
  out.gauge("resil_ratelimiter_available_permissions", "Permits available now.", {{"name", name}},
            m.available_permits);
  out.gauge("resil_ratelimiter_waiting_threads", "Callers waiting for a permit.", {{"name", name}},
            m.waiting_callers);
  if (counts) detail::write_admissions(out, "resil_ratelimiter_calls_total", name, *counts);
}

/**
 * A fixed or sliding window rate limiter (outside a registry):
 * `resil_ratelimiter_available_permissions{name}`, and with `counts`
 * `resil_ratelimiter_calls_total{name,kind="permitted|rejected"}`.
 */
template <clock Clock>
void write_prometheus(prometheus_text& out, std::string_view name,
                      const basic_window_rate_limiter<Clock>& l,
                      const std::optional<call_counts>& counts = std::nullopt) {
  out.gauge("resil_ratelimiter_available_permissions", "Permits available now.", {{"name", name}},
            l.metrics().available_permits);
  if (counts) detail::write_admissions(out, "resil_ratelimiter_calls_total", name, *counts);
}

/**
 * A keyed rate limiter: `resil_keyed_ratelimiter_keys{name}`,
 * `resil_keyed_ratelimiter_max_keys{name}`,
 * `resil_keyed_ratelimiter_evicted_keys_total{name,kind="idle|active"}`, and with `counts`
 * `resil_keyed_ratelimiter_calls_total{name,kind="permitted|rejected"}`. Never a label per key
 * (unbounded cardinality).
 */
template <class Key, clock Clock, class Hash, class KeyEqual>
void write_prometheus(prometheus_text& out, std::string_view name,
                      const basic_keyed_rate_limiter<Key, Clock, Hash, KeyEqual>& l,
                      const std::optional<call_counts>& counts = std::nullopt) {
  const keyed_rate_limiter_metrics m = l.metrics();
  out.gauge("resil_keyed_ratelimiter_keys", "Keys tracked now.", {{"name", name}}, m.keys);
  out.gauge("resil_keyed_ratelimiter_max_keys", "The most keys tracked at once.", {{"name", name}},
            m.max_keys);
  constexpr std::string_view evicted = "resil_keyed_ratelimiter_evicted_keys_total";
  constexpr std::string_view evicted_help =
      "Keys dropped: idle (bucket full, nothing lost) or active (at the key cap).";
  out.counter(evicted, evicted_help, {{"name", name}, {"kind", "idle"}}, m.evicted_idle);
  out.counter(evicted, evicted_help, {{"name", name}, {"kind", "active"}}, m.evicted_active);
  if (counts) detail::write_admissions(out, "resil_keyed_ratelimiter_calls_total", name, *counts);
}

/**
 * A bulkhead: `resil_bulkhead_available_concurrent_calls{name}`,
 * `resil_bulkhead_max_allowed_concurrent_calls{name}`, `resil_bulkhead_waiting_calls{name}`,
 * and with `counts` `resil_bulkhead_calls_total{name,kind="permitted|rejected"}`.
 */
template <clock Clock>
void write_prometheus(prometheus_text& out, std::string_view name, const basic_bulkhead<Clock>& b,
                      const std::optional<call_counts>& counts = std::nullopt) {
  const bulkhead_metrics m = b.metrics();
  out.gauge("resil_bulkhead_available_concurrent_calls", "Free slots.", {{"name", name}},
            m.available);
  out.gauge("resil_bulkhead_max_allowed_concurrent_calls", "The limit of calls at once.",
            {{"name", name}}, m.max_concurrent);
  out.gauge("resil_bulkhead_waiting_calls", "Callers waiting in line for a slot.", {{"name", name}},
            m.waiting);
  if (counts) detail::write_admissions(out, "resil_bulkhead_calls_total", name, *counts);
}

/**
 * A timeout: with `counts`, `resil_timelimiter_calls_total{name,kind="timeout"}` (Resilience4j's
 * TimeLimiter family; a timeout keeps no counters of its own, so nothing without `counts`).
 */
template <clock Clock>
void write_prometheus(prometheus_text& out, std::string_view name,
                      const basic_timeout<Clock>& /*timeout*/,
                      const std::optional<call_counts>& counts = std::nullopt) {
  if (!counts) return;
  out.counter("resil_timelimiter_calls_total", "Calls that ran past their deadline.",
              {{"name", name}, {"kind", "timeout"}}, counts->timed_out);
}

/**
 * A retry budget: `resil_retrybudget_tokens{name}`, `resil_retrybudget_max_tokens{name}`,
 * `resil_retrybudget_retry_allowed{name}` (1 while more than half the tokens are left).
 */
inline void write_prometheus(prometheus_text& out, std::string_view name, const retry_budget& b,
                             const std::optional<call_counts>& /*counts*/ = std::nullopt) {
  const retry_budget_metrics m = b.metrics();
  out.gauge("resil_retrybudget_tokens", "Tokens left in the retry budget.", {{"name", name}},
            static_cast<double>(m.milli_tokens) / 1000.0);
  out.gauge("resil_retrybudget_max_tokens", "The retry budget's size in tokens.", {{"name", name}},
            static_cast<double>(m.max_milli_tokens) / 1000.0);
  out.gauge("resil_retrybudget_retry_allowed", "1 while retries are allowed, else 0.",
            {{"name", name}}, m.retry_allowed);
}

/**
 * A health report: `resil_health_status{check,status}`, 1 for each check's status and 0 for the
 * other three (healthy, degraded, unhealthy, unknown).
 */
inline void write_prometheus(prometheus_text& out, const health_report& report) {
  constexpr health_status all[] = {health_status::healthy, health_status::degraded,
                                   health_status::unhealthy, health_status::unknown};
  for (const health_check_report& c : report.checks) {
    for (const health_status s : all) {
      out.gauge("resil_health_status", "1 for the check's status, 0 for the others.",
                {{"check", c.name}, {"status", to_string(s)}}, c.status == s);
    }
  }
}

/// Every instance of `reg`, kind by kind, in name order within a kind.
template <clock Clock>
void write_prometheus(prometheus_text& out, const basic_registry<Clock>& reg) {
  const auto each = [&out](const auto& table) {
    table.for_each(
        [&out](const auto& i) { write_prometheus(out, i.name(), i.policy(), i.counts()); });
  };
  each(reg.circuit_breakers);
  each(reg.retries);
  each(reg.rate_limiters);
  each(reg.keyed_rate_limiters);
  each(reg.bulkheads);
  each(reg.timeouts);
  each(reg.retry_budgets);
}

/**
 * The Prometheus text of every instance in `reg`: the body of a `/metrics` response
 * (`prometheus_text::content_type`).
 *
 *     resil::registry reg{{.count_calls = true}};
 *     ...
 *     reply(200, resil::prometheus_text::content_type, resil::render_prometheus(reg));
 */
template <clock Clock>
[[nodiscard]] std::string render_prometheus(const basic_registry<Clock>& reg) {
  prometheus_text out;
  write_prometheus(out, reg);
  return out.str();
}

/// The Prometheus text of every instance in `reg`, then of the health report `health`.
template <clock Clock>
[[nodiscard]] std::string render_prometheus(const basic_registry<Clock>& reg,
                                            const health_report& health) {
  prometheus_text out;
  write_prometheus(out, reg);
  write_prometheus(out, health);
  return out.str();
}

}  // namespace resil
