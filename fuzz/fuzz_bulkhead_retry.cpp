// libFuzzer target: compose(retry, bulkhead) on a manual clock, with slots also held directly
// by up to four callers. Up to 256 actions (hold a slot, give it back, a cancelled wait, a call
// that fails k times with a std or non-std exception, advance time), checked after every
// action against a naive model: in-flight == slots held (I6), attempts == min(max_attempts,
// k + 1) (I8), sleeps == attempts - 1 with every delay in [0, cap], the clock advanced by
// exactly the delays, the exception passed through unchanged.
// SPDX-License-Identifier: MIT
#include <resil/bulkhead.hpp>
#include <resil/compose.hpp>
#include <resil/retry.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <stop_token>

#include "fuzz.hpp"

using resil::manual_clock;
using std::chrono::nanoseconds;

namespace {
struct boom : std::runtime_error {
  boom() : std::runtime_error("boom") {}
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  const auto max = in.ConsumeIntegralInRange<std::int64_t>(1, 4);
  const int max_attempts = in.ConsumeIntegralInRange<int>(1, 6);
  const auto cap = nanoseconds{in.ConsumeIntegralInRange<std::int64_t>(1, 1'000'000'000)};
  resil::backoff back = resil::backoff::exponential(cap / 8 + nanoseconds{1}, 2.0, cap);
  switch (in.ConsumeIntegralInRange<int>(0, 3)) {
    case 0:
      back = back.full_jitter();
      break;
    case 1:
      back = back.decorrelated_jitter();
      break;
    case 2:
      back = back.decorrelated_jitter_v2();
      break;
    default:
      break;
  }
  manual_clock clock{manual_clock::time_point{nanoseconds{in.ConsumeIntegral<std::int32_t>()}}};
  resil::basic_bulkhead<manual_clock> bulkhead{{.max_concurrent = max}, clock};
  resil::basic_retry<manual_clock> retry{
      {.max_attempts = max_attempts, .backoff = back, .seed = in.ConsumeIntegral<std::uint64_t>()},
      clock};
  std::uint64_t sleeps = 0;
  std::int64_t slept = 0;
  bool bad_delay = false;
  retry.events().subscribe([&](const resil::retry_event& e) {
    if (e.kind != resil::retry_event_kind::retry_scheduled) return;
    ++sleeps;
    slept += e.delay.count();
    if (e.delay < nanoseconds::zero() || e.delay > cap) bad_delay = true;
  });
  auto pipeline = resil::compose(retry, bulkhead);
  constexpr std::size_t callers = 4;
  using permit = resil::basic_bulkhead<manual_clock>::permit_type;
  std::array<std::optional<permit>, callers> held;
  std::int64_t used = 0;

  for (int action = 0; action < resil_fuzz::max_actions && in.remaining_bytes() > 0; ++action) {
    const auto who = in.ConsumeIntegralInRange<std::size_t>(0, callers - 1);
    switch (in.ConsumeIntegralInRange<int>(0, 5)) {
      case 0: {  // hold a slot
        if (held[who]) break;
        held[who] = bulkhead.try_acquire();
        resil_fuzz::check(held[who].has_value() == (used < max), "admission differs", action);
        if (held[who]) ++used;
        break;
      }
      case 1: {  // give it back: recorded, released or dropped
        if (!held[who]) break;
        const int how = in.ConsumeIntegralInRange<int>(0, 2);
        if (how == 0) held[who]->record_success();
        if (how == 1) held[who]->release();
        held[who].reset();
        --used;
        break;
      }
      case 2: {  // a wait that is cancelled before it starts: no slot taken unless one is free
        std::stop_source stop;
        stop.request_stop();
        auto p = bulkhead.acquire_for(nanoseconds{1'000'000}, stop.get_token());
        resil_fuzz::check(p.has_value() == (used < max), "cancelled wait took a slot", action);
        break;
      }
      case 3:
      case 4: {  // a call through the pipeline that fails its first k attempts
        const int k = in.ConsumeIntegralInRange<int>(0, 7);
        const bool non_std = in.ConsumeBool();
        int attempts = 0;
        std::int64_t in_flight_seen = 0;
        sleeps = 0;
        slept = 0;
        const std::int64_t before = clock.now().time_since_epoch().count();
        const auto r = pipeline.try_execute([&]() -> int {
          ++attempts;
          in_flight_seen = bulkhead.metrics().in_flight;
          if (attempts <= k) {
            if (non_std) throw 42;
            throw boom{};
          }
          return attempts;
        });
        const std::int64_t after = clock.now().time_since_epoch().count();
        if (used >= max) {  // rejected, and a rejection is not retried
          resil_fuzz::check(attempts == 0 && r.error() == resil::errc::bulkhead_full,
                            "a full bulkhead ran the call or was retried", action);
          break;
        }
        const int want = k + 1 < max_attempts ? k + 1 : max_attempts;
        resil_fuzz::check(attempts == want, "I8: attempts != min(max_attempts, k + 1)", action,
                          std::to_string(attempts) + " vs " + std::to_string(want));
        resil_fuzz::check(sleeps == static_cast<std::uint64_t>(attempts - 1),
                          "I8: sleeps != attempts - 1", action);
        resil_fuzz::check(!bad_delay, "I8: a delay outside [0, cap]", action);
        resil_fuzz::check(after == resil::detail::sat_add(before, slept),
                          "the clock moved by other than the delays", action);
        resil_fuzz::check(in_flight_seen == used + 1, "I6: the attempt did not hold one slot",
                          action);
        if (k < max_attempts) {
          resil_fuzz::check(r.has_value() && r.value() == k + 1, "a success was lost", action);
        } else if (non_std) {
          bool same = false;
          try {
            std::rethrow_exception(r.exception());
          } catch (int v) {
            same = v == 42;
          } catch (...) {
          }
          resil_fuzz::check(same, "I11: the non-std exception changed", action);
        } else {
          bool same = false;
          try {
            std::rethrow_exception(r.exception());
          } catch (const boom&) {
            same = true;
          } catch (...) {
          }
          resil_fuzz::check(same, "I11: the exception changed", action);
        }
        break;
      }
      default:  // time moves
        clock.advance(nanoseconds{resil_fuzz::time_step(in, cap.count(), 8 * cap.count())});
        break;
    }
    const auto m = bulkhead.metrics();
    resil_fuzz::check(m.in_flight == used && m.available == max - used && m.waiting == 0,
                      "I6: bulkhead metrics differ from the model", action);
  }
  return 0;
}
