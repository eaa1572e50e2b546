// Tests for resil/core/context.hpp.
// SPDX-License-Identifier: MIT
#include <resil/core/classify.hpp>
#include <resil/core/context.hpp>

#include <catch2/catch.hpp>

using namespace std::chrono_literals;
using resil::manual_clock;

TEST_CASE("context: a new context has no deadline, no stop token and attempt 1", "[context]") {
  const resil::context ctx;
  CHECK_FALSE(ctx.has_deadline());
  CHECK(ctx.remaining() == resil::nanoseconds::max());
  CHECK_FALSE(ctx.stop_token().stop_possible());
  CHECK_FALSE(ctx.stop_requested());
  CHECK(ctx.attempt() == 1);
  CHECK(ctx.classifier_override() == nullptr);
}

TEST_CASE("context: remaining() counts down on the deadline's clock and stops at zero",
          "[context]") {
  manual_clock clock;
  resil::context ctx;
  ctx.tighten_deadline(clock, clock.now() + 2s);
  CHECK(ctx.has_deadline());
  CHECK(ctx.remaining() == 2s);
  clock.advance(1500ms);
  CHECK(ctx.remaining() == 500ms);
  clock.advance(1h);
  CHECK(ctx.remaining() == 0s);
}

TEST_CASE("context: tighten_deadline keeps the earlier of two deadlines", "[context]") {
  manual_clock clock;
  resil::context ctx;
  ctx.tighten_deadline(clock, manual_clock::time_point{5s});
  ctx.tighten_deadline(clock, manual_clock::time_point{9s});
  CHECK(ctx.deadline(clock) == manual_clock::time_point{5s});
  ctx.tighten_deadline(clock, manual_clock::time_point{3s});
  CHECK(ctx.deadline(clock) == manual_clock::time_point{3s});
}

TEST_CASE("context: a deadline set on one clock is read on another as the time remaining",
          "[context]") {
  manual_clock a{manual_clock::time_point{100s}};
  manual_clock b{manual_clock::time_point{7s}};
  resil::context ctx;
  ctx.tighten_deadline(a, a.now() + 4s);
  CHECK(ctx.deadline(b) == manual_clock::time_point{11s});
  CHECK(ctx.deadline(a) == manual_clock::time_point{104s});
  // A later deadline on the other clock does not loosen it.
  ctx.tighten_deadline(b, manual_clock::time_point{20s});
  CHECK(ctx.deadline(a) == manual_clock::time_point{104s});
}

TEST_CASE("context: no deadline reads as time_point::max() on any clock", "[context]") {
  const resil::context ctx;
  CHECK(ctx.deadline(manual_clock{}) == manual_clock::time_point::max());
  CHECK(ctx.deadline(resil::steady_clock{}) == resil::steady_clock::time_point::max());
}

TEST_CASE("context: save and restore undo a scope's deadline", "[context]") {
  manual_clock clock;
  resil::context ctx;
  const auto outer = ctx.save_deadline();
  ctx.tighten_deadline(clock, manual_clock::time_point{1s});
  CHECK(ctx.has_deadline());
  ctx.restore_deadline(outer);
  CHECK_FALSE(ctx.has_deadline());
}

TEST_CASE("context: start_time reads each clock once per attempt", "[context]") {
  manual_clock clock{manual_clock::time_point{1s}};
  resil::context ctx;
  CHECK(ctx.start_time(clock) == manual_clock::time_point{1s});
  clock.advance(5s);
  CHECK(ctx.start_time(clock) == manual_clock::time_point{1s});  // cached for this attempt
  ctx.reset_start_time();
  CHECK(ctx.start_time(clock) == manual_clock::time_point{6s});
  manual_clock other{manual_clock::time_point{50s}};
  CHECK(ctx.start_time(other) == manual_clock::time_point{50s});  // another timeline
}

TEST_CASE("context: the stop token and attempt number are what policies set", "[context]") {
  std::stop_source stop;
  resil::context ctx{stop.get_token()};
  CHECK_FALSE(ctx.stop_requested());
  stop.request_stop();
  CHECK(ctx.stop_requested());
  ctx.set_attempt(3);
  CHECK(ctx.attempt() == 3);
  std::stop_source other;
  ctx.set_stop_token(other.get_token());
  CHECK_FALSE(ctx.stop_requested());
}

TEST_CASE("context: a per-call classifier overrides the policy's own", "[context]") {
  const resil::classifier own;
  const auto per_call = resil::classifier{}.ignore<std::runtime_error>();
  resil::context ctx;
  CHECK(&ctx.effective_classifier(own) == &own);
  ctx.override_classifier(&per_call);
  CHECK(&ctx.effective_classifier(own) == &per_call);
}
