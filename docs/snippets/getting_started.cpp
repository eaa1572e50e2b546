// The first pipeline of docs/getting-started.md, compiled and run by ctest.
// SPDX-License-Identifier: MIT
// [snippet:first-pipeline]
#include <resil/resil.hpp>

#include <cstdio>
#include <stdexcept>

using namespace std::chrono_literals;

// A dependency that fails now and then: every third call throws.
double fetch_price(int item) {
  static int calls = 0;
  if (++calls % 3 == 0) throw std::runtime_error("price service unavailable");
  return 2.5 * item;
}

int main() {
  resil::retry retry{{.max_attempts = 3, .backoff = resil::backoff::exponential(20ms)}};
  resil::circuit_breaker breaker{{.failure_rate_threshold = 0.5, .minimum_calls = 10}};
  resil::timeout timeout{{.duration = 1s}};
  auto pipeline = resil::compose(retry, breaker, timeout);  // outermost first

  for (int item = 1; item <= 3; ++item) {
    double price = pipeline.execute(fetch_price, item);  // retried; throws if every try fails
    std::printf("item %d costs %.2f\n", item, price);
  }

  resil::outcome<double> r = pipeline.try_execute(fetch_price, 4);  // never throws
  if (r) {
    std::printf("item 4 costs %.2f\n", *r);
  } else {
    std::printf("item 4 failed: %s\n", r.error().message().c_str());
  }
  std::printf("breaker %s after %llu calls\n",
              std::string(resil::to_string(breaker.state())).c_str(),
              static_cast<unsigned long long>(breaker.metrics().calls));
}
// [/snippet]
// Output (item 3's first try fails and is retried after 20 ms):
//   item 1 costs 2.50
//   item 2 costs 5.00
//   item 3 costs 7.50
//   item 4 costs 10.00
//   breaker closed after 5 calls
