// The HTTP delivery system end to end: `delivery serve` as a child process on ephemeral loopback
// ports, driven by an HTTP client (a payment outage opens the breaker, fallbacks answer, the
// system recovers, SIGTERM drains), and scraped by a real Prometheus server when one is
// installed. Every wait is bounded.
// SPDX-License-Identifier: MIT
#include <arpa/inet.h>
#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#ifndef DELIVERY_BINARY
#error "DELIVERY_BINARY must name the delivery program"
#endif

namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

/// A child process; killed (SIGKILL) at destruction if still running.
class child {
 public:
  /// Starts `argv[0]` with `argv`; with `capture`, its standard output is readable by `line`.
  child(std::vector<std::string> argv, bool capture) {
    int fds[2] = {-1, -1};
    if (capture) REQUIRE(::pipe(fds) == 0);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      if (capture) {
        ::dup2(fds[1], STDOUT_FILENO);
        ::close(fds[0]);
        ::close(fds[1]);
      }
      ::execvp(args[0], args.data());
      ::_exit(127);
    }
    if (capture) {
      ::close(fds[1]);
      out_ = fds[0];
    }
  }
  child(const child&) = delete;
  child& operator=(const child&) = delete;
  ~child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (out_ >= 0) ::close(out_);
  }

  /// The next line of its standard output, waiting at most `timeout`.
  std::optional<std::string> line(std::chrono::milliseconds timeout) {
    const auto until = steady::now() + timeout;
    for (;;) {
      if (const auto at = buffer_.find('\n'); at != std::string::npos) {
        std::string l = buffer_.substr(0, at);
        buffer_.erase(0, at + 1);
        return l;
      }
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(until - steady::now());
      if (left <= 0ms) return std::nullopt;
      pollfd p{out_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return std::nullopt;
      char chunk[512];
      const auto n = ::read(out_, chunk, sizeof chunk);
      if (n <= 0) return std::nullopt;
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }

  /// Sends `sig` and waits at most `timeout` for the exit; the exit status, or nothing.
  std::optional<int> stop(int sig, std::chrono::milliseconds timeout) {
    ::kill(pid_, sig);
    const auto until = steady::now() + timeout;
    while (steady::now() < until) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(20ms);
    }
    return std::nullopt;
  }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  std::string buffer_;
};

/// Polls `done()` every 50 ms for at most `timeout`.
bool eventually(std::chrono::milliseconds timeout, const std::function<bool()>& done) {
  const auto until = steady::now() + timeout;
  while (steady::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return done();
}

/// `delivery serve` on ephemeral ports, fast settings, and a client for its gateway.
struct served {
  child process;
  int port = 0;

  explicit served(std::vector<std::string> extra = {})
      : process(
            [&] {
              std::vector<std::string> argv{DELIVERY_BINARY,     "serve", "--port",          "0",
                                            "--work-scale",      "0.2",   "--open-duration", "1s",
                                            "--health-interval", "100ms", "--client-rps",    "5",
                                            "--client-burst",    "10"};
              argv.insert(argv.end(), extra.begin(), extra.end());
              return argv;
            }(),
            true) {
    const auto first = process.line(10'000ms);
    REQUIRE(first);
    REQUIRE(first->starts_with("gateway "));
    port = std::stoi(first->substr(8));
    // Then one line per instance: 12 of them.
    for (int i = 0; i < 12; ++i) REQUIRE(process.line(5'000ms));
    // Ready once every service has a healthy instance (bounded).
    REQUIRE(eventually(10'000ms, [&] {
      const auto r = client().Get("/health/ready");
      return r && r->status == 200;
    }));
  }

  [[nodiscard]] httplib::Client client() const {
    httplib::Client c{"127.0.0.1", port};
    c.set_connection_timeout(5, 0);
    c.set_read_timeout(10, 0);
    return c;
  }

  httplib::Result order(const std::string& key) const {
    return client().Post(
        "/api/orders",
        {{"X-Api-Key", key}, {"Authorization", "Bearer tok-7"}, {"Idempotency-Key", key}},
        httplib::Params{{"restaurant", "3"}, {"items", "1:2,2:1"}});
  }

  [[nodiscard]] std::string get(const std::string& path) const {
    const auto r = client().Get(path);
    return r ? r->body : std::string{};
  }
};

/// A port nobody listens on now (bound to 0, read, closed).
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof a;
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &size) == 0) {
    port = ntohs(a.sin_port);
  }
  ::close(fd);
  return port;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

/// Business calls that reached the instances of `service` (from GET /admin/faults).
std::uint64_t calls_of(const served& s, const std::string& service) {
  const std::string all = s.get("/admin/faults");
  std::uint64_t sum = 0;
  for (auto at = all.find("\"service\":\"" + service + "\""); at != std::string::npos;
       at = all.find("\"service\":\"" + service + "\"", at + 1)) {
    const auto calls = all.find("\"calls\":", at);
    if (calls != std::string::npos) sum += std::stoull(all.substr(calls + 8));
  }
  return sum;
}

std::string breaker_json(const served& s, const std::string& name) {
  const std::string all = s.get("/resil/circuit-breakers");
  const auto at = all.find("{\"name\":\"" + name + "\"");
  if (at == std::string::npos) return {};
  return all.substr(at, all.find('}', at) - at + 1);
}

}  // namespace

TEST_CASE("http: a payment outage opens the breaker, fallbacks answer, the system recovers",
          "[http]") {
  // Settlement of pending payments is pushed past the test, so only orders call payment.
  served s{{"--settle-after", "5m"}};

  // Steady state: orders are paid.
  for (int i = 0; i < 5; ++i) {
    const auto r = s.order("steady-" + std::to_string(i));
    REQUIRE(r);
    CHECK(r->status == 201);
    CHECK(contains(r->body, "\"status\":\"paid\""));
  }
  CHECK(contains(breaker_json(s, "order->payment"), "\"state\":\"closed\""));

  // A client over its limit (1 a second, bursts of 10) gets 429 with Retry-After; another
  // client is unaffected.
  int sent = 0;
  std::optional<httplib::Response> refused;
  while (!refused && sent < 60) {
    const auto r = s.client().Get("/api/restaurants",
                                  {{"X-Api-Key", "greedy"}, {"Authorization", "Bearer tok-3"}});
    REQUIRE(r);
    ++sent;
    if (r->status == 429) refused = *r;
  }
  REQUIRE(refused);
  CHECK(sent >= 11);  // the burst of 10 passed first
  CHECK(refused->has_header("Retry-After"));
  const auto polite = s.client().Get("/api/restaurants",
                                     {{"X-Api-Key", "polite"}, {"Authorization", "Bearer tok-4"}});
  REQUIRE(polite);
  CHECK(polite->status == 200);

  // The outage: every payment instance fails its business calls (its health check still
  // passes: a bug in one endpoint, which only the breaker catches).
  const auto injected = s.client().Post("/admin/faults", "target=payment&error_rate=1",
                                        "application/x-www-form-urlencoded");
  REQUIRE(injected);
  REQUIRE(injected->status == 200);
  CHECK(contains(injected->body, "payment-3"));

  // Orders still succeed, degraded ("payment pending"), until the breaker opens.
  int pending = 0;
  bool all_degraded = true;
  const bool opened = eventually(20'000ms, [&] {
    const auto r = s.order("outage-" + std::to_string(pending));
    if (r && r->status == 202) {
      ++pending;
      all_degraded = all_degraded && r->get_header_value("X-Degraded") == "true";
    }
    return contains(breaker_json(s, "order->payment"), "\"state\":\"open\"") || pending > 60;
  });
  INFO(s.get("/resil/circuit-breakers"));
  REQUIRE(opened);
  CHECK(pending >= 1);
  CHECK(all_degraded);
  // While open, the fallback answers without calling payment at all.
  const auto while_open = s.order("while-open");
  REQUIRE(while_open);
  CHECK(while_open->status == 202);
  CHECK(contains(while_open->body, "payment_pending"));
  // Calls the open breaker refuses never reach payment (a half-open probe may, and fails).
  int extra = 0;
  CHECK(eventually(10'000ms, [&] {
    if (!contains(breaker_json(s, "order->payment"), "\"not_permitted\":0,")) return true;
    (void)s.order("refused-" + std::to_string(extra++));
    return false;
  }));
  const std::string metrics = s.get("/metrics");
  CHECK(contains(metrics, "resil_circuitbreaker_state{name=\"order->payment\",state=\"open\"} 1"));
  CHECK(contains(metrics, "# TYPE resil_circuitbreaker_state gauge"));
  CHECK(contains(s.get("/resil/events"), "closed -> open"));

  // The fault is removed: after the open duration, probes close the breaker and orders are
  // paid again.
  const auto removed = s.client().Delete("/admin/faults?target=payment");
  REQUIRE(removed);
  CHECK(removed->status == 200);
  int attempt = 0;
  const bool recovered = eventually(20'000ms, [&] {
    const auto r = s.order("recovery-" + std::to_string(attempt++));
    return r && r->status == 201 &&
           contains(breaker_json(s, "order->payment"), "\"state\":\"closed\"");
  });
  INFO(s.get("/resil/events"));
  CHECK(recovered);
  CHECK(contains(s.get("/metrics"),
                 "resil_circuitbreaker_state{name=\"order->payment\",state=\"closed\"} 1"));
  CHECK(contains(s.get("/resil/events"), "half_open -> closed"));

  // Graceful shutdown: a request in flight when SIGTERM arrives still gets its answer. The
  // signal is sent once the request has reached a (slowed) restaurant instance.
  REQUIRE(s.client()
              .Post("/admin/faults", "target=restaurant&latency_ms=200",
                    "application/x-www-form-urlencoded")
              ->status == 200);
  const auto before = calls_of(s, "restaurant");
  int in_flight_status = 0;
  std::thread slow([&] {
    const auto r = s.client().Get("/api/restaurants/5/menu",
                                  {{"X-Api-Key", "late"}, {"Authorization", "Bearer tok-9"}});
    in_flight_status = r ? r->status : -1;
  });
  CHECK(eventually(5'000ms, [&] { return calls_of(s, "restaurant") > before; }));
  const auto status = s.process.stop(SIGTERM, 10'000ms);
  slow.join();
  CHECK(in_flight_status == 200);
  REQUIRE(status);
  CHECK(*status == 0);
}

TEST_CASE("http: a real Prometheus scrapes /metrics and sees resil_circuitbreaker_state",
          "[prometheus]") {
  if (std::system("command -v prometheus > /dev/null 2>&1") != 0) {
    std::fputs(
        "SKIPPED: the `prometheus` binary is not on PATH (Debian: apt-get install "
        "prometheus; CI installs it from scripts/deps.sh)\n",
        stderr);
    std::exit(77);  // ctest's SKIP_RETURN_CODE
  }
  served s;
  // A free port for Prometheus itself (there is a small window before it binds it).
  const int prometheus_port = free_port();
  REQUIRE(prometheus_port > 0);
  const auto dir =
      std::filesystem::temp_directory_path() / ("resil-prometheus-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  {
    std::ofstream config(dir / "prometheus.yml");
    config << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
              "scrape_configs:\n  - job_name: delivery\n    scrape_interval: 500ms\n"
              "    static_configs:\n      - targets: ['127.0.0.1:"
           << s.port << "']\n";
  }
  {
    child prometheus(
        {"prometheus", "--config.file=" + (dir / "prometheus.yml").string(),
         "--storage.tsdb.path=" + (dir / "data").string(),
         "--web.listen-address=127.0.0.1:" + std::to_string(prometheus_port), "--log.level=warn"},
        false);
    httplib::Client api{"127.0.0.1", prometheus_port};
    api.set_connection_timeout(1, 0);
    api.set_read_timeout(5, 0);
    REQUIRE(eventually(30'000ms, [&] {
      const auto r = api.Get("/-/ready");
      return r && r->status == 200;
    }));
    std::string answer;
    const bool scraped = eventually(30'000ms, [&] {
      const auto r = api.Get("/api/v1/query",
                             httplib::Params{{"query",
                                              "resil_circuitbreaker_state{name=\"order->"
                                              "payment\",state=\"closed\"}"}},
                             httplib::Headers{});
      answer = r ? r->body : std::string{};
      return contains(answer, "\"status\":\"success\"") && contains(answer, "\"1\"]");
    });
    INFO(answer);
    CHECK(scraped);
    CHECK(contains(answer, "\"job\":\"delivery\""));
    const auto stopped = prometheus.stop(SIGTERM, 15'000ms);
    CHECK(stopped);
  }
  std::filesystem::remove_all(dir);
  const auto status = s.process.stop(SIGTERM, 10'000ms);
  REQUIRE(status);
  CHECK(*status == 0);
}
