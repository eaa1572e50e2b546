// resil_instructions: runs each key path N times between two callgrind client requests, so that
// `scripts/bench-instructions.sh` reports instructions per call, a figure that does not depend
// on the machine's load. Outside valgrind it just runs the loops.
// SPDX-License-Identifier: MIT
#include <resil/bulkhead.hpp>
#include <resil/circuit_breaker.hpp>
#include <resil/compose.hpp>
#include <resil/rate_limiter.hpp>
#include <resil/retry.hpp>
#include <resil/timeout.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "hand_written.hpp"
#include "support.hpp"

#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define RESIL_ZERO_STATS() CALLGRIND_ZERO_STATS
#define RESIL_DUMP_STATS(name) CALLGRIND_DUMP_STATS_AT(name)
#else
#define RESIL_ZERO_STATS() ((void)0)
#define RESIL_DUMP_STATS(name) ((void)(name))
#endif

namespace {

using namespace std::chrono_literals;

struct pass_through : resil::policy_base<pass_through> {
  template <class R, class Next>
  resil::outcome<R> invoke(resil::context& ctx, Next&& next) {
    return next(ctx);
  }
};

constexpr std::uint64_t unlimited = 1'000'000'000;

pass_through p1, p2, p3, p4, p5;
resil::retry retry{
    {.max_attempts = 3, .backoff = resil::backoff::exponential(100ms).full_jitter(), .seed = 42}};
resil::bulkhead bulkhead{{.max_concurrent = 1000}};
resil::rate_limiter limiter{{.permits = unlimited, .period = 1s, .burst = unlimited}};
resil::basic_rate_limiter<resil::coarse_clock> coarse_limiter{
    {.permits = unlimited, .period = 1s, .burst = unlimited}};
resil::rate_limiter drained_limiter{{.permits = 1, .period = 1h, .burst = 1}};
resil::timeout timeout{{.duration = 1h}};
resil::circuit_breaker breaker;  // count window
resil::circuit_breaker consecutive_breaker{
    {.consecutive_failures = 5, .window = resil::window_type::none}};
resil::circuit_breaker open_breaker{{.window_size = 1, .minimum_calls = 1, .open_duration = 24h}};

resil_bench::mutex_retry hand_retry;
resil_bench::mutex_bulkhead hand_bulkhead{1000};
resil_bench::mutex_token_bucket hand_bucket{1e9, 1e9};
resil_bench::mutex_circuit_breaker hand_breaker;

int hand_full(int x) {
  return hand_retry.call([x] {
    int out = 0;
    const bool admitted = hand_breaker.try_call(
        [x] {
          int limited = 0;
          if (!hand_bucket.try_call(
                  [x] {
                    int bounded = 0;
                    if (!hand_bulkhead.try_call([x] { return resil_bench::work(x); }, bounded)) {
                      throw std::runtime_error("bulkhead full");
                    }
                    return bounded;
                  },
                  limited)) {
            throw std::runtime_error("rate limited");
          }
          return limited;
        },
        out);
    if (!admitted) throw std::runtime_error("circuit open");
    return out;
  });
}

// Runs `call` n times; `call` returns the next x.
template <class F>
void repeat(long n, F call) {
  int x = 0;
  for (long i = 0; i < n; ++i) benchmark::DoNotOptimize(x = call(x));
}

struct path {
  const char* name;
  void (*run)(long n);
};

const path paths[] = {
    {"raw_call", [](long n) { repeat(n, [](int x) { return resil_bench::work(x); }); }},
    // Under valgrind a clock read takes glibc's system-call path (the vDSO is not used), so
    // these two give the instructions to subtract from the rows that read a clock.
    {"floor_steady_clock_now",
     [](long n) {
       repeat(n, [](int x) {
         benchmark::DoNotOptimize(resil::steady_clock::now());
         return x;
       });
     }},
    {"floor_coarse_clock_now",
     [](long n) {
       repeat(n, [](int x) {
         benchmark::DoNotOptimize(resil::coarse_clock::now());
         return x;
       });
     }},
    {"compose_empty_x1",
     [](long n) {
       auto pipeline = resil::compose(p1);
       repeat(n, [&](int x) { return pipeline.try_execute(resil_bench::work, x).value(); });
     }},
    {"compose_empty_x5",
     [](long n) {
       auto pipeline = resil::compose(p1, p2, p3, p4, p5);
       repeat(n, [&](int x) { return pipeline.try_execute(resil_bench::work, x).value(); });
     }},
    {"retry_execute_success_first_attempt",
     [](long n) { repeat(n, [](int x) { return retry.execute(resil_bench::work, x); }); }},
    {"mutex_retry_execute_success_first_attempt",
     [](long n) {
       repeat(n, [](int x) { return hand_retry.call([x] { return resil_bench::work(x); }); });
     }},
    {"bulkhead_try_execute",
     [](long n) {
       repeat(n, [](int x) { return bulkhead.try_execute(resil_bench::work, x).value(); });
     }},
    {"mutex_bulkhead_try_execute",
     [](long n) {
       repeat(n, [](int x) {
         int out = 0;
         hand_bulkhead.try_call([x] { return resil_bench::work(x); }, out);
         return out;
       });
     }},
    {"rate_limiter_try_execute_granted/steady_clock",
     [](long n) {
       repeat(n, [](int x) { return limiter.try_execute(resil_bench::work, x).value(); });
     }},
    {"rate_limiter_try_execute_granted/coarse_clock",
     [](long n) {
       repeat(n, [](int x) { return coarse_limiter.try_execute(resil_bench::work, x).value(); });
     }},
    {"rate_limiter_try_execute_refused/steady_clock",
     [](long n) {
       repeat(n, [](int x) {
         return x + (drained_limiter.try_execute(resil_bench::work, x).has_error() ? 1 : 0);
       });
     }},
    {"mutex_rate_limiter_try_execute_granted",
     [](long n) {
       repeat(n, [](int x) {
         int out = 0;
         hand_bucket.try_call([x] { return resil_bench::work(x); }, out);
         return out;
       });
     }},
    {"circuit_breaker_closed_count_window",
     [](long n) {
       repeat(n, [](int x) { return breaker.try_execute(resil_bench::work, x).value(); });
     }},
    {"circuit_breaker_closed_consecutive_failures",
     [](long n) {
       repeat(n,
              [](int x) { return consecutive_breaker.try_execute(resil_bench::work, x).value(); });
     }},
    {"circuit_breaker_open_rejection/steady_clock",
     [](long n) {
       repeat(n, [](int x) {
         return x + (open_breaker.try_execute(resil_bench::work, x).has_error() ? 1 : 0);
       });
     }},
    {"compose_full/steady_clock",
     [](long n) {
       auto pipeline = resil::compose(retry, breaker, limiter, bulkhead);
       repeat(n, [&](int x) { return pipeline.try_execute(resil_bench::work, x).value(); });
     }},
    // The same pipeline without the retry: the difference is what the retry adds inside a
    // composition, where the context is built for the other policies anyway.
    {"compose_full_without_retry/steady_clock",
     [](long n) {
       auto pipeline = resil::compose(breaker, limiter, bulkhead);
       repeat(n, [&](int x) { return pipeline.try_execute(resil_bench::work, x).value(); });
     }},
    {"mutex_compose_full", [](long n) { repeat(n, hand_full); }},
    {"timeout_try_execute/steady_clock",
     [](long n) {
       repeat(n, [](int x) { return timeout.try_execute(resil_bench::work, x).value(); });
     }},
};

}  // namespace

// Usage: resil_instructions [calls per path] [name...]   (all paths when no name is given)
int main(int argc, char** argv) {
  const long n = argc > 1 ? std::atol(argv[1]) : 100'000;
  (void)drained_limiter.try_acquire();
  (void)open_breaker.try_execute([]() -> int { throw 1; });
  for (const path& p : paths) {
    bool wanted = argc <= 2;
    for (int i = 2; i < argc; ++i) wanted = wanted || std::strcmp(argv[i], p.name) == 0;
    if (!wanted) continue;
    // Called through a volatile pointer, so that each path is compiled as a function of its
    // own rather than inlined into this loop (which would make its count depend on its
    // neighbours).
    void (*volatile run)(long) = p.run;
    run(1);  // first-use work (a timer thread, a lazily built table) is not per call
    RESIL_ZERO_STATS();
    run(n);
    RESIL_DUMP_STATS(p.name);
    std::printf("%s\n", p.name);
  }
}
