// Deterministic simulation (FoundationDB / VOPR style): K logical callers on a manual_clock, each
// idle or holding a permit; every step a seeded generator admits one, settles one (success,
// failure, ignored, dropped), moves the clock (0, 1 ns, an open duration, ten years, ...) or
// changes the state by hand, and the policy is compared with a naive model after EVERY step.
// A failure prints its seed; RESIL_SIM_SEED=<n> replays it.
// SPDX-License-Identifier: MIT
#include <resil/bulkhead.hpp>
#include <resil/circuit_breaker.hpp>
#include <resil/rate_limiter.hpp>

#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "simulation.hpp"
#include "support/breaker_model.hpp"
#include "support/grant_log.hpp"

using namespace std::chrono_literals;
using resil::manual_clock;
using resil_sim::failure;
using resil_sim::pick;
using std::chrono::nanoseconds;

namespace {

constexpr std::int64_t ten_years = 315'360'000'000'000'000;

manual_clock::time_point at(std::int64_t t) {
  return manual_clock::time_point{nanoseconds{t}};
}

// Where the simulated clock starts: zero, far negative, or just below the end of time (so the
// saturating arithmetic is on the path).
std::int64_t start_time(resil::splitmix64& rng) {
  switch (pick(rng, 4)) {
    case 0:
      return std::numeric_limits<std::int64_t>::min() + 1;
    case 1:
      return std::numeric_limits<std::int64_t>::max() - ten_years;
    default:
      return static_cast<std::int64_t>(rng() % 1'000'000'000'000);
  }
}

std::optional<failure> breaker_seed(std::uint64_t seed, std::uint64_t steps) {
  using model = resil_test::breaker_model;
  resil::splitmix64 rng{seed};
  constexpr std::array<std::uint32_t, 5> sizes{1, 2, 3, 7, 20};
  constexpr std::array<double, 4> thresholds{0.2, 0.5, 0.75, 1.0};
  constexpr std::array<std::uint32_t, 3> probe_limits{1, 2, 5};
  constexpr std::array<std::int64_t, 3> open_durations{1, 1'000'000, 1'000'000'000};
  model::config c;
  c.window = pick(rng, 4) != 0;
  c.consecutive = static_cast<std::uint32_t>(c.window ? pick(rng, 4) : 1 + pick(rng, 3));
  c.window_size = sizes[pick(rng, sizes.size())];
  c.minimum_calls = 1 + static_cast<std::uint32_t>(pick(rng, c.window_size));
  c.threshold = thresholds[pick(rng, thresholds.size())];
  c.half_open_calls = probe_limits[pick(rng, probe_limits.size())];
  c.open_duration = open_durations[pick(rng, open_durations.size())];
  c.max_half_open = pick(rng, 3) == 0 ? 5'000'000 : 0;
  const bool listen = pick(rng, 2) == 0;  // with no listener the fast path runs
  const std::size_t callers = 2 + pick(rng, 15);

  manual_clock clock{at(start_time(rng))};
  resil::basic_circuit_breaker<manual_clock> b{c.options(), clock};
  model m{c};
  std::vector<std::pair<resil::circuit_state, resil::circuit_state>> moves;  // (from, to)
  if (listen) {
    b.events().subscribe([&](const resil::circuit_breaker_event& e) {
      if (e.kind == resil::circuit_breaker_event::kind_t::state_transition) {
        moves.emplace_back(e.previous_state, e.state);
      }
    });
  }
  using permit = resil::basic_circuit_breaker<manual_clock>::permit_type;
  std::vector<std::optional<permit>> held(callers);
  std::vector<std::optional<model::token>> expected(callers);
  const auto now = [&] { return clock.now().time_since_epoch().count(); };

  for (std::uint64_t step = 0; step < steps; ++step) {
    const std::size_t who = pick(rng, callers);
    const resil::circuit_state before = m.current();
    const std::uint64_t dice = pick(rng, 100);
    if (dice < 40) {  // a caller asks
      if (held[who]) continue;
      held[who] = b.try_acquire();
      expected[who] = m.acquire(now());
      if (held[who].has_value() != expected[who].has_value()) {
        return failure{step,
                       held[who] ? "admitted; the model rejects" : "rejected; the model admits"};
      }
      if (held[who] &&
          held[who]->token().probe() != (expected[who]->in == model::state::half_open)) {
        return failure{step, "admitted as a probe or not, unlike the model"};
      }
      if (!held[who] && m.current() == model::state::open &&
          b.remaining_delay().count() != model::sat_sub(m.open_until(), now())) {
        return failure{step, "remaining_delay differs from the model"};
      }
    } else if (dice < 80) {  // a caller finishes
      if (!held[who]) continue;
      const std::uint64_t how = pick(rng, 20);
      const auto v = how < 9    ? model::verdict::success
                     : how < 16 ? model::verdict::failure
                     : how < 18 ? model::verdict::ignored
                                : model::verdict::dropped;
      switch (v) {
        case model::verdict::success:
          held[who]->record_success();
          break;
        case model::verdict::failure:
          held[who]->record_failure();
          break;
        case model::verdict::ignored:
          held[who]->record(resil::verdict::ignored);
          break;
        case model::verdict::dropped:
          break;
      }
      held[who].reset();
      m.complete(*expected[who], v, now());
      expected[who].reset();
    } else if (dice < 97) {  // time moves
      const std::int64_t od = c.open_duration;
      const std::array<std::int64_t, 7> jumps{0,        1, od - 1, od, 5'000'000, 1'000'000'000,
                                              ten_years};
      clock.advance(nanoseconds{jumps[pick(rng, jumps.size())]});
    } else {  // by hand
      switch (pick(rng, 3)) {
        case 0:
          b.force_open();
          m.force_open(now());
          break;
        case 1:
          b.close();
          m.close(now());
          break;
        default:
          b.reset();
          m.reset(now());
      }
    }
    // After every step: the metrics agree, probes stay within the limit (I1), events match the
    // transitions one for one (I3).
    const auto metrics = b.metrics();
    if (std::string diff = m.compare(metrics); !diff.empty()) return failure{step, diff};
    if (metrics.probes_in_flight > c.half_open_calls) return failure{step, "more probes than P"};
    if (listen) {
      if (moves.size() != m.transitions()) {
        return failure{step, "transition events " + std::to_string(moves.size()) +
                                 ", transitions " + std::to_string(m.transitions())};
      }
      if (m.current() != before &&
          (moves.back().first != before || moves.back().second != m.current())) {
        return failure{step, "the last transition event names the wrong states"};
      }
    }
  }
  // I2, no wedge: settle everyone, wait out the open state; P successful probes close it.
  for (std::size_t i = 0; i < callers; ++i) {
    if (held[i]) {
      held[i]->record_success();
      m.complete(*expected[i], model::verdict::success, now());
    }
  }
  if (m.current() == model::state::forced_open) {
    b.close();
    m.close(now());
  }
  // A closed window may still trip once on a success (failures already in it); after at most
  // window_size + P successes, each after the open duration, it is closed for good.
  for (std::uint32_t i = 0; i < c.window_size + 2 * c.half_open_calls + 2; ++i) {
    clock.advance(nanoseconds{c.open_duration});
    clock.advance(nanoseconds{c.max_half_open});
    if (auto p = b.try_acquire()) p->record_success();
  }
  if (b.state() != resil::circuit_state::closed) {
    return failure{steps, "wedged: " + std::string(resil::to_string(b.state())) +
                              " after the open duration and P successful probes"};
  }
  return std::nullopt;
}

std::optional<failure> bulkhead_seed(std::uint64_t seed, std::uint64_t steps) {
  resil::splitmix64 rng{seed};
  std::int64_t max = 1 + static_cast<std::int64_t>(pick(rng, 8));
  const std::size_t callers = 1 + pick(rng, 16);
  manual_clock clock{at(start_time(rng))};
  resil::basic_bulkhead<manual_clock> b{{.max_concurrent = max, .max_wait = 1ms}, clock};
  using permit = resil::basic_bulkhead<manual_clock>::permit_type;
  std::vector<std::optional<permit>> held(callers);
  std::int64_t used = 0;
  for (std::uint64_t step = 0; step < steps; ++step) {
    const std::size_t who = pick(rng, callers);
    const std::uint64_t dice = pick(rng, 100);
    if (dice < 45) {
      if (held[who]) continue;
      // acquire_for with a free slot (or none, and nobody to free one) answers without waiting
      // on a manual clock only when it need not wait: use it only when the model says so.
      held[who] = used < max && pick(rng, 2) == 0 ? b.acquire_for(1ms) : b.try_acquire();
      if (held[who].has_value() != (used < max)) return failure{step, "admission unlike model"};
      if (held[who]) ++used;
    } else if (dice < 90) {
      if (!held[who]) continue;
      switch (pick(rng, 4)) {
        case 0:
          held[who]->record_success();
          break;
        case 1:
          held[who]->record_failure();
          break;
        case 2:
          held[who]->release();
          break;
        default:
          break;  // dropped
      }
      held[who].reset();
      --used;
    } else if (dice < 95) {
      max = 1 + static_cast<std::int64_t>(pick(rng, 8));
      b.set_max_concurrent(max);
    } else {
      clock.advance(nanoseconds{static_cast<std::int64_t>(pick(rng, 2'000'000))});
    }
    const auto metrics = b.metrics();
    if (metrics.in_flight != used || metrics.max_concurrent != max ||
        metrics.available != (used < max ? max - used : 0) || metrics.waiting != 0) {
      return failure{step, "metrics: in_flight " + std::to_string(metrics.in_flight) + ", model " +
                               std::to_string(used)};
    }
  }
  return std::nullopt;
}

std::optional<failure> rate_limiter_seed(std::uint64_t seed, std::uint64_t steps) {
  resil::splitmix64 rng{seed};
  constexpr std::array<std::uint64_t, 4> permit_counts{1, 3, 10, 1000};
  constexpr std::array<std::int64_t, 3> periods{1'000, 1'000'000, 1'000'000'000};
  const std::uint64_t permits = permit_counts[pick(rng, permit_counts.size())];
  const std::int64_t period = std::max<std::int64_t>(periods[pick(rng, periods.size())],
                                                     static_cast<std::int64_t>(permits));
  const std::uint64_t burst = 1 + pick(rng, 20);
  const std::int64_t interval = period / static_cast<std::int64_t>(permits);
  // The log's times must stay ordered and the bound's arithmetic small: start at zero or low.
  manual_clock clock{at(static_cast<std::int64_t>(pick(rng, 1'000'000)))};
  resil::basic_rate_limiter<manual_clock> l{
      {.permits = permits, .period = nanoseconds{period}, .burst = burst}, clock};
  std::vector<resil_test::grant> log;
  const auto now = [&] { return clock.now().time_since_epoch().count(); };
  for (std::uint64_t step = 0; step < steps; ++step) {
    const std::uint64_t dice = pick(rng, 100);
    if (dice < 60) {
      const std::uint64_t n = pick(rng, burst + 2);  // 0 .. burst + 1
      const nanoseconds ra = l.retry_after(n);
      auto p = l.try_acquire(n);
      if (p.has_value() != (ra == nanoseconds::zero())) {
        return failure{step, "retry_after " + std::to_string(ra.count()) +
                                 " disagrees with try_acquire(" + std::to_string(n) + ")"};
      }
      if (n > burst && p) return failure{step, "granted more than the burst at once"};
      if (n > burst && ra != nanoseconds::max()) return failure{step, "n > burst must be never"};
      if (p) {
        if (n > 0) log.push_back({now(), n});
        continue;
      }
      if (n > burst) continue;
      // Liveness: after waiting retry_after, the same request is granted.
      clock.advance(ra);
      auto q = l.try_acquire(n);
      if (!q) return failure{step, "refused again after waiting retry_after"};
      log.push_back({now(), n});
    } else if (dice < 70) {
      const std::uint64_t n = 1 + pick(rng, burst);
      auto p = l.try_reserve(n, nanoseconds{interval * static_cast<std::int64_t>(pick(rng, 4))});
      if (!p) continue;
      if (pick(rng, 3) == 0) continue;  // dropped before its time: returned
      log.push_back({p->token().ready_at.time_since_epoch().count(), n});
      p->record_success();
    } else {
      const std::array<std::int64_t, 6> jumps{0, 1, interval - 1, interval, period, 10 * period};
      clock.advance(nanoseconds{jumps[pick(rng, jumps.size())]});
    }
  }
  resil_test::sort_log(log);
  const auto report = resil_test::check_gcra_bound(log, permits, period, burst);
  if (!report.ok) return failure{steps, "I7: " + report.describe()};
  return std::nullopt;
}

}  // namespace

TEST_CASE(
    "simulation: circuit_breaker agrees with a naive model after every step, for thousands "
    "of seeds",
    "[simulation][circuit_breaker]") {
  const auto f = resil_sim::figures::from_env(2'000, 2'000);
  CHECK(resil_sim::run("circuit_breaker", f, breaker_seed) == 0);
}

TEST_CASE("simulation: bulkhead agrees with a naive counter after every step",
          "[simulation][bulkhead]") {
  const auto f = resil_sim::figures::from_env(1'000, 2'000);
  CHECK(resil_sim::run("bulkhead", f, bulkhead_seed) == 0);
}

TEST_CASE(
    "simulation: rate_limiter keeps the window bound, its retry_after is exact and a refused "
    "caller is granted after waiting it",
    "[simulation][rate_limiter]") {
  const auto f = resil_sim::figures::from_env(1'000, 2'000);
  CHECK(resil_sim::run("rate_limiter", f, rate_limiter_seed) == 0);
}
