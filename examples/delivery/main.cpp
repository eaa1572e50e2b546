// The food-delivery system simulation: user, restaurant, order, payment and notification
// services behind an API gateway, run on virtual time twice per scenario (naive, then with
// resil's policies), with a report, a CSV timeline per run and an SVG chart per scenario.
//
//   client --> gateway --> user / restaurant (v1 | v2 canary) / order --> restaurant, payment
//                                                          order --events--> notification
//
// SPDX-License-Identifier: MIT
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#ifdef DELIVERY_HTTP
#include "http/delivery_server.hpp"
#endif
#include "report.hpp"
#include "scenarios.hpp"
#include "system.hpp"

namespace {

using namespace std::chrono_literals;

struct options {
  std::vector<const delivery::scenario*> scenarios;
  delivery::load_options load;
  std::string out = "delivery-out";
  unsigned jobs = 0;  // 0 = as many as the machine has cores (at most 2 runs per scenario)
};

void usage(std::FILE* to) {
  std::fputs(
      "usage: delivery [options]\n"
      "\n"
      "Runs the food-delivery system simulation: each scenario twice on virtual time (naive,\n"
      "then with resil's policies), same seed and load; prints a report and writes a CSV\n"
      "timeline per run and an SVG chart per scenario.\n"
      "\n"
      "options:\n"
      "  --scenario NAME  run this scenario (repeatable; default: all)\n"
      "  --duration T     simulated length of each run: seconds, or with s/m (default 240s)\n"
      "  --seed N         seed of every random draw (default 42)\n"
      "  --clients N      simulated users (default 100)\n"
      "  --out DIR        where CSV and SVG files go (default delivery-out)\n"
      "  --jobs N         runs simulated at once (default: the number of cores)\n"
      "  --quick          a shorter run (150 s), as the tests use\n"
      "  --help           this text\n"
      "\n"
      "scenarios:\n",
      to);
  for (const auto& s : delivery::all_scenarios()) {
    std::fprintf(to, "  %-16s %s\n", s.name.c_str(), s.story.c_str());
  }
}

[[noreturn]] void bad_usage(const std::string& message) {
  std::fprintf(stderr, "delivery: %s\n(try --help)\n", message.c_str());
  std::exit(2);
}

template <class T>
std::optional<T> parse_number(std::string_view text) {
  T value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<std::chrono::seconds> parse_duration(std::string_view text) {
  std::int64_t scale = 1;
  if (text.ends_with("m")) {
    scale = 60;
    text.remove_suffix(1);
  } else if (text.ends_with("s")) {
    text.remove_suffix(1);
  }
  const auto n = parse_number<std::int64_t>(text);
  if (!n || *n <= 0 || *n > 24 * 3600 / scale) return std::nullopt;
  return std::chrono::seconds{*n * scale};
}

options parse(int argc, char** argv) {
  options o;
  bool quick = false;
  std::optional<std::uint32_t> clients;
  std::optional<std::chrono::seconds> duration;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const auto value = [&]() -> std::string_view {
      if (i + 1 >= argc) bad_usage(std::string(arg) + " needs a value");
      return argv[++i];
    };
    if (arg == "--help" || arg == "-h") {
      usage(stdout);
      std::exit(0);
    } else if (arg == "--quick") {
      quick = true;
    } else if (arg == "--scenario") {
      const auto name = value();
      const auto* s = delivery::find_scenario(name);
      if (s == nullptr) bad_usage("unknown scenario '" + std::string(name) + "'");
      if (std::find(o.scenarios.begin(), o.scenarios.end(), s) == o.scenarios.end()) {
        o.scenarios.push_back(s);
      }
    } else if (arg == "--duration") {
      const auto v = value();
      duration = parse_duration(v);
      if (!duration) {
        bad_usage("--duration: '" + std::string(v) +
                  "' is not a positive duration (e.g. 240, 90s, 4m)");
      }
    } else if (arg == "--seed") {
      const auto v = value();
      const auto n = parse_number<std::uint64_t>(v);
      if (!n) bad_usage("--seed: '" + std::string(v) + "' is not a non-negative integer");
      o.load.seed = *n;
    } else if (arg == "--clients") {
      const auto v = value();
      clients = parse_number<std::uint32_t>(v);
      if (!clients || *clients == 0 || *clients > 1000) {
        bad_usage("--clients: '" + std::string(v) + "' is not a number from 1 to 1000");
      }
    } else if (arg == "--out") {
      o.out = std::string(value());
      if (o.out.empty()) bad_usage("--out: the directory name is empty");
    } else if (arg == "--jobs") {
      const auto v = value();
      const auto n = parse_number<unsigned>(v);
      if (!n || *n == 0 || *n > 64) bad_usage("--jobs: '" + std::string(v) + "' is not 1 to 64");
      o.jobs = *n;
    } else {
      bad_usage("unknown option '" + std::string(arg) + "'");
    }
  }
  if (o.scenarios.empty()) {
    for (const auto& s : delivery::all_scenarios()) o.scenarios.push_back(&s);
  }
  o.load.clients = clients.value_or(100);
  o.load.duration = duration.value_or(quick ? delivery::quick_duration : 240s);
  if (o.jobs == 0) o.jobs = std::max(1U, std::thread::hardware_concurrency());
  return o;
}

void write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
  if (!f) throw std::runtime_error("cannot write " + path.string());
}

int run(const options& o) {
  const auto started = std::chrono::steady_clock::now();
  std::filesystem::create_directories(o.out);  // before minutes of work, not after
  std::printf(
      "resil delivery simulation: %zu scenario(s) x 2 runs, %u clients, %lld s simulated "
      "each, seed %llu\n",
      o.scenarios.size(), o.load.clients,
      static_cast<long long>(
          std::chrono::duration_cast<std::chrono::seconds>(o.load.duration).count()),
      static_cast<unsigned long long>(o.load.seed));
  std::fflush(stdout);

  // Runs are independent (each has its own virtual clock): simulate them side by side.
  std::vector<delivery::scenario_result> results(o.scenarios.size());
  for (std::size_t i = 0; i < results.size(); ++i) results[i].definition = o.scenarios[i];
  std::atomic<std::size_t> next{0};
  std::exception_ptr failure;
  std::atomic<bool> failed{false};
  const auto worker = [&] {
    for (std::size_t job = next++; job < 2 * results.size(); job = next++) {
      auto& r = results[job / 2];
      try {
        const auto m = job % 2 == 0 ? delivery::mode::naive : delivery::mode::resilient;
        (m == delivery::mode::naive ? r.naive : r.resilient) =
            delivery::run_scenario(*r.definition, m, o.load);
      } catch (...) {
        if (!failed.exchange(true)) failure = std::current_exception();
      }
    }
  };
  {
    std::vector<std::jthread> pool;
    const auto n = std::min<std::size_t>(o.jobs, 2 * results.size());
    for (std::size_t t = 1; t < n; ++t) pool.emplace_back(worker);
    worker();
  }
  if (failed) std::rethrow_exception(failure);

  std::fputs(delivery::render_report(results).c_str(), stdout);

  for (const auto& r : results) {
    const std::filesystem::path dir{o.out};
    write_file(dir / (r.definition->name + "-naive.csv"), delivery::render_csv(r.naive));
    write_file(dir / (r.definition->name + "-resilient.csv"), delivery::render_csv(r.resilient));
    write_file(dir / (r.definition->name + ".svg"), delivery::render_svg(r));
  }
  std::printf("\nCSV timelines and SVG charts: %s/\n", o.out.c_str());
  std::fflush(stdout);
  // The only thing that differs from one run to the next goes to standard error, so the standard
  // output of two runs with the same seed is identical.
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::fprintf(stderr, "simulated %zu runs in %.1f s of wall time\n", 2 * results.size(), wall);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // `delivery serve` and `delivery load`: the same system over real HTTP (http/).
  if (argc > 1 && (std::string_view(argv[1]) == "serve" || std::string_view(argv[1]) == "load")) {
#ifdef DELIVERY_HTTP
    return std::string_view(argv[1]) == "serve" ? delivery::http::serve_main(argc - 1, argv + 1)
                                                : delivery::http::load_main(argc - 1, argv + 1);
#else
    std::fprintf(stderr, "delivery: %s needs cpp-httplib, which this build did not find\n",
                 argv[1]);
    return 2;
#endif
  }
  const options o = parse(argc, argv);
  try {
    return run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "delivery: %s\n", e.what());
    return 1;
  }
}
