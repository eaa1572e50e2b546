// Retrying a flaky dependency: exponential backoff, a result predicate (HTTP 503), the server's
// Retry-After, and a retry budget shared by every call so an outage does not become a storm.
//
//   caller --> retry --(attempt 1)--> fetch_menu()  503, Retry-After 2 s
//                    --(wait 2 s)---> fetch_menu()  503
//                    --(wait 200ms)-> fetch_menu()  200 OK
//
// A manual clock stands in for real time, so the waits are instant and the output exact.
#include <resil/resil.hpp>

#include <chrono>
#include <cstdio>
#include <optional>

using namespace std::chrono_literals;

struct response {
  int status;
  resil::nanoseconds retry_after{0};  // parsed from the Retry-After header, if any
};

int main() {
  resil::manual_clock clock;
  resil::retry_budget budget{{.max_tokens = 10, .token_ratio = 0.5}};  // one per dependency

  resil::basic_retry<resil::manual_clock> retry{
      {.max_attempts = 4,
       .backoff = resil::backoff::exponential(100ms, 2.0, 5s),
       .max_delay = 10s,
       .classify =
           resil::classifier{}.failure_if_result([](const response& r) { return r.status == 503; }),
       .delay_from_outcome =
           [](const resil::retry_attempt_info& a) -> std::optional<resil::nanoseconds> {
         if (const auto* r = a.value<response>(); r != nullptr && r->retry_after > 0s) {
           return r->retry_after;  // the server knows best
         }
         return std::nullopt;  // the backoff's delay
       },
       .budget = &budget},
      clock};
  retry.events().subscribe([&](const resil::retry_event& e) {
    if (e.kind == resil::retry_event_kind::retry_scheduled) {
      std::printf("  attempt %u failed, next in %lld ms\n", e.attempt,
                  static_cast<long long>(e.delay / 1ms));
    }
  });

  // A menu service that is restarting: two 503s, then an answer.
  int calls = 0;
  auto fetch_menu = [&] {
    ++calls;
    if (calls == 1) return response{503, 2s};
    if (calls == 2) return response{503};
    return response{200};
  };
  const response ok = retry.execute(fetch_menu);
  std::printf("status %d after %d calls, %lld ms\n", ok.status, calls,
              static_cast<long long>(clock.now().time_since_epoch() / 1ms));

  // An outage: everything fails. Each failed attempt costs a token and retries need more than
  // half of the 10: the first call still retries, then retrying stops for every caller sharing
  // the budget, so the struggling service sees one call per request, not four.
  auto down = [&] {
    ++calls;
    return response{503};
  };
  for (int i = 0; i < 3; ++i) {
    calls = 0;
    const response r = retry.execute(down);  // the last 503 stands
    std::printf("call %d: status %d after %d calls (tokens left %.1f)\n", i + 1, r.status, calls,
                static_cast<double>(budget.milli_tokens()) / 1000.0);
  }
}
// Output:
//     attempt 1 failed, next in 2000 ms
//     attempt 2 failed, next in 200 ms
//   status 200 after 3 calls, 2200 ms
//     attempt 1 failed, next in 100 ms
//     attempt 2 failed, next in 200 ms
//     attempt 3 failed, next in 400 ms
//   call 1: status 503 after 4 calls (tokens left 4.5)
//   call 2: status 503 after 1 calls (tokens left 3.5)
//   call 3: status 503 after 1 calls (tokens left 2.5)
