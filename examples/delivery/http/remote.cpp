// The HTTP edge: discovery, the plan's policies on the steady clock, and the request itself.
// SPDX-License-Identifier: MIT
#include "remote.hpp"

#include <algorithm>

#include "wire.hpp"

namespace delivery::http {

using namespace std::chrono_literals;

void address_book::add(const std::string& id, int port) {
  std::lock_guard lock(mutex_);
  ports_.insert_or_assign(id, port);
}

std::optional<int> address_book::port_of(std::string_view id) const {
  std::lock_guard lock(mutex_);
  const auto it = ports_.find(id);
  if (it == ports_.end()) return std::nullopt;
  return it->second;
}

void journal::add(std::string source, std::string kind, std::string detail) {
  const double seconds = std::chrono::duration<double>(steady::now() - start_).count();
  std::lock_guard lock(mutex_);
  entries_.push_back({next_++, seconds, std::move(source), std::move(kind), std::move(detail)});
  if (entries_.size() > capacity_) entries_.pop_front();
}

std::string journal::json(std::uint64_t since) const {
  std::lock_guard lock(mutex_);
  std::string out = "{\"events\":[";
  bool first = true;
  for (const auto& e : entries_) {
    if (e.seq <= since) continue;
    if (!first) out += ',';
    first = false;
    out += "{\"seq\":" + std::to_string(e.seq) + ",\"seconds\":" + json_number(e.seconds) +
           ",\"source\":" + json_string(e.source) + ",\"kind\":" + json_string(e.kind) +
           ",\"detail\":" + json_string(e.detail) + '}';
  }
  return out + "]}";
}

std::pair<time_t, time_t> split_timeout(std::chrono::nanoseconds left) {
  const auto us = std::clamp<std::int64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(left).count(), 1'000, 60'000'000);
  return {static_cast<time_t>(us / 1'000'000), static_cast<time_t>(us % 1'000'000)};
}

namespace {

thread_local std::optional<steady::time_point> current_deadline;

constexpr auto header_deadline = "X-Deadline-Ms";

resil::retry_options with_budget(resil::retry_options o, resil::retry_budget& b) {
  o.budget = &b;
  return o;
}

}  // namespace

inbound::inbound(const httplib::Request& request) : saved_(current_deadline) {
  current_deadline.reset();
  if (const auto ms = parse_number<std::int64_t>(request.get_header_value(header_deadline))) {
    current_deadline = steady::now() + std::chrono::milliseconds{*ms};
  }
}

inbound::~inbound() {
  current_deadline = saved_;
}

std::optional<steady::time_point> inbound::deadline() noexcept {
  return current_deadline;
}

int status_of(const std::error_code& ec) {
  return ec == resil::errc::timeout ? 504 : 503;
}

http_edge::http_edge(const edge_plan& plan, const edge_environment& env, std::string service,
                     std::string version)
    : name_(plan.name),
      env_(env),
      balancer_(*env.registry, std::move(service), std::move(version), plan.balancing,
                [] { return steady::now().time_since_epoch(); }),
      breaker_(&env.policies->circuit_breakers.get(name_, plan.breaker)),
      retry_(&env.policies->retries.get(
          name_, with_budget(plan.retry, env.policies->retry_budgets.get(name_, plan.budget)))),
      timeout_(&env.policies->timeouts.get(name_, {.duration = plan.timeout})),
      bulkhead_(&env.policies->bulkheads.get(name_, plan.bulkhead)) {
  journal* j = env.events;
  breaker_->events().subscribe([j, name = name_](const resil::circuit_breaker_event& e) {
    if (e.kind != resil::circuit_breaker_event::kind_t::state_transition) return;
    j->add(name, "circuit_breaker.state_transition",
           std::string(resil::to_string(e.previous_state)) + " -> " +
               std::string(resil::to_string(e.state)));
  });
  bulkhead_->events().subscribe([j, name = name_](const resil::bulkhead_event& e) {
    if (e.kind == resil::bulkhead_event_kind::rejected) j->add(name, "bulkhead.rejected");
  });
  timeout_->events().subscribe(
      [j, name = name_](const resil::timeout_event&) { j->add(name, "timeout"); });
}

resil::outcome<httplib::Response> http_edge::attempt(resil::context& ctx, const call_spec& spec) {
  using out_t = resil::outcome<httplib::Response>;
  const std::string id = balancer_.pick();
  if (id.empty()) return out_t::from_error(net_errc::no_instance);
  const auto port = env_.addresses->port_of(id);
  if (!port) {
    balancer_.done(id, false);
    return out_t::from_error(net_errc::no_instance);
  }
  const auto left = ctx.remaining();
  if (left <= 0ns) {
    balancer_.done(id, false);
    return out_t::from_error(resil::errc::timeout);
  }
  httplib::Client client{"127.0.0.1", *port};
  const auto [sec, usec] = split_timeout(left);
  client.set_connection_timeout(sec, usec);
  client.set_read_timeout(sec, usec);
  client.set_write_timeout(sec, usec);
  client.set_keep_alive(false);
  httplib::Headers headers;
  if (ctx.has_deadline()) {
    headers.emplace(
        header_deadline,
        std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(left).count()));
  }
  httplib::Result res = spec.method == "POST" ? client.Post(spec.path, headers, spec.form)
                        : spec.form.empty()   ? client.Get(spec.path, headers)
                                              : client.Get(spec.path, spec.form, headers);
  if (!res) {
    balancer_.done(id, false);
    const bool late = ctx.has_deadline() && ctx.remaining() <= 0ns;
    const auto err = res.error();
    if (late || err == httplib::Error::Read || err == httplib::Error::ConnectionTimeout) {
      return out_t::from_error(resil::errc::timeout);
    }
    return out_t::from_error(net_errc::unavailable);
  }
  if (res->status >= 500 || res->status == 429) {
    balancer_.done(id, false);
    return out_t::from_error(res->status == 504   ? std::error_code{resil::errc::timeout}
                             : res->status == 429 ? std::error_code{net_errc::overloaded}
                                                  : std::error_code{net_errc::unavailable});
  }
  balancer_.done(id, true);
  return std::move(*res);
}

}  // namespace delivery::http
