// Rate limiting a partner API that allows 5 requests per second in bursts of up to 10.
// A burst is served at once; beyond it, calls are rejected with the time to retry, or a caller
// that can wait reserves the next free slot. Time is simulated (resil::manual_clock), so the
// output below is exact.
//
//   permits:  ██████████ at t=0 (the burst) ... then █ every 200 ms, refilling up to 10
//   t=0       10 calls pass, the 11th is told "retry after 200ms"
#include <resil/rate_limiter.hpp>

#include <chrono>
#include <cstdio>

using namespace std::chrono_literals;

int main() {
  resil::manual_clock clock;  // a real program uses resil::rate_limiter (steady clock)
  resil::basic_rate_limiter<resil::manual_clock> partner{{.permits = 5, .period = 1s, .burst = 10},
                                                         clock};

  const auto send = [](int order) { return order * 2; };  // the protected call
  int sent = 0;
  for (int order = 1; order <= 11; ++order) {
    auto r = partner.try_execute(send, order);
    if (r) {
      ++sent;
    } else {  // errc::rate_limited, with a retry-after hint
      std::printf(
          "t=0: %d sent; order %d: %s, retry after %lld ms\n", sent, order,
          r.error().message().c_str(),
          static_cast<long long>(
              std::chrono::duration_cast<std::chrono::milliseconds>(r.retry_after()).count()));
    }
  }

  clock.advance(1s);  // one second refills 5 permits
  std::printf("t=1s: %llu permits available\n",
              static_cast<unsigned long long>(partner.metrics().available_permits));

  (void)partner.try_acquire(5);  // drain them, then reserve instead of being rejected
  if (auto slot = partner.try_reserve(1, 500ms)) {
    const auto at = std::chrono::duration_cast<std::chrono::milliseconds>(
        slot->token().ready_at.time_since_epoch());
    std::printf("reserved a slot at t=%lld ms\n", static_cast<long long>(at.count()));
    slot->record_success();  // acquire_for(1, 500ms) would also wait for it
  }
}
// Output:
//   t=0: 10 sent; order 11: rate limit exceeded, retry after 200 ms
//   t=1s: 5 permits available
//   reserved a slot at t=1200 ms
