// The API gateway: rate limits, authentication, routing, canary split.
// SPDX-License-Identifier: MIT
#include "gateway.hpp"

#include <charconv>
#include <string_view>

namespace delivery {

namespace {

// The number in `text` (all of it), or nothing.
template <class T>
std::optional<T> parse_id(std::string_view text) {
  T value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// The part of `path` between `prefix` and `suffix`, if it has both.
std::optional<std::string_view> between(std::string_view path, std::string_view prefix,
                                        std::string_view suffix) {
  if (path.size() < prefix.size() + suffix.size() || !path.starts_with(prefix) ||
      !path.ends_with(suffix)) {
    return std::nullopt;
  }
  return path.substr(prefix.size(), path.size() - prefix.size() - suffix.size());
}

http_response error_response(const std::error_code& ec) {
  return {status_for(ec), false, ec.message(), {}};
}

}  // namespace

std::uint16_t status_for(const std::error_code& ec) {
  return ec == resil::errc::timeout ? 504 : 503;
}

gateway::gateway(user_client& users, restaurant_client& restaurants, restaurant_client& canary,
                 order_client& orders, canary_route route, limiter_type* limiter,
                 std::uint64_t seed, recorder& rec)
    : users_(&users),
      restaurants_(&restaurants),
      canary_(&canary),
      orders_(&orders),
      route_(route),
      limiter_(limiter),
      rng_(seed),
      rec_(&rec) {}

http_response gateway::handle(const http_request& request) {
  // 1. Rate limit per client, before any work is spent on the request.
  if (limiter_ != nullptr) {
    if (const auto decision = limiter_->try_acquire(request.api_key); !decision) {
      rec_->count("gateway rate_limited");
      return {429, false, "too many requests", decision.retry_after};
    }
  }
  // 2. Authenticate.
  const auto who = users_->authenticate(request.token);
  if (!who.ok()) return error_response(who.error);
  if (!who.value->has_value()) return {401, false, "invalid token", {}};
  const std::uint32_t user_id = **who.value;
  bool degraded = who.degraded;

  // 3. Route.
  constexpr std::string_view restaurants = "/api/restaurants";
  constexpr std::string_view orders = "/api/orders";
  const std::string_view path = request.path;
  http_response response{404, false, "not found", {}};
  if (request.method == "GET" && path == restaurants) {
    response = list_restaurants(degraded);
  } else if (const auto menu_id = between(path, "/api/restaurants/", "/menu");
             request.method == "GET" && menu_id) {
    if (const auto r = parse_id<std::uint32_t>(*menu_id)) response = show_menu(*r, degraded);
  } else if (request.method == "GET" && path == "/api/users/me") {
    response = show_profile(user_id, degraded);
  } else if (request.method == "POST" && path == orders) {
    response = place_order(request, user_id, degraded);
  } else if (request.method == "GET" && path.starts_with(orders) && path.size() > orders.size()) {
    if (const auto id = parse_id<std::uint64_t>(path.substr(orders.size() + 1))) {
      response = show_order(*id, user_id);
    }
  }
  response.degraded = response.status < 300 && (response.degraded || degraded);
  return response;
}

restaurant_client& gateway::restaurants_for_this_request() {
  if (rng_() % 100 >= route_.canary_percent) return *restaurants_;
  if (route_.roll_back_on_open_circuit && canary_->circuit_open()) {
    rec_->count("gateway canary rolled back");
    return *restaurants_;
  }
  rec_->count("gateway canary requests");
  return *canary_;
}

http_response gateway::list_restaurants(bool& degraded) {
  const auto r = restaurants_for_this_request().list();
  if (!r.ok()) return error_response(r.error);
  degraded = degraded || r.degraded;
  return {200, false, std::to_string(r.value->size()) + " restaurants", {}};
}

http_response gateway::show_menu(std::uint32_t restaurant_id, bool& degraded) {
  const auto r = restaurants_for_this_request().menu_of(restaurant_id);
  if (!r.ok()) return error_response(r.error);
  if (r.value->items.empty()) return {404, false, "no such restaurant", {}};
  degraded = degraded || r.degraded;
  return {200, false, std::to_string(r.value->items.size()) + " dishes", {}};
}

http_response gateway::show_profile(std::uint32_t user_id, bool& degraded) {
  const auto r = users_->profile(user_id);
  if (!r.ok()) return error_response(r.error);
  degraded = degraded || r.degraded;
  return {200, false, r.value->name, {}};
}

http_response gateway::place_order(const http_request& request, std::uint32_t user_id,
                                   bool& degraded) {
  if (!request.order || request.idempotency_key.empty()) return {400, false, "bad order", {}};
  order_request o = *request.order;
  o.user_id = user_id;
  o.idempotency_key = request.api_key + "/" + request.idempotency_key;
  const auto r = orders_->place(o);
  if (!r.ok()) return error_response(r.error);
  if (r.value->status == order_status::rejected) return {422, false, "order rejected", {}};
  degraded = degraded || r.degraded;
  const bool pending = r.value->status == order_status::payment_pending;
  return {static_cast<std::uint16_t>(pending ? 202 : 201),
          false,
          "order " + std::to_string(r.value->id) + (pending ? " (payment pending)" : ""),
          {}};
}

http_response gateway::show_order(std::uint64_t order_id, std::uint32_t user_id) {
  const auto r = orders_->find(order_id);
  if (!r.ok()) return error_response(r.error);
  if (!r.value->has_value() || (*r.value)->user_id != user_id) return {404, false, "no order", {}};
  return {200, false, "order " + std::to_string(order_id), {}};
}

}  // namespace delivery
