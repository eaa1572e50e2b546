// A circuit breaker in front of a payment service that goes down: once half of the last 10 calls
// have failed it opens and fails fast (no call leaves the process), then after 30 s lets three
// probes through, and closes when they succeed. (A manual clock stands in for real time.)
//
//   closed --(>= 50 % of the last 10 calls failed)--> open --(30 s)--> half_open
//     ^                                                                    |
//     +---------------------(3 probes, < 50 % failed)-----------------------+
#include <resil/circuit_breaker.hpp>

#include <chrono>
#include <cstdio>
#include <stdexcept>

using namespace std::chrono_literals;

int main() {
  resil::manual_clock clock;  // simulated time, so that the example runs instantly
  resil::basic_circuit_breaker<resil::manual_clock> breaker{
      {.window_size = 10, .minimum_calls = 10, .open_duration = 30s, .half_open_calls = 3}, clock};
  breaker.events().subscribe([](const resil::circuit_breaker_event& e) {
    if (e.kind != resil::circuit_breaker_event::kind_t::state_transition) return;
    const auto from = resil::to_string(e.previous_state), to = resil::to_string(e.state);
    std::printf("  [%.*s -> %.*s]\n", int(from.size()), from.data(), int(to.size()), to.data());
  });

  bool payments_up = false;
  int service_calls = 0;
  const auto charge = [&](int cents) {
    ++service_calls;
    if (!payments_up) throw std::runtime_error("payment service unavailable");
    return cents;
  };

  std::printf("the payment service goes down:\n");
  for (int i = 0; i < 15; ++i) {
    const auto r = breaker.try_execute(charge, 1250);
    if (r.error() == resil::errc::circuit_open) {
      std::printf("  call %2d: rejected, retry in %llds\n", i + 1,
                  static_cast<long long>(
                      std::chrono::duration_cast<std::chrono::seconds>(r.retry_after()).count()));
      clock.advance(5s);
    }
  }
  auto m = breaker.metrics();
  std::printf("failure rate %.0f%% of %llu calls; %llu rejected; the service saw %d calls\n",
              m.failure_rate * 100, static_cast<unsigned long long>(m.calls),
              static_cast<unsigned long long>(m.not_permitted), service_calls);

  std::printf("the open duration passes and the service is back:\n");
  clock.advance(breaker.remaining_delay());
  payments_up = true;
  for (int i = 0; i < 3; ++i)
    std::printf("  probe: charged %d cents\n", breaker.execute(charge, 990));
  m = breaker.metrics();
  const auto state = resil::to_string(m.state);
  std::printf("state %.*s, fresh window: %llu calls\n", int(state.size()), state.data(),
              static_cast<unsigned long long>(m.calls));
}
// Output:
//   the payment service goes down:
//     [closed -> open]
//     call 11: rejected, retry in 30s
//     call 12: rejected, retry in 25s
//     call 13: rejected, retry in 20s
//     call 14: rejected, retry in 15s
//     call 15: rejected, retry in 10s
//   failure rate 100% of 10 calls; 5 rejected; the service saw 10 calls
//   the open duration passes and the service is back:
//     [open -> half_open]
//     probe: charged 990 cents
//     probe: charged 990 cents
//     [half_open -> closed]
//     probe: charged 990 cents
//   state closed, fresh window: 0 calls
