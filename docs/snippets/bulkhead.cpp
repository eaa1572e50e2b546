// Snippets of docs/policies/bulkhead.md.
// SPDX-License-Identifier: MIT
#include <resil/resil.hpp>

#include <string>
#include <utility>

#include "check.hpp"

namespace docs_bulkhead {

struct order {
  int cents = 0;
};
struct receipt {
  int cents = 0;
};
receipt charge(const order& o) {
  return {o.cents};
}
std::string busy_page() {
  return "busy";
}

// An asynchronous charge: calls `done` when the payment provider answers (here: at once).
template <class F>
void start_async_charge(const order& o, F&& done) {
  std::forward<F>(done)(charge(o));
}

// [snippet:bulkhead-usage]
#include <resil/bulkhead.hpp>
using namespace std::chrono_literals;

resil::bulkhead payments{{.max_concurrent = 8, .max_wait = 20ms}};

std::string pay(const order& order) {
  auto r = payments.try_execute(charge, order);  // outcome<receipt>, never throws
  if (r.error() == resil::errc::bulkhead_full) return busy_page();
  receipt rc = payments.execute(charge, order);  // or throws resil::bulkhead_full_error
  return "paid " + std::to_string(rc.cents);
}
// [/snippet]

void run() {
  const order order{1250};
  DOCS_CHECK(pay(order) == "paid 1250");
  resil::retry retry{{}};
  resil::circuit_breaker breaker{{}};
  resil::timeout timeout{{.duration = 1s}};
  // [snippet:bulkhead-pipeline]
  auto pipeline = resil::compose(retry, breaker, timeout, payments);  // outermost first
  // [/snippet]
  DOCS_CHECK(pipeline.try_execute(charge, order).has_value());
  // [snippet:bulkhead-permit]
  if (auto slot = payments.try_acquire()) {  // or acquire_for(20ms, stop_token)
    start_async_charge(order, [slot = std::move(*slot)](auto&&) mutable {
      slot.record_success();  // gives the slot back, publishes `finished`
    });                       // a permit dropped unrecorded gives it back too
  }
  // [/snippet]
  DOCS_CHECK(payments.available() == 8);
}

}  // namespace docs_bulkhead
