// A bulkhead: the kitchen has two stoves, so at most two orders cook at once. A third order is
// turned away at once (max_wait = 0) instead of tying up a thread behind a slow kitchen.
//
//   order --> [ bulkhead: 2 slots ] --> cook(order)
//                   \--> full: errc::bulkhead_full (bulkhead_full_error from execute)
#include <resil/resil.hpp>

#include <atomic>
#include <cstdio>
#include <latch>
#include <string>
#include <thread>

int main() {
  resil::bulkhead kitchen{{.max_concurrent = 2}};  // max_wait = 0: reject at once
  std::atomic<int> rejected{0};
  kitchen.events().subscribe([&](const resil::bulkhead_event& e) {
    if (e.kind == resil::bulkhead_event_kind::rejected) ++rejected;
  });

  std::latch cooking{2};  // both stoves busy
  std::latch bell{1};     // the main thread lets them finish
  const auto cook = [&](int order) {
    cooking.count_down();
    bell.wait();  // a slow dish
    return "order " + std::to_string(order) + " served";
  };
  std::string first;
  std::string second;
  std::thread a([&] { first = kitchen.execute(cook, 1); });
  std::thread b([&] { second = kitchen.execute(cook, 2); });
  cooking.wait();

  const resil::outcome<std::string> third = kitchen.try_execute(cook, 3);
  std::printf("order 3: %s\n", third ? third->c_str() : third.error().message().c_str());
  const auto m = kitchen.metrics();
  std::printf("in flight %lld of %lld, available %lld\n", static_cast<long long>(m.in_flight),
              static_cast<long long>(m.max_concurrent), static_cast<long long>(m.available));

  bell.count_down();
  a.join();
  b.join();
  std::printf("%s, %s\n", first.c_str(), second.c_str());
  std::printf("%s; rejected %d, available %lld\n",
              kitchen.execute([] { return std::string("order 4 served"); }).c_str(),
              rejected.load(), static_cast<long long>(kitchen.available()));
}
// Output:
//   order 3: bulkhead is full
//   in flight 2 of 2, available 0
//   order 1 served, order 2 served
//   order 4 served; rejected 1, available 2
