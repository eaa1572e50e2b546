// Built with -fno-exceptions: the try_execute / try_call API works and reports every failure
// through resil::outcome. A plain program, since Catch2 itself needs exceptions.
// SPDX-License-Identifier: MIT
#include <resil/resil.hpp>

#include <cstdio>

#include "support/test_policies.hpp"

static_assert(RESIL_HAS_EXCEPTIONS == 0, "this test must be built with -fno-exceptions");

namespace {
int failures = 0;
void check(bool ok, const char* what) {
  if (!ok) {
    std::printf("FAILED: %s\n", what);
    ++failures;
  }
}
}  // namespace

int main() {
  resil_test::counting_policy counter;
  resil_test::rejecting_policy reject;
  resil_test::repeating_policy twice;

  auto pipeline = resil::compose(twice, counter);
  const auto ok = pipeline.try_execute([](int x) { return x * 2; }, 21);
  check(ok.has_value() && ok.value() == 42, "a value comes back");
  check(counter.calls == 2, "the repeating policy called twice");

  const auto failed = pipeline.try_execute([]() -> resil::outcome<int> {
    return resil::outcome<int>::from_error(resil::errc::timeout);
  });
  check(failed.has_error() && failed.error() == resil::errc::timeout, "an error comes back");

  auto refused = resil::decorate([] { return 1; }, counter, reject);
  const auto r = refused.try_call();
  check(r.error() == resil::errc::bulkhead_full, "a rejection comes back as an error code");

  const resil::classifier c;
  check(c.classify(r) == resil::verdict::ignored, "rejections are ignored by default");
  check(c.classify(failed) == resil::verdict::failure, "timeouts are failures");

  resil::manual_clock clock;
  resil::basic_circuit_breaker<resil::manual_clock> breaker{
      {.window_size = 2,
       .minimum_calls = 2,
       .open_duration = std::chrono::seconds{1},
       .half_open_calls = 1},
      clock};
  const auto timed_out = [] { return resil::outcome<int>::from_error(resil::errc::timeout); };
  (void)breaker.try_execute(timed_out);
  (void)breaker.try_execute(timed_out);
  check(breaker.state() == resil::circuit_state::open, "two failures open the breaker");
  const auto rejected = breaker.try_execute([] { return 1; });
  check(rejected.error() == resil::errc::circuit_open &&
            rejected.retry_after() == std::chrono::seconds{1},
        "an open breaker rejects with the remaining delay");
  clock.advance(std::chrono::seconds{1});
  check(breaker.try_execute([] { return 1; }).has_value(), "a probe goes through");
  check(breaker.state() == resil::circuit_state::closed, "a successful probe closes it");

  // A retry: the last failure stands, and a success after failures comes back.
  resil::basic_retry<resil::manual_clock> retry{
      {.max_attempts = 3, .backoff = resil::backoff::constant(std::chrono::milliseconds{10})}};
  int calls = 0;
  const auto retried = retry.try_execute([&]() -> resil::outcome<int> {
    if (++calls < 3) return resil::outcome<int>::from_error(resil::errc::timeout);
    return calls;
  });
  check(retried.has_value() && retried.value() == 3, "the retry succeeds at the third attempt");
  const auto exhausted =
      retry.try_execute([] { return resil::outcome<int>::from_error(resil::errc::timeout); });
  check(exhausted.error() == resil::errc::timeout, "the last failure stands");
  check(retry.metrics().retries == 4, "four retries were scheduled");

  std::printf("%s\n", failures == 0 ? "no-exceptions: all checks passed" : "no-exceptions: FAILED");
  return failures == 0 ? 0 : 1;
}
