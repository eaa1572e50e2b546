// Snippets of docs/policies/rate-limiter.md.
// SPDX-License-Identifier: MIT
#include <resil/resil.hpp>

#include <stop_token>
#include <string>
#include <thread>

#include "check.hpp"

namespace docs_rate_limiter {

struct order {
  int id = 0;
};
struct request {
  std::string client_ip;
};
int call_partner(const order& o) {
  return o.id;
}
int sent = 0, refused = 0, routed = 0;
void send() {
  ++sent;
}
void reply_429(std::chrono::nanoseconds) {
  ++refused;
}
void route(const request&) {
  ++routed;
}
void schedule_retry(std::chrono::nanoseconds) {}
void sleep_until(std::chrono::steady_clock::time_point t) {
  std::this_thread::sleep_until(t);
}

// [snippet:rate-limiter-usage]
#include <resil/rate_limiter.hpp>
using namespace std::chrono_literals;

resil::rate_limiter partner{{.permits = 100, .period = 1s, .burst = 20}};

void use(const order& order, const std::stop_token& stop_token) {
  // As a policy: errc::rate_limited (or rate_limited_error from execute) with a retry-after.
  auto r = partner.try_execute(call_partner, order);
  if (!r && r.error() == resil::errc::rate_limited) schedule_retry(r.retry_after());

  // Driving it yourself (any framework): a permit is consumed when granted.
  if (partner.try_acquire()) {
    send();
  } else {
    reply_429(partner.retry_after());
  }

  // Several permits at once (a batch of 5), or wait up to 50 ms for a slot (stop-aware).
  auto batch = partner.try_acquire(5);
  auto waited = partner.acquire_for(1, 50ms, stop_token);  // outcome<permit>

  // Reserve now, go later (the permit says when).
  if (auto slot = partner.try_reserve(1, 1s)) {
    sleep_until(slot->token().ready_at);
    send();
    slot->record_success();
  }
}
// [/snippet]

// [snippet:keyed-rate-limiter]
resil::keyed_rate_limiter<std::string> per_ip{
    {.limit = {.permits = 20, .period = 1s, .burst = 40},  // each client: 20/s, bursts of 40
     .max_keys = 100'000}};

void handle(const request& req) {
  if (auto d = per_ip.try_acquire(req.client_ip); !d) return reply_429(d.retry_after);
  route(req);
}
// [/snippet]

void run() {
  use(order{1}, std::stop_token{});
  DOCS_CHECK(sent == 2 && refused == 0);
  for (int i = 0; i < 41; ++i) handle(request{"10.0.0.1"});
  DOCS_CHECK(routed == 40 && refused == 1);
}

}  // namespace docs_rate_limiter
