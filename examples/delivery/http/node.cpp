// Servers and service instances of the HTTP delivery system.
// SPDX-License-Identifier: MIT
#include "node.hpp"

#include <cstdio>

namespace delivery::http {

node::node(std::string name, std::size_t workers) : name_(std::move(name)) {
  server_.new_task_queue = [workers] { return new httplib::ThreadPool(workers); };
  server_.set_keep_alive_max_count(100);
  server_.set_read_timeout(5, 0);
}

node::~node() {
  stop();
}

int node::start(int port) {
  const int bound = port == 0 ? server_.bind_to_any_port("127.0.0.1")
                              : (server_.bind_to_port("127.0.0.1", port) ? port : -1);
  if (bound < 0) return -1;
  port_ = bound;
  thread_ = std::thread([this] { server_.listen_after_bind(); });
  return port_;
}

void node::stop() {
  if (!thread_.joinable()) return;
  // stop() closes the listening socket; listen_after_bind() then waits for its workers, which
  // finish the requests in progress (a drain), and returns.
  server_.stop();
  thread_.join();
}

void real_runtime::work(std::chrono::nanoseconds d) {
  std::this_thread::sleep_for(
      std::chrono::nanoseconds{static_cast<std::int64_t>(static_cast<double>(d.count()) * scale_)});
}

std::string fault_spec::describe() const {
  if (!active()) return "none";
  std::string out;
  char buf[96];
  if (error_rate > 0) {
    std::snprintf(buf, sizeof buf, "errors on %.0f%% of calls", error_rate * 100);
    out += buf;
  }
  if (latency.count() > 0) {
    std::snprintf(buf, sizeof buf, "%s+%lld ms on %.0f%% of calls", out.empty() ? "" : ", ",
                  static_cast<long long>(latency.count()), latency_rate * 100);
    out += buf;
  }
  if (affects_health) out += ", health checks too";
  return out;
}

instance_node::chaos::chaos(const fault_spec& f)
    : spec(f),
      latency({.injection_rate = f.latency_rate, .enabled = f.latency.count() > 0}, f.latency),
      fault({.injection_rate = f.error_rate, .enabled = f.error_rate > 0}, net_errc::unavailable) {}

instance_node::instance_node(std::string id, std::string service, std::string version,
                             std::size_t workers)
    : node(std::move(id), workers),
      service_(std::move(service)),
      version_(std::move(version)),
      healthy_(std::make_shared<chaos>(fault_spec{})),
      chaos_(healthy_) {
  server().Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    const auto r = serve(true, [] { return true; });
    if (r.has_value()) {
      res.set_content("ok\n", "text/plain");
    } else {
      res.status = 503;
      res.set_content("unhealthy\n", "text/plain");
    }
  });
}

void instance_node::inject(const fault_spec& f) {
  auto next = f.active() ? std::make_shared<chaos>(f) : healthy_;
  std::lock_guard lock(mutex_);
  chaos_ = std::move(next);
}

fault_spec instance_node::current_fault() const {
  std::lock_guard lock(mutex_);
  return chaos_->spec;
}

}  // namespace delivery::http
