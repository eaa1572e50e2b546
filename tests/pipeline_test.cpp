// Whole pipelines of built-in policies on simulated time: retry, timeout, bulkhead, fallback and
// chaos together on a virtual clock (library threads such as the timeout's timer take part).
// SPDX-License-Identifier: MIT
#include <resil/resil.hpp>

#include <catch2/catch.hpp>

#include <atomic>

using namespace std::chrono_literals;
using vclock = resil::virtual_clock;
using tp = vclock::time_point;

TEST_CASE("pipeline: a per-attempt timeout inside a retry stops slow attempts on virtual time",
          "[pipeline]") {
  vclock clock;
  resil::basic_retry<vclock> retry{{.max_attempts = 3, .backoff = resil::backoff::constant(100ms)},
                                   clock};
  resil::basic_timeout<vclock> attempt_timeout{{.duration = 1s}, clock};
  // The first two attempts hit a 5 s stall; the third is fast.
  std::atomic<int> attempts{0};
  resil::outcome<int> result = resil::outcome<int>::from_error(resil::errc::cancelled);
  tp finished{};
  clock.run(1, [&](std::size_t) {
    auto pipeline = resil::compose(retry, attempt_timeout);
    result = pipeline.try_execute([&](resil::context& ctx) -> resil::outcome<int> {
      if (++attempts < 3) {
        // A cooperative call: waits through the clock, and stops when the timeout fires.
        if (!clock.sleep_until(clock.now() + 5s, ctx.stop_token())) {
          return resil::outcome<int>::from_error(resil::errc::cancelled);
        }
      }
      return 42;
    });
    finished = clock.now();
  });
  CHECK(result.value() == 42);
  CHECK(attempts == 3);
  // Two attempts cut at 1 s each, two 100 ms backoffs.
  CHECK(finished == tp{2s + 200ms});
}

TEST_CASE("pipeline: a retry inside a total timeout gives up when the next attempt cannot fit",
          "[pipeline]") {
  vclock clock;
  resil::basic_timeout<vclock> total{{.duration = 3s}, clock};
  resil::basic_retry<vclock> retry{{.max_attempts = 10, .backoff = resil::backoff::constant(1s)},
                                   clock};
  std::atomic<int> attempts{0};
  resil::outcome<int> result{0};
  tp finished{};
  clock.run(1, [&](std::size_t) {
    auto pipeline = resil::compose(total, retry);
    result = pipeline.try_execute([&]() -> resil::outcome<int> {
      ++attempts;
      return resil::outcome<int>::from_error(std::make_error_code(std::errc::io_error));
    });
    finished = clock.now();
  });
  // Attempts at 0 s, 1 s and 2 s; one at 3 s would start at the deadline, so the retry stops at
  // 2 s with the last failure instead of sleeping into a timeout.
  CHECK(attempts == 3);
  CHECK(result.error() == std::errc::io_error);
  CHECK(finished == tp{2s});
}

TEST_CASE("pipeline: ten simulated clients through fallback, retry, timeout, bulkhead, chaos",
          "[pipeline]") {
  auto run_once = [](std::uint64_t seed) {
    vclock clock;
    resil::basic_retry<vclock> retry{
        {.max_attempts = 3,
         .backoff = resil::backoff::exponential(50ms, 2.0, 1s).full_jitter(),
         .seed = seed},
        clock};
    resil::basic_timeout<vclock> timeout{{.duration = 500ms}, clock};
    resil::basic_bulkhead<vclock> bulkhead{{.max_concurrent = 2, .max_wait = 200ms}, clock};
    resil::basic_chaos_latency<vclock> slow{{.injection_rate = 0.2, .seed = seed}, 2s, clock};
    resil::basic_chaos_fault<vclock> flaky{
        {.injection_rate = 0.1, .seed = seed + 1}, resil::errc::timeout, clock};
    auto fallback = resil::fallback_to(-1);
    std::vector<int> results;
    clock.run(10, [&](std::size_t client) {
      auto pipeline = resil::compose(fallback, retry, timeout, bulkhead, slow, flaky);
      for (int i = 0; i < 20; ++i) {
        const int r = pipeline.execute([&](resil::context& ctx) {
          clock.sleep_until(clock.now() + 50ms, ctx.stop_token());
          return static_cast<int>(client);
        });
        results.push_back(r);
        clock.sleep_until(clock.now() + 100ms);
      }
    });
    results.push_back(static_cast<int>(clock.now().time_since_epoch() / 1ms));
    return results;
  };
  const auto a = run_once(7);
  const auto b = run_once(7);
  CHECK(a.size() == 201);
  CHECK(a == b);  // bit-identical on the same seed
  const auto fallbacks = std::count(a.begin(), a.end() - 1, -1);
  CHECK(fallbacks > 0);
  CHECK(fallbacks < 100);
}
