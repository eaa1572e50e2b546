// The food-delivery domain: user, restaurant, order, payment and notification services as plain
// classes. They know nothing about resil: policies wrap them from the outside (plan.hpp).
// SPDX-License-Identifier: MIT
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace delivery {

/**
 * What a service instance may do with time: spend it on a request (a database query, a call to a
 * card network) and read it. The only thing services need from the simulation, so they stay
 * ignorant of clocks, threads and policies.
 */
class runtime {
 public:
  /// Spends about `d` on the current request (the simulation adds a little jitter).
  virtual void work(std::chrono::nanoseconds d) = 0;
  /// Time since the system started.
  [[nodiscard]] virtual std::chrono::nanoseconds now() const = 0;

 protected:
  runtime() = default;
  runtime(const runtime&) = default;
  runtime& operator=(const runtime&) = default;
  ~runtime() = default;
};

/**
 * The answer of a downstream service as a caller sees it: a value, possibly a degraded one (a
 * fallback served it), or the error that prevented one.
 */
template <class T>
struct reply {
  std::optional<T> value{};
  std::error_code error{};
  bool degraded = false;

  [[nodiscard]] bool ok() const noexcept { return value.has_value(); }
  [[nodiscard]] static reply success(T v, bool degraded = false) {
    return {std::move(v), {}, degraded};
  }
  [[nodiscard]] static reply failure(std::error_code e) { return {std::nullopt, e, false}; }
};

// -- data -------------------------------------------------------------------------------------

struct user_profile {
  std::uint32_t id = 0;
  std::string name;
  std::string city;
};

struct restaurant_summary {
  std::uint32_t id = 0;
  std::string name;
  std::string cuisine;
};

struct menu_item {
  std::uint32_t id = 0;
  std::string name;
  std::uint32_t price_cents = 0;
};

struct menu {
  std::uint32_t restaurant_id = 0;
  std::vector<menu_item> items;
};

struct order_line {
  std::uint32_t item_id = 0;
  std::uint32_t quantity = 0;
};

/// A checkout. `idempotency_key` comes from the client and is the same across every retry.
struct order_request {
  std::string idempotency_key;
  std::uint32_t user_id = 0;
  std::uint32_t restaurant_id = 0;
  std::vector<order_line> lines;
};

enum class order_status : std::uint8_t {
  paid,             ///< Charged at checkout.
  payment_pending,  ///< Accepted; the charge is taken later (payment was unavailable).
  rejected,         ///< Not accepted (unknown restaurant or item, nothing to charge).
};

struct order {
  std::uint64_t id = 0;
  std::uint32_t user_id = 0;
  std::uint32_t restaurant_id = 0;
  std::uint32_t total_cents = 0;
  order_status status = order_status::rejected;
  std::string idempotency_key;
};

struct charge_request {
  std::string idempotency_key;
  std::uint64_t order_id = 0;
  std::uint32_t user_id = 0;
  std::uint32_t amount_cents = 0;
};

enum class charge_status : std::uint8_t {
  charged,  ///< The money was taken (now, or by an earlier attempt with the same key).
  pending,  ///< Not taken yet: the order is accepted and the charge is retried later.
};

struct receipt {
  std::uint64_t charge_id = 0;
  charge_status status = charge_status::charged;
  bool replayed = false;  ///< An earlier attempt with the same idempotency key took the charge.
};

/// A domain event on the message bus.
struct event {
  std::string topic;  ///< "order.created", "payment.processed", "payment.pending"
  std::uint64_t order_id = 0;
  std::uint32_t user_id = 0;
  charge_request charge{};  ///< For "payment.pending": what to charge later.
};

// -- ports: how a service reaches others (implemented outside, by the system) -----------------

/// How the order service reads menus.
class restaurant_port {
 public:
  virtual reply<menu> menu_of(std::uint32_t restaurant_id) = 0;

 protected:
  ~restaurant_port() = default;
};

/// Whether a charge may be deferred ("payment pending") when payment is unavailable.
enum class charge_mode : std::uint8_t { may_defer, must_settle };

/// How the order service takes payments.
class payment_port {
 public:
  virtual reply<receipt> charge(const charge_request& request, charge_mode mode) = 0;

 protected:
  ~payment_port() = default;
};

/// How services publish domain events.
class event_port {
 public:
  virtual void publish(const event& e) = 0;

 protected:
  ~event_port() = default;
};

/// How notifications reach a phone (a push provider such as APNs or FCM).
class push_port {
 public:
  /// True when the provider accepted the message.
  virtual bool push(std::uint32_t user_id, std::string_view text) = 0;

 protected:
  ~push_port() = default;
};

// -- services ---------------------------------------------------------------------------------

/// Authentication and profiles. Tokens are "tok-<user id>".
class user_service {
 public:
  explicit user_service(std::uint32_t users) : users_(users) {}

  /// The user a token belongs to, or nothing for an invalid token.
  [[nodiscard]] std::optional<std::uint32_t> authenticate(runtime& rt,
                                                          std::string_view token) const;
  [[nodiscard]] std::optional<user_profile> profile(runtime& rt, std::uint32_t user_id) const;
  /// The token a user signs in with.
  [[nodiscard]] static std::string token_for(std::uint32_t user_id);

 private:
  std::uint32_t users_;
};

/// The catalog: restaurants and their menus (shared read-only data, any instance serves it).
class restaurant_service {
 public:
  explicit restaurant_service(std::uint32_t restaurants);

  [[nodiscard]] std::vector<restaurant_summary> list(runtime& rt) const;
  [[nodiscard]] std::optional<menu> menu_of(runtime& rt, std::uint32_t restaurant_id) const;
  [[nodiscard]] std::uint32_t restaurants() const noexcept {
    return static_cast<std::uint32_t>(summaries_.size());
  }

 private:
  std::vector<restaurant_summary> summaries_;
  std::vector<menu> menus_;
};

/**
 * The payment ledger, shared by every payment instance (it is the payment database): a charge
 * is recorded once per idempotency key, so a retried charge (by any instance, at any layer) is
 * never taken twice.
 */
class payment_ledger {
 public:
  /// Takes the charge, or returns the receipt of the earlier charge with the same key.
  receipt charge(const charge_request& request);

  struct totals {
    std::uint64_t charges = 0;         ///< Charges taken.
    std::uint64_t replays = 0;         ///< Attempts answered from an earlier charge (same key).
    std::uint64_t double_charges = 0;  ///< Orders charged more than once (must stay 0).
    std::uint64_t amount_cents = 0;
  };
  [[nodiscard]] totals snapshot() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, receipt, std::less<>> by_key_;
  std::map<std::uint64_t, std::uint32_t> charges_per_order_;
  totals totals_;
};

/// Charges cards (an instance; the ledger is shared).
class payment_service {
 public:
  explicit payment_service(payment_ledger& ledger) : ledger_(&ledger) {}
  [[nodiscard]] receipt charge(runtime& rt, const charge_request& request) const;

 private:
  payment_ledger* ledger_;
};

/// The order database, shared by every order instance: one order per idempotency key.
class order_store {
 public:
  /// The order already created for `key`, if any.
  [[nodiscard]] std::optional<order> find_by_key(std::string_view key) const;
  [[nodiscard]] std::optional<order> find(std::uint64_t id) const;
  /// The order id for `key`: the same id for every attempt with the same key.
  std::uint64_t id_for(std::string_view key);
  /// Stores `o` (its id from `id_for`) and returns it, or the order already stored with that id.
  order save(order o);
  /// Marks a pending order as paid.
  void mark_paid(std::uint64_t id);

  struct totals {
    std::uint64_t orders = 0;
    std::uint64_t paid = 0;
    std::uint64_t pending = 0;  ///< Orders still waiting for their charge.
    std::uint64_t settled_later = 0;
  };
  [[nodiscard]] totals snapshot() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::uint64_t, std::less<>> by_key_;
  std::map<std::uint64_t, order> orders_;
  std::uint64_t next_id_ = 1;
  totals totals_;
};

/**
 * Orders, cart and checkout: prices the cart from the restaurant's menu, takes the payment and
 * publishes `order.created` and `payment.processed` (or `payment.pending`).
 */
class order_service {
 public:
  order_service(order_store& store, restaurant_port& restaurants, payment_port& payments,
                event_port& events)
      : store_(&store), restaurants_(&restaurants), payments_(&payments), events_(&events) {}

  /// Checks out a cart. Fails (with the downstream's error) when the menu or the payment is
  /// unavailable and no fallback covered it. Retrying with the same key is safe.
  [[nodiscard]] reply<order> place(runtime& rt, const order_request& request) const;
  [[nodiscard]] std::optional<order> find(runtime& rt, std::uint64_t id) const;
  /// Takes a deferred charge ("payment.pending"); true once it is charged.
  [[nodiscard]] bool settle(runtime& rt, const charge_request& charge) const;

 private:
  order_store* store_;
  restaurant_port* restaurants_;
  payment_port* payments_;
  event_port* events_;
};

/// Push notifications for order events.
class notification_service {
 public:
  explicit notification_service(push_port& push) : push_(&push) {}
  /// Sends the notification for `e`; false when the push provider refused it.
  [[nodiscard]] bool notify(runtime& rt, const event& e) const;

 private:
  push_port* push_;
};

/// How much work each operation costs (a database query, a card network round trip).
namespace cost {
using std::chrono::milliseconds;
inline constexpr milliseconds authenticate{3};
inline constexpr milliseconds profile{6};
inline constexpr milliseconds list_restaurants{20};
inline constexpr milliseconds read_menu{30};
inline constexpr milliseconds validate_order{8};
inline constexpr milliseconds write_order{6};
inline constexpr milliseconds charge{80};
inline constexpr milliseconds push{25};
inline constexpr milliseconds health_probe{1};
}  // namespace cost

}  // namespace delivery
