// The food-delivery domain services (no resil here: see plan.hpp for the resilience plan).
// SPDX-License-Identifier: MIT
#include "services.hpp"

#include <algorithm>
#include <array>
#include <charconv>

namespace delivery {

namespace {

constexpr std::array<std::string_view, 8> cuisines{"thai",   "pizza",   "sushi", "burgers",
                                                   "indian", "mexican", "vegan", "bakery"};
constexpr std::array<std::string_view, 6> cities{"Lyon",  "Porto", "Gdansk",
                                                 "Leeds", "Graz",  "Tartu"};

}  // namespace

// -- user ---------------------------------------------------------------------------------------

std::optional<std::uint32_t> user_service::authenticate(runtime& rt, std::string_view token) const {
  rt.work(cost::authenticate);
  constexpr std::string_view prefix = "tok-";
  if (!token.starts_with(prefix)) return std::nullopt;
  std::uint32_t id = 0;
  const auto digits = token.substr(prefix.size());
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), id);
  if (ec != std::errc{} || end != digits.data() + digits.size() || id == 0 || id > users_) {
    return std::nullopt;
  }
  return id;
}

std::optional<user_profile> user_service::profile(runtime& rt, std::uint32_t user_id) const {
  rt.work(cost::profile);
  if (user_id == 0 || user_id > users_) return std::nullopt;
  return user_profile{user_id, "user-" + std::to_string(user_id),
                      std::string(cities[user_id % cities.size()])};
}

std::string user_service::token_for(std::uint32_t user_id) {
  return "tok-" + std::to_string(user_id);
}

// -- restaurant ---------------------------------------------------------------------------------

restaurant_service::restaurant_service(std::uint32_t restaurants) {
  for (std::uint32_t r = 1; r <= restaurants; ++r) {
    summaries_.push_back(
        {r, "restaurant-" + std::to_string(r), std::string(cuisines[r % cuisines.size()])});
    menu m{r, {}};
    const std::uint32_t items = 6 + r % 5;
    for (std::uint32_t i = 1; i <= items; ++i) {
      m.items.push_back({i, "dish-" + std::to_string(r) + "-" + std::to_string(i),
                         700 + (r * 37 + i * 113) % 1500});
    }
    menus_.push_back(std::move(m));
  }
}

std::vector<restaurant_summary> restaurant_service::list(runtime& rt) const {
  rt.work(cost::list_restaurants);
  return summaries_;
}

std::optional<menu> restaurant_service::menu_of(runtime& rt, std::uint32_t restaurant_id) const {
  rt.work(cost::read_menu);
  if (restaurant_id == 0 || restaurant_id > menus_.size()) return std::nullopt;
  return menus_[restaurant_id - 1];
}

// -- payment ------------------------------------------------------------------------------------

receipt payment_ledger::charge(const charge_request& request) {
  std::lock_guard lock(mutex_);
  if (auto it = by_key_.find(request.idempotency_key); it != by_key_.end()) {
    ++totals_.replays;
    receipt r = it->second;
    r.replayed = true;
    return r;
  }
  const receipt r{totals_.charges + 1, charge_status::charged, false};
  by_key_.emplace(request.idempotency_key, r);
  if (++charges_per_order_[request.order_id] == 2) ++totals_.double_charges;
  ++totals_.charges;
  totals_.amount_cents += request.amount_cents;
  return r;
}

payment_ledger::totals payment_ledger::snapshot() const {
  std::lock_guard lock(mutex_);
  return totals_;
}

receipt payment_service::charge(runtime& rt, const charge_request& request) const {
  rt.work(cost::charge);  // the card network round trip; the ledger write comes after it
  return ledger_->charge(request);
}

// -- order --------------------------------------------------------------------------------------

std::optional<order> order_store::find_by_key(std::string_view key) const {
  std::lock_guard lock(mutex_);
  const auto it = by_key_.find(key);
  if (it == by_key_.end()) return std::nullopt;
  const auto o = orders_.find(it->second);
  if (o == orders_.end()) return std::nullopt;
  return o->second;
}

std::uint64_t order_store::id_for(std::string_view key) {
  std::lock_guard lock(mutex_);
  if (auto it = by_key_.find(key); it != by_key_.end()) return it->second;
  const std::uint64_t id = next_id_++;
  by_key_.emplace(std::string(key), id);
  return id;
}

std::optional<order> order_store::find(std::uint64_t id) const {
  std::lock_guard lock(mutex_);
  const auto it = orders_.find(id);
  if (it == orders_.end()) return std::nullopt;
  return it->second;
}

order order_store::save(order o) {
  std::lock_guard lock(mutex_);
  if (auto it = orders_.find(o.id); it != orders_.end()) {
    return it->second;  // a concurrent attempt with the same key got there first
  }
  orders_.emplace(o.id, o);
  ++totals_.orders;
  if (o.status == order_status::paid) ++totals_.paid;
  if (o.status == order_status::payment_pending) ++totals_.pending;
  return o;
}

void order_store::mark_paid(std::uint64_t id) {
  std::lock_guard lock(mutex_);
  const auto it = orders_.find(id);
  if (it == orders_.end() || it->second.status != order_status::payment_pending) return;
  it->second.status = order_status::paid;
  --totals_.pending;
  ++totals_.paid;
  ++totals_.settled_later;
}

order_store::totals order_store::snapshot() const {
  std::lock_guard lock(mutex_);
  return totals_;
}

reply<order> order_service::place(runtime& rt, const order_request& request) const {
  rt.work(cost::validate_order);
  if (auto existing = store_->find_by_key(request.idempotency_key)) {
    return reply<order>::success(*existing);  // a retry of a checkout that already went through
  }
  const reply<menu> m = restaurants_->menu_of(request.restaurant_id);
  if (!m.ok()) return reply<order>::failure(m.error);

  order o;
  o.user_id = request.user_id;
  o.restaurant_id = request.restaurant_id;
  o.idempotency_key = request.idempotency_key;
  for (const auto& line : request.lines) {
    const auto item = std::find_if(m.value->items.begin(), m.value->items.end(),
                                   [&](const menu_item& i) { return i.id == line.item_id; });
    if (item == m.value->items.end()) return reply<order>::success(o);  // rejected: no such dish
    o.total_cents += item->price_cents * line.quantity;
  }
  if (o.total_cents == 0) return reply<order>::success(o);  // rejected: empty cart

  // The order id is reserved before the charge so the charge names it; the key makes both the
  // order and the charge idempotent.
  rt.work(cost::write_order);
  o.id = store_->id_for(request.idempotency_key);
  const charge_request charge{request.idempotency_key, o.id, request.user_id, o.total_cents};
  const reply<receipt> paid = payments_->charge(charge, charge_mode::may_defer);
  if (!paid.ok()) return reply<order>::failure(paid.error);

  o.status = paid.value->status == charge_status::charged ? order_status::paid
                                                          : order_status::payment_pending;
  o = store_->save(std::move(o));
  events_->publish({"order.created", o.id, o.user_id, {}});
  if (o.status == order_status::paid) {
    events_->publish({"payment.processed", o.id, o.user_id, {}});
  } else {
    events_->publish({"payment.pending", o.id, o.user_id, charge});
  }
  return reply<order>::success(o, m.degraded || paid.degraded);
}

std::optional<order> order_service::find(runtime& rt, std::uint64_t id) const {
  rt.work(cost::write_order);
  return store_->find(id);
}

bool order_service::settle(runtime& rt, const charge_request& charge) const {
  rt.work(cost::validate_order);
  const reply<receipt> paid = payments_->charge(charge, charge_mode::must_settle);
  if (!paid.ok() || paid.value->status != charge_status::charged) return false;
  store_->mark_paid(charge.order_id);
  events_->publish({"payment.processed", charge.order_id, charge.user_id, {}});
  return true;
}

// -- notification -------------------------------------------------------------------------------

bool notification_service::notify(runtime& rt, const event& e) const {
  rt.work(cost::push);
  const std::string text = e.topic == "order.created"       ? "Your order is confirmed"
                           : e.topic == "payment.processed" ? "Payment received"
                                                            : "Payment is being processed";
  return push_->push(e.user_id, text);
}

}  // namespace delivery
