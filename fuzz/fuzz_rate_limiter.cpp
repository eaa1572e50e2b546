// libFuzzer target: a GCRA rate limiter on a manual clock, driven by a decoded configuration
// and up to 256 actions (acquire n, reserve and keep or abandon, retry_after, advance time by
// 0 / 1 ns / an interval / a period / ten years), checking after every action the window bound
// (I7: grants in every window W <= burst + floor(permits * W / period)), that retry_after
// agrees with try_acquire, and that a refused caller is granted after waiting retry_after.
// SPDX-License-Identifier: MIT
#include <resil/rate_limiter.hpp>

#include <array>
#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

#include "fuzz.hpp"
#include "support/grant_log.hpp"

using resil::manual_clock;
using std::chrono::nanoseconds;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  constexpr std::array<std::int64_t, 5> periods{1'000, 1'000'000, 1'000'000'000, 3'600'000'000'000,
                                                86'400'000'000'000};
  const std::int64_t period =
      periods[in.ConsumeIntegralInRange<std::size_t>(0, periods.size() - 1)];
  const auto permits = in.ConsumeIntegralInRange<std::uint64_t>(1, 1'000);
  const auto burst = in.ConsumeIntegralInRange<std::uint64_t>(1, 64);
  const resil::rate_limiter_options o{
      .permits = permits, .period = nanoseconds{period}, .burst = burst};
  if (o.validate()) return 0;  // the configuration the constructor rejects (fuzz_config's part)
  const std::int64_t interval = period / static_cast<std::int64_t>(permits);
  // The clock starts anywhere in the first century (the grant log's window arithmetic is exact
  // for any times; ten-year steps then reach the end of time).
  manual_clock clock{manual_clock::time_point{
      nanoseconds{in.ConsumeIntegralInRange<std::int64_t>(0, 20 * resil_fuzz::years)}}};
  resil::basic_rate_limiter<manual_clock> l{o, clock};
  RESIL_FUZZ_TRACE("permits %llu per %lld ns, burst %llu, start %lld",
                   static_cast<unsigned long long>(permits), static_cast<long long>(period),
                   static_cast<unsigned long long>(burst),
                   static_cast<long long>(clock.now().time_since_epoch().count()));
  std::vector<resil_test::grant> log;
  const auto now = [&] { return clock.now().time_since_epoch().count(); };
  const auto check_bound = [&](int action) {
    auto sorted = log;
    resil_test::sort_log(sorted);
    const auto r = resil_test::check_gcra_bound(sorted, permits, period, burst);
    resil_fuzz::check(r.ok, "I7: window bound exceeded:", action, r.describe());
  };

  for (int action = 0; action < resil_fuzz::max_actions && in.remaining_bytes() > 0; ++action) {
    const int op = in.ConsumeIntegralInRange<int>(0, 4);
    RESIL_FUZZ_TRACE("action %d: op %d at %lld", action, op,
                     static_cast<long long>(clock.now().time_since_epoch().count()));
    switch (op) {
      case 0:
      case 1: {  // acquire n (0 .. burst + 1)
        const auto n = in.ConsumeIntegralInRange<std::uint64_t>(0, burst + 1);
        const nanoseconds ra = l.retry_after(n);
        auto p = l.try_acquire(n);
        RESIL_FUZZ_TRACE("  acquire %llu: retry_after %lld, granted %d",
                         static_cast<unsigned long long>(n), static_cast<long long>(ra.count()),
                         p.has_value());
        resil_fuzz::check(p.has_value() == (ra == nanoseconds::zero()),
                          "retry_after disagrees with try_acquire", action);
        resil_fuzz::check(n <= burst || (!p && ra == nanoseconds::max()),
                          "n > burst must be refused as never", action);
        if (p && n > 0) log.push_back({now(), n});
        if (!p && n <= burst && in.ConsumeBool()) {  // wait exactly retry_after, then ask again
          resil_fuzz::check(ra > nanoseconds::zero(), "refused with retry_after 0", action);
          const std::int64_t before = now();
          clock.advance(ra);
          auto q = l.try_acquire(n);
          // At the end of time the wait cannot be served; otherwise it must be enough.
          if (resil::detail::sat_add(before, ra.count()) <
              std::numeric_limits<std::int64_t>::max()) {
            resil_fuzz::check(q.has_value(), "refused after waiting retry_after", action);
          }
          if (q) log.push_back({now(), n});
        }
        break;
      }
      case 2: {  // reserve within a few intervals; keep or abandon
        const auto n = in.ConsumeIntegralInRange<std::uint64_t>(1, burst);
        const auto wait = interval * in.ConsumeIntegralInRange<std::int64_t>(0, 4);
        auto p = l.try_reserve(n, nanoseconds{wait});
        RESIL_FUZZ_TRACE(
            "  reserve %llu within %lld: %lld", static_cast<unsigned long long>(n),
            static_cast<long long>(wait),
            p ? static_cast<long long>(p->token().ready_at.time_since_epoch().count()) : -1LL);
        if (!p) break;
        resil_fuzz::check(
            p->token().ready_at.time_since_epoch().count() <= resil::detail::sat_add(now(), wait),
            "reservation beyond max_wait", action);
        if (in.ConsumeBool()) break;  // abandoned before its time: returned (or kept consumed)
        log.push_back({p->token().ready_at.time_since_epoch().count(), n});
        p->record_success();
        break;
      }
      case 3:  // time moves
        clock.advance(nanoseconds{resil_fuzz::time_step(in, interval, period)});
        break;
      default: {  // metrics: nobody waits in a single-threaded run
        const auto m = l.metrics();
        resil_fuzz::check(m.waiting_callers == 0U, "waiting callers in a single thread", action);
        resil_fuzz::check(m.available_permits <= burst, "more available than the burst", action);
        resil_fuzz::check((m.available_permits >= 1) == (l.retry_after(1) == nanoseconds::zero()),
                          "available_permits disagrees with retry_after(1)", action);
        break;
      }
    }
    check_bound(action);
  }
  return 0;
}
