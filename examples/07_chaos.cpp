// Chaos on a timeline, in simulated time: the payment service fails every call from 60 s to
// 120 s and the kitchen is 800 ms slower from 30 s to 50 s. The scenario is data; the two
// minutes run on a virtual clock in a few milliseconds.
//
//   caller --> [chaos_latency: +800ms, 30s..50s] --> kitchen()
//   caller --> [chaos_fault: timeout, 60s..120s]  --> charge()
#include <resil/resil.hpp>

#include <cstdio>

using namespace std::chrono_literals;
using clock_type = resil::virtual_clock;

int main() {
  clock_type clock;
  resil::basic_chaos_latency<clock_type> slow_kitchen{
      {.injection_rate = 0, .schedule = {{30s, 50s, 1.0}}}, 800ms, clock};
  resil::basic_chaos_fault<clock_type> payment_down{
      {.injection_rate = 0, .schedule = {{60s, 120s, 1.0}}}, resil::errc::timeout, clock};

  int failed_charges[3] = {};  // per minute
  resil::nanoseconds kitchen_time[3] = {};
  clock.run(1, [&](std::size_t) {  // one simulated customer, one order every second
    for (int s = 0; s < 180; ++s) {
      const auto start = clock.now();
      slow_kitchen.execute([] { /* cook */ });
      kitchen_time[s / 60] += clock.now() - start;
      if (!payment_down.try_execute([] {
            return true; /* charge */
          }))
        ++failed_charges[s / 60];
      clock.sleep_until(clock_type::time_point{std::chrono::seconds{s + 1}});
    }
  });

  for (int m = 0; m < 3; ++m) {
    std::printf("minute %d: %2d failed charges, %5.1f s extra kitchen time\n", m + 1,
                failed_charges[m], std::chrono::duration<double>(kitchen_time[m]).count());
  }
  std::printf("simulated %lld s; %llu faults and %llu delays injected\n",
              static_cast<long long>(clock.now().time_since_epoch() / 1s),
              static_cast<unsigned long long>(payment_down.injected()),
              static_cast<unsigned long long>(slow_kitchen.injected()));
}
// Output:
//   minute 1:  0 failed charges,  16.0 s extra kitchen time
//   minute 2: 60 failed charges,   0.0 s extra kitchen time
//   minute 3:  0 failed charges,   0.0 s extra kitchen time
//   simulated 180 s; 60 faults and 20 delays injected
