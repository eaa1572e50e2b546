// The API gateway: one entry point for every client. Rate-limits each client, authenticates,
// routes /api/users, /api/restaurants and /api/orders, and splits restaurant traffic between a
// stable version and a canary.
// SPDX-License-Identifier: MIT
#pragma once

#include <resil/keyed_rate_limiter.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "clients.hpp"
#include "metrics.hpp"
#include "sim.hpp"

namespace delivery {

/// A request as the gateway receives it.
struct http_request {
  std::string method;                    ///< "GET" or "POST".
  std::string path;                      ///< e.g. "/api/restaurants/7/menu".
  std::string api_key;                   ///< Identifies the client application (rate limits).
  std::string token;                     ///< The user's bearer token.
  std::string idempotency_key;           ///< For POST: the same on every retry of one request.
  std::optional<order_request> order{};  ///< The body of POST /api/orders.
};

/// A response.
struct http_response {
  std::uint16_t status = 200;
  bool degraded = false;  ///< Served (partly) by a fallback: stale menu, pending payment, ...
  std::string body;
  nanoseconds retry_after{0};  ///< For 429.
};

/// The weighted canary route: this share of restaurant traffic goes to version v2.
struct canary_route {
  std::uint32_t canary_percent = 10;
  /// Resilient mode: when the canary's breaker is open, its share goes to the stable version.
  bool roll_back_on_open_circuit = true;
};

/// The gateway. Thread-safe (clients call it concurrently).
class gateway {
 public:
  using limiter_type = resil::basic_keyed_rate_limiter<std::string, sim_clock>;

  /// `limiter` may be null (no rate limiting: naive mode).
  gateway(user_client& users, restaurant_client& restaurants, restaurant_client& canary,
          order_client& orders, canary_route route, limiter_type* limiter, std::uint64_t seed,
          recorder& rec);

  http_response handle(const http_request& request);

 private:
  http_response list_restaurants(bool& degraded);
  http_response show_menu(std::uint32_t restaurant_id, bool& degraded);
  http_response place_order(const http_request& request, std::uint32_t user_id, bool& degraded);
  http_response show_order(std::uint64_t order_id, std::uint32_t user_id);
  http_response show_profile(std::uint32_t user_id, bool& degraded);
  restaurant_client& restaurants_for_this_request();

  user_client* users_;
  restaurant_client* restaurants_;
  restaurant_client* canary_;
  order_client* orders_;
  canary_route route_;
  limiter_type* limiter_;
  resil::splitmix64 rng_;
  recorder* rec_;
};

/// The HTTP status a failed downstream call maps to (504 for a timeout, else 503).
[[nodiscard]] std::uint16_t status_for(const std::error_code& ec);

}  // namespace delivery
