// Small policies written against the public policy protocol, for testing composition without
// depending on the built-in policies. They double as proof that users can write their own.
// SPDX-License-Identifier: MIT
#pragma once

#include <resil/compose.hpp>
#include <resil/core/clock.hpp>

#include <atomic>
#include <string>
#include <vector>

namespace resil_test {

/// Counts calls and their outcomes; calls the rest of the pipeline once.
struct counting_policy : resil::policy_base<counting_policy> {
  std::atomic<int> calls{0};
  std::atomic<int> values{0};
  std::atomic<int> failures{0};

  template <class R, class Next>
  resil::outcome<R> invoke(resil::context& ctx, Next&& next) {
    ++calls;
    auto r = next(ctx);
    if (r.has_value()) {
      ++values;
    } else {
      ++failures;
    }
    return r;
  }
};

/// Appends its name to a trace on the way in and on the way out.
struct tracing_policy : resil::policy_base<tracing_policy> {
  std::string name;
  std::vector<std::string>* trace;

  tracing_policy(std::string n, std::vector<std::string>& t) : name(std::move(n)), trace(&t) {}

  template <class R, class Next>
  resil::outcome<R> invoke(resil::context& ctx, Next&& next) {
    trace->push_back(name + ">");
    auto r = next(ctx);
    trace->push_back("<" + name);
    return r;
  }
};

/// Refuses every call with an error code and never calls the rest of the pipeline.
struct rejecting_policy : resil::policy_base<rejecting_policy> {
  resil::errc code = resil::errc::bulkhead_full;

  template <class R, class Next>
  resil::outcome<R> invoke(resil::context&, Next&&) {
    return resil::outcome<R>::from_error(code, std::chrono::milliseconds{250});
  }
};

/// Calls the rest of the pipeline `times` times (a minimal retry), returning the last outcome.
struct repeating_policy : resil::policy_base<repeating_policy> {
  static constexpr bool repeats_call = true;
  int times = 2;

  template <class R, class Next>
  resil::outcome<R> invoke(resil::context& ctx, Next&& next) {
    for (int i = 1;; ++i) {
      ctx.set_attempt(static_cast<std::uint32_t>(i));
      ctx.reset_start_time();
      auto r = next(ctx);
      if (i == times) return r;
    }
  }
};

/// Sets a deadline `budget` after the attempt's start on a manual clock (a minimal timeout).
struct deadline_policy : resil::policy_base<deadline_policy> {
  resil::manual_clock clock;
  resil::nanoseconds budget;

  template <class R, class Next>
  resil::outcome<R> invoke(resil::context& ctx, Next&& next) {
    const auto saved = ctx.save_deadline();
    ctx.tighten_deadline(clock, resil::saturating_add(ctx.start_time(clock), budget));
    auto r = next(ctx);
    ctx.restore_deadline(saved);
    return r;
  }
};

}  // namespace resil_test
