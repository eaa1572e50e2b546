// The HTTP delivery system: instances, gateway, health, admin and observability routes.
// SPDX-License-Identifier: MIT
#include "delivery_server.hpp"

#include <resil/health.hpp>
#include <resil/prometheus.hpp>
#include <resil/registry.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <stdexcept>
#include <stop_token>
#include <thread>

#include "node.hpp"
#include "plan.hpp"
#include "remote.hpp"
#include "wire.hpp"

namespace delivery::http {

namespace {

constexpr auto json_type = "application/json";

/// A last-known-good cache for fallbacks on the steady clock (entries older than `ttl` are not
/// served). Thread-safe.
template <class K, class V>
class stale_cache {
 public:
  explicit stale_cache(std::chrono::nanoseconds ttl) : ttl_(ttl) {}
  void put(const K& key, const V& value) {
    std::lock_guard lock(mutex_);
    entries_.insert_or_assign(key, std::pair{value, steady::now()});
  }
  [[nodiscard]] std::optional<V> get(const K& key) const {
    std::lock_guard lock(mutex_);
    const auto it = entries_.find(key);
    if (it == entries_.end() || steady::now() - it->second.second > ttl_) return std::nullopt;
    return it->second.first;
  }

 private:
  std::chrono::nanoseconds ttl_;
  mutable std::mutex mutex_;
  std::map<K, std::pair<V, steady::time_point>, std::less<>> entries_;
};

void reply_json(httplib::Response& res, int status, std::string body) {
  res.status = status;
  res.set_content(std::move(body), json_type);
}

void reply_error(httplib::Response& res, int status, std::string_view message) {
  reply_json(res, status, "{\"error\":" + json_string(message) + "}");
}

void reply_failure(httplib::Response& res, const std::error_code& ec) {
  reply_error(res, status_of(ec), error_name(ec));
}

// Form or query parameter `name` of `req`, or "".
std::string param(const httplib::Request& req, const char* name) {
  return req.has_param(name) ? req.get_param_value(name) : std::string{};
}

// Parses "0.5" as a rate in [0, 1].
std::optional<double> parse_rate(const std::string& text) {
  if (text.empty()) return std::nullopt;
  try {
    std::size_t used = 0;
    const double v = std::stod(text, &used);
    if (used != text.size() || !(v >= 0.0 && v <= 1.0)) return std::nullopt;
    return v;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

/// The push provider notifications go to (APNs/FCM stand-in): accepts everything, counts.
class counting_push final : public push_port {
 public:
  bool push(std::uint32_t, std::string_view) override {
    sent_.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  [[nodiscard]] std::uint64_t sent() const noexcept { return sent_.load(); }

 private:
  std::atomic<std::uint64_t> sent_{0};
};

}  // namespace

struct delivery_server::impl {
  explicit impl(serve_options o);

  // -- setup ----------------------------------------------------------------------------------
  void build_plan();
  void build_instances();
  void add_routes(instance_node& n);
  void build_gateway();
  void add_health();

  // -- the gateway's work -----------------------------------------------------------------------
  template <class Handler>
  void api(const httplib::Request& req, httplib::Response& res, Handler handler);
  http_edge& restaurants_for_this_request();
  reply<std::vector<restaurant_summary>> list_restaurants(http_edge& e);
  reply<std::optional<menu>> menu_of(http_edge& e, std::uint32_t id,
                                     stale_cache<std::uint32_t, std::optional<menu>>& cache);
  void admin_faults(const httplib::Request& req, httplib::Response& res, bool remove);
  [[nodiscard]] std::string breakers_json() const;
  [[nodiscard]] std::string metrics_text() const;
  [[nodiscard]] std::vector<const http_edge*> edges() const;

  // -- events and settlement (what the order service publishes) -------------------------------
  class event_sink final : public event_port {
   public:
    explicit event_sink(impl& s) : s_(&s) {}
    void publish(const event& e) override { s_->enqueue(e); }

   private:
    impl* s_;
  };
  class remote_restaurants final : public restaurant_port {
   public:
    explicit remote_restaurants(impl& s) : s_(&s) {}
    reply<menu> menu_of(std::uint32_t restaurant_id) override;

   private:
    impl* s_;
  };
  class remote_payments final : public payment_port {
   public:
    explicit remote_payments(impl& s) : s_(&s) {}
    reply<receipt> charge(const charge_request& request, charge_mode mode) override;

   private:
    impl* s_;
  };
  void enqueue(const event& e);
  void event_loop(const std::stop_token& st);
  void discovery_loop(const std::stop_token& st);

  serve_options options;
  plan the_plan;
  steady::time_point started = steady::now();
  real_runtime rt;

  // Shared infrastructure (declared before what uses it, so it is destroyed after).
  in_process_registry discovery{[] { return steady::now().time_since_epoch(); }};
  address_book addresses;
  journal events;
  resil::registry policies{{.event_log_capacity = 0, .count_calls = true}};
  edge_environment env{&discovery, &addresses, &policies, &events};

  // The domain's shared state (the services' databases) and service objects.
  user_service users{1000};
  restaurant_service catalog{50};
  payment_ledger ledger;
  payment_service payments{ledger};
  order_store store;
  counting_push push;
  notification_service notifications{push};

  // Edges, caches and ports.
  std::unique_ptr<http_edge> gateway_user, gateway_restaurant, gateway_canary, gateway_order,
      order_restaurant, order_payment, events_notification;
  stale_cache<std::string, std::optional<std::uint32_t>> tokens{10min};
  stale_cache<std::uint32_t, user_profile> profiles{10min};
  stale_cache<int, std::vector<restaurant_summary>> lists{10min};
  stale_cache<std::uint32_t, std::optional<menu>> gateway_menus{10min};
  stale_cache<std::uint32_t, std::optional<menu>> order_menus{10min};
  event_sink sink{*this};
  remote_restaurants restaurant_port_impl{*this};
  remote_payments payment_port_impl{*this};
  order_service orders{store, restaurant_port_impl, payment_port_impl, sink};
  resil::keyed_rate_limiter<std::string>* per_client = nullptr;

  // Events waiting for the notifier, and charges waiting to be settled.
  std::mutex queue_mutex;
  std::condition_variable_any queue_cv;
  std::deque<event> queue;
  std::uint64_t dropped_events = 0;
  std::atomic<std::uint64_t> notified{0}, settled{0};

  std::mutex rng_mutex;
  resil::splitmix64 rng;
  std::atomic<std::uint64_t> requests{0}, degraded_replies{0}, limited{0};
  std::atomic<bool> serving{false}, draining{false};

  std::vector<std::unique_ptr<instance_node>> instances;
  std::unique_ptr<node> gateway;
  // Last: destroyed first (they use everything above).
  std::unique_ptr<resil::health_registry> health;
  std::vector<std::jthread> threads;
};

// -- ports the order service calls through ---------------------------------------------------

reply<menu> delivery_server::impl::remote_restaurants::menu_of(std::uint32_t restaurant_id) {
  const auto r = s_->menu_of(*s_->order_restaurant, restaurant_id, s_->order_menus);
  if (!r.ok()) return reply<menu>::failure(r.error);
  if (!r.value->has_value()) return reply<menu>::success(menu{restaurant_id, {}}, r.degraded);
  return reply<menu>::success(**r.value, r.degraded);
}

reply<receipt> delivery_server::impl::remote_payments::charge(const charge_request& request,
                                                              charge_mode mode) {
  call_spec spec{"POST",
                 "/charges",
                 {{"key", request.idempotency_key},
                  {"order", std::to_string(request.order_id)},
                  {"user", std::to_string(request.user_id)},
                  {"amount", std::to_string(request.amount_cents)}}};
  return s_->order_payment->call<receipt>(
      spec,
      [](const httplib::Response& res) -> std::optional<receipt> {
        if (res.status != 200) return std::nullopt;
        return decode_receipt(res.body);
      },
      [mode]() -> std::optional<receipt> {
        if (mode != charge_mode::may_defer) return std::nullopt;
        return receipt{0, charge_status::pending, false};  // accept now, charge later
      });
}

// -- setup --------------------------------------------------------------------------------------

delivery_server::impl::impl(serve_options o)
    : options(std::move(o)), rt(options.work_scale), rng(mix_seed(options.seed, 7)) {
  build_plan();
  build_instances();
  build_gateway();
}

void delivery_server::impl::build_plan() {
  the_plan = resilient_plan(options.seed);
  for (edge_plan* e :
       {&the_plan.gateway_user, &the_plan.gateway_restaurant, &the_plan.gateway_restaurant_canary,
        &the_plan.gateway_order, &the_plan.order_restaurant, &the_plan.order_payment}) {
    if (options.open_duration) e->breaker.open_duration = *options.open_duration;
  }
  the_plan.per_client.limit.permits = options.client_rps;
  the_plan.per_client.limit.burst = options.client_burst;
  // Events go to notification over HTTP with the plan's push retry and budget.
  edge_plan notify{.name = "events->notification",
                   .timeout = 1s,
                   .retry = the_plan.push_retry,
                   .budget = the_plan.push_budget,
                   .breaker = the_plan.order_payment.breaker,
                   .bulkhead = {.max_concurrent = 4, .max_wait = 1s},
                   .balancing = the_plan.order_payment.balancing};
  gateway_user = std::make_unique<http_edge>(the_plan.gateway_user, env, "user", "v1");
  gateway_restaurant =
      std::make_unique<http_edge>(the_plan.gateway_restaurant, env, "restaurant", "v1");
  gateway_canary =
      std::make_unique<http_edge>(the_plan.gateway_restaurant_canary, env, "restaurant", "v2");
  gateway_order = std::make_unique<http_edge>(the_plan.gateway_order, env, "order", "v1");
  order_restaurant =
      std::make_unique<http_edge>(the_plan.order_restaurant, env, "restaurant", "v1");
  order_payment = std::make_unique<http_edge>(the_plan.order_payment, env, "payment", "v1");
  events_notification = std::make_unique<http_edge>(notify, env, "notification", "v1");
  per_client = &policies.keyed_rate_limiters.get("gateway per client", the_plan.per_client);
}

void delivery_server::impl::build_instances() {
  const auto add = [&](const std::string& service, int count, const std::string& version) {
    for (int i = 1; i <= count; ++i) {
      const std::string id =
          service + (version == "v1" ? "" : "-" + version) + "-" + std::to_string(i);
      instances.push_back(std::make_unique<instance_node>(id, service, version, 8));
      add_routes(*instances.back());
    }
  };
  add("user", 2, "v1");
  add("restaurant", 3, "v1");
  add("restaurant", 1, "v2");
  add("order", 2, "v1");
  add("payment", 3, "v1");
  add("notification", 1, "v1");
}

void delivery_server::impl::add_routes(instance_node& n) {
  httplib::Server& s = n.server();
  instance_node* self = &n;
  // Runs `f()` behind the instance's faults: 503 when a fault answers instead.
  const auto guarded = [self](httplib::Response& res, auto f) {
    const auto r = self->serve(false, [&] {
      f();
      return true;
    });
    if (!r.has_value()) reply_error(res, 503, "injected fault");
  };
  if (n.service() == "user") {
    s.Get("/auth", [this, guarded](const httplib::Request& req, httplib::Response& res) {
      inbound scope{req};
      guarded(res, [&] {
        const auto id = users.authenticate(rt, param(req, "token"));
        if (id) {
          res.set_content(std::to_string(*id), "text/plain");
        } else {
          res.status = 401;
        }
      });
    });
    s.Get(R"(/users/(\d+))", [this, guarded](const httplib::Request& req, httplib::Response& res) {
      inbound scope{req};
      guarded(res, [&] {
        const auto p =
            users.profile(rt, parse_number<std::uint32_t>(req.matches[1].str()).value_or(0));
        if (p) {
          res.set_content(encode(*p), "text/plain");
        } else {
          res.status = 404;
        }
      });
    });
  } else if (n.service() == "restaurant") {
    s.Get("/restaurants", [this, guarded](const httplib::Request& req, httplib::Response& res) {
      inbound scope{req};
      guarded(res, [&] { res.set_content(encode(catalog.list(rt)), "text/plain"); });
    });
    s.Get(R"(/restaurants/(\d+)/menu)",
          [this, guarded](const httplib::Request& req, httplib::Response& res) {
            inbound scope{req};
            guarded(res, [&] {
              const auto m = catalog.menu_of(
                  rt, parse_number<std::uint32_t>(req.matches[1].str()).value_or(0));
              if (m) {
                res.set_content(encode(*m), "text/plain");
              } else {
                res.status = 404;
              }
            });
          });
  } else if (n.service() == "payment") {
    s.Post("/charges", [this, guarded](const httplib::Request& req, httplib::Response& res) {
      inbound scope{req};
      const auto order_id = parse_number<std::uint64_t>(param(req, "order"));
      const auto user = parse_number<std::uint32_t>(param(req, "user"));
      const auto amount = parse_number<std::uint32_t>(param(req, "amount"));
      const std::string key = param(req, "key");
      if (!order_id || !user || !amount || key.empty()) return reply_error(res, 400, "bad charge");
      guarded(res, [&] {
        res.set_content(encode(payments.charge(rt, {key, *order_id, *user, *amount})),
                        "text/plain");
      });
    });
  } else if (n.service() == "order") {
    s.Post("/orders", [this, guarded](const httplib::Request& req, httplib::Response& res) {
      inbound scope{req};
      const auto user = parse_number<std::uint32_t>(param(req, "user"));
      const auto restaurant = parse_number<std::uint32_t>(param(req, "restaurant"));
      auto lines = decode_lines(param(req, "items"));
      const std::string key = param(req, "key");
      if (!user || !restaurant || !lines || key.empty()) return reply_error(res, 400, "bad order");
      guarded(res, [&] {
        const reply<order> r = orders.place(rt, {key, *user, *restaurant, std::move(*lines)});
        if (!r.ok()) return reply_failure(res, r.error);
        if (r.degraded) res.set_header("X-Degraded", "true");
        res.set_content(encode(*r.value), "text/plain");
      });
    });
    s.Get(R"(/orders/(\d+))", [this, guarded](const httplib::Request& req, httplib::Response& res) {
      inbound scope{req};
      guarded(res, [&] {
        const auto o =
            orders.find(rt, parse_number<std::uint64_t>(req.matches[1].str()).value_or(0));
        if (o) {
          res.set_content(encode(*o), "text/plain");
        } else {
          res.status = 404;
        }
      });
    });
  } else if (n.service() == "notification") {
    s.Post("/notify", [this, guarded](const httplib::Request& req, httplib::Response& res) {
      inbound scope{req};
      const event e{param(req, "topic"),
                    parse_number<std::uint64_t>(param(req, "order")).value_or(0),
                    parse_number<std::uint32_t>(param(req, "user")).value_or(0),
                    {}};
      guarded(res, [&] {
        if (!notifications.notify(rt, e)) reply_error(res, 503, "push provider refused");
      });
    });
  }
}

// -- the gateway ---------------------------------------------------------------------------------

template <class Handler>
void delivery_server::impl::api(const httplib::Request& req, httplib::Response& res,
                                Handler handler) {
  requests.fetch_add(1, std::memory_order_relaxed);
  // 1. Rate limit per client (API key, else the peer's address), before any work is spent.
  std::string client = req.get_header_value("X-Api-Key");
  if (client.empty()) client = req.remote_addr;
  if (const auto d = per_client->try_acquire(client); !d) {
    limited.fetch_add(1, std::memory_order_relaxed);
    const auto secs = std::chrono::ceil<std::chrono::seconds>(d.retry_after).count();
    res.set_header("Retry-After", std::to_string(std::max<std::int64_t>(secs, 1)));
    return reply_error(res, 429, "too many requests");
  }
  // 2. Authenticate ("Authorization: Bearer tok-<user>"); a recently valid token is trusted
  //    when the user service is down.
  std::string token = req.get_header_value("Authorization");
  if (token.starts_with("Bearer ")) token.erase(0, 7);
  using auth_t = std::optional<std::uint32_t>;
  const auto who = gateway_user->call<auth_t>(
      {"GET", "/auth", {{"token", token}}},
      [](const httplib::Response& r) -> std::optional<auth_t> {
        if (r.status == 401) return auth_t{};
        if (r.status != 200) return std::nullopt;
        const auto id = parse_number<std::uint32_t>(r.body);
        if (!id) return std::nullopt;
        return auth_t{*id};
      },
      [&] { return tokens.get(token); });
  if (!who.ok()) return reply_failure(res, who.error);
  if (!who.degraded) tokens.put(token, *who.value);
  if (!who.value->has_value()) return reply_error(res, 401, "invalid token");
  // 3. Route.
  bool degraded = who.degraded;
  handler(**who.value, degraded);
  if (res.status < 300 && degraded) {
    res.set_header("X-Degraded", "true");
    degraded_replies.fetch_add(1, std::memory_order_relaxed);
  }
}

http_edge& delivery_server::impl::restaurants_for_this_request() {
  std::uint64_t draw = 0;
  {
    std::lock_guard lock(rng_mutex);
    draw = rng() % 100;
  }
  if (draw >= 10) return *gateway_restaurant;
  // The canary gets 10 %, unless its breaker is open (rolled back until it is due a probe).
  const auto& b = gateway_canary->breaker();
  if (b.state() == resil::circuit_state::open && b.remaining_delay() > 0ns) {
    return *gateway_restaurant;
  }
  return *gateway_canary;
}

reply<std::vector<restaurant_summary>> delivery_server::impl::list_restaurants(http_edge& e) {
  using R = std::vector<restaurant_summary>;
  auto r = e.call<R>(
      {"GET", "/restaurants", {}},
      [](const httplib::Response& res) -> std::optional<R> {
        if (res.status != 200) return std::nullopt;
        return decode_restaurants(res.body);
      },
      [&] { return lists.get(0); });
  if (r.ok() && !r.degraded) lists.put(0, *r.value);
  return r;
}

reply<std::optional<menu>> delivery_server::impl::menu_of(
    http_edge& e, std::uint32_t id, stale_cache<std::uint32_t, std::optional<menu>>& cache) {
  using R = std::optional<menu>;
  auto r = e.call<R>(
      {"GET", "/restaurants/" + std::to_string(id) + "/menu", {}},
      [id](const httplib::Response& res) -> std::optional<R> {
        if (res.status == 404) return R{};
        if (res.status != 200) return std::nullopt;
        auto m = decode_menu(id, res.body);
        if (!m) return std::nullopt;
        return R{std::move(*m)};
      },
      [&] { return cache.get(id); });  // yesterday's prices beat no menu at all
  if (r.ok() && !r.degraded) cache.put(id, *r.value);
  return r;
}

void delivery_server::impl::build_gateway() {
  gateway = std::make_unique<node>("gateway", options.gateway_threads);
  httplib::Server& s = gateway->server();

  s.Get("/api/restaurants", [this](const httplib::Request& req, httplib::Response& res) {
    api(req, res, [&](std::uint32_t, bool& degraded) {
      const auto r = list_restaurants(restaurants_for_this_request());
      if (!r.ok()) return reply_failure(res, r.error);
      degraded = degraded || r.degraded;
      reply_json(res, 200, to_json(*r.value));
    });
  });
  s.Get(R"(/api/restaurants/(\d+)/menu)",
        [this](const httplib::Request& req, httplib::Response& res) {
          api(req, res, [&](std::uint32_t, bool& degraded) {
            const auto id = parse_number<std::uint32_t>(req.matches[1].str());
            if (!id) return reply_error(res, 404, "no such restaurant");
            const auto r = menu_of(restaurants_for_this_request(), *id, gateway_menus);
            if (!r.ok()) return reply_failure(res, r.error);
            if (!r.value->has_value()) return reply_error(res, 404, "no such restaurant");
            degraded = degraded || r.degraded;
            reply_json(res, 200, to_json(**r.value));
          });
        });
  s.Get("/api/users/me", [this](const httplib::Request& req, httplib::Response& res) {
    api(req, res, [&](std::uint32_t user, bool& degraded) {
      const auto r = gateway_user->call<user_profile>(
          {"GET", "/users/" + std::to_string(user), {}},
          [](const httplib::Response& x) -> std::optional<user_profile> {
            if (x.status != 200) return std::nullopt;
            return decode_profile(x.body);
          },
          [&] { return profiles.get(user); });
      if (!r.ok()) return reply_failure(res, r.error);
      if (!r.degraded) profiles.put(user, *r.value);
      degraded = degraded || r.degraded;
      reply_json(res, 200, to_json(*r.value));
    });
  });
  s.Post("/api/orders", [this](const httplib::Request& req, httplib::Response& res) {
    api(req, res, [&](std::uint32_t user, bool& degraded) {
      std::string key = req.get_header_value("Idempotency-Key");
      if (key.empty()) {
        // Without a key a retried checkout could be a second order: make one up, once.
        std::lock_guard lock(rng_mutex);
        key = "gw-" + std::to_string(rng());
      }
      std::string client = req.get_header_value("X-Api-Key");
      if (client.empty()) client = req.remote_addr;
      const auto lines = decode_lines(param(req, "items"));
      const auto restaurant = parse_number<std::uint32_t>(param(req, "restaurant"));
      if (!lines || lines->empty() || !restaurant) {
        return reply_error(res, 400, "bad order: restaurant=N&items=item:qty,item:qty");
      }
      struct placed {
        order o;
        bool degraded;
      };
      const auto r = gateway_order->call<placed>(
          {"POST",
           "/orders",
           {{"key", client + "/" + key},
            {"user", std::to_string(user)},
            {"restaurant", std::to_string(*restaurant)},
            {"items", encode_lines(*lines)}}},
          [](const httplib::Response& x) -> std::optional<placed> {
            if (x.status != 200) return std::nullopt;
            auto o = decode_order(x.body);
            if (!o) return std::nullopt;
            return placed{std::move(*o), x.get_header_value("X-Degraded") == "true"};
          });
      if (!r.ok()) return reply_failure(res, r.error);
      if (r.value->o.status == order_status::rejected) {
        return reply_error(res, 422, "order rejected");
      }
      degraded = degraded || r.degraded || r.value->degraded;
      const bool pending = r.value->o.status == order_status::payment_pending;
      reply_json(res, pending ? 202 : 201, to_json(r.value->o));
    });
  });
  s.Get(R"(/api/orders/(\d+))", [this](const httplib::Request& req, httplib::Response& res) {
    api(req, res, [&](std::uint32_t user, bool&) {
      using R = std::optional<order>;
      const auto r = gateway_order->call<R>({"GET", "/orders/" + req.matches[1].str(), {}},
                                            [](const httplib::Response& x) -> std::optional<R> {
                                              if (x.status == 404) return R{};
                                              if (x.status != 200) return std::nullopt;
                                              auto o = decode_order(x.body);
                                              if (!o) return std::nullopt;
                                              return R{std::move(*o)};
                                            });
      if (!r.ok()) return reply_failure(res, r.error);
      if (!r.value->has_value() || (*r.value)->user_id != user) {
        return reply_error(res, 404, "no such order");
      }
      reply_json(res, 200, to_json(**r.value));
    });
  });

  // Health: liveness (the process serves) and readiness (it is not draining and discovery has
  // an instance of every service), from the health registry, as JSON.
  s.Get("/health/live", [this](const httplib::Request&, httplib::Response& res) {
    const auto report = health->report("liveness");
    reply_json(res, report.http_status(), report.to_json());
  });
  s.Get("/health/ready", [this](const httplib::Request&, httplib::Response& res) {
    const auto report = health->report("readiness");
    reply_json(res, report.http_status(), report.to_json());
  });
  s.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics_text(), std::string(resil::prometheus_text::content_type));
  });
  s.Get("/resil/circuit-breakers", [this](const httplib::Request&, httplib::Response& res) {
    reply_json(res, 200, breakers_json());
  });
  s.Get("/resil/events", [this](const httplib::Request& req, httplib::Response& res) {
    reply_json(res, 200, events.json(parse_number<std::uint64_t>(param(req, "since")).value_or(0)));
  });
  s.Post("/admin/faults", [this](const httplib::Request& req, httplib::Response& res) {
    admin_faults(req, res, false);
  });
  s.Delete("/admin/faults", [this](const httplib::Request& req, httplib::Response& res) {
    admin_faults(req, res, true);
  });
  s.Get("/admin/faults", [this](const httplib::Request& req, httplib::Response& res) {
    admin_faults(req, res, true);
  });
}

void delivery_server::impl::admin_faults(const httplib::Request& req, httplib::Response& res,
                                         bool remove) {
  const bool listing = req.method == "GET";
  const std::string target = param(req, "target");
  fault_spec f;
  if (!listing && !remove) {
    const auto errors =
        parse_rate(param(req, "error_rate").empty() ? "0" : param(req, "error_rate"));
    const auto latency_rate =
        parse_rate(param(req, "latency_rate").empty() ? "1" : param(req, "latency_rate"));
    const auto latency = parse_number<std::int64_t>(
        param(req, "latency_ms").empty() ? "0" : param(req, "latency_ms"));
    const std::string health_flag = param(req, "health");
    if (!errors || !latency_rate || !latency || *latency > 600'000 ||
        (health_flag != "" && health_flag != "0" && health_flag != "1")) {
      return reply_error(res, 400,
                         "want target=ID|SERVICE&error_rate=0..1&latency_ms=N&latency_rate=0..1"
                         "&health=0|1");
    }
    f = {*errors, std::chrono::milliseconds{*latency}, *latency_rate, health_flag == "1"};
    if (!f.active()) return reply_error(res, 400, "a fault needs error_rate > 0 or latency_ms > 0");
  }
  std::string out = "{\"instances\":[";
  bool first = true;
  for (const auto& i : instances) {
    const bool chosen = target.empty() ? listing : (i->name() == target || i->service() == target);
    if (!chosen) continue;
    if (!listing) {
      i->inject(f);
      events.add(i->name(), remove ? "fault.removed" : "fault.injected", f.describe());
    }
    if (!first) out += ',';
    first = false;
    out += "{\"id\":" + json_string(i->name()) + ",\"service\":" + json_string(i->service()) +
           ",\"version\":" + json_string(i->version()) + ",\"port\":" + std::to_string(i->port()) +
           ",\"fault\":" + json_string(i->current_fault().describe()) +
           ",\"calls\":" + std::to_string(i->calls()) + '}';
  }
  out += "]}";
  if (first && !listing) return reply_error(res, 404, "no instance or service " + target);
  reply_json(res, 200, out);
}

std::vector<const http_edge*> delivery_server::impl::edges() const {
  return {gateway_user.get(),       gateway_restaurant.get(), gateway_canary.get(),
          gateway_order.get(),      order_restaurant.get(),   order_payment.get(),
          events_notification.get()};
}

std::string delivery_server::impl::breakers_json() const {
  std::string out = "{\"circuit_breakers\":[";
  bool first = true;
  for (const http_edge* e : edges()) {
    const auto m = e->breaker().metrics();
    if (!first) out += ',';
    first = false;
    out += "{\"name\":" + json_string(e->name()) +
           ",\"state\":" + json_string(resil::to_string(m.state)) +
           ",\"failure_rate\":" + json_number(m.failure_rate) +
           ",\"calls\":" + std::to_string(m.calls) + ",\"failed\":" + std::to_string(m.failed) +
           ",\"not_permitted\":" + std::to_string(m.not_permitted) +
           ",\"transitions\":" + std::to_string(m.transitions) + ",\"remaining_delay_seconds\":" +
           json_number(std::chrono::duration<double>(e->breaker().remaining_delay()).count()) + '}';
  }
  return out + "]}";
}

std::string delivery_server::impl::metrics_text() const {
  resil::prometheus_text out;
  resil::write_prometheus(out, policies);
  resil::write_prometheus(out, health->cached_report());
  out.counter("delivery_gateway_requests_total", "API requests the gateway received.", {},
              requests.load());
  out.counter("delivery_gateway_degraded_total", "API replies served (partly) by a fallback.", {},
              degraded_replies.load());
  out.counter("delivery_gateway_rate_limited_total", "API requests refused with 429.", {},
              limited.load());
  return out.str();
}

// -- health and discovery ---------------------------------------------------------------------

void delivery_server::impl::add_health() {
  health = std::make_unique<resil::health_registry>();
  health->add(
      "gateway", [this] { return serving.load() && !draining.load(); },
      {.tags = {"liveness", "readiness"}, .critical = true, .timeout = 1s, .interval = 100ms});
  health->add("discovery",
              [this]() -> resil::health_result {
                std::string missing;
                for (const char* s : {"user", "restaurant", "order", "payment", "notification"}) {
                  if (discovery.lookup({s}).empty())
                    missing += std::string(missing.empty() ? "" : ",") + s;
                }
                if (missing.empty()) return resil::health_result::healthy();
                return resil::health_result::unhealthy("no healthy instance of " + missing);
              },
              {.tags = {"readiness"}, .critical = true, .timeout = 1s, .interval = 100ms});
  // The edges' breakers, bulkheads and limiters: informational (a tripped breaker reports
  // "degraded", it does not take the gateway out of its load balancer).
  policies.register_health_checks(
      *health, {.tags = {"readiness"}, .critical = false, .timeout = 1s, .interval = 250ms});
  // Every instance is probed (GET /health) in the background; the discovery loop copies the
  // (hysteresis-filtered) verdicts into the registry.
  const auto interval = options.health_interval;
  for (const auto& i : instances) {
    const int port = i->port();
    health->add(i->name(),
                [port](resil::context& ctx) {
                  httplib::Client c{"127.0.0.1", port};
                  const auto [sec, usec] =
                      split_timeout(std::min<std::chrono::nanoseconds>(ctx.remaining(), 1s));
                  c.set_connection_timeout(sec, usec);
                  c.set_read_timeout(sec, usec);
                  c.set_keep_alive(false);
                  const auto r = c.Get("/health");
                  return r && r->status == 200;
                },
                {.tags = {"instances"},
                 .critical = false,
                 .timeout = std::min<std::chrono::nanoseconds>(interval, 1s),
                 .interval = interval,
                 .unhealthy_threshold = the_plan.health.unhealthy_threshold,
                 .healthy_threshold = 1,
                 .background = true});
  }
}

void delivery_server::impl::discovery_loop(const std::stop_token& st) {
  std::map<std::string, bool> passing;  // as last told to the registry
  std::mutex m;
  std::condition_variable_any cv;
  const auto period =
      std::clamp<std::chrono::nanoseconds>(options.health_interval / 4, 10ms, 250ms);
  for (;;) {
    for (const auto& c : health->cached_report("instances").checks) {
      const bool ok = c.status == resil::health_status::healthy;
      auto [it, fresh] = passing.try_emplace(c.name, !ok);
      if (!fresh && it->second == ok) continue;
      if (!fresh || ok) {
        events.add(c.name, ok ? "health.passing" : "health.critical", c.message);
      }
      it->second = ok;
      discovery.set_health(c.name, ok ? health_state::passing : health_state::critical);
    }
    std::unique_lock lock(m);
    if (cv.wait_for(lock, st, period, [] { return false; }) || st.stop_requested()) return;
  }
}

// -- events: notifications and deferred charges ---------------------------------------------------

void delivery_server::impl::enqueue(const event& e) {
  {
    std::lock_guard lock(queue_mutex);
    if (queue.size() >= 10'000) {
      ++dropped_events;
      return;
    }
    queue.push_back(e);
  }
  queue_cv.notify_one();
}

void delivery_server::impl::event_loop(const std::stop_token& st) {
  std::deque<std::pair<steady::time_point, charge_request>> waiting;  // due times in order
  // The order service settles deferred charges with the same idempotency key.
  for (;;) {
    std::optional<event> next;
    {
      std::unique_lock lock(queue_mutex);
      const auto ready = [&] { return !queue.empty(); };
      if (waiting.empty()) {
        queue_cv.wait(lock, st, ready);
      } else {
        queue_cv.wait_until(lock, st, waiting.front().first, ready);
      }
      if (st.stop_requested()) return;
      if (!queue.empty()) {
        next = std::move(queue.front());
        queue.pop_front();
      }
    }
    if (next && next->topic == "payment.pending") {
      waiting.emplace_back(steady::now() + options.settle_after, next->charge);
    } else if (next) {
      const auto r =
          events_notification->call<bool>({"POST",
                                           "/notify",
                                           {{"topic", next->topic},
                                            {"order", std::to_string(next->order_id)},
                                            {"user", std::to_string(next->user_id)}}},
                                          [](const httplib::Response& x) -> std::optional<bool> {
                                            if (x.status != 200) return std::nullopt;
                                            return true;
                                          });
      if (r.ok()) notified.fetch_add(1, std::memory_order_relaxed);
    }
    while (!st.stop_requested() && !waiting.empty() && waiting.front().first <= steady::now()) {
      charge_request charge = std::move(waiting.front().second);
      waiting.pop_front();
      if (orders.settle(rt, charge)) {
        settled.fetch_add(1, std::memory_order_relaxed);
      } else {
        waiting.emplace_back(steady::now() + options.settle_after, std::move(charge));
      }
    }
  }
}

// -- delivery_server
// --------------------------------------------------------------------------------

delivery_server::delivery_server(serve_options options)
    : impl_(std::make_unique<impl>(std::move(options))) {}

delivery_server::~delivery_server() {
  stop();
}

std::vector<listening> delivery_server::start() {
  impl& s = *impl_;
  std::vector<listening> out{{"gateway", 0}};
  for (const auto& i : s.instances) {
    const int port = i->start(0);
    if (port < 0) throw std::runtime_error("cannot listen for " + i->name());
    s.addresses.add(i->name(), port);
    // Registered critical: an instance takes traffic once its first health check passes.
    s.discovery.register_instance({i->name(), i->service(), i->version()}, 0s);
    s.discovery.set_health(i->name(), health_state::critical);
    out.push_back({i->name(), port});
  }
  // Health and the loops before the gateway: its first request may ask for them.
  s.add_health();
  s.threads.emplace_back([&s](std::stop_token st) { s.discovery_loop(st); });
  s.threads.emplace_back([&s](std::stop_token st) { s.event_loop(st); });
  s.serving = true;
  const int gateway_port = s.gateway->start(s.options.port);
  if (gateway_port < 0) {
    throw std::runtime_error("cannot listen on 127.0.0.1:" + std::to_string(s.options.port));
  }
  out.front().port = gateway_port;
  s.events.add("gateway", "started", "port " + std::to_string(gateway_port));
  return out;
}

void delivery_server::stop() {
  impl& s = *impl_;
  s.serving = false;
  if (s.draining.exchange(true)) return;
  s.events.add("gateway", "draining");
  s.gateway->stop();  // stops accepting, finishes the requests in progress
  for (auto& t : s.threads) t.request_stop();
  s.queue_cv.notify_all();
  s.threads.clear();  // joins
  s.health.reset();   // stops the health checks
  for (auto& i : s.instances) i->stop();
}

std::string delivery_server::summary() const {
  const impl& s = *impl_;
  const auto orders = s.store.snapshot();
  const auto charges = s.ledger.snapshot();
  return "requests " + std::to_string(s.requests.load()) + ", degraded " +
         std::to_string(s.degraded_replies.load()) + ", rate-limited " +
         std::to_string(s.limited.load()) + "; orders " + std::to_string(orders.orders) +
         " (paid " + std::to_string(orders.paid) + ", pending " + std::to_string(orders.pending) +
         ", settled later " + std::to_string(orders.settled_later) + "); charges " +
         std::to_string(charges.charges) + ", double charges " +
         std::to_string(charges.double_charges) + "; notifications " +
         std::to_string(s.notified.load());
}

}  // namespace delivery::http
