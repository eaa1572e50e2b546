// libFuzzer target: a circuit breaker on a manual clock, driven by a decoded configuration and
// up to 256 actions (acquire, complete ok / fail / ignored, cancel, execute throwing or not,
// advance time, manual states), compared with the naive model after every action.
// SPDX-License-Identifier: MIT
#include <resil/circuit_breaker.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <vector>

#include "fuzz.hpp"
#include "support/breaker_model.hpp"

using resil::manual_clock;
using resil_test::breaker_model;
using std::chrono::nanoseconds;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  breaker_model::config c;
  constexpr std::array<double, 6> thresholds{0.1, 0.25, 0.5, 0.75, 0.9, 1.0};
  c.threshold = thresholds[in.ConsumeIntegralInRange<std::size_t>(0, thresholds.size() - 1)];
  c.window = in.ConsumeBool();
  c.consecutive = in.ConsumeIntegralInRange<std::uint32_t>(c.window ? 0 : 1, 5);
  c.window_size = in.ConsumeIntegralInRange<std::uint32_t>(1, 20);
  c.minimum_calls = in.ConsumeIntegralInRange<std::uint32_t>(1, c.window_size);
  constexpr std::array<std::int64_t, 4> durations{1, 1'000, 1'000'000, 1'000'000'000};
  c.open_duration = durations[in.ConsumeIntegralInRange<std::size_t>(0, durations.size() - 1)];
  c.half_open_calls = in.ConsumeIntegralInRange<std::uint32_t>(1, 5);
  c.max_half_open = in.ConsumeBool() ? 0 : durations[in.ConsumeIntegralInRange<std::size_t>(0, 3)];
  const std::int64_t start = in.ConsumeIntegral<std::int64_t>();

  manual_clock clock{manual_clock::time_point{nanoseconds{start}}};
  resil::basic_circuit_breaker<manual_clock> b{c.options(), clock};
  breaker_model m{c};
  std::uint64_t events = 0;
  if (in.ConsumeBool()) {  // with no listener, the closed path takes its fast branch
    b.events().subscribe([&](const resil::circuit_breaker_event& e) {
      if (e.kind == resil::circuit_breaker_event::kind_t::state_transition) ++events;
    });
  }
  const bool listening = b.events().has_listeners();
  constexpr std::size_t callers = 4;
  using permit = resil::basic_circuit_breaker<manual_clock>::permit_type;
  std::array<std::optional<permit>, callers> held;
  std::array<std::optional<breaker_model::token>, callers> expected;
  const auto now = [&] { return clock.now().time_since_epoch().count(); };

  for (int action = 0; action < resil_fuzz::max_actions && in.remaining_bytes() > 0; ++action) {
    const auto who = in.ConsumeIntegralInRange<std::size_t>(0, callers - 1);
    switch (in.ConsumeIntegralInRange<int>(0, 9)) {
      case 0: {  // acquire
        if (held[who]) break;
        held[who] = b.try_acquire();
        expected[who] = m.acquire(now());
        resil_fuzz::check(held[who].has_value() == expected[who].has_value(),
                          "admission differs from the model", action);
        break;
      }
      case 1:    // complete ok
      case 2:    // complete failed
      case 3:    // complete ignored
      case 4: {  // cancel: dropped unrecorded
        if (!held[who]) break;
        breaker_model::verdict v = breaker_model::verdict::dropped;
        const int kind = in.ConsumeIntegralInRange<int>(1, 4);
        if (kind == 1) {
          held[who]->record_success();
          v = breaker_model::verdict::success;
        } else if (kind == 2) {
          held[who]->record_failure();
          v = breaker_model::verdict::failure;
        } else if (kind == 3) {
          held[who]->record(resil::verdict::ignored);
          v = breaker_model::verdict::ignored;
        }
        held[who].reset();
        m.complete(*expected[who], v, now());
        expected[who].reset();
        break;
      }
      case 5:  // execute: the callable throws a std exception, a non-std one, or returns
      case 6: {
        const int how = in.ConsumeIntegralInRange<int>(0, 2);
        bool ran = false;
        const auto r = b.try_execute([&]() -> int {
          ran = true;
          if (how == 0) throw std::runtime_error("boom");
          if (how == 1) throw 42;
          return 7;
        });
        const auto t = m.acquire(now());
        resil_fuzz::check(ran == t.has_value(), "execute admission differs from the model", action);
        if (t) {
          m.complete(*t,
                     how == 2 ? breaker_model::verdict::success : breaker_model::verdict::failure,
                     now());
          resil_fuzz::check(how == 2 ? r.has_value() : r.has_exception(),
                            "the callable's outcome was not passed through", action);
        } else {
          resil_fuzz::check(r.error() == resil::errc::circuit_open, "rejection is not circuit_open",
                            action);
        }
        break;
      }
      case 7:  // time moves
        clock.advance(nanoseconds{resil_fuzz::time_step(in, c.open_duration, c.max_half_open)});
        break;
      case 8: {  // by hand
        const int how = in.ConsumeIntegralInRange<int>(0, 2);
        if (how == 0) {
          b.force_open();
          m.force_open(now());
        } else if (how == 1) {
          b.close();
          m.close(now());
        } else {
          b.reset();
          m.reset(now());
        }
        break;
      }
      default:  // read: remaining delay agrees
        if (m.current() == resil::circuit_state::open) {
          const auto left = breaker_model::sat_sub(m.open_until(), now());
          resil_fuzz::check(b.remaining_delay().count() == (left > 0 ? left : 0),
                            "remaining_delay differs from the model", action);
        }
        break;
    }
    const auto metrics = b.metrics();
    const std::string diff = m.compare(metrics);
    resil_fuzz::check(diff.empty(), "metrics differ from the model:", action, diff);
    resil_fuzz::check(metrics.probes_in_flight <= c.half_open_calls, "I1: probes above P", action);
    resil_fuzz::check(!listening || events == m.transitions(), "I3: events != transitions", action);
  }
  return 0;
}
