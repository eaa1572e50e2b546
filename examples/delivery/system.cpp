// One run of the delivery system: the instances, discovery, the bus, the clients of every edge
// (naive or per the plan), the gateway, and the simulated users, on a virtual clock.
// SPDX-License-Identifier: MIT
#include "system.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <deque>
#include <memory>
#include <utility>

#include "bus.hpp"
#include "clients.hpp"
#include "discovery.hpp"
#include "gateway.hpp"
#include "plan.hpp"
#include "services.hpp"
#include "sim.hpp"

namespace delivery {

std::string_view to_string(mode m) noexcept {
  return m == mode::naive ? "naive" : "resilient";
}

std::uint64_t run_result::counter(std::string_view name) const {
  const auto it = data.counters.find(name);
  return it == data.counters.end() ? 0 : it->second;
}

std::uint64_t run_result::sum_ending(std::string_view suffix) const {
  std::uint64_t total = 0;
  for (const auto& [name, value] : data.counters) {
    if (std::string_view{name}.ends_with(suffix)) total += value;
  }
  return total;
}

namespace {

using namespace std::chrono_literals;

// The push provider (APNs, FCM): an external service that refuses a few messages.
class push_provider final : public push_port {
 public:
  push_provider(const sim_clock& clock, std::uint64_t seed)
      : refuse_({.injection_rate = 0.05, .seed = seed}, net_errc::unavailable, clock) {}
  bool push(std::uint32_t /*user_id*/, std::string_view /*text*/) override {
    return refuse_.try_execute([] { return true; }).has_value();
  }

 private:
  resil::basic_chaos_fault<sim_clock> refuse_;
};

template <class S>
struct service_group {
  std::vector<std::unique_ptr<service_instance<S>>> instances;
  pool<S> by_id;
};

class delivery_system {
 public:
  delivery_system(const sim_clock& clock, const scenario& s, mode m, const load_options& load,
                  const topology& topo, recorder& rec);
  delivery_system(const delivery_system&) = delete;
  delivery_system& operator=(const delivery_system&) = delete;
  ~delivery_system() { stop(); }

  void start();
  http_response handle(const http_request& r) { return gateway_.handle(r); }
  [[nodiscard]] std::vector<std::string> breaker_names() const;
  [[nodiscard]] sample sample_now() const;
  void snapshot();
  void stop();

 private:
  [[nodiscard]] std::unique_ptr<edge_policies> policies_for(const edge_plan& p) {
    if (mode_ == mode::naive) return nullptr;
    return std::make_unique<edge_policies>(p, clock_, *rec_);
  }
  [[nodiscard]] const balancer_options& balancing_for(const edge_plan& p) const {
    return mode_ == mode::naive ? naive_.balancing : p.balancing;
  }
  template <class S, class... Args>
  void add_instances(service_group<S>& group, const std::string& service,
                     const std::string& version, std::size_t count, instance_sizing sizing,
                     const Args&... args);
  template <class S>
  void add_health_checks(service_group<S>& group);
  [[nodiscard]] std::vector<const edge_policies*> all_policies() const;
  void deliver(const notification_service& svc, runtime& rt, const event& e,
               const std::stop_token& st);

  sim_clock clock_;
  mode mode_;
  const scenario* scenario_;
  load_options load_;
  recorder* rec_;
  plan plan_;
  naive_plan naive_;
  std::uint64_t streams_ = 10'000;

  in_process_registry registry_;
  message_bus bus_;
  payment_ledger ledger_;
  order_store orders_;
  push_provider push_;

  service_group<user_service> users_;
  service_group<restaurant_service> restaurants_;
  service_group<order_service> order_instances_;
  service_group<payment_service> payments_;
  std::vector<instance*> instances_;  // all of the above

  std::unique_ptr<edge_policies> p_user_;
  std::unique_ptr<edge_policies> p_restaurant_;
  std::unique_ptr<edge_policies> p_canary_;
  std::unique_ptr<edge_policies> p_order_;
  std::unique_ptr<edge_policies> p_order_restaurant_;
  std::unique_ptr<edge_policies> p_order_payment_;

  edge<user_service> e_user_;
  edge<restaurant_service> e_restaurant_;
  edge<restaurant_service> e_canary_;
  edge<order_service> e_order_;
  edge<restaurant_service> e_order_restaurant_;
  edge<payment_service> e_order_payment_;

  user_client user_client_;
  restaurant_client restaurant_client_;
  restaurant_client canary_client_;
  restaurant_client order_restaurant_client_;
  order_client order_client_;
  payment_client payment_client_;

  std::unique_ptr<gateway::limiter_type> limiter_;
  gateway gateway_;

  std::unique_ptr<resil::retry_budget> push_budget_;
  std::unique_ptr<resil::basic_retry<sim_clock>> push_retry_;
  std::unique_ptr<resil::basic_health_registry<sim_clock>> health_;
  std::vector<sim_clock::thread> daemons_;
  bool stopped_ = false;
};

delivery_system::delivery_system(const sim_clock& clock, const scenario& s, mode m,
                                 const load_options& load, const topology& topo, recorder& rec)
    : clock_(clock),
      mode_(m),
      scenario_(&s),
      load_(load),
      rec_(&rec),
      plan_(resilient_plan(load.seed)),
      registry_([c = clock] { return c.now().time_since_epoch(); }),
      bus_(clock),
      push_(clock, mix_seed(load.seed, 1)),
      p_user_(policies_for(plan_.gateway_user)),
      p_restaurant_(policies_for(plan_.gateway_restaurant)),
      p_canary_(policies_for(plan_.gateway_restaurant_canary)),
      p_order_(policies_for(plan_.gateway_order)),
      p_order_restaurant_(policies_for(plan_.order_restaurant)),
      p_order_payment_(policies_for(plan_.order_payment)),
      e_user_(plan_.gateway_user.name, clock, users_.by_id, registry_, "user", "",
              balancing_for(plan_.gateway_user), p_user_.get(), naive_.attempts, rec),
      e_restaurant_(plan_.gateway_restaurant.name, clock, restaurants_.by_id, registry_,
                    "restaurant", "v1", balancing_for(plan_.gateway_restaurant),
                    p_restaurant_.get(), naive_.attempts, rec),
      e_canary_(plan_.gateway_restaurant_canary.name, clock, restaurants_.by_id, registry_,
                "restaurant", "v2", balancing_for(plan_.gateway_restaurant_canary), p_canary_.get(),
                naive_.attempts, rec),
      e_order_(plan_.gateway_order.name, clock, order_instances_.by_id, registry_, "order", "",
               balancing_for(plan_.gateway_order), p_order_.get(), naive_.attempts, rec),
      e_order_restaurant_(plan_.order_restaurant.name, clock, restaurants_.by_id, registry_,
                          "restaurant", "v1", balancing_for(plan_.order_restaurant),
                          p_order_restaurant_.get(), naive_.attempts, rec),
      e_order_payment_(plan_.order_payment.name, clock, payments_.by_id, registry_, "payment", "",
                       balancing_for(plan_.order_payment), p_order_payment_.get(), naive_.attempts,
                       rec),
      user_client_(e_user_, clock, plan_.cache_ttl, m == mode::resilient),
      restaurant_client_(e_restaurant_, clock, plan_.cache_ttl, m == mode::resilient),
      canary_client_(e_canary_, clock, plan_.cache_ttl, m == mode::resilient),
      order_restaurant_client_(e_order_restaurant_, clock, plan_.cache_ttl, m == mode::resilient),
      order_client_(e_order_),
      payment_client_(e_order_payment_, m == mode::resilient),
      limiter_(m == mode::resilient
                   ? std::make_unique<gateway::limiter_type>(plan_.per_client, clock)
                   : nullptr),
      gateway_(
          user_client_, restaurant_client_, canary_client_, order_client_,
          {.canary_percent = s.canary_percent, .roll_back_on_open_circuit = m == mode::resilient},
          limiter_.get(), mix_seed(load.seed, 2), rec) {
  add_instances(users_, "user", "v1", topo.user.instances, topo.user.sizing,
                user_service{topo.users});
  add_instances(restaurants_, "restaurant", "v1", topo.restaurant.instances, topo.restaurant.sizing,
                restaurant_service{topo.restaurants});
  add_instances(restaurants_, "restaurant", "v2", topo.canary.instances, topo.canary.sizing,
                restaurant_service{topo.restaurants});
  add_instances(order_instances_, "order", "v1", topo.order.instances, topo.order.sizing,
                order_service{orders_, order_restaurant_client_, payment_client_, bus_});
  add_instances(payments_, "payment", "v1", topo.payment.instances, topo.payment.sizing,
                payment_service{ledger_});
  if (m == mode::resilient) {
    push_budget_ = std::make_unique<resil::retry_budget>(plan_.push_budget);
    resil::retry_options o = plan_.push_retry;
    o.budget = push_budget_.get();
    push_retry_ = std::make_unique<resil::basic_retry<sim_clock>>(o, clock);
  }
  (void)topo.notification_consumers;
}

template <class S, class... Args>
void delivery_system::add_instances(service_group<S>& group, const std::string& service,
                                    const std::string& version, std::size_t count,
                                    instance_sizing sizing, const Args&... args) {
  for (std::size_t i = 1; i <= count; ++i) {
    const std::string id =
        service + (version == "v1" ? "" : "-" + version) + "-" + std::to_string(i);
    const auto found = scenario_->faults.find(id);
    const std::vector<fault> faults =
        found == scenario_->faults.end() ? std::vector<fault>{} : found->second;
    auto inst = std::make_unique<service_instance<S>>(clock_, id, service, version, sizing, faults,
                                                      mix_seed(load_.seed, ++streams_), args...);
    group.by_id.emplace(id, inst.get());
    instances_.push_back(inst.get());
    registry_.register_instance({id, service, version}, 0s);
    group.instances.push_back(std::move(inst));
  }
}

template <class S>
void delivery_system::add_health_checks(service_group<S>& group) {
  for (auto& inst : group.instances) {
    service_instance<S>* target = inst.get();
    health_->add(
        target->id(),
        [target](resil::context& ctx) {
          return send<bool>(
                     *target, ctx,
                     [](const S&, runtime& rt) {
                       rt.work(cost::health_probe);
                       return true;
                     },
                     true)
              .has_value();
        },
        plan_.health);
  }
}

std::vector<const edge_policies*> delivery_system::all_policies() const {
  std::vector<const edge_policies*> out;
  for (const auto* p : {p_user_.get(), p_restaurant_.get(), p_canary_.get(), p_order_.get(),
                        p_order_restaurant_.get(), p_order_payment_.get()}) {
    if (p != nullptr) out.push_back(p);
  }
  return out;
}

void delivery_system::start() {
  for (instance* i : instances_) i->start();

  // Notifications: a consumer group on the bus, each consumer with its own retry.
  auto& notifications = bus_.group("notification", {"order.created", "payment.processed"});
  for (std::size_t c = 0; c < 2; ++c) {
    daemons_.push_back(clock_.spawn_daemon([this, &notifications, c](std::stop_token st) {
      resil::splitmix64 rng{mix_seed(load_.seed, 20'000 + c)};
      clock_runtime rt{clock_, rng, st};
      const notification_service svc{push_};
      request_scope::current() = {sim_time::max(), st};
      while (auto e = notifications.pop(st)) deliver(svc, rt, *e, st);
    }));
  }
  if (mode_ == mode::naive) return;

  // The order service takes "payment pending" charges again later, with the same key.
  auto& pending = bus_.group("settlement", {"payment.pending"});
  daemons_.push_back(clock_.spawn_daemon([this, &pending](std::stop_token st) {
    resil::splitmix64 rng{mix_seed(load_.seed, 30'000)};
    clock_runtime rt{clock_, rng, st};
    request_scope::current() = {sim_time::max(), st};
    const order_service& svc = order_instances_.instances.front()->object();
    std::deque<std::pair<sim_time, charge_request>> waiting;  // due times in order
    while (!st.stop_requested()) {
      const sim_time next = waiting.empty() ? sim_time::max() : waiting.front().first;
      if (auto e = pending.pop_until(next, st)) {
        waiting.emplace_back(clock_.now() + plan_.settle_retry, e->charge);
        continue;
      }
      while (!st.stop_requested() && !waiting.empty() && waiting.front().first <= clock_.now()) {
        charge_request charge = std::move(waiting.front().second);
        waiting.pop_front();
        if (svc.settle(rt, charge)) {
          rec_->count("payments settled later");
        } else {
          waiting.emplace_back(clock_.now() + plan_.settle_retry, std::move(charge));
        }
      }
    }
  }));

  // Health checks of every instance; their (hysteresis-filtered) verdicts feed discovery.
  health_ = std::make_unique<resil::basic_health_registry<sim_clock>>(clock_);
  add_health_checks(users_);
  add_health_checks(restaurants_);
  add_health_checks(order_instances_);
  add_health_checks(payments_);
  daemons_.push_back(clock_.spawn_daemon([this](std::stop_token st) {
    while (clock_.sleep_until(clock_.now() + 1s, st)) {
      for (const auto& c : health_->cached_report().checks) {
        registry_.set_health(c.name, c.status == resil::health_status::unhealthy
                                         ? health_state::critical
                                         : health_state::passing);
      }
    }
  }));
}

void delivery_system::deliver(const notification_service& svc, runtime& rt, const event& e,
                              const std::stop_token& st) {
  bool sent = false;
  if (push_retry_) {
    resil::context ctx{st};
    sent = push_retry_
               ->try_execute_in(ctx,
                                [&]() -> resil::outcome<bool> {
                                  rec_->count("notification attempts");
                                  if (svc.notify(rt, e)) return true;
                                  return resil::outcome<bool>::from_error(net_errc::unavailable);
                                })
               .has_value();
  } else {
    for (int n = 0; n < naive_.attempts && !sent; ++n) {
      rec_->count("notification attempts");
      sent = svc.notify(rt, e);
    }
  }
  rec_->count(sent ? "notifications sent" : "notifications failed");
}

std::vector<std::string> delivery_system::breaker_names() const {
  std::vector<std::string> names;
  for (const auto* p : all_policies()) names.push_back(p->name());
  return names;
}

sample delivery_system::sample_now() const {
  sample s;
  s.at_ns = clock_.now().time_since_epoch().count();
  for (const auto* p : all_policies()) s.breakers.push_back(state_code(p->state()));
  for (const instance* i : instances_) s.calls_to_failing += i->counters().while_faulty;
  return s;
}

void delivery_system::snapshot() {
  for (const instance* i : instances_) {
    const auto c = i->counters();
    rec_->count("instance " + i->id() + " calls", c.calls);
    rec_->count("instance " + i->id() + " calls while faulty", c.while_faulty);
    rec_->count("instance " + i->id() + " shed", c.shed);
    rec_->count("instance " + i->id() + " probes while faulty", c.probes_while_faulty);
    rec_->count("instances calls", c.calls);
    rec_->count("instances calls while faulty", c.while_faulty);
    rec_->count("instances shed", c.shed);
    rec_->count("instances probes while faulty", c.probes_while_faulty);
  }
  const auto ledger = ledger_.snapshot();
  rec_->count("ledger charges", ledger.charges);
  rec_->count("ledger replays", ledger.replays);
  rec_->count("ledger double charges", ledger.double_charges);
  const auto orders = orders_.snapshot();
  rec_->count("orders created", orders.orders);
  rec_->count("orders paid", orders.paid);
  rec_->count("orders pending", orders.pending);
  rec_->count("orders settled later", orders.settled_later);
  for (const auto& [topic, n] : bus_.published()) rec_->count("bus " + topic, n);
  rec_->count("discovery health changes", registry_.health_changes());
  const auto lb = [&](auto& e) {
    rec_->count(e.name() + " ejections", e.balancer().snapshot().ejections);
  };
  lb(e_user_);
  lb(e_restaurant_);
  lb(e_canary_);
  lb(e_order_);
  lb(e_order_restaurant_);
  lb(e_order_payment_);
  for (const auto* p : all_policies()) {
    const auto b = p->breaker().metrics();
    rec_->count(p->name() + " circuit_open rejections", b.not_permitted);
    rec_->count(p->name() + " breaker transitions", b.transitions);
    const auto r = p->retry().metrics();
    rec_->count(p->name() + " retries", r.retries);
    rec_->count(p->name() + " retries denied by budget", r.budget_denied);
  }
  if (push_retry_) {
    const auto r = push_retry_->metrics();
    rec_->count("notification push retried", r.retries);
    rec_->count("notification push budget refusals", r.budget_denied);
  }
}

void delivery_system::stop() {
  if (stopped_) return;
  stopped_ = true;
  // Stop everything first (a worker may wait for another's reply), then join.
  for (instance* i : instances_) i->request_stop();
  for (auto& d : daemons_) d.request_stop();
  health_.reset();
  for (instance* i : instances_) i->join();
  daemons_.clear();
}

// -- the load ---------------------------------------------------------------------------------

http_request client_request(std::uint32_t user, resil::splitmix64& rng, std::uint64_t n,
                            std::optional<std::uint64_t> last_order, std::uint32_t restaurants,
                            route& what) {
  http_request r;
  r.api_key = "app-" + std::to_string(user);
  r.token = user_service::token_for(user);
  r.method = "GET";
  const auto roll = rng() % 100;
  const auto restaurant = static_cast<std::uint32_t>(1 + rng() % restaurants);
  if (roll < 25) {
    what = route::restaurants;
    r.path = "/api/restaurants";
  } else if (roll < 65 || (roll >= 93 && !last_order)) {
    what = route::menu;
    r.path = "/api/restaurants/" + std::to_string(restaurant) + "/menu";
  } else if (roll < 75) {
    what = route::profile;
    r.path = "/api/users/me";
  } else if (roll < 93) {
    what = route::checkout;
    r.method = "POST";
    r.path = "/api/orders";
    r.idempotency_key = "req-" + std::to_string(n);
    order_request o;
    o.restaurant_id = restaurant;
    const auto lines = 1 + rng() % 3;
    for (std::uint64_t l = 0; l < lines; ++l) {
      o.lines.push_back(
          {static_cast<std::uint32_t>(1 + rng() % 6), static_cast<std::uint32_t>(1 + rng() % 2)});
    }
    r.order = std::move(o);
  } else {
    what = route::order_status;
    r.path = "/api/orders/" + std::to_string(*last_order);
  }
  return r;
}

// The user's app gives up at `deadline`: the gateway learns it (the connection closes) and
// stops waiting for the services it called.
http_response send_with_patience(delivery_system& sys, const http_request& r, sim_time deadline) {
  request_scope& scope = request_scope::current();
  scope = {deadline, {}};
  http_response response = sys.handle(r);
  scope = {};
  return response;
}

result_class classify(const http_response& r) {
  if (r.status < 300) return r.degraded ? result_class::degraded : result_class::ok;
  if (r.status == 429) return result_class::rejected;
  return result_class::failed;
}

}  // namespace

run_result run_scenario(const scenario& s, mode m, const load_options& load, const topology& topo) {
  run_result result;
  result.scenario = s.name;
  result.mode = m;
  result.load = load;
  result.seconds = static_cast<std::size_t>(
      std::chrono::duration_cast<std::chrono::seconds>(load.duration).count());
  recorder rec;
  sim_clock clock;
  const sim_time end{load.duration};
  {
    delivery_system sys{clock, s, m, load, topo, rec};
    clock.run(1, [&](std::size_t) { sys.start(); });

    const std::size_t regular = load.clients;
    const std::size_t abusers = s.abusive_connections;
    std::atomic<std::size_t> running{regular + abusers};
    clock.run(regular + abusers + 1, [&](std::size_t index) {
      if (index < regular) {  // a regular user of the app
        const auto user = static_cast<std::uint32_t>(index + 1);
        resil::splitmix64 rng{mix_seed(load.seed, 1'000 + index)};
        const auto think = [&] {
          // Exponential pauses (a Poisson process per user), at least 100 ms.
          const double pause = -std::log(1.0 - rng.uniform()) *
                               std::chrono::duration<double>(load.think_time).count();
          return std::max(nanoseconds{100ms}, nanoseconds{static_cast<std::int64_t>(pause * 1e9)});
        };
        clock.sleep_until(clock.now() + think());
        std::optional<std::uint64_t> last_order;
        for (std::uint64_t n = 1; clock.now() < end; ++n) {
          route what{};
          const http_request request =
              client_request(user, rng, n, last_order, topo.restaurants, what);
          const auto sent = clock.now();
          const http_response response = send_with_patience(sys, request, sent + load.patience);
          rec.record({sent.time_since_epoch().count(), (clock.now() - sent).count(), user, what,
                      classify(response), response.status, false});
          if (what == route::checkout && response.status < 300) {
            const auto id = response.body.substr(6, response.body.find(' ', 6) - 6);
            last_order = std::stoull(id);
          }
          clock.sleep_until(clock.now() + think());
        }
      } else if (index < regular + abusers) {  // one connection of the scraper
        resil::splitmix64 rng{mix_seed(load.seed, 5'000 + index)};
        const auto user = static_cast<std::uint32_t>(topo.users);
        clock.sleep_until(sim_time{s.abuse_from} + std::chrono::milliseconds{rng() % 100});
        const sim_time stop = std::min(end, sim_time{s.abuse_until});
        while (clock.now() < stop) {
          http_request r;
          r.api_key = "scraper";
          r.token = user_service::token_for(user);
          r.method = "GET";
          r.path = "/api/restaurants/" + std::to_string(1 + rng() % topo.restaurants) + "/menu";
          const auto sent = clock.now();
          const http_response response = send_with_patience(sys, r, sent + load.patience);
          rec.record({sent.time_since_epoch().count(), (clock.now() - sent).count(), user,
                      route::menu, classify(response), response.status, true});
          clock.sleep_until(clock.now() + 40ms);
        }
      } else {  // the observer: a sample every second until every client is done
        for (sim_time tick = sim_time{} + 1s; running.load() > 0; tick += 1s) {
          clock.sleep_until(tick);
          rec.record_sample(sys.sample_now());
        }
        sys.snapshot();
        rec.freeze();
        return;
      }
      running.fetch_sub(1);
    });
    sys.stop();
    result.breaker_names = sys.breaker_names();
  }
  result.data = rec.take();
  result.buckets = timeline(result.data, result.seconds);
  result.all = summarize(result.data.requests);
  result.clients =
      summarize(result.data.requests, [](const request_record& r) { return !r.abusive; });
  result.abusive =
      summarize(result.data.requests, [](const request_record& r) { return r.abusive; });
  result.calls_to_failing = result.counter("instances calls while faulty");
  const auto [from, until] = s.trouble(load.duration);
  if (until > from) {
    result.during =
        summarize(result.data.requests, [from = from, until = until](const request_record& r) {
          return !r.abusive && r.sent_ns >= from.count() && r.sent_ns < until.count();
        });
  }
  if (s.has_faults() && s.fault_until < load.duration) {
    result.recovery_s =
        time_to_recover(result.buckets, std::chrono::duration<double>(s.fault_until).count());
  }
  return result;
}

}  // namespace delivery
