// The machinery of the resilience plan (plan.hpp): building an edge's policies, counting.
// SPDX-License-Identifier: MIT
#include "plan.hpp"

namespace delivery {

std::uint8_t state_code(resil::circuit_state s) noexcept {
  switch (s) {
    case resil::circuit_state::open:
    case resil::circuit_state::forced_open:
      return 1;
    case resil::circuit_state::half_open:
      return 2;
    default:
      return 0;
  }
}

namespace {

resil::retry_options with_budget(resil::retry_options o, resil::retry_budget& b) {
  o.budget = &b;
  return o;
}

}  // namespace

edge_policies::edge_policies(const edge_plan& p, const sim_clock& clock, recorder& rec)
    : plan_(p),
      budget_(p.budget),
      retry_(with_budget(p.retry, budget_), clock),
      breaker_(p.breaker, clock),
      timeout_({.duration = p.timeout}, clock),
      bulkhead_(p.bulkhead, clock) {
  breaker_.events().subscribe([&rec, clock, name = p.name](const resil::circuit_breaker_event& e) {
    if (e.kind != resil::circuit_breaker_event::kind_t::state_transition) return;
    rec.record_transition({clock.now().time_since_epoch().count(), name,
                           state_code(e.previous_state), state_code(e.state)});
  });
  bulkhead_.events().subscribe([&rec, counter = p.name + " bulkhead rejections"](
                                   const resil::bulkhead_event& e) {
    if (e.kind == resil::bulkhead_event_kind::rejected && e.reason == resil::errc::bulkhead_full) {
      rec.count(counter);
    }
  });
  timeout_.events().subscribe(
      [&rec, counter = p.name + " timeouts"](const resil::timeout_event&) { rec.count(counter); });
}

}  // namespace delivery
