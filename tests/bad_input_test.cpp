// The bad-input table (reliability.md (d)) across policies: every invalid option is a
// resil::config_error naming the field, at construction, never undefined behaviour.
// SPDX-License-Identifier: MIT
#include <resil/resil.hpp>

#include <catch2/catch.hpp>

#include <limits>
#include <string>

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
