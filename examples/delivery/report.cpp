// The report: tables (fmt), CSV timelines and SVG charts written by hand.
// SPDX-License-Identifier: MIT
#include "report.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <string_view>

namespace delivery {

namespace {

std::string latency(double ms) {
  if (ms >= 1000.0) return fmt::format("{:.1f} s", ms / 1000.0);
  if (ms >= 10.0) return fmt::format("{:.0f} ms", ms);
  return fmt::format("{:.1f} ms", ms);
}

std::string percent(double pct) {
  return fmt::format("{:.1f} %", pct);
}

std::string seconds_or_dash(const std::optional<double>& s) {
  return s ? fmt::format("{:.0f} s", *s) : std::string("-");
}

std::string ratio(std::uint64_t naive, std::uint64_t resilient) {
  if (resilient == 0) return naive == 0 ? "same" : "all avoided";
  return fmt::format("{:.1f}x fewer", static_cast<double>(naive) / static_cast<double>(resilient));
}

std::uint64_t transitions(const run_result& r) {
  return r.data.transitions.size();
}

// Retries on the edges that call the restaurant service.
std::uint64_t restaurant_retries(const run_result& r) {
  std::uint64_t total = 0;
  for (const auto& [name, value] : r.data.counters) {
    const std::string_view n = name;
    if (n.find("->restaurant") != std::string_view::npos && n.ends_with(" retries")) total += value;
  }
  return total;
}

void requests_table(std::string& out, const scenario_result& s) {
  constexpr std::string_view row = "  {:<10} {:>8} {:>9} {:>9} {:>8} {:>8} {:>8} {:>11} {:>9}\n";
  fmt::format_to(std::back_inserter(out), row, "", "requests", "success", "degraded", "p50", "p95",
                 "p99", "success in", "recovery");
  fmt::format_to(std::back_inserter(out), row, "", "", "", "", "", "", "", "trouble", "");
  for (const run_result* r : {&s.naive, &s.resilient}) {
    const auto& c = r->clients;
    fmt::format_to(std::back_inserter(out), row, to_string(r->mode), c.requests,
                   percent(c.success_pct()), percent(c.degraded_pct()), latency(c.latency.p50),
                   latency(c.latency.p95), latency(c.latency.p99),
                   r->during ? percent(r->during->success_pct()) : std::string("-"),
                   seconds_or_dash(r->recovery_s));
  }
}

void protection_table(std::string& out, const scenario_result& s) {
  fmt::format_to(std::back_inserter(out),
                 "  {:<10} {:>10} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}\n", "", "reached",
                 "429", "open", "full", "timeout", "retries", "denied", "ejected", "breaker");
  fmt::format_to(std::back_inserter(out),
                 "  {:<10} {:>10} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}\n", "", "failing",
                 "limited", "circuit", "bulkhead", "attempts", "", "budget", "instance", "changes");
  for (const run_result* r : {&s.naive, &s.resilient}) {
    fmt::format_to(std::back_inserter(out),
                   "  {:<10} {:>10} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}\n",
                   to_string(r->mode), r->calls_to_failing, r->counter("gateway rate_limited"),
                   r->sum_ending(" circuit_open rejections"), r->sum_ending(" bulkhead rejections"),
                   r->sum_ending(" attempt.timeout"), r->sum_ending(" retries"),
                   r->sum_ending(" denied by budget"), r->sum_ending(" ejections"),
                   transitions(*r));
  }
}

void story(std::string& out, const scenario_result& s) {
  const run_result& n = s.naive;
  const run_result& r = s.resilient;
  const auto line = [&](std::string text) {
    out += "  > ";
    out += text;
    out += '\n';
  };
  const std::string& name = s.definition->name;
  if (name == "steady") {
    line(
        fmt::format("success {} naive, {} resilient; p99 {} vs {}: the plan costs nothing "
                    "when all is well.",
                    percent(n.clients.success_pct()), percent(r.clients.success_pct()),
                    latency(n.clients.latency.p99), latency(r.clients.latency.p99)));
  } else if (name == "payment-outage") {
    line(fmt::format(
        "calls that reached the failing payment instances: {} naive, {} resilient "
        "({}).",
        n.calls_to_failing, r.calls_to_failing, ratio(n.calls_to_failing, r.calls_to_failing)));
    line(
        fmt::format("orders accepted as 'payment pending': {}; settled after the outage: {}; "
                    "double charges: {} (replayed charges absorbed by the idempotency key: {}).",
                    r.counter("bus payment.pending"), r.counter("payments settled later"),
                    r.counter("ledger double charges"), r.counter("ledger replays")));
  } else if (name == "slow-restaurant") {
    line(
        fmt::format("p99 {} naive, {} resilient; calls that reached the slow instance: {} "
                    "naive, {} resilient.",
                    latency(n.clients.latency.p99), latency(r.clients.latency.p99),
                    n.calls_to_failing, r.calls_to_failing));
    line(
        fmt::format("resilient: {} timed-out attempts retried elsewhere, {} ejections, {} "
                    "health changes in discovery.",
                    r.sum_ending(" attempt.timeout"), r.sum_ending(" ejections"),
                    r.counter("discovery health changes")));
  } else if (name == "retry-storm") {
    line(
        fmt::format("retries sent to the slowed restaurant service: {} naive, {} resilient (the "
                    "budget refused {}; the open breakers turned away {} calls).",
                    restaurant_retries(n), restaurant_retries(r), r.sum_ending(" denied by budget"),
                    r.sum_ending(" circuit_open rejections")));
    line(
        fmt::format("requests shed by full queues: {} naive, {} resilient; calls that reached "
                    "the slow instances: {} vs {} ({}); menus and lists served from cache: {}.",
                    n.counter("instances shed"), r.counter("instances shed"), n.calls_to_failing,
                    r.calls_to_failing, ratio(n.calls_to_failing, r.calls_to_failing),
                    r.sum_ending("restaurant fallbacks")));
  } else if (name == "abusive-client") {
    line(
        fmt::format("the scraper sent {} requests naive, {} resilient; {} of them were "
                    "limited (429) resilient.",
                    n.abusive.requests, r.abusive.requests, r.abusive.rejected));
    const request_summary& nd = n.during ? *n.during : n.clients;
    const request_summary& rd = r.during ? *r.during : r.clients;
    line(
        fmt::format("everyone else, while the scraper runs: success {} naive, {} resilient; "
                    "p50 {} vs {}; p99 {} vs {}; limited (429): {} vs {}.",
                    percent(nd.success_pct()), percent(rd.success_pct()), latency(nd.latency.p50),
                    latency(rd.latency.p50), latency(nd.latency.p99), latency(rd.latency.p99),
                    n.clients.rejected, r.clients.rejected));
  } else if (name == "buggy-canary") {
    line(
        fmt::format("requests sent to the canary: {} naive, {} resilient ({} rolled back to "
                    "v1 while its breaker was open).",
                    n.counter("gateway canary requests"), r.counter("gateway canary requests"),
                    r.counter("gateway canary rolled back")));
    line(fmt::format("calls that reached the buggy canary: {} naive, {} resilient ({}).",
                     n.calls_to_failing, r.calls_to_failing,
                     ratio(n.calls_to_failing, r.calls_to_failing)));
  }
}

}  // namespace

std::string render_report(const std::vector<scenario_result>& results) {
  std::string out;
  for (const auto& s : results) {
    const scenario& d = *s.definition;
    fmt::format_to(std::back_inserter(out), "\n== {} ({}) ==\n", d.title, d.name);
    fmt::format_to(std::back_inserter(out), "  {}\n  Resilient run: {}.\n\n", d.story, d.shows);
    requests_table(out, s);
    out += '\n';
    protection_table(out, s);
    out += '\n';
    story(out, s);
  }
  out += "\n== Summary (regular users; success while the trouble lasts) ==\n";
  constexpr std::string_view row = "  {:<16} {:>8} {:>8} {:>8} {:>8} {:>9} {:>9}\n";
  fmt::format_to(std::back_inserter(out), "  {:<16} {:>17} {:>17} {:>19}\n", "", "success", "p99",
                 "reached failing");
  fmt::format_to(std::back_inserter(out), row, "scenario", "naive", "resil.", "naive", "resil.",
                 "naive", "resil.");
  const auto success = [](const run_result& r) {
    return percent((r.during ? *r.during : r.clients).success_pct());
  };
  for (const auto& s : results) {
    fmt::format_to(std::back_inserter(out), row, s.definition->name, success(s.naive),
                   success(s.resilient), latency(s.naive.clients.latency.p99),
                   latency(s.resilient.clients.latency.p99), s.naive.calls_to_failing,
                   s.resilient.calls_to_failing);
  }
  return out;
}

std::string render_csv(const run_result& run) {
  std::string out =
      "second,requests,ok,degraded,rejected,failed,success_rate,p99_ms,p99_5s_ms,"
      "calls_to_failing,abusive_requests,abusive_rejected";
  for (const auto& b : run.breaker_names) {
    out += ",breaker:";
    out += b;
  }
  out += '\n';
  for (std::size_t s = 0; s < run.buckets.size(); ++s) {
    const auto& b = run.buckets[s];
    const double rate = b.requests == 0 ? 1.0 : static_cast<double>(b.ok + b.degraded) / b.requests;
    fmt::format_to(std::back_inserter(out), "{},{},{},{},{},{},{:.4f},{:.1f},{:.1f},{},{},{}", s,
                   b.requests, b.ok, b.degraded, b.rejected, b.failed, rate, b.p99_ms, b.p99_5s_ms,
                   b.calls_to_failing, b.abusive, b.abusive_rejected);
    for (std::size_t i = 0; i < run.breaker_names.size(); ++i) {
      fmt::format_to(std::back_inserter(out), ",{}",
                     i < b.breakers.size() ? static_cast<int>(b.breakers[i]) : 0);
    }
    out += '\n';
  }
  return out;
}

// -- SVG ----------------------------------------------------------------------------------------

namespace {

constexpr double chart_width = 960;
constexpr double left = 150;
constexpr double right = 20;
constexpr double plot_width = chart_width - left - right;
constexpr std::string_view naive_colour = "#d62728";
constexpr std::string_view resilient_colour = "#1f77b4";

// Success rate (ok + degraded over requests, regular clients and scraper alike) over a 5 s
// window ending at each second.
std::vector<double> smoothed_success(const run_result& r) {
  std::vector<double> out;
  const auto& b = r.buckets;
  for (std::size_t s = 0; s < b.size(); ++s) {
    std::uint64_t good = 0;
    std::uint64_t all = 0;
    for (std::size_t k = s >= 4 ? s - 4 : 0; k <= s; ++k) {
      good += b[k].ok + b[k].degraded;
      all += b[k].requests;
    }
    out.push_back(all == 0 ? 100.0 : 100.0 * static_cast<double>(good) / static_cast<double>(all));
  }
  return out;
}

std::string polyline(const std::vector<double>& values, double top, double height, double max,
                     std::size_t seconds, std::string_view colour, std::string_view extra = {}) {
  std::string points;
  for (std::size_t s = 0; s < values.size(); ++s) {
    const double x =
        left + plot_width * (static_cast<double>(s) + 0.5) / static_cast<double>(seconds);
    const double y = top + height - height * std::min(values[s], max) / max;
    fmt::format_to(std::back_inserter(points), "{:.1f},{:.1f} ", x, y);
  }
  return fmt::format(
      "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"1.8\" {} points=\"{}\"/>\n", colour,
      extra, points);
}

void axis_x(std::string& out, double top, double height, std::size_t seconds) {
  const std::size_t step = seconds > 200 ? 30 : seconds > 60 ? 20 : 10;
  for (std::size_t s = 0; s <= seconds; s += step) {
    const double x = left + plot_width * static_cast<double>(s) / static_cast<double>(seconds);
    fmt::format_to(std::back_inserter(out),
                   "<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\" "
                   "stroke=\"#ddd\"/>\n<text x=\"{0:.1f}\" y=\"{3:.1f}\" font-size=\"11\" "
                   "text-anchor=\"middle\" fill=\"#555\">{4}s</text>\n",
                   x, top, top + height, top + height + 14, s);
  }
}

// Shades the scenario's trouble: its faults, or the abusive client.
void shade_fault(std::string& out, const scenario& d, double top, double height,
                 std::size_t seconds) {
  const auto [begin, end] = d.trouble(std::chrono::seconds{seconds});
  if (end <= begin) return;
  const double total = static_cast<double>(seconds);
  const double from = std::chrono::duration<double>(begin).count();
  const double until = std::chrono::duration<double>(end).count();
  fmt::format_to(std::back_inserter(out),
                 "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" "
                 "fill=\"#fbe3e3\"/>\n",
                 left + plot_width * from / total, top, plot_width * (until - from) / total,
                 height);
}

void frame(std::string& out, double top, double height, std::string_view title) {
  fmt::format_to(std::back_inserter(out),
                 "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" "
                 "fill=\"none\" stroke=\"#999\"/>\n<text x=\"{:.1f}\" y=\"{:.1f}\" "
                 "font-size=\"13\" font-weight=\"bold\" fill=\"#333\">{}</text>\n",
                 left, top, plot_width, height, left, top - 6, title);
}

}  // namespace

std::string render_svg(const scenario_result& result) {
  const scenario& d = *result.definition;
  const std::size_t seconds = std::max<std::size_t>(1, result.naive.buckets.size());
  const auto& names = result.resilient.breaker_names;
  const double row = 16;
  const double gap = 50;
  double top = 80;
  std::string body;

  // 1. Success rate of the regular clients.
  {
    const double h = 160;
    shade_fault(body, d, top, h, seconds);
    axis_x(body, top, h, seconds);
    for (int pct = 0; pct <= 100; pct += 25) {
      const double y = top + h - h * pct / 100.0;
      fmt::format_to(std::back_inserter(body),
                     "<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" "
                     "stroke=\"#eee\"/>\n<text x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"11\" "
                     "text-anchor=\"end\" fill=\"#555\">{}%</text>\n",
                     left, y, left + plot_width, y, left - 6, y + 4, pct);
    }
    body += polyline(smoothed_success(result.naive), top, h, 100, seconds, naive_colour);
    body += polyline(smoothed_success(result.resilient), top, h, 100, seconds, resilient_colour);
    frame(body, top, h, "Success rate of the users' requests (2xx incl. degraded, 5 s window)");
    top += h + gap;
  }

  // 2. p99 latency, log scale from 10 ms to 10 s.
  {
    const double h = 120;
    shade_fault(body, d, top, h, seconds);
    axis_x(body, top, h, seconds);
    const auto log_y = [&](double ms) {
      const double v = std::clamp(std::log10(std::max(ms, 10.0)), 1.0, 4.0);
      return top + h - h * (v - 1.0) / 3.0;
    };
    for (const auto& [ms, label] : {std::pair{10.0, "10 ms"}, std::pair{100.0, "100 ms"},
                                    std::pair{1000.0, "1 s"}, std::pair{10000.0, "10 s"}}) {
      const double y = log_y(ms);
      fmt::format_to(std::back_inserter(body),
                     "<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" "
                     "stroke=\"#eee\"/>\n<text x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"11\" "
                     "text-anchor=\"end\" fill=\"#555\">{}</text>\n",
                     left, y, left + plot_width, y, left - 6, y + 4, label);
    }
    for (const run_result* r : {&result.naive, &result.resilient}) {
      std::string points;
      for (std::size_t s = 0; s < r->buckets.size(); ++s) {
        const double x =
            left + plot_width * (static_cast<double>(s) + 0.5) / static_cast<double>(seconds);
        fmt::format_to(std::back_inserter(points), "{:.1f},{:.1f} ", x,
                       log_y(r->buckets[s].p99_5s_ms));
      }
      fmt::format_to(std::back_inserter(body),
                     "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"1.8\" "
                     "points=\"{}\"/>\n",
                     r == &result.naive ? naive_colour : resilient_colour, points);
    }
    frame(body, top, h, "p99 latency of the users' requests (5 s window, log scale)");
    top += h + gap;
  }

  // 3. Per-second counts, naive vs resilient: the calls that reached a failing instance, or the
  // scraper's requests that were served (not refused with 429).
  const auto counts_panel = [&](std::string_view title, auto&& value_of) {
    const double h = 90;
    std::vector<double> naive_values;
    std::vector<double> resilient_values;
    double max_value = 1;
    for (std::size_t s = 0; s < seconds; ++s) {
      const auto value = [&](const run_result& r) {
        return s < r.buckets.size() ? static_cast<double>(value_of(r.buckets[s])) : 0.0;
      };
      naive_values.push_back(value(result.naive));
      resilient_values.push_back(value(result.resilient));
      max_value = std::max({max_value, naive_values.back(), resilient_values.back()});
    }
    shade_fault(body, d, top, h, seconds);
    axis_x(body, top, h, seconds);
    fmt::format_to(std::back_inserter(body),
                   "<text x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"11\" text-anchor=\"end\" "
                   "fill=\"#555\">{:.0f}/s</text>\n<text x=\"{:.1f}\" y=\"{:.1f}\" "
                   "font-size=\"11\" text-anchor=\"end\" fill=\"#555\">0</text>\n",
                   left - 6, top + 10, max_value, left - 6, top + h);
    body += polyline(naive_values, top, h, max_value, seconds, naive_colour);
    body += polyline(resilient_values, top, h, max_value, seconds, resilient_colour);
    frame(body, top, h, title);
    top += h + gap;
  };
  if (d.has_faults()) {
    counts_panel("Calls reaching a failing instance, per second",
                 [](const second_bucket& b) { return b.calls_to_failing; });
  } else if (d.abusive_connections > 0) {
    counts_panel("The scraper's requests served per second (the others got 429)",
                 [](const second_bucket& b) { return b.abusive - b.abusive_rejected; });
  }

  // 4. Breaker states of the resilient run (naive has none).
  {
    const double h = row * static_cast<double>(std::max<std::size_t>(names.size(), 1));
    const auto& buckets = result.resilient.buckets;
    for (std::size_t i = 0; i < names.size(); ++i) {
      const double y = top + row * static_cast<double>(i);
      fmt::format_to(std::back_inserter(body),
                     "<text x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"10\" text-anchor=\"end\" "
                     "fill=\"#333\">{}</text>\n",
                     left - 6, y + row - 4, names[i]);
      const auto state_at = [&](std::size_t k) {
        return i < buckets[k].breakers.size() ? buckets[k].breakers[i] : std::uint8_t{0};
      };
      std::size_t start = 0;
      for (std::size_t s = 1; s <= buckets.size(); ++s) {
        if (s < buckets.size() && state_at(s) == state_at(start)) continue;
        const std::uint8_t state = state_at(start);
        const std::string_view colour = state == 1 ? "#d62728" : state == 2 ? "#ff9f1c" : "#8fd18f";
        fmt::format_to(
            std::back_inserter(body),
            "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" "
            "fill=\"{}\"/>\n",
            left + plot_width * static_cast<double>(start) / static_cast<double>(seconds), y + 1,
            plot_width * static_cast<double>(s - start) / static_cast<double>(seconds), row - 2,
            colour);
        start = s;
      }
    }
    axis_x(body, top, h, seconds);
    frame(body, top, h, "Circuit breakers, resilient run");
    top += h + 40;
  }

  // Legend: entries left to right, each as wide as its label.
  const double height = top + 20;
  const double ly = top;
  double x = left;
  const auto line_entry = [&](std::string_view colour, std::string_view label) {
    fmt::format_to(std::back_inserter(body),
                   "<line x1=\"{0:.0f}\" y1=\"{1:.0f}\" x2=\"{2:.0f}\" y2=\"{1:.0f}\" "
                   "stroke=\"{3}\" stroke-width=\"3\"/><text x=\"{4:.0f}\" y=\"{5:.0f}\" "
                   "font-size=\"12\">{6}</text>\n",
                   x, ly - 4, x + 24, colour, x + 30, ly, label);
    x += 30 + 7.0 * static_cast<double>(label.size()) + 24;
  };
  const auto box_entry = [&](std::string_view colour, std::string_view label) {
    fmt::format_to(std::back_inserter(body),
                   "<rect x=\"{:.0f}\" y=\"{:.0f}\" width=\"14\" height=\"10\" fill=\"{}\"/>"
                   "<text x=\"{:.0f}\" y=\"{:.0f}\" font-size=\"12\">{}</text>\n",
                   x, ly - 10, colour, x + 18, ly, label);
    x += 18 + 7.0 * static_cast<double>(label.size()) + 24;
  };
  line_entry(naive_colour, "naive");
  line_entry(resilient_colour, "resilient");
  if (d.has_faults()) {
    box_entry("#fbe3e3", "faults active");
  } else if (d.abusive_connections > 0) {
    box_entry("#fbe3e3", "scraper active");
  }
  box_entry("#8fd18f", "closed");
  box_entry("#d62728", "open");
  box_entry("#ff9f1c", "half-open");

  std::string out = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{:.0f}\" height=\"{:.0f}\" "
      "viewBox=\"0 0 {:.0f} {:.0f}\" font-family=\"sans-serif\">\n"
      "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      "<text x=\"{:.0f}\" y=\"24\" font-size=\"17\" font-weight=\"bold\" fill=\"#222\">{} "
      "&#8212; naive vs resilient</text>\n<text x=\"{:.0f}\" y=\"42\" font-size=\"12\" "
      "fill=\"#555\">{} (seed {}, {} users)</text>\n",
      chart_width, height, chart_width, height, left, d.title, left, d.story,
      result.naive.load.seed, result.naive.load.clients);
  out += body;
  out += "</svg>\n";
  return out;
}

}  // namespace delivery
