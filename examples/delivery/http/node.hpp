// A server of the HTTP delivery system (an httplib server on its own thread, on loopback), and a
// service instance: a server that answers its service's routes behind run-time chaos faults.
// SPDX-License-Identifier: MIT
#pragma once

#include <httplib.h>
#include <resil/chaos.hpp>
#include <resil/compose.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "remote.hpp"
#include "services.hpp"

namespace delivery::http {

/// An HTTP server on 127.0.0.1, served by its own thread and a small pool of workers.
class node {
 public:
  /// `workers`: threads serving requests (each serves one connection at a time).
  explicit node(std::string name, std::size_t workers = 8);
  node(const node&) = delete;
  node& operator=(const node&) = delete;
  virtual ~node();

  /// Binds to 127.0.0.1:`port` (0: any free port) and starts serving; returns the port, or -1
  /// when the port cannot be bound.
  int start(int port = 0);
  /// Stops accepting, lets requests in progress finish, and joins the server's thread.
  void stop();

  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  [[nodiscard]] int port() const noexcept { return port_; }
  [[nodiscard]] httplib::Server& server() noexcept { return server_; }

 private:
  std::string name_;
  httplib::Server server_;
  std::thread thread_;
  int port_ = -1;
};

/// Real time for the services: `work(d)` sleeps `d` times a scale factor (so tests can run the
/// same system faster).
class real_runtime final : public runtime {
 public:
  explicit real_runtime(double scale) : scale_(scale) {}
  void work(std::chrono::nanoseconds d) override;
  [[nodiscard]] std::chrono::nanoseconds now() const override { return steady::now() - start_; }

 private:
  double scale_;
  steady::time_point start_ = steady::now();
};

/// A fault to inject into an instance at run time (the admin route's parameters).
struct fault_spec {
  double error_rate = 0;                 ///< Share of calls answered 503 at once.
  std::chrono::milliseconds latency{0};  ///< Added to every call (when > 0).
  double latency_rate = 1;               ///< Share of calls the latency applies to.
  bool affects_health = false;           ///< GET /health misbehaves too (a sick process).

  [[nodiscard]] bool active() const noexcept { return error_rate > 0 || latency.count() > 0; }
  [[nodiscard]] std::string describe() const;
};

/**
 * A service instance: a node whose business routes run behind the library's chaos policies
 * (`resil::chaos_latency`, then `resil::chaos_fault`), switched at run time by `inject` and
 * `clear`. Every instance answers `GET /health` (200 "ok", or 503 while a fault that affects
 * health fails it).
 */
class instance_node : public node {
 public:
  instance_node(std::string id, std::string service, std::string version, std::size_t workers);

  [[nodiscard]] const std::string& service() const noexcept { return service_; }
  [[nodiscard]] const std::string& version() const noexcept { return version_; }

  void inject(const fault_spec& f);
  void clear() { inject({}); }
  [[nodiscard]] fault_spec current_fault() const;

  /// Business calls that reached the instance.
  [[nodiscard]] std::uint64_t calls() const noexcept { return calls_.load(); }

  /**
   * Runs `f()` (returning T) behind the instance's faults; `probe` marks a health probe. The
   * outcome is `f`'s value or the injected error.
   */
  template <class F>
  auto serve(bool probe, F&& f) {
    if (!probe) calls_.fetch_add(1, std::memory_order_relaxed);
    std::shared_ptr<chaos> c;
    {
      std::lock_guard lock(mutex_);
      c = (probe && !chaos_->spec.affects_health) ? healthy_ : chaos_;
    }
    resil::context ctx;
    return resil::compose(c->latency, c->fault).try_execute_in(ctx, std::forward<F>(f));
  }

 private:
  struct chaos {
    explicit chaos(const fault_spec& f);
    fault_spec spec;
    resil::chaos_latency latency;
    resil::chaos_fault fault;
  };

  std::string service_;
  std::string version_;
  std::atomic<std::uint64_t> calls_{0};
  mutable std::mutex mutex_;
  std::shared_ptr<chaos> healthy_;
  std::shared_ptr<chaos> chaos_;
};

}  // namespace delivery::http
