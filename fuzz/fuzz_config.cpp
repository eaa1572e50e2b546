// libFuzzer target: options parsing and validation. Decodes every field of one policy's options
// from raw bytes (any integer, NaN, infinities, denormals, durations of any unit up to
// hours::max() and floating-point seconds), then checks: validate() reports a problem exactly
// when the constructor throws config_error, the error names that field, and a policy that was
// built works (a few calls, years of clock movement) without UB or a crash.
// SPDX-License-Identifier: MIT
#include <resil/backoff.hpp>
#include <resil/bulkhead.hpp>
#include <resil/circuit_breaker.hpp>
#include <resil/keyed_rate_limiter.hpp>
#include <resil/rate_limiter.hpp>
#include <resil/retry.hpp>
#include <resil/retry_budget.hpp>
#include <resil/timeout.hpp>

#include <array>
#include <bit>
#include <chrono>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <stop_token>
#include <string>

#include "fuzz.hpp"

using resil::manual_clock;
using resil::time_span;
using std::chrono::nanoseconds;

namespace {

double any_double(FuzzedDataProvider& in) {
  constexpr std::array<double, 14> special{std::numeric_limits<double>::quiet_NaN(),
                                           std::numeric_limits<double>::infinity(),
                                           -std::numeric_limits<double>::infinity(),
                                           0.0,
                                           -0.0,
                                           std::numeric_limits<double>::denorm_min(),
                                           1e-300,
                                           0.001,
                                           0.5,
                                           1.0,
                                           1.0000000001,
                                           2.0,
                                           1000.0,
                                           1e300};
  if (in.ConsumeBool()) return special[in.ConsumeIntegralInRange<std::size_t>(0, 13)];
  return std::bit_cast<double>(in.ConsumeIntegral<std::uint64_t>());
}

std::int64_t any_count(FuzzedDataProvider& in) {
  constexpr std::array<std::int64_t, 7> special{0,
                                                1,
                                                -1,
                                                std::numeric_limits<std::int64_t>::max(),
                                                std::numeric_limits<std::int64_t>::min(),
                                                1000,
                                                1'000'000};
  if (in.ConsumeBool()) return special[in.ConsumeIntegralInRange<std::size_t>(0, 6)];
  return in.ConsumeIntegral<std::int64_t>();
}

time_span any_duration(FuzzedDataProvider& in) {
  switch (in.ConsumeIntegralInRange<int>(0, 6)) {
    case 0:
      return nanoseconds{any_count(in)};
    case 1:
      return std::chrono::microseconds{any_count(in)};
    case 2:
      return std::chrono::milliseconds{any_count(in)};
    case 3:
      return std::chrono::seconds{any_count(in)};
    case 4:
      return std::chrono::hours{any_count(in)};
    case 5:
      return std::chrono::duration<double>{any_double(in)};
    default:
      return std::chrono::duration<double, std::milli>{any_double(in)};
  }
}

resil::backoff any_backoff(FuzzedDataProvider& in) {
  resil::backoff b;
  switch (in.ConsumeIntegralInRange<int>(0, 2)) {
    case 0:
      b = resil::backoff::constant(any_duration(in));
      break;
    case 1:
      b = resil::backoff::linear(any_duration(in), any_duration(in), any_duration(in));
      break;
    default:
      b = resil::backoff::exponential(any_duration(in), any_double(in), any_duration(in));
  }
  switch (in.ConsumeIntegralInRange<int>(0, 5)) {
    case 0:
      return b.full_jitter();
    case 1:
      return b.equal_jitter();
    case 2:
      return b.decorrelated_jitter();
    case 3:
      return b.decorrelated_jitter_v2();
    case 4:
      return b.jitter(any_double(in));
    default:
      return b;
  }
}

// Builds the policy; checks that it throws config_error exactly when validate() objects, naming
// the same field. Returns whether it was built (then `use` ran).
template <class Options, class Make>
void build(const Options& o, Make make) {
  const auto problem = o.validate();
  try {
    make();
  } catch (const resil::config_error& e) {
    resil_fuzz::check(problem.has_value(), "config_error although validate() accepts", 0, e.what());
    resil_fuzz::check(e.field() == problem->field, "config_error names another field", 0,
                      e.field() + " vs " + problem->field);
    resil_fuzz::check(std::string(e.what()).find(
                          problem->field.substr(problem->field.find('.') + 1)) != std::string::npos,
                      "the message does not name the field", 0, e.what());
    return;
  }
  resil_fuzz::check(!problem.has_value(), "built although validate() objects", 0,
                    problem ? problem->message : "");
}

void check_backoff(const resil::backoff& b, FuzzedDataProvider& in) {
  if (b.validate()) return;
  resil::backoff_state s;
  resil::splitmix64 rng{in.ConsumeIntegral<std::uint64_t>()};
  for (std::uint32_t n = 1; n <= 64; ++n) {
    const nanoseconds d = b.next(s, rng);
    resil_fuzz::check(d >= nanoseconds::zero() && d <= b.cap(), "a delay outside [0, cap]",
                      static_cast<int>(n));
    const nanoseconds base = b.base_delay(n * 1000U);
    resil_fuzz::check(base >= nanoseconds::zero() && base <= b.cap(),
                      "a base delay outside [0, cap]", static_cast<int>(n));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  manual_clock clock;
  const auto years = nanoseconds{resil_fuzz::years};
  switch (in.ConsumeIntegralInRange<int>(0, 7)) {
    case 0: {
      resil::circuit_breaker_options o;
      o.failure_rate_threshold = any_double(in);
      o.slow_call_rate_threshold = any_double(in);
      o.slow_call_duration = any_duration(in);
      o.consecutive_failures = in.ConsumeIntegral<std::uint32_t>();
      o.window = static_cast<resil::window_type>(in.ConsumeIntegralInRange<int>(0, 3));
      o.window_size = in.ConsumeBool() ? in.ConsumeIntegral<std::uint32_t>()
                                       : in.ConsumeIntegralInRange<std::uint32_t>(0, 101);
      o.time_bucket = any_duration(in);
      o.minimum_calls = in.ConsumeBool() ? in.ConsumeIntegral<std::uint32_t>()
                                         : in.ConsumeIntegralInRange<std::uint32_t>(0, 101);
      o.open_duration = any_duration(in);
      if (in.ConsumeBool()) o.open_backoff = any_backoff(in);
      o.half_open_calls = in.ConsumeIntegral<std::uint32_t>() % 2000;
      o.max_half_open_duration = any_duration(in);
      build(o, [&] {
        resil::basic_circuit_breaker<manual_clock> b{o, clock};
        for (int i = 0; i < 40; ++i) {
          if (auto p = b.try_acquire()) (i % 3 == 0) ? p->record_success() : p->record_failure();
          clock.advance(i % 7 == 0 ? years : nanoseconds{1'000'000});
          (void)b.metrics();
          (void)b.remaining_delay();
        }
      });
      break;
    }
    case 1: {
      resil::retry_options o;
      o.max_attempts = in.ConsumeIntegral<int>();
      o.backoff = any_backoff(in);
      if (in.ConsumeBool()) o.max_delay = any_duration(in);
      o.max_total_duration = any_duration(in);
      o.seed = in.ConsumeIntegral<std::uint64_t>();
      check_backoff(o.backoff, in);
      build(o, [&] {
        resil::basic_retry<manual_clock> r{o, clock};
        int calls = 0;
        (void)r.try_execute([&]() -> int {
          if (++calls <= 3) throw std::runtime_error("again");
          return calls;
        });
        resil_fuzz::check(calls >= 1 && calls <= 4 && calls <= std::max(o.max_attempts, 1),
                          "retry made too many calls", 0);
      });
      break;
    }
    case 2: {
      resil::bulkhead_options o;
      o.max_concurrent = any_count(in);
      o.max_wait = any_duration(in);
      build(o, [&] {
        resil::basic_bulkhead<manual_clock> b{o, clock};
        auto p = b.try_acquire();
        resil_fuzz::check(p.has_value(), "a fresh bulkhead refused", 0);
        // A second slot: taken at once if free; otherwise a cancelled wait (single-threaded,
        // nobody would free one) that must come back empty without waiting.
        std::stop_source stop;
        stop.request_stop();
        auto q = b.acquire_for(o.max_wait, stop.get_token());
        resil_fuzz::check(q.has_value() == (o.max_concurrent > 1),
                          "acquire_for disagrees with the capacity", 0);
      });
      break;
    }
    case 3: {
      resil::rate_limiter_options o;
      if (in.ConsumeBool()) {
        const double rate = any_double(in);
        try {
          o = resil::rate_limiter_options::per_second(rate);
        } catch (const resil::config_error& e) {
          resil_fuzz::check(!(rate >= 0.001 && rate <= 1e9), "per_second refused a valid rate", 0,
                            e.what());
          break;
        }
      } else {
        o.permits = in.ConsumeBool() ? in.ConsumeIntegral<std::uint64_t>()
                                     : in.ConsumeIntegralInRange<std::uint64_t>(0, 1000);
        o.period = any_duration(in);
        if (in.ConsumeBool()) o.burst = in.ConsumeIntegral<std::uint64_t>();
        o.max_wait = any_duration(in);
      }
      build(o, [&] {
        resil::basic_rate_limiter<manual_clock> l{o, clock};
        const std::uint64_t burst = o.effective_burst();
        for (int i = 0; i < 20; ++i) {
          const std::uint64_t n = in.ConsumeIntegral<std::uint64_t>();
          const auto ra = l.retry_after(n);
          const bool granted = l.try_acquire(n).has_value();
          RESIL_FUZZ_TRACE("at %lld: acquire %llu, retry_after %lld, granted %d",
                           static_cast<long long>(clock.now().time_since_epoch().count()),
                           static_cast<unsigned long long>(n), static_cast<long long>(ra.count()),
                           granted);
          resil_fuzz::check(granted == (ra == nanoseconds::zero()),
                            "retry_after disagrees with try_acquire", i);
          resil_fuzz::check(n <= burst || !granted, "granted more than the burst", i);
          clock.advance(i % 5 == 0 ? years : nanoseconds{in.ConsumeIntegral<std::int64_t>()});
        }
      });
      break;
    }
    case 4: {
      resil::keyed_rate_limiter_options o;
      o.limit.permits = in.ConsumeIntegralInRange<std::uint64_t>(0, 1000);
      o.limit.period = any_duration(in);
      if (in.ConsumeBool()) o.limit.burst = in.ConsumeIntegral<std::uint64_t>();
      if (in.ConsumeBool()) o.limit.max_wait = any_duration(in);
      o.max_keys = in.ConsumeIntegralInRange<std::size_t>(0, 1 << 12);
      o.shards = in.ConsumeIntegralInRange<std::size_t>(0, 64);
      build(o, [&] {
        resil::basic_keyed_rate_limiter<int, manual_clock> l{o, clock};
        for (int i = 0; i < 20; ++i) {
          (void)l.try_acquire(in.ConsumeIntegral<int>(), in.ConsumeIntegral<std::uint64_t>());
          clock.advance(i % 5 == 0 ? years : nanoseconds{1000});
        }
        resil_fuzz::check(l.metrics().keys <= l.metrics().max_keys, "more keys than max_keys", 0);
      });
      break;
    }
    case 5: {
      resil::timeout_options o;
      o.duration = any_duration(in);
      build(o, [&] {
        resil::basic_timeout<manual_clock> t{o, clock};
        resil_fuzz::check(t.try_execute([] { return 1; }).value() == 1, "timeout lost a value", 0);
      });
      break;
    }
    case 6: {
      resil::retry_budget_options o;
      o.max_tokens = any_double(in);
      o.token_ratio = any_double(in);
      build(o, [&] {
        resil::retry_budget b{o};
        for (int i = 0; i < 50; ++i) {
          if (in.ConsumeBool()) {
            b.record_success();
          } else {
            b.record_failure();
          }
          const auto m = b.metrics();
          resil_fuzz::check(m.milli_tokens >= 0 && m.milli_tokens <= m.max_milli_tokens,
                            "budget tokens out of [0, max]", i);
        }
      });
      break;
    }
    default:
      check_backoff(any_backoff(in), in);
  }
  return 0;
}
