// The typed clients: which call each endpoint makes and which fallback covers it.
// SPDX-License-Identifier: MIT
#include "clients.hpp"

namespace delivery {

std::string error_name(const std::error_code& ec) {
  if (ec.category() == resil::resil_category()) {
    return std::string(resil::to_string(static_cast<resil::errc>(ec.value())));
  }
  if (ec.category() == net_category()) {
    switch (static_cast<net_errc>(ec.value())) {
      case net_errc::unavailable:
        return "unavailable";
      case net_errc::overloaded:
        return "overloaded";
      case net_errc::no_instance:
        return "no_instance";
    }
  }
  return "error";
}

reply<std::optional<std::uint32_t>> user_client::authenticate(const std::string& token) {
  using R = std::optional<std::uint32_t>;
  auto r = edge_->call<R>(
      [token](const user_service& s, runtime& rt) { return s.authenticate(rt, token); },
      [&]() -> std::optional<R> {
        if (!fallbacks_) return std::nullopt;
        return tokens_.get(token);  // a token validated recently is still trusted
      });
  if (r.ok() && !r.degraded && fallbacks_) tokens_.put(token, *r.value);
  return r;
}

reply<user_profile> user_client::profile(std::uint32_t user_id) {
  auto r = edge_->call<user_profile>(
      [user_id](const user_service& s, runtime& rt) -> user_profile {
        return s.profile(rt, user_id).value_or(user_profile{});
      },
      [&]() -> std::optional<user_profile> {
        if (!fallbacks_) return std::nullopt;
        return profiles_.get(user_id);
      });
  if (r.ok() && !r.degraded && fallbacks_) profiles_.put(user_id, *r.value);
  return r;
}

reply<std::vector<restaurant_summary>> restaurant_client::list() {
  using R = std::vector<restaurant_summary>;
  auto r = edge_->call<R>([](const restaurant_service& s, runtime& rt) { return s.list(rt); },
                          [&]() -> std::optional<R> {
                            if (!fallbacks_) return std::nullopt;
                            return lists_.get(0);
                          });
  if (r.ok() && !r.degraded && fallbacks_) lists_.put(0, *r.value);
  return r;
}

reply<menu> restaurant_client::menu_of(std::uint32_t restaurant_id) {
  using R = std::optional<menu>;
  auto r =
      edge_->call<R>([restaurant_id](const restaurant_service& s,
                                     runtime& rt) { return s.menu_of(rt, restaurant_id); },
                     [&]() -> std::optional<R> {
                       if (!fallbacks_) return std::nullopt;
                       return menus_.get(restaurant_id);  // yesterday's prices beat no menu at all
                     });
  if (!r.ok()) return reply<menu>::failure(r.error);
  if (!r.degraded && fallbacks_) menus_.put(restaurant_id, *r.value);
  if (!r.value->has_value()) return reply<menu>::success(menu{restaurant_id, {}}, r.degraded);
  return reply<menu>::success(**r.value, r.degraded);
}

bool restaurant_client::circuit_open() const {
  // Open and not yet due for a probe: once the open duration has passed, calls go through again
  // (the breaker turns half-open on the next one), so a fixed canary gets its traffic back.
  const edge_policies* p = edge_->policies();
  return p != nullptr && state_code(p->state()) == 1 &&
         p->breaker().remaining_delay() > nanoseconds{0};
}

reply<order> order_client::place(const order_request& request) {
  // Over the wire, a checkout the order service could not complete is a 503.
  auto r = edge_->call<reply<order>>(
      [request](const order_service& s, runtime& rt) -> resil::outcome<reply<order>> {
        reply<order> inner = s.place(rt, request);
        if (!inner.ok()) return resil::outcome<reply<order>>::from_error(net_errc::unavailable);
        return inner;
      });
  if (!r.ok()) return reply<order>::failure(r.error);
  reply<order> inner = std::move(*r.value);
  // The order service answers 2xx with a degraded order when its own fallbacks served it.
  if (inner.ok() && r.degraded) inner.degraded = true;
  return inner;
}

reply<std::optional<order>> order_client::find(std::uint64_t id) {
  return edge_->call<std::optional<order>>(
      [id](const order_service& s, runtime& rt) { return s.find(rt, id); });
}

reply<receipt> payment_client::charge(const charge_request& request, charge_mode mode) {
  return edge_->call<receipt>(
      [request](const payment_service& s, runtime& rt) { return s.charge(rt, request); },
      [&]() -> std::optional<receipt> {
        if (!fallbacks_ || mode != charge_mode::may_defer) return std::nullopt;
        return receipt{0, charge_status::pending, false};  // accept now, charge later
      });
}

}  // namespace delivery
