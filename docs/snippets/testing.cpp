// Snippets of docs/testing.md.
// SPDX-License-Identifier: MIT
#include <resil/resil.hpp>

#include <atomic>
#include <stdexcept>

#include "check.hpp"

#define CHECK(cond) DOCS_CHECK(cond)  // stands for your test framework's CHECK

namespace docs_testing {

using namespace std::chrono_literals;

int failing_call() {
  throw std::runtime_error("down");
}
int ok_call() {
  return 1;
}

void manual() {
  const resil::circuit_breaker_options options{
      .window_size = 10, .minimum_calls = 10, .open_duration = 60s};
  // [snippet:testing-manual-clock]
  resil::manual_clock clock;
  resil::basic_circuit_breaker<resil::manual_clock> breaker{options, clock};

  for (int i = 0; i < 10; ++i) (void)breaker.try_execute(failing_call);  // trips
  CHECK(breaker.state() == resil::circuit_state::open);
  clock.advance(60s);                               // open_duration passes
  CHECK(breaker.try_execute(ok_call).has_value());  // half-open probe
  // [/snippet]
}

std::atomic<long> orders{0};
void place_order(std::size_t) {
  orders.fetch_add(1, std::memory_order_relaxed);
}

void simulated() {
  const resil::retry_options retry_options{.max_attempts = 3};
  // [snippet:testing-virtual-clock]
  resil::virtual_clock clock;
  resil::basic_retry<resil::virtual_clock> retry{retry_options, clock};
  resil::basic_chaos_fault<resil::virtual_clock> outage{
      {.injection_rate = 0, .schedule = {{2min, 4min, 1.0}}}, resil::errc::timeout, clock};
  auto pipeline = resil::compose(retry, outage);

  clock.run(10, [&](std::size_t user) {  // 10 participants, admitted in order
    resil::splitmix64 rng{user};         // each participant seeds its own randomness
    while (clock.now() < resil::virtual_clock::time_point{10min}) {
      (void)pipeline.try_execute(place_order, user);
      clock.sleep_until(clock.now() + std::chrono::milliseconds{100 + rng() % 900});
    }
  });
  // [/snippet]
  CHECK(orders.load() > 1000);
  CHECK(outage.injected() > 0);
}

void chaos() {
  // [snippet:testing-chaos-scenario]
  resil::chaos_fault payment{{.injection_rate = 0, .schedule = {{60s, 120s, 1.0}}},
                             resil::errc::timeout};
  resil::chaos_latency kitchen{{.injection_rate = 0, .schedule = {{30s, 50s, 1.0}}}, 800ms};
  // [/snippet]
  CHECK(payment.try_execute(ok_call).has_value());  // before 60 s: no fault
  CHECK(kitchen.latency() == 800ms);
}

void run() {
  manual();
  simulated();
  chaos();
}

}  // namespace docs_testing
