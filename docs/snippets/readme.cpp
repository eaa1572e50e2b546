// The README's first program, compiled and run by ctest ("docs: readme").
// SPDX-License-Identifier: MIT
// [snippet:readme]
#include <resil/resil.hpp>

#include <cstdio>
#include <stdexcept>
#include <string>

using namespace std::chrono_literals;

int charge(int cents) {  // a flaky dependency: fails 2 calls in 3
  static int calls = 0;
  if (++calls % 3 != 0) throw std::runtime_error("payment gateway timeout");
  return cents;
}

int main() {
  resil::retry retry{
      {.max_attempts = 3, .backoff = resil::backoff::exponential(10ms).full_jitter()}};
  resil::circuit_breaker breaker{{.window_size = 20, .minimum_calls = 10, .open_duration = 30s}};
  resil::timeout timeout{{.duration = 2s}};
  auto pay = resil::decorate(charge, retry, breaker, timeout);  // outermost first

  int charged = pay(1250);                    // the value, or the last exception
  resil::outcome<int> r = pay.try_call(990);  // never throws
  std::printf("charged %d, then %s (breaker %s)\n", charged, r ? "ok" : "failed",
              std::string(resil::to_string(breaker.state())).c_str());
}
// [/snippet]
// Output (the retries wait up to 10 ms and 20 ms):
//   charged 1250, then ok (breaker closed)
