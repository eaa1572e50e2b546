// Writing your own policy: one member template, invoke<R>(ctx, next), and it composes with every
// built-in policy. This one counts calls and failures per outcome kind.
//
//   compose(stopwatch, counter) --> stopwatch( counter( call ))
#include <resil/resil.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <stdexcept>

// Counts calls and how they ended. Thread-safe: only atomics.
// [snippet:custom-policy]
struct call_counter : resil::policy_base<call_counter> {  // adds execute / try_execute
  std::atomic<long> calls{0}, values{0}, failures{0};

  template <class R, class Next>
  resil::outcome<R> invoke(resil::context& ctx, Next&& next) {
    calls.fetch_add(1, std::memory_order_relaxed);
    resil::outcome<R> r = next(ctx);  // the rest of the pipeline; never throws
    (r ? values : failures).fetch_add(1, std::memory_order_relaxed);
    return r;
  }
};
// [/snippet]

// Measures each call on the pipeline's clock, reading it once at the start of the attempt.
struct stopwatch : resil::policy_base<stopwatch> {
  resil::steady_clock clock;
  std::chrono::nanoseconds total{0};

  template <class R, class Next>
  resil::outcome<R> invoke(resil::context& ctx, Next&& next) {
    const auto start = ctx.start_time(clock);
    auto r = next(ctx);
    total += clock.now() - start;
    return r;
  }
};

int main() {
  call_counter counter;
  stopwatch watch;
  auto pipeline = resil::compose(watch, counter);  // outermost first

  int sum = 0;
  for (int i = 0; i < 10; ++i) sum += pipeline.execute([](int x) { return x * x; }, i);
  auto failed = pipeline.try_execute([]() -> int { throw std::runtime_error("oven on fire"); });

  std::printf("sum=%d calls=%ld values=%ld failures=%ld failed_has_exception=%s\n", sum,
              counter.calls.load(), counter.values.load(), counter.failures.load(),
              failed.has_exception() ? "yes" : "no");
  std::printf("timed %s\n", watch.total.count() >= 0 ? "every call" : "nothing");
}
// Output:
//   sum=285 calls=11 values=10 failures=1 failed_has_exception=yes
//   timed every call
