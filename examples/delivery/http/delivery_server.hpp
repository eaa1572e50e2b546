// The delivery system over real HTTP: the gateway and every service instance as HTTP servers on
// loopback, discovery fed by HTTP health checks, and the resilience plan of the simulation
// (plan.hpp) applied to real requests with real timeouts.
//
//   client --> gateway :8080 --> user-1..2, restaurant-1..3 (+ restaurant-v2-1), order-1..2
//                                order --> restaurant, payment-1..3;  events --> notification-1
//
// SPDX-License-Identifier: MIT
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace delivery::http {

using namespace std::chrono_literals;

/// How `delivery serve` runs the system. Defaults are the simulation's plan at human speed.
struct serve_options {
  int port = 8080;          ///< The gateway's port (0: any free port).
  std::uint64_t seed = 42;  ///< Seeds jitter and the canary split.
  double work_scale = 1.0;  ///< Multiplies the services' work (0.2: five times faster).
  /// Replaces every breaker's open duration (the plan's 30 s) when set.
  std::optional<std::chrono::nanoseconds> open_duration{};
  std::chrono::nanoseconds health_interval = 2s;  ///< How often each instance is probed.
  std::chrono::nanoseconds settle_after = 10s;    ///< When "payment pending" is charged again.
  std::uint32_t client_rps = 5;                   ///< Per client (API key or address).
  std::uint32_t client_burst = 10;
  std::size_t gateway_threads = 32;  ///< Connections the gateway serves at once.
};

/// One listening server: its name ("gateway", "payment-2", ...) and port.
struct listening {
  std::string name;
  int port = 0;
};

/// The whole system in this process. Start it, then stop it (or destroy it).
class delivery_server {
 public:
  explicit delivery_server(serve_options options);
  delivery_server(const delivery_server&) = delete;
  delivery_server& operator=(const delivery_server&) = delete;
  ~delivery_server();

  /// Starts every server, the gateway first; throws `std::runtime_error` if a port cannot be
  /// bound. Returns what listens where, the gateway first.
  std::vector<listening> start();
  /// Graceful stop: readiness turns 503, the gateway stops accepting and finishes the requests
  /// in progress, then the instances do the same. Idempotent.
  void stop();

  /// A one-line summary of what was served (for the log at exit).
  [[nodiscard]] std::string summary() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// `delivery serve ...`: runs until SIGINT or SIGTERM, then stops gracefully. Returns the exit
/// code (0, or 2 for bad flags).
int serve_main(int argc, char** argv);

/// `delivery load ...`: sends a steady rate of requests to a gateway and prints what came back.
int load_main(int argc, char** argv);

}  // namespace delivery::http
