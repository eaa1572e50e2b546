// `delivery serve` and `delivery load`: the HTTP delivery system and a load generator for it.
// SPDX-License-Identifier: MIT
#include <httplib.h>
#include <pthread.h>
#include <resil/core/random.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "delivery_server.hpp"
#include "wire.hpp"

namespace delivery::http {

namespace {

using std::chrono::nanoseconds;

// "250ms", "2s", "1m" or a plain number of seconds.
std::optional<nanoseconds> parse_duration(std::string_view text) {
  std::int64_t scale = 1'000'000'000;
  if (text.ends_with("ms")) {
    scale = 1'000'000;
    text.remove_suffix(2);
  } else if (text.ends_with("s")) {
    text.remove_suffix(1);
  } else if (text.ends_with("m")) {
    scale = 60'000'000'000;
    text.remove_suffix(1);
  }
  const auto n = parse_number<std::int64_t>(text);
  if (!n || *n > 86'400'000) return std::nullopt;
  return nanoseconds{*n * scale};
}

std::optional<double> parse_positive(std::string_view text) {
  try {
    std::size_t used = 0;
    const std::string s(text);
    const double v = std::stod(s, &used);
    if (used != s.size() || !(v > 0) || v > 1000) return std::nullopt;
    return v;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

[[noreturn]] void refuse(const char* command, const std::string& what) {
  std::fprintf(stderr, "delivery %s: %s (try --help)\n", command, what.c_str());
  std::exit(2);
}

// Walks "--flag value" pairs: `take(flag)` returns the value of `flag` or refuses.
struct flags {
  const char* command;
  int argc;
  char** argv;
  int i = 1;

  [[nodiscard]] bool done() const { return i >= argc; }
  [[nodiscard]] std::string_view flag() const { return argv[i]; }
  std::string_view value() {
    if (i + 1 >= argc) refuse(command, std::string(argv[i]) + " needs a value");
    i += 2;
    return argv[i - 1];
  }
  template <class T>
  T number(T max) {
    const std::string_view name = flag();
    const auto v = parse_number<std::int64_t>(value());
    if (!v || *v > static_cast<std::int64_t>(max)) {
      refuse(command, "bad value for " + std::string(name));
    }
    return static_cast<T>(*v);
  }
  nanoseconds duration() {
    const std::string_view name = flag();
    const auto d = parse_duration(value());
    if (!d || d->count() <= 0) refuse(command, "bad duration for " + std::string(name));
    return *d;
  }
};

}  // namespace

int serve_main(int argc, char** argv) {
  serve_options o;
  flags f{"serve", argc, argv};
  while (!f.done()) {
    const std::string_view flag = f.flag();
    if (flag == "--help" || flag == "-h") {
      std::puts(
          "usage: delivery serve [options]\n"
          "\n"
          "Runs the delivery system over HTTP on 127.0.0.1: the gateway and every service\n"
          "instance as servers, discovery fed by HTTP health checks, the resilience plan of the\n"
          "simulation on real requests. Prints `gateway <port>`, then `<instance> <port>` per\n"
          "server; stops gracefully on SIGINT or SIGTERM.\n"
          "\n"
          "options:\n"
          "  --port N             the gateway's port; 0 picks a free one (default 8080)\n"
          "  --seed N             seed of jitter and the canary split (default 42)\n"
          "  --work-scale X       multiplies the services' work time (default 1; 0.2 = faster)\n"
          "  --open-duration T    every breaker's open duration (default: the plan's 30s)\n"
          "  --health-interval T  how often each instance is probed (default 2s)\n"
          "  --settle-after T     when a pending payment is charged again (default 10s)\n"
          "  --client-rps N       requests per second per client (default 5)\n"
          "  --client-burst N     burst per client (default 10)\n"
          "  --gateway-threads N  connections the gateway serves at once (default 32)\n"
          "\n"
          "durations: 250ms, 2s, 1m. Try: curl -H 'Authorization: Bearer tok-7' "
          "localhost:8080/api/restaurants");
      return 0;
    }
    if (flag == "--port") {
      o.port = f.number<int>(65535);
    } else if (flag == "--seed") {
      o.seed = f.number<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    } else if (flag == "--work-scale") {
      const auto v = parse_positive(f.value());
      if (!v) refuse("serve", "bad value for --work-scale");
      o.work_scale = *v;
    } else if (flag == "--open-duration") {
      o.open_duration = f.duration();
    } else if (flag == "--health-interval") {
      o.health_interval = f.duration();
    } else if (flag == "--settle-after") {
      o.settle_after = f.duration();
    } else if (flag == "--client-rps") {
      o.client_rps = f.number<std::uint32_t>(1'000'000);
      if (o.client_rps == 0) refuse("serve", "--client-rps must be positive");
    } else if (flag == "--client-burst") {
      o.client_burst = f.number<std::uint32_t>(1'000'000);
      if (o.client_burst == 0) refuse("serve", "--client-burst must be positive");
    } else if (flag == "--gateway-threads") {
      o.gateway_threads = f.number<std::size_t>(1024);
      if (o.gateway_threads == 0) refuse("serve", "--gateway-threads must be positive");
    } else {
      refuse("serve", "unknown option " + std::string(flag));
    }
  }

  // Signals are taken by sigwait below: block them before any thread starts (threads inherit
  // the mask). A peer that closes its socket must not kill the process.
  std::signal(SIGPIPE, SIG_IGN);
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  delivery_server server{o};
  try {
    for (const auto& l : server.start()) std::printf("%s %d\n", l.name.c_str(), l.port);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "delivery serve: %s\n", e.what());
    return 1;
  }
  std::fflush(stdout);
  int signal = 0;
  sigwait(&stop_signals, &signal);
  std::fprintf(stderr, "delivery serve: %s, draining\n", signal == SIGINT ? "SIGINT" : "SIGTERM");
  server.stop();
  std::fprintf(stderr, "delivery serve: stopped; %s\n", server.summary().c_str());
  return 0;
}

int load_main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  int port = 8080;
  double rps = 20;
  nanoseconds duration = std::chrono::seconds{10};
  std::uint32_t clients = 10;
  std::uint64_t seed = 1;
  flags f{"load", argc, argv};
  while (!f.done()) {
    const std::string_view flag = f.flag();
    if (flag == "--help" || flag == "-h") {
      std::puts(
          "usage: delivery load [options]\n"
          "\n"
          "Sends a steady rate of API requests (menus, restaurant lists, profiles, orders) to a\n"
          "gateway started by `delivery serve`, then prints statuses, degraded replies and\n"
          "latency percentiles. Open loop: requests are sent on schedule, not after answers.\n"
          "\n"
          "options:\n"
          "  --port N      the gateway's port on 127.0.0.1 (default 8080)\n"
          "  --rps N       requests per second (default 20)\n"
          "  --duration T  how long to send (default 10s)\n"
          "  --clients N   distinct API keys the requests rotate through (default 10)\n"
          "  --seed N      seed of the request mix (default 1)");
      return 0;
    }
    if (flag == "--port") {
      port = f.number<int>(65535);
    } else if (flag == "--rps") {
      const auto v = parse_positive(f.value());
      if (!v) refuse("load", "bad value for --rps (0 < N <= 1000)");
      rps = *v;
    } else if (flag == "--duration") {
      duration = f.duration();
    } else if (flag == "--clients") {
      clients = f.number<std::uint32_t>(100'000);
      if (clients == 0) refuse("load", "--clients must be positive");
    } else if (flag == "--seed") {
      seed = f.number<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    } else {
      refuse("load", "unknown option " + std::string(flag));
    }
  }
  std::signal(SIGPIPE, SIG_IGN);

  const auto total =
      static_cast<std::uint64_t>(rps * std::chrono::duration<double>(duration).count());
  const auto spacing = nanoseconds{static_cast<std::int64_t>(1e9 / rps)};
  const auto start = std::chrono::steady_clock::now();
  std::atomic<std::uint64_t> next{0};
  std::mutex mutex;
  std::map<int, std::uint64_t> statuses;  // 0: no answer
  std::uint64_t degraded = 0;
  std::vector<double> latencies_ms;
  const auto worker = [&] {
    std::map<int, std::uint64_t> my_statuses;
    std::uint64_t my_degraded = 0;
    std::vector<double> my_latencies;
    for (std::uint64_t k = next++; k < total; k = next++) {
      std::this_thread::sleep_until(start + spacing * static_cast<std::int64_t>(k));
      resil::splitmix64 g{seed ^ (k * 0x9E3779B97F4A7C15ULL)};
      const std::uint64_t draw = g() % 100;
      const auto user = 1 + g() % 1000;
      const auto restaurant = 1 + g() % 50;
      httplib::Client c{host, port};
      c.set_connection_timeout(5, 0);
      c.set_read_timeout(10, 0);
      const httplib::Headers headers{
          {"X-Api-Key", "load-" + std::to_string(k % clients)},
          {"Authorization", "Bearer tok-" + std::to_string(user)},
          {"Idempotency-Key", "load-" + std::to_string(seed) + "-" + std::to_string(k)}};
      const auto sent = std::chrono::steady_clock::now();
      httplib::Result r =
          draw < 40   ? c.Get("/api/restaurants/" + std::to_string(restaurant) + "/menu", headers)
          : draw < 60 ? c.Get("/api/restaurants", headers)
          : draw < 70 ? c.Get("/api/users/me", headers)
                      : c.Post("/api/orders", headers,
                               httplib::Params{{"restaurant", std::to_string(restaurant)},
                                               {"items", "1:2,2:1"}});
      my_latencies.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - sent)
              .count());
      ++my_statuses[r ? r->status : 0];
      if (r && r->get_header_value("X-Degraded") == "true") ++my_degraded;
    }
    std::lock_guard lock(mutex);
    for (const auto& [s, n] : my_statuses) statuses[s] += n;
    degraded += my_degraded;
    latencies_ms.insert(latencies_ms.end(), my_latencies.begin(), my_latencies.end());
  };
  // Enough workers that a slow answer does not delay the schedule much.
  const auto workers = std::clamp<std::size_t>(static_cast<std::size_t>(rps / 2), 4, 64);
  {
    std::vector<std::jthread> pool;
    for (std::size_t i = 0; i < workers; ++i) pool.emplace_back(worker);
  }
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::sort(latencies_ms.begin(), latencies_ms.end());
  const auto pct = [&](double p) {
    if (latencies_ms.empty()) return 0.0;
    const auto i = static_cast<std::size_t>(p * static_cast<double>(latencies_ms.size() - 1));
    return latencies_ms[i];
  };
  std::printf("delivery load: %llu requests in %.1f s (%.1f/s) to %s:%d\n",
              static_cast<unsigned long long>(total), elapsed,
              static_cast<double>(total) / std::max(elapsed, 1e-9), host.c_str(), port);
  std::printf("  status:");
  for (const auto& [s, n] : statuses) {
    if (s == 0) {
      std::printf("  no answer %llu", static_cast<unsigned long long>(n));
    } else {
      std::printf("  %d: %llu", s, static_cast<unsigned long long>(n));
    }
  }
  std::printf("\n  degraded (X-Degraded: true): %llu\n", static_cast<unsigned long long>(degraded));
  std::printf("  latency ms: p50 %.1f  p95 %.1f  p99 %.1f  max %.1f\n", pct(0.5), pct(0.95),
              pct(0.99), pct(1.0));
  const bool answered = statuses.size() > (statuses.contains(0) ? 1U : 0U);
  return answered || total == 0 ? 0 : 1;
}

}  // namespace delivery::http
