// The bad-input table (reliability.md (d)) across policies: every invalid option is a
// resil::config_error naming the field, at construction, never undefined behaviour.
// SPDX-License-Identifier: MIT
#include <resil/resil.hpp>

#include <catch2/catch.hpp>

#include <csignal>
#include <cstdio>
#include <limits>
#include <memory>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <thread>
#include <type_traits>

#if defined(__unix__)
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

using namespace std::chrono_literals;

namespace {

const double qnan = std::numeric_limits<double>::quiet_NaN();
const double pinf = std::numeric_limits<double>::infinity();
using fsec = std::chrono::duration<double>;

// Runs `make` and returns the field of the config_error it throws ("" if it does not throw).
template <class F>
std::string field_of(F make) {
  try {
    make();
  } catch (const resil::config_error& e) {
    return e.field();
  }
  return "";
}

}  // namespace

TEST_CASE("bad_input: time_span converts any duration without overflow", "[bad_input]") {
  const resil::time_span ok = 250ms;
  CHECK(ok.fits());
  CHECK(ok == 250ms);
  const resil::time_span huge = std::chrono::hours::max();
  CHECK_FALSE(huge.fits());
  CHECK(huge == resil::nanoseconds::max());
  const resil::time_span not_a_number = fsec{qnan};
  CHECK_FALSE(not_a_number.fits());
  CHECK(not_a_number == 0ns);
  CHECK_FALSE(resil::time_span{fsec{-pinf}}.fits());
  CHECK(resil::time_span{resil::nanoseconds::max()}.fits());  // "forever" is representable
}

TEST_CASE(
    "bad_input: a duration option of hours::max() is a config_error, not an overflow (R4j "
    "#1701)",
    "[bad_input]") {
  const auto forever = std::chrono::hours::max();
  CHECK(field_of([&] { resil::timeout t{{.duration = forever}}; }) == "timeout_options.duration");
  CHECK(field_of([&] { resil::bulkhead b{{.max_wait = forever}}; }) == "bulkhead_options.max_wait");
  CHECK(field_of([&] { resil::rate_limiter r{{.period = forever}}; }) ==
        "rate_limiter_options.period");
  CHECK(field_of([&] { resil::rate_limiter r{{.max_wait = forever}}; }) ==
        "rate_limiter_options.max_wait");
  CHECK(field_of([&] { resil::retry r{{.max_total_duration = forever}}; }) ==
        "retry_options.max_total_duration");
  CHECK(field_of([&] { resil::retry r{{.max_delay = forever}}; }) == "retry_options.max_delay");
  CHECK(field_of([&] {
          resil::retry r{{.backoff = resil::backoff::exponential(1ms, 2.0, forever)}};
        }) == "retry_options.backoff.durations");
  CHECK(field_of([&] { resil::chaos_latency l{{}, forever}; }) == "chaos_latency.latency");
  CHECK(field_of([&] { resil::circuit_breaker b{{.open_duration = forever}}; }) ==
        "circuit_breaker_options.open_duration");
  CHECK(field_of([&] { resil::circuit_breaker b{{.slow_call_duration = forever}}; }) ==
        "circuit_breaker_options.slow_call_duration");
  CHECK(field_of([&] {
          resil::chaos_fault f{{.schedule = {{0s, forever, 1.0}}}, resil::errc::timeout};
        }) == "chaos_fault_options.schedule.until");
  resil::health_registry health;
  CHECK(field_of([&] { health.add("x", [] { return true; }, {.interval = forever}); }) ==
        "health_check_options.interval");
}

TEST_CASE("bad_input: NaN and infinite floating-point durations are config_errors", "[bad_input]") {
  CHECK(field_of([] { resil::timeout t{{.duration = fsec{qnan}}}; }) == "timeout_options.duration");
  CHECK(field_of([] { resil::bulkhead b{{.max_wait = fsec{pinf}}}; }) ==
        "bulkhead_options.max_wait");
  CHECK(field_of([] { resil::rate_limiter r{{.period = fsec{qnan}}}; }) ==
        "rate_limiter_options.period");
  CHECK(field_of([] { resil::retry r{{.backoff = resil::backoff::constant(fsec{qnan})}}; }) ==
        "retry_options.backoff.durations");
}

TEST_CASE("bad_input: nanoseconds::max() still means no limit where documented", "[bad_input]") {
  CHECK_NOTHROW(resil::timeout{{.duration = resil::nanoseconds::max()}});
  CHECK_NOTHROW(resil::bulkhead{{.max_wait = resil::nanoseconds::max()}});
  CHECK_NOTHROW(resil::retry{{.max_total_duration = resil::nanoseconds::max()}});
}

TEST_CASE("bad_input: negative and zero durations are rejected with their field", "[bad_input]") {
  CHECK(field_of([] { resil::timeout t{{.duration = 0s}}; }) == "timeout_options.duration");
  CHECK(field_of([] { resil::timeout t{{.duration = -1s}}; }) == "timeout_options.duration");
  CHECK(field_of([] { resil::bulkhead b{{.max_wait = -1ms}}; }) == "bulkhead_options.max_wait");
  CHECK(field_of([] { resil::rate_limiter r{{.period = 0s}}; }) == "rate_limiter_options.period");
  CHECK(field_of([] { resil::retry r{{.max_total_duration = 0s}}; }) ==
        "retry_options.max_total_duration");
  CHECK(field_of([] { resil::retry r{{.backoff = resil::backoff::constant(-1ms)}}; }) ==
        "retry_options.backoff.base");
}

TEST_CASE("bad_input: counts of zero are rejected with their field", "[bad_input]") {
  CHECK(field_of([] { resil::retry r{{.max_attempts = 0}}; }) == "retry_options.max_attempts");
  CHECK(field_of([] { resil::bulkhead b{{.max_concurrent = 0}}; }) ==
        "bulkhead_options.max_concurrent");
  CHECK(field_of([] { resil::rate_limiter r{{.permits = 0}}; }) == "rate_limiter_options.permits");
  CHECK(field_of([] { resil::rate_limiter r{{.burst = 0}}; }) == "rate_limiter_options.burst");
}

TEST_CASE("bad_input: rates outside their range, NaN included, are rejected", "[bad_input]") {
  CHECK(field_of([] {
          resil::chaos_fault f{{.injection_rate = qnan}, resil::errc::timeout};
        }) == "chaos_fault_options.injection_rate");
  CHECK(field_of([] { resil::retry r{{.backoff = resil::backoff::exponential(1ms, qnan, 1s)}}; }) ==
        "retry_options.backoff.multiplier");
  CHECK(field_of([] { resil::retry r{{.backoff = resil::backoff::constant(1s).jitter(2.0)}}; }) ==
        "retry_options.backoff.jitter_factor");
}

// -- The remaining rows of reliability.md (d), one test case each ------------------------------

TEST_CASE("bad_input: breaker rate thresholds at 0, above 1, NaN or infinite are config_errors",
          "[bad_input]") {
  for (const double bad : {0.0, -0.1, 1.0001, qnan, pinf, -pinf}) {
    CHECK(field_of([&] { resil::circuit_breaker b{{.failure_rate_threshold = bad}}; }) ==
          "circuit_breaker_options.failure_rate_threshold");
    CHECK(field_of([&] { resil::circuit_breaker b{{.slow_call_rate_threshold = bad}}; }) ==
          "circuit_breaker_options.slow_call_rate_threshold");
  }
  CHECK_NOTHROW(resil::circuit_breaker{{.failure_rate_threshold = 1.0}});
}

TEST_CASE("bad_input: a window of size 0 is a config_error and size 1 works (R4j #2379)",
          "[bad_input]") {
  CHECK(field_of([] { resil::circuit_breaker b{{.window_size = 0, .minimum_calls = 1}}; }) ==
        "circuit_breaker_options.window_size");
  resil::manual_clock clock;
  resil::basic_circuit_breaker<resil::manual_clock> b{
      {.window_size = 1, .minimum_calls = 1, .open_duration = 1s}, clock};
  (void)b.try_execute([]() -> int { throw 1; });
  CHECK(b.state() == resil::circuit_state::open);
}

TEST_CASE("bad_input: minimum_calls of 0 or above a count window's size is a config_error",
          "[bad_input]") {
  CHECK(field_of([] { resil::circuit_breaker b{{.minimum_calls = 0}}; }) ==
        "circuit_breaker_options.minimum_calls");
  CHECK(field_of([] { resil::circuit_breaker b{{.window_size = 10, .minimum_calls = 11}}; }) ==
        "circuit_breaker_options.minimum_calls");
}

TEST_CASE("bad_input: zero half-open calls is a config_error (it would wedge half-open)",
          "[bad_input]") {
  CHECK(field_of([] { resil::circuit_breaker b{{.half_open_calls = 0}}; }) ==
        "circuit_breaker_options.half_open_calls");
}

TEST_CASE("bad_input: an open duration of zero or less is a config_error", "[bad_input]") {
  CHECK(field_of([] { resil::circuit_breaker b{{.open_duration = 0s}}; }) ==
        "circuit_breaker_options.open_duration");
  CHECK(field_of([] { resil::circuit_breaker b{{.open_duration = -1ns}}; }) ==
        "circuit_breaker_options.open_duration");
}

TEST_CASE(
    "bad_input: an open duration of nanoseconds::max() saturates the deadline at the end of "
    "time",
    "[bad_input]") {
  resil::manual_clock clock{resil::manual_clock::time_point{1h}};
  resil::basic_circuit_breaker<resil::manual_clock> b{
      {.window_size = 1, .minimum_calls = 1, .open_duration = resil::nanoseconds::max()}, clock};
  (void)b.try_execute([]() -> int { throw 1; });
  REQUIRE(b.state() == resil::circuit_state::open);
  CHECK(b.remaining_delay() == resil::nanoseconds::max() - 1h);  // until time_point::max()
  clock.advance(std::chrono::hours{24 * 365 * 200});
  CHECK_FALSE(b.try_acquire());  // still open: no wrap to the past
}

TEST_CASE("bad_input: rate limiter periods below 1 microsecond are config_errors", "[bad_input]") {
  CHECK(field_of([] { resil::rate_limiter r{{.period = 999ns}}; }) ==
        "rate_limiter_options.period");
  CHECK(field_of([] { resil::rate_limiter r{{.period = -1s}}; }) == "rate_limiter_options.period");
  CHECK_NOTHROW(resil::rate_limiter{{.permits = 1, .period = 1us}});
}

TEST_CASE("bad_input: a floating-point rate that is NaN, infinite, zero or denormal is refused",
          "[bad_input]") {
  for (const double bad :
       {qnan, pinf, -pinf, 0.0, -1.0, std::numeric_limits<double>::denorm_min()}) {
    CHECK(field_of([&] { (void)resil::rate_limiter_options::per_second(bad); }) ==
          "rate_limiter_options::per_second.rate");
  }
  CHECK(resil::rate_limiter_options::per_second(2.5).permits > 0U);
}

TEST_CASE("bad_input: acquiring more than the burst is refused at once, and n = 0 is granted",
          "[bad_input]") {
  resil::manual_clock clock;
  resil::basic_rate_limiter<resil::manual_clock> l{{.permits = 10, .period = 1s, .burst = 5},
                                                   clock};
  CHECK_FALSE(l.try_acquire(6));
  CHECK(l.retry_after(6) == resil::nanoseconds::max());
  const auto r = l.acquire_for(6, resil::nanoseconds::max());  // never waits forever
  CHECK(r.error() == resil::errc::rate_limited);
  CHECK(l.try_acquire(0));
  CHECK(l.metrics().available_permits == 5U);  // n = 0 consumed nothing
}

TEST_CASE("bad_input: max_attempts of INT_MAX is valid and neither counter nor backoff overflows",
          "[bad_input]") {
  resil::manual_clock clock;
  resil::basic_retry<resil::manual_clock> r{{.max_attempts = std::numeric_limits<int>::max(),
                                             .backoff = resil::backoff::exponential(1ms, 2.0, 1s)},
                                            clock};
  int calls = 0;
  const auto out = r.try_execute([&]() -> int {
    if (++calls < 2000) throw 1;
    return calls;
  });
  CHECK(out.value() == 2000);
}

TEST_CASE("bad_input: a backoff multiplier below 1 or a cap below the base is a config_error",
          "[bad_input]") {
  CHECK_FALSE(field_of([] {
                resil::retry r{{.backoff = resil::backoff::exponential(1ms, 0.5, 1s)}};
              }).empty());
  CHECK_FALSE(field_of([] {
                resil::retry r{{.backoff = resil::backoff::exponential(1s, 2.0, 1ms)}};
              }).empty());
}

TEST_CASE("bad_input: retry budget tokens outside (0, 1000] or a ratio of 0 are config_errors",
          "[bad_input]") {
  for (const double bad : {0.0, -1.0, 1000.5, qnan, pinf}) {
    CHECK(field_of([&] { resil::retry_budget b{{.max_tokens = bad}}; }) ==
          "retry_budget_options.max_tokens");
  }
  CHECK(field_of([] { resil::retry_budget b{{.token_ratio = 0.0}}; }) ==
        "retry_budget_options.token_ratio");
  CHECK_NOTHROW(resil::retry_budget{{.max_tokens = 1000.0}});  // grpc-go PR #2670
}

TEST_CASE(
    "bad_input: a non-std exception from the callable is rethrown unchanged and the permits "
    "come back",
    "[bad_input]") {
  struct plain {
    int v;
  };
  resil::circuit_breaker breaker{{.half_open_calls = 1}};
  resil::bulkhead bulkhead{{.max_concurrent = 1}};
  auto pipeline = resil::compose(breaker, bulkhead);
  CHECK_THROWS_AS(pipeline.execute([]() -> int { throw 42; }), int);
  try {
    (void)pipeline.execute([]() -> int { throw plain{7}; });
    FAIL("nothing thrown");
  } catch (const plain& p) {
    CHECK(p.v == 7);
  }
  CHECK(bulkhead.available() == 1);
  CHECK(breaker.metrics().failed == 2U);
}

TEST_CASE(
    "bad_input: a throwing classifier releases the probe slot and its exception propagates "
    "(R4j #2324)",
    "[bad_input]") {
  resil::manual_clock clock;
  struct predicate_error {};
  resil::basic_circuit_breaker<resil::manual_clock> b{
      {.window_size = 1,
       .minimum_calls = 1,
       .open_duration = 1s,
       .half_open_calls = 1,
       .classify = resil::classifier{}.failure_on<int>().failure_if(
           [](const std::runtime_error&) -> bool { throw predicate_error{}; })},
      clock};
  (void)b.try_execute([]() -> int { throw 1; });  // int: no predicate runs, a failure
  REQUIRE(b.state() == resil::circuit_state::open);
  clock.advance(1s);
  CHECK_THROWS_AS(b.execute([]() -> int { throw std::runtime_error("x"); }), predicate_error);
  CHECK(b.metrics().probes_in_flight == 0U);
  CHECK(b.try_execute([] { return 1; }).has_value());  // the slot came back: a probe runs
  CHECK(b.state() == resil::circuit_state::closed);
}

TEST_CASE("bad_input: a throwing listener reaches only its caller, after the state is committed",
          "[bad_input]") {
  struct listener_error {};
  resil::bulkhead b{{.max_concurrent = 1}};
  bool armed = true;
  b.events().subscribe([&](const resil::bulkhead_event&) {
    if (armed) throw listener_error{};
  });
  CHECK_THROWS_AS(b.execute([] { return 1; }), listener_error);
  CHECK(b.available() == 1);  // nothing stranded
  armed = false;
  CHECK(b.execute([] { return 2; }) == 2);
}

TEST_CASE("bad_input: permits and guards never throw from their destructors", "[bad_input]") {
  STATIC_REQUIRE(std::is_nothrow_destructible_v<resil::circuit_breaker::permit_type>);
  STATIC_REQUIRE(std::is_nothrow_destructible_v<resil::bulkhead::permit_type>);
  STATIC_REQUIRE(std::is_nothrow_destructible_v<resil::rate_limiter::permit_type>);
}

TEST_CASE(
    "bad_input: reentrant calls into the same breaker, bulkhead and limiter do not deadlock, "
    "and with P = 1 a nested half-open call is rejected (Polly #933)",
    "[bad_input]") {
  resil::manual_clock clock;
  resil::basic_circuit_breaker<resil::manual_clock> b{
      {.window_size = 1, .minimum_calls = 1, .open_duration = 1s, .half_open_calls = 1}, clock};
  (void)b.try_execute([]() -> int { throw 1; });
  clock.advance(1s);
  std::error_code nested{};
  CHECK(b.try_execute([&] {
           nested = b.try_execute([] { return 1; }).error();
           return 1;
         }).has_value());
  CHECK(nested == resil::errc::circuit_open);
  resil::bulkhead bh{{.max_concurrent = 2}};
  resil::rate_limiter l{{.permits = 10, .period = 1s}};
  CHECK(bh.execute([&] { return bh.execute([&] { return l.execute([&] { return 3; }); }); }) == 3);
  CHECK(bh.available() == 2);
}

TEST_CASE(
    "bad_input: a clock going backwards grants no extra permits and measures no negative time",
    "[bad_input]") {
  resil::manual_clock clock{resil::manual_clock::time_point{1h}};
  resil::basic_rate_limiter<resil::manual_clock> l{{.permits = 10, .period = 1s, .burst = 2},
                                                   clock};
  REQUIRE(l.try_acquire(2));
  clock.set(resil::manual_clock::time_point{1h - 10s});  // back ten seconds
  CHECK_FALSE(l.try_acquire());
  CHECK(l.metrics().available_permits == 0U);
  resil::basic_circuit_breaker<resil::manual_clock> b{
      {.slow_call_duration = 1ms, .window_size = 2, .minimum_calls = 1}, clock};
  resil::circuit_breaker_event seen{};
  b.events().subscribe([&](const resil::circuit_breaker_event& e) { seen = e; });
  auto p = b.try_acquire();
  clock.set(resil::manual_clock::time_point{0s});
  p->record_success();
  CHECK(seen.elapsed == 0ns);  // clamped, not negative
  CHECK_FALSE(seen.slow);
}

TEST_CASE("bad_input: a clock jumping years ahead refills the limiter only up to its burst",
          "[bad_input]") {
  resil::manual_clock clock;
  resil::basic_rate_limiter<resil::manual_clock> l{{.permits = 10, .period = 1s, .burst = 3},
                                                   clock};
  REQUIRE(l.try_acquire(3));
  clock.advance(std::chrono::hours{24 * 365 * 100});
  CHECK(l.metrics().available_permits == 3U);
  CHECK(l.try_acquire(3));
  CHECK_FALSE(l.try_acquire());
}

TEST_CASE("bad_input: counters are 64-bit", "[bad_input]") {
  STATIC_REQUIRE(sizeof(resil::circuit_breaker_metrics::calls) == 8);
  STATIC_REQUIRE(sizeof(resil::circuit_breaker_metrics::not_permitted) == 8);
  STATIC_REQUIRE(sizeof(resil::circuit_breaker_metrics::transitions) == 8);
  STATIC_REQUIRE(sizeof(resil::bulkhead_metrics::in_flight) == 8);
  STATIC_REQUIRE(sizeof(resil::retry_budget_metrics::milli_tokens) == 8);
}

TEST_CASE(
    "bad_input: a cancelled wait for a slot returns nothing and consumes nothing (failsafe "
    "#393)",
    "[bad_input]") {
  resil::manual_clock clock;
  resil::basic_bulkhead<resil::manual_clock> b{{.max_concurrent = 1, .max_wait = 1s}, clock};
  auto held = b.try_acquire();
  std::stop_source stop;
  stop.request_stop();
  CHECK_FALSE(b.acquire_for(1s, stop.get_token()));
  CHECK(b.metrics().waiting == 0);
  held.reset();
  CHECK(b.available() == 1);  // the abandoned waiter was given nothing
}

TEST_CASE(
    "bad_input: a permit dropped after admission and before the call is given back "
    "(tower-resilience PR #407)",
    "[bad_input]") {
  resil::manual_clock clock;
  resil::basic_circuit_breaker<resil::manual_clock> b{
      {.window_size = 1, .minimum_calls = 1, .open_duration = 1s, .half_open_calls = 1}, clock};
  (void)b.try_execute([]() -> int { throw 1; });
  clock.advance(1s);
  { auto probe = b.try_acquire(); }  // admitted, then abandoned
  CHECK(b.metrics().probes_in_flight == 0U);
  CHECK(b.try_acquire().has_value());  // the slot is free again
  resil::bulkhead bh{{.max_concurrent = 1}};
  { auto p = bh.try_acquire(); }
  CHECK(bh.available() == 1);
}

TEST_CASE("bad_input: live policies can be neither copied nor moved", "[bad_input]") {
  STATIC_REQUIRE_FALSE(std::is_copy_constructible_v<resil::circuit_breaker>);
  STATIC_REQUIRE_FALSE(std::is_move_constructible_v<resil::circuit_breaker>);
  STATIC_REQUIRE_FALSE(std::is_copy_constructible_v<resil::bulkhead>);
  STATIC_REQUIRE_FALSE(std::is_move_constructible_v<resil::bulkhead>);
  STATIC_REQUIRE_FALSE(std::is_copy_constructible_v<resil::rate_limiter>);
  STATIC_REQUIRE_FALSE(std::is_move_constructible_v<resil::retry>);
  STATIC_REQUIRE_FALSE(std::is_copy_assignable_v<resil::timeout>);
}

// I13, clean destruction (Envoy's idiom): in debug builds a policy destroyed while it is still in
// use (a slot, a probe or a retry permit held, a caller waiting) fails an assertion instead of
// leaving a permit or a waiter pointing at freed memory. Each case runs in a child process; its
// standard error must carry the assertion's message and it must end with SIGABRT (an alarm ends
// a child that hangs instead). Built where assertions are on: the Debug presets.
#if !defined(NDEBUG) && defined(__unix__)
namespace {

struct child_result {
  bool aborted = false;
  std::string stderr_text;
};

template <class F>
child_result run_in_child(F f) {
  int pipe_fds[2];
  REQUIRE(::pipe(pipe_fds) == 0);
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::alarm(20);
    std::signal(SIGABRT, SIG_DFL);  // not Catch's handler: the child reports nothing itself
    ::dup2(pipe_fds[1], 2);
    if (const int null = ::open("/dev/null", O_WRONLY); null >= 0) ::dup2(null, 1);
    ::close(pipe_fds[0]);
    f();
    ::_exit(0);
  }
  ::close(pipe_fds[1]);
  child_result r;
  char buf[512];
  for (ssize_t n; (n = ::read(pipe_fds[0], buf, sizeof buf)) > 0;) {
    r.stderr_text.append(buf, static_cast<std::size_t>(n));
  }
  ::close(pipe_fds[0]);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  r.aborted = WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
  return r;
}

}  // namespace

TEST_CASE("bad_input: destroying a policy still in use fails a debug assertion (I13)",
          "[bad_input]") {
  SECTION("a bulkhead with a slot held") {
    const auto r = run_in_child([] {
      auto b = std::make_unique<resil::bulkhead>(resil::bulkhead_options{.max_concurrent = 2});
      auto slot = b->try_acquire();
      b.reset();
    });
    CHECK(r.aborted);
    CHECK_THAT(r.stderr_text, Catch::Contains("bulkhead destroyed while slots are held"));
  }
  SECTION("a circuit breaker with a half-open probe running") {
    const auto r = run_in_child([] {
      resil::manual_clock clock;
      auto b = std::make_unique<resil::basic_circuit_breaker<resil::manual_clock>>(
          resil::circuit_breaker_options{.window_size = 1, .minimum_calls = 1, .open_duration = 1s},
          clock);
      (void)b->try_execute([]() -> int { throw 1; });
      clock.advance(1s);
      auto probe = b->try_acquire();
      if (!probe || !probe->token().probe()) ::_exit(3);  // not the state this case is about
      b.reset();
    });
    CHECK(r.aborted);
    CHECK_THAT(r.stderr_text, Catch::Contains("circuit_breaker destroyed while half-open probes"));
  }
  SECTION("a rate limiter with a caller waiting") {
    const auto r = run_in_child([] {
      resil::manual_clock clock;
      auto l = std::make_unique<resil::basic_rate_limiter<resil::manual_clock>>(
          resil::rate_limiter_options{.permits = 1, .period = 1s}, clock);
      (void)l->try_acquire();
      std::thread waiter([&] { (void)l->acquire_for(1, 10s); });
      while (l->metrics().waiting_callers == 0) std::this_thread::yield();
      l.reset();
      waiter.join();
    });
    CHECK(r.aborted);
    CHECK_THAT(r.stderr_text, Catch::Contains("rate_limiter destroyed while callers wait"));
  }
  SECTION("a retry concurrency budget with a retry permit held") {
    const auto r = run_in_child([] {
      auto budget = std::make_unique<resil::retry_concurrency_budget>();
      budget->call_started();
      auto retry = budget->try_acquire_retry();
      budget.reset();
    });
    CHECK(r.aborted);
    CHECK_THAT(r.stderr_text,
               Catch::Contains("retry_concurrency_budget destroyed while retry permits"));
  }
  SECTION("and a policy that is idle is destroyed quietly") {
    const auto r = run_in_child([] {
      auto b = std::make_unique<resil::bulkhead>(resil::bulkhead_options{.max_concurrent = 2});
      { auto slot = b->try_acquire(); }
      b.reset();
    });
    CHECK_FALSE(r.aborted);
    CHECK(r.stderr_text.empty());
  }
}
#endif
