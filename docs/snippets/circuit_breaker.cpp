// Snippets of docs/policies/circuit-breaker.md.
// SPDX-License-Identifier: MIT
#include <resil/resil.hpp>

#include <string>
#include <utility>

#include "check.hpp"

namespace docs_circuit_breaker {

struct order {
  int cents = 0;
};
struct receipt {
  int cents = 0;
};
struct result {
  bool ok_ = true;
  [[nodiscard]] bool ok() const { return ok_; }
};
receipt charge(const order& o) {
  return {o.cents};
}
std::string retry_later(std::chrono::nanoseconds) {
  return "later";
}
void serve_cached(std::chrono::nanoseconds) {}

// An asynchronous charge: calls `done` when the payment provider answers (here: at once).
template <class F>
void start_async_charge(const order&, F&& done) {
  std::forward<F>(done)(result{});
}

// [snippet:breaker-usage]
#include <resil/circuit_breaker.hpp>
using namespace std::chrono_literals;

resil::circuit_breaker payments{{.failure_rate_threshold = 0.5,  // >= 50 % failed ...
                                 .window_size = 20,              // ... of the last 20 calls
                                 .minimum_calls = 10,            // once 10 have been seen
                                 .open_duration = 30s}};

std::string pay(const order& order) {
  auto r = payments.try_execute(charge, order);  // outcome<receipt>, never throws
  if (r.error() == resil::errc::circuit_open) {
    return retry_later(r.retry_after());  // the remaining open time
  }
  receipt rc = payments.execute(charge, order);  // or throws circuit_open_error
  return "paid " + std::to_string(rc.cents);
}
// [/snippet]

void run() {
  const order order{990};
  DOCS_CHECK(pay(order) == "paid 990");
  // [snippet:breaker-variants]
  // Gobreaker / Polly v7 style: open after 5 failures in a row; the cheapest mode.
  resil::circuit_breaker simple{{.consecutive_failures = 5, .window = resil::window_type::none}};

  // Failures and slow calls (> 2 s) over the last 60 seconds, in 1-second buckets.
  resil::circuit_breaker timed{{.slow_call_rate_threshold = 0.8,
                                .slow_call_duration = 2s,
                                .window = resil::window_type::time,
                                .window_size = 60,
                                .minimum_calls = 20}};

  // Each re-opening waits longer: 10 s, 20 s, 40 s ... up to 5 min; closing starts over.
  resil::circuit_breaker patient{{.open_backoff = resil::backoff::exponential(10s, 2.0, 5min)}};
  // [/snippet]
  DOCS_CHECK(simple.state() == resil::circuit_state::closed);
  DOCS_CHECK(timed.state() == resil::circuit_state::closed);
  DOCS_CHECK(patient.state() == resil::circuit_state::closed);

  resil::retry retry{{}};
  resil::rate_limiter limiter{{.permits = 100}};
  resil::timeout attempt_timeout{{.duration = 1s}};
  resil::bulkhead bulkhead{{.max_concurrent = 4}};
  // [snippet:breaker-pipeline]
  auto pipeline = resil::compose(retry, payments, limiter, attempt_timeout, bulkhead);
  // [/snippet]
  DOCS_CHECK(pipeline.try_execute(charge, order).has_value());

  // [snippet:breaker-permit]
  if (auto permit = payments.try_acquire()) {  // a reservation, not an observation
    start_async_charge(order, [p = std::move(*permit)](const result& r) mutable {
      r.ok() ? p.record_success() : p.record_failure();
    });  // dropped unrecorded: released
  } else {
    serve_cached(payments.remaining_delay());
  }
  // [/snippet]
}

}  // namespace docs_circuit_breaker
