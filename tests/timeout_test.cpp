// Tests for resil/timeout.hpp: deadlines in the context, stop tokens fired by the shared timer,
// late results, per-attempt and total timeouts (inside and outside a retry), and the bulkhead
// permit held until the callable returns (Hystrix #1867).
// SPDX-License-Identifier: MIT
#include <resil/bulkhead.hpp>
#include <resil/compose.hpp>
#include <resil/timeout.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <functional>
#include <latch>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "support/counting_clock.hpp"
#include "support/enum_names.hpp"
#include "support/test_policies.hpp"

using namespace std::chrono_literals;
using resil::errc;
using resil::manual_clock;
using resil::timeout_options;
using manual_timeout = resil::basic_timeout<manual_clock>;

namespace {

// The timer thread waits on the clock too, so "n callers waiting" is n + 1 waits.
void until_waiting(const manual_clock& clock, std::size_t n) {
  while (clock.waiting() < n) std::this_thread::yield();
}

// A cooperative callable: blocks until its stop token fires, on the pipeline's clock.
struct wait_for_stop {
  manual_clock clock;
  std::atomic<bool>* stopped = nullptr;
  int operator()(resil::context& ctx) const {
    resil::waiter w;
    const auto status = clock.wait_until(w, manual_clock::time_point::max(), ctx.stop_token());
    if (stopped != nullptr) *stopped = status == resil::wait_status::stopped;
    return 1;
  }
};

}  // namespace

TEST_CASE("timeout: options have the documented default", "[timeout]") {
  const timeout_options o;
  CHECK(o.duration == 30s);
  CHECK_FALSE(o.validate());
  const resil::timeout t{o};
  CHECK(t.duration() == 30s);
  CHECK_FALSE(t.timer_started());  // lazily started
}

TEST_CASE("timeout: a zero or negative duration throws config_error; max() means no timeout",
          "[timeout]") {
  const auto error_of = [](resil::nanoseconds d) {
    try {
      const resil::timeout t{{.duration = d}};
    } catch (const resil::config_error& e) {
      return e.field() + " | " + e.what();
    }
    return std::string("no error");
  };
  CHECK(error_of(0ns) ==
        "timeout_options.duration | resil: timeout_options.duration = 0ns is invalid: must be "
        "positive");
  CHECK(error_of(-1s).starts_with("timeout_options.duration |"));
  CHECK(error_of(resil::nanoseconds::min()).starts_with("timeout_options.duration |"));
  CHECK(error_of(resil::nanoseconds::max()) == "no error");
  CHECK(error_of(1ns) == "no error");
}

TEST_CASE("timeout: a call that returns in time keeps its value and sees its deadline",
          "[timeout]") {
  manual_clock clock;
  manual_timeout t{{.duration = 2s}, clock};
  const auto r = t.try_execute([&](resil::context& ctx) {
    CHECK(ctx.has_deadline());
    CHECK(ctx.remaining() == 2s);
    CHECK(ctx.deadline(clock) == manual_clock::time_point{2s});
    CHECK(ctx.stop_token().stop_possible());
    CHECK_FALSE(ctx.stop_requested());
    clock.advance(1999ms);
    return 7;
  });
  CHECK(r.value() == 7);
  CHECK(t.timer_started());
}

TEST_CASE("timeout: a cooperative callable is stopped when the clock passes the deadline",
          "[timeout]") {
  manual_clock clock;
  manual_timeout t{{.duration = 2s}, clock};
  std::atomic<bool> stopped{false};
  resil::outcome<int> r{0};
  std::thread caller([&] { r = t.try_execute(wait_for_stop{clock, &stopped}); });
  until_waiting(clock, 2);
  clock.advance(1s);
  CHECK_FALSE(stopped);
  clock.advance(1s);
  caller.join();
  CHECK(stopped);
  CHECK(r.error() == errc::timeout);
}

TEST_CASE("timeout: execute throws timeout_error", "[timeout]") {
  manual_clock clock;
  manual_timeout t{{.duration = 2s}, clock};
  CHECK_THROWS_AS(t.execute([&] {
    clock.advance(3s);
    return 1;
  }),
                  resil::timeout_error);
}

TEST_CASE(
    "timeout: a value, an exception or an error that arrives after the deadline is "
    "reported as a timeout",
    "[timeout]") {
  manual_clock clock;
  manual_timeout t{{.duration = 1s}, clock};
  CHECK(t.try_execute([&] {
           clock.advance(1s);
           return 1;
         }).error() == errc::timeout);
  CHECK(t.try_execute([&]() -> int {
           clock.advance(5s);
           throw std::runtime_error("late");
         }).error() == errc::timeout);
  CHECK(t.try_execute([&] {
           clock.advance(2s);
           return resil::outcome<int>::from_error(errc::cancelled);
         }).error() == errc::timeout);
  // Before the deadline, failures pass through unchanged.
  CHECK(t.try_execute([&]() -> int { throw std::runtime_error("early"); }).has_exception());
}

TEST_CASE("timeout: the deadline is the earlier of an enclosing deadline and its own",
          "[timeout]") {
  manual_clock clock;
  manual_timeout t{{.duration = 5s}, clock};
  resil_test::deadline_policy tight{{}, clock, 1s};
  resil_test::deadline_policy loose{{}, clock, 10s};
  resil::nanoseconds seen{};
  const auto probe = [&](resil::context& ctx) {
    seen = ctx.remaining();
    return 0;
  };
  (void)resil::compose(tight, t).try_execute(probe);
  CHECK(seen == 1s);
  (void)resil::compose(loose, t).try_execute(probe);
  CHECK(seen == 5s);
  // A timeout inside a timeout never extends the outer deadline.
  manual_timeout inner{{.duration = 30s}, clock};
  (void)resil::compose(t, inner).try_execute(probe);
  CHECK(seen == 5s);
}

TEST_CASE("timeout: an enclosing deadline that already passed fails the call without running it",
          "[timeout]") {
  manual_clock clock;
  manual_timeout t{{.duration = 5s}, clock};
  resil::context ctx;
  ctx.tighten_deadline(clock, clock.now() - 1s);
  int calls = 0;
  CHECK(t.try_execute_in(ctx, [&] { return ++calls; }).error() == errc::timeout);
  CHECK(calls == 0);
}

TEST_CASE("timeout: the caller's deadline and stop token are restored after the call",
          "[timeout]") {
  manual_clock clock;
  manual_timeout t{{.duration = 5s}, clock};
  std::stop_source outer;
  resil::context ctx{outer.get_token()};
  ctx.tighten_deadline(clock, manual_clock::time_point{1h});
  std::stop_token inner_token;
  (void)t.try_execute_in(ctx, [&](resil::context& c) {
    inner_token = c.stop_token();
    return 0;
  });
  CHECK(inner_token != outer.get_token());
  CHECK(ctx.stop_token() == outer.get_token());
  CHECK(ctx.deadline(clock) == manual_clock::time_point{1h});
}

TEST_CASE("timeout: a stop of the enclosing token reaches the callable", "[timeout]") {
  manual_clock clock;
  manual_timeout t{{.duration = 1h}, clock};
  std::stop_source outer;
  std::atomic<bool> stopped{false};
  resil::outcome<int> r{0};
  std::thread caller([&] {
    resil::context ctx{outer.get_token()};
    r = t.try_execute_in(ctx, wait_for_stop{clock, &stopped});
  });
  until_waiting(clock, 2);
  outer.request_stop();
  caller.join();
  CHECK(stopped);
  CHECK(r.value() == 1);  // not a timeout: the deadline has not passed
  // An enclosing token already stopped reaches the callable at once.
  resil::context stopped_ctx{outer.get_token()};
  CHECK(
      t.try_execute_in(stopped_ctx, [](resil::context& c) { return c.stop_requested(); }).value());
}

TEST_CASE("timeout: inside a retry it limits each attempt (per-attempt timeout)", "[timeout]") {
  manual_clock clock;
  manual_timeout per_attempt{{.duration = 1s}, clock};
  resil_test::repeating_policy retry;
  retry.times = 3;
  std::vector<resil::nanoseconds> budgets;
  int timeouts = 0;
  per_attempt.events().subscribe([&](const resil::timeout_event&) { ++timeouts; });
  auto pipeline = resil::compose(retry, per_attempt);
  const auto r = pipeline.try_execute([&](resil::context& ctx) {
    budgets.push_back(ctx.remaining());
    clock.advance(ctx.attempt() < 3 ? 2s : 500ms);  // the first two attempts overrun
    return static_cast<int>(ctx.attempt());
  });
  CHECK(budgets == std::vector<resil::nanoseconds>{1s, 1s, 1s});
  CHECK(r.value() == 3);
  CHECK(timeouts == 2);
  CHECK(clock.now() == manual_clock::time_point{4500ms});
}

TEST_CASE("timeout: outside a retry one deadline covers every attempt (total timeout)",
          "[timeout]") {
  manual_clock clock;
  manual_timeout total{{.duration = 5s}, clock};
  resil_test::repeating_policy retry;
  retry.times = 3;
  std::vector<resil::nanoseconds> budgets;
  auto pipeline = resil::compose(total, retry);
  const auto r = pipeline.try_execute([&](resil::context& ctx) {
    budgets.push_back(ctx.remaining());
    clock.advance(2s);
    return 1;
  });
  CHECK(budgets == std::vector<resil::nanoseconds>{5s, 3s, 1s});
  CHECK(r.error() == errc::timeout);  // the third attempt ended at 6 s
}

TEST_CASE("timeout: a total and a per-attempt timeout combine", "[timeout]") {
  manual_clock clock;
  manual_timeout total{{.duration = 2500ms}, clock};
  manual_timeout per_attempt{{.duration = 1s}, clock};
  resil_test::repeating_policy retry;
  retry.times = 3;
  std::vector<resil::nanoseconds> budgets;
  const auto r = resil::compose(total, retry, per_attempt).try_execute([&](resil::context& ctx) {
    budgets.push_back(ctx.remaining());
    clock.advance(1s);
    return 1;
  });
  CHECK(budgets == std::vector<resil::nanoseconds>{1s, 1s, 500ms});
  CHECK(r.error() == errc::timeout);
}

TEST_CASE("timeout: calls with different deadlines on one clock are stopped in deadline order",
          "[timeout]") {
  manual_clock clock;
  manual_timeout one{{.duration = 1s}, clock};
  manual_timeout two{{.duration = 2s}, clock};
  manual_timeout three{{.duration = 3s}, clock};
  std::atomic<bool> s1{false};
  std::atomic<bool> s2{false};
  std::atomic<bool> s3{false};
  std::thread a([&] { (void)three.try_execute(wait_for_stop{clock, &s3}); });
  std::thread b([&] { (void)one.try_execute(wait_for_stop{clock, &s1}); });
  std::thread c([&] { (void)two.try_execute(wait_for_stop{clock, &s2}); });
  until_waiting(clock, 4);
  CHECK(one.timer_started());
  CHECK(three.timer_started());  // one shared timer serves all three
  clock.advance(1s);
  b.join();
  CHECK(s1);
  CHECK_FALSE(s2);
  CHECK_FALSE(s3);
  clock.advance(1s);
  c.join();
  CHECK(s2);
  CHECK_FALSE(s3);
  clock.advance(1s);
  a.join();
  CHECK(s3);
}

TEST_CASE("timeout: a bulkhead wait inside the timeout ends at the deadline", "[timeout]") {
  manual_clock clock;
  manual_timeout t{{.duration = 1s}, clock};
  resil::basic_bulkhead<manual_clock> b{{.max_concurrent = 1, .max_wait = 1h}, clock};
  auto pipeline = resil::compose(t, b);
  auto held = b.try_acquire();
  resil::outcome<int> r{0};
  std::thread caller([&] { r = pipeline.try_execute([] { return 1; }); });
  until_waiting(clock, 2);
  clock.advance(1s);
  caller.join();
  CHECK(r.error() == errc::timeout);
  CHECK(b.metrics().waiting == 0);
  held.reset();
  CHECK(b.available() == 1);
}

TEST_CASE(
    "bulkhead: a timeout does not release the slot while the callable still runs "
    "(Hystrix #1867)",
    "[bulkhead][timeout]") {
  manual_clock clock;
  manual_timeout t{{.duration = 1s}, clock};
  resil::basic_bulkhead<manual_clock> b{{.max_concurrent = 1}, clock};
  auto pipeline = resil::compose(t, b);
  std::atomic<bool> running{false};
  std::atomic<bool> saw_stop{false};
  std::latch finish{1};
  resil::outcome<int> r{0};
  std::thread caller([&] {
    r = pipeline.try_execute([&](resil::context& ctx) {
      running = true;
      while (!ctx.stop_requested()) std::this_thread::yield();
      saw_stop = true;
      finish.wait();  // a callable that does not stop when asked
      return 1;
    });
  });
  while (!running) std::this_thread::yield();
  clock.advance(2s);
  while (!saw_stop) std::this_thread::yield();
  // The deadline passed and the stop was requested, but the call still runs: its slot is held.
  CHECK(b.available() == 0);
  CHECK_FALSE(b.try_acquire());
  CHECK(pipeline.try_execute([] { return 2; }).error() == errc::bulkhead_full);
  CHECK(b.try_execute([] { return 2; }).error() == errc::bulkhead_full);
  finish.count_down();
  caller.join();
  CHECK(r.error() == errc::timeout);
  CHECK(b.available() == 1);
}

TEST_CASE("timeout: duration max() disables it: no clock read, no timer, no deadline",
          "[timeout]") {
  resil_test::counting_clock clock;
  resil::basic_timeout<resil_test::counting_clock> t{{.duration = resil::nanoseconds::max()},
                                                     clock};
  const auto r = t.try_execute([](resil::context& ctx) { return ctx.has_deadline(); });
  CHECK_FALSE(r.value());
  CHECK(clock.reads() == 0);
  CHECK_FALSE(t.timer_started());
}

TEST_CASE("timeout: a timed call reads the clock once at its start and once at its end",
          "[timeout]") {
  resil_test::counting_clock clock;
  resil::basic_timeout<resil_test::counting_clock> t{{.duration = 1h}, clock};
  // A call in flight on another thread keeps the timer asleep until its deadline (1 h), so the
  // timer thread reads no clock while this thread calls.
  std::thread other([&] { (void)t.try_execute(wait_for_stop{clock.timeline()}); });
  while (clock.timeline().waiting() < 2) std::this_thread::yield();
  const auto before = clock.reads();
  CHECK(t.try_execute([] { return 1; }).value() == 1);
  CHECK(clock.reads() - before == 2);
  clock.timeline().advance(1h);
  other.join();
}

TEST_CASE("timeout: a stop source that was stopped is never handed to a later call", "[timeout]") {
  manual_clock clock;
  manual_timeout t{{.duration = 1s}, clock};
  for (int i = 0; i < 3; ++i) {
    std::thread caller([&] {
      CHECK_FALSE(t.try_execute([](resil::context& c) { return c.stop_requested(); }).value());
      CHECK(t.try_execute(wait_for_stop{clock}).error() == errc::timeout);
      CHECK_FALSE(t.try_execute([](resil::context& c) { return c.stop_requested(); }).value());
    });
    until_waiting(clock, 2);
    clock.advance(1s);
    caller.join();
  }
  // The same on one thread with a late value (the timer may not even have fired yet).
  CHECK(t.try_execute([&] {
           clock.advance(2s);
           return 1;
         }).error() == errc::timeout);
  CHECK_FALSE(t.try_execute([](resil::context& c) { return c.stop_requested(); }).value());
}

TEST_CASE("timeout: timeouts nested deeper than the per-thread cache of stop sources work",
          "[timeout]") {
  manual_clock clock;
  manual_timeout t{{.duration = 10s}, clock};
  std::function<int(resil::context&, int)> nest = [&](resil::context& ctx, int depth) -> int {
    if (depth == 12) {
      CHECK(ctx.remaining() == 10s);
      return ctx.stop_requested() ? -1 : depth;
    }
    return t.execute(nest, depth + 1);
  };
  CHECK(t.execute(nest, 1) == 12);
  std::function<int(resil::context&, int)> late = [&](resil::context& /*ctx*/, int depth) -> int {
    if (depth == 12) clock.advance(11s);
    return depth == 12 ? 1 : t.try_execute(late, depth + 1).value_or(-depth);
  };
  CHECK(t.try_execute(late, 1).error() == errc::timeout);
}

TEST_CASE("timeout: a throwing listener's exception becomes the outcome", "[timeout]") {
  manual_clock clock;
  manual_timeout t{{.duration = 1s}, clock};
  t.events().subscribe([](const resil::timeout_event&) { throw std::runtime_error("listener"); });
  const auto r = t.try_execute([&] {
    clock.advance(1s);
    return 1;
  });
  CHECK(r.has_exception());
  CHECK(t.try_execute([] { return 2; }).value() == 2);
}

TEST_CASE("timeout: events report the budget and the elapsed time", "[timeout]") {
  manual_clock clock;
  manual_timeout t{{.duration = 3s}, clock};
  resil_test::deadline_policy enclosing{{}, clock, 2s};
  std::vector<resil::timeout_event> seen;
  t.events().subscribe([&](const resil::timeout_event& e) { seen.push_back(e); });
  (void)t.try_execute([&] {
    clock.advance(4s);
    return 1;
  });
  (void)resil::compose(enclosing, t).try_execute([&] {
    clock.advance(2500ms);
    return 1;
  });
  (void)t.try_execute([] { return 1; });
  REQUIRE(seen.size() == 2);
  CHECK(seen[0].kind == resil::timeout_event_kind::timed_out);
  CHECK(seen[0].budget == 3s);
  CHECK(seen[0].elapsed == 4s);
  CHECK(seen[1].budget == 2s);
  CHECK(seen[1].elapsed == 2500ms);
}

TEST_CASE("timeout: timeouts come and go while their shared timer serves calls", "[timeout]") {
  manual_clock clock;
  auto keeper = std::make_unique<manual_timeout>(timeout_options{.duration = 1s}, clock);
  for (int i = 0; i < 20; ++i) {
    const manual_timeout t{{.duration = 1s}, clock};
    CHECK(t.timer_started() == (i > 0));  // the first call starts it; the keeper keeps it
    (void)keeper->try_execute([] { return 1; });
  }
  keeper.reset();  // the last holder joins the thread
  const manual_timeout fresh{{.duration = 1s}, clock};
  CHECK_FALSE(fresh.timer_started());
}

// Real time, several threads: every call either returns in time with its value or is stopped
// and reported as a timeout; the timer never stops a call that already returned.
TEST_CASE("timeout: concurrent calls on the steady clock are stopped at their deadlines",
          "[timeout][stress]") {
  resil::timeout t{{.duration = 300us}};
  std::atomic<int> values{0};
  std::atomic<int> timeouts{0};
  std::atomic<bool> wrong{false};
  std::vector<std::thread> threads;
  for (int w = 0; w < 4; ++w) {
    threads.emplace_back([&, w] {
      std::minstd_rand rng{static_cast<unsigned>(w + 11)};
      for (int i = 0; i < 300; ++i) {
        const auto work = std::chrono::microseconds{rng() % 600};
        const auto r = t.try_execute([&](resil::context& ctx) {
          resil::waiter w2;
          const auto status = resil::steady_clock::wait_until(w2, resil::steady_clock::now() + work,
                                                              ctx.stop_token());
          return status == resil::wait_status::stopped;
        });
        if (r.has_value()) {
          ++values;
          if (r.value()) wrong = true;  // stopped, yet reported in time
        } else {
          ++timeouts;
          if (r.error() != errc::timeout) wrong = true;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK_FALSE(wrong);
  CHECK(values + timeouts == 1200);
  CHECK(timeouts > 0);
  CHECK(values > 0);
}

TEST_CASE("timeout: event kinds are named as their enumerators", "[timeout]") {
  CHECK(resil_test::enum_names<resil::timeout_event_kind>(1) ==
        std::vector<std::string_view>{"timed_out"});
  CHECK(to_string(static_cast<resil::timeout_event_kind>(1)) == "unknown");
}
