// Tests for resil/fallback.hpp: handler forms, selection by error code, exception type and
// result predicate, what the handler sees, composition, events.
// SPDX-License-Identifier: MIT
#include <resil/bulkhead.hpp>
#include <resil/compose.hpp>
#include <resil/fallback.hpp>

#include <catch2/catch.hpp>

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "support/enum_names.hpp"
#include "support/test_policies.hpp"

using resil::errc;
using resil::outcome;

namespace {

struct http_error : std::runtime_error {
  int status;
  explicit http_error(int s) : std::runtime_error("http"), status(s) {}
};

outcome<int> fails_with(errc e) {
  return outcome<int>::from_error(e);
}

}  // namespace

TEST_CASE(
    "fallback: the default replaces exceptions and errors, rejections included, and "
    "lets values through",
    "[fallback]") {
  auto fb = resil::fallback_to(-1);
  CHECK(fb.try_execute([] { return 5; }).value() == 5);
  CHECK(fb.try_execute([]() -> int { throw std::runtime_error("down"); }).value() == -1);
  CHECK(fb.try_execute([]() -> int { throw 42; }).value() == -1);  // non-std exception
  CHECK(fb.try_execute([] { return fails_with(errc::timeout); }).value() == -1);
  CHECK(fb.try_execute([] { return fails_with(errc::circuit_open); }).value() == -1);
  CHECK(fb.try_execute([] { return fails_with(errc::bulkhead_full); }).value() == -1);
  CHECK(fb.try_execute([] { return fails_with(errc::rate_limited); }).value() == -1);
  CHECK(fb.execute([]() -> int { throw resil::circuit_open_error(); }) == -1);
}

TEST_CASE("fallback: by default a cancellation is not replaced (the caller asked to stop)",
          "[fallback]") {
  auto fb = resil::fallback_to(-1);
  CHECK(fb.try_execute([] { return fails_with(errc::cancelled); }).error() == errc::cancelled);
  CHECK(fb.try_execute([]() -> int { throw resil::cancelled_error(); }).has_exception());
}

TEST_CASE("fallback: only_errors selects only the given error codes", "[fallback]") {
  auto fb = resil::fallback_to(0, {.classify = resil::only_errors(errc::circuit_open)});
  CHECK(fb.try_execute([] { return fails_with(errc::circuit_open); }).value() == 0);
  CHECK(fb.try_execute([] { return fails_with(errc::bulkhead_full); }).error() ==
        errc::bulkhead_full);
  CHECK(fb.try_execute([] { return fails_with(errc::timeout); }).error() == errc::timeout);
  CHECK(fb.try_execute([]() -> int { throw std::runtime_error("x"); }).has_exception());
  // A circuit_open_error thrown by a nested execute carries the same code.
  CHECK(fb.try_execute([]() -> int { throw resil::circuit_open_error(); }).value() == 0);
  CHECK(fb.try_execute([]() -> int { throw resil::rate_limited_error(); }).has_exception());

  auto two = resil::fallback_to(
      0, {.classify = resil::only_errors(errc::circuit_open, errc::bulkhead_full)});
  CHECK(two.try_execute([] { return fails_with(errc::bulkhead_full); }).value() == 0);
  CHECK(two.try_execute([] { return fails_with(errc::rate_limited); }).has_error());
  // Foreign error codes work too.
  auto foreign = resil::fallback_to(
      0, {.classify = resil::only_errors(std::make_error_code(std::errc::connection_refused))});
  CHECK(foreign
            .try_execute([] {
              return outcome<int>::from_error(std::make_error_code(std::errc::connection_refused));
            })
            .value() == 0);
}

TEST_CASE("fallback: only_exceptions selects only the given exception types", "[fallback]") {
  auto fb = resil::fallback_to(0, {.classify = resil::only_exceptions<http_error>()});
  CHECK(fb.try_execute([]() -> int { throw http_error(503); }).value() == 0);
  CHECK(fb.try_execute([]() -> int { throw std::runtime_error("other"); }).has_exception());
  CHECK(fb.try_execute([]() -> int { throw 1; }).has_exception());
  CHECK(fb.try_execute([] { return fails_with(errc::circuit_open); }).error() ==
        errc::circuit_open);
  // Combining: error codes from only_errors plus an exception type.
  auto both = resil::fallback_to(
      0, {.classify = resil::only_errors(errc::circuit_open).failure_on<http_error>()});
  CHECK(both.try_execute([]() -> int { throw http_error(500); }).value() == 0);
  CHECK(both.try_execute([] { return fails_with(errc::circuit_open); }).value() == 0);
  CHECK(both.try_execute([] { return fails_with(errc::timeout); }).has_error());
}

TEST_CASE("fallback: a result predicate selects values", "[fallback]") {
  auto fb = resil::fallback_to(std::string("cached"),
                               {.classify = resil::classifier{}.failure_if_result(
                                    [](const std::string& body) { return body.empty(); })});
  CHECK(fb.try_execute([] { return std::string("fresh"); }).value() == "fresh");
  CHECK(fb.try_execute([] { return std::string(); }).value() == "cached");
  CHECK(fb.try_execute([]() -> std::string { throw std::runtime_error("x"); }).value() == "cached");
  // Exception predicates select by what the exception says.
  auto on_5xx = resil::fallback_to(0, {.classify = resil::classifier{}.failure_if(
                                           [](const http_error& e) { return e.status >= 500; })});
  CHECK(on_5xx.try_execute([]() -> int { throw http_error(503); }).value() == 0);
  CHECK(on_5xx.try_execute([]() -> int { throw http_error(404); }).has_exception());
}

TEST_CASE("fallback: the handler sees the outcome that caused it", "[fallback]") {
  std::exception_ptr seen;
  std::error_code seen_code;
  auto fb = resil::fallback_to([&](const outcome<int>& failed) {
    seen = failed.exception();
    seen_code = failed.error();
    return failed.has_error() ? 2 : 1;
  });
  std::exception_ptr thrown;
  CHECK(fb.try_execute([&]() -> int {
            try {
              throw std::runtime_error("boom");
            } catch (...) {
              thrown = std::current_exception();
              throw;
            }
          }).value() == 1);
  CHECK(seen == thrown);  // the very object the callable threw
  CHECK(fb.try_execute([] { return fails_with(errc::circuit_open); }).value() == 2);
  CHECK(seen_code == errc::circuit_open);

  // The rejected value, for a result predicate.
  int rejected_value = 0;
  auto on_negative = resil::fallback_to(
      [&](const outcome<int>& failed) {
        rejected_value = failed.value();
        return 0;
      },
      {.classify = resil::classifier{}.failure_if_result([](int v) { return v < 0; })});
  CHECK(on_negative.try_execute([] { return -7; }).value() == 0);
  CHECK(rejected_value == -7);
}

TEST_CASE("fallback: handlers may take nothing, the outcome, or the context and the outcome",
          "[fallback]") {
  auto nullary = resil::fallback_to([] { return 1; });
  auto with_context = resil::fallback_to(
      [](resil::context& ctx, const outcome<int>&) { return static_cast<int>(ctx.attempt()); });
  auto generic = resil::fallback_to([](const auto& failed) {
    using R = typename std::remove_cvref_t<decltype(failed)>::value_type;
    return R{};
  });
  auto returns_outcome = resil::fallback_to(
      [](const outcome<int>&) { return outcome<int>::from_error(errc::timeout); });
  const auto fail = []() -> int { throw std::runtime_error("x"); };
  CHECK(nullary.try_execute(fail).value() == 1);
  CHECK(with_context.try_execute(fail).value() == 1);
  CHECK(generic.try_execute(fail).value() == 0);
  CHECK(generic.try_execute([]() -> std::string { throw 1; }).value().empty());
  CHECK(returns_outcome.try_execute(fail).error() == errc::timeout);
  // A value converts to the call's result type.
  auto zero = resil::fallback_to(0);
  CHECK(zero.try_execute([]() -> long { throw 1; }).value() == 0L);
  CHECK(zero.try_execute([]() -> double { throw 1; }).value() == 0.0);
  auto none = resil::fallback_to(std::nullopt);
  CHECK_FALSE(none.try_execute([]() -> std::optional<int> { throw 1; }).value().has_value());
}

TEST_CASE("fallback: calls returning void and references", "[fallback]") {
  int handled = 0;
  auto log_it = resil::fallback_to([&] { ++handled; });
  CHECK(log_it.try_execute([] { throw std::runtime_error("x"); }).has_value());
  log_it.execute([] {});
  CHECK(handled == 1);

  const std::string cached = "cached";
  auto by_ref = resil::fallback_to(cached);
  std::string live = "live";
  const std::string& a = by_ref.execute([&]() -> const std::string& { return live; });
  CHECK(&a == &live);
  const std::string& b =
      by_ref.execute([]() -> const std::string& { throw std::runtime_error("x"); });
  CHECK(b == "cached");
  CHECK(&b != &cached);  // a reference to the fallback's own copy
}

TEST_CASE("fallback: a throwing handler's exception becomes the outcome", "[fallback]") {
  auto fb = resil::fallback_to([]() -> int { throw std::logic_error("no cache either"); });
  std::vector<resil::fallback_event> seen;
  fb.events().subscribe([&](const resil::fallback_event& e) { seen.push_back(e); });
  const auto r = fb.try_execute([]() -> int { throw std::runtime_error("x"); });
  REQUIRE(r.has_exception());
  CHECK_THROWS_AS(std::rethrow_exception(r.exception()), std::logic_error);
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].kind == resil::fallback_event_kind::failed);
}

TEST_CASE(
    "fallback: a throwing classifier predicate's exception becomes the outcome, and no "
    "fallback runs",
    "[fallback]") {
  int handled = 0;
  auto fb = resil::fallback_to([&] { return ++handled; },
                               {.classify = resil::classifier{}.failure_if_result(
                                    [](int) -> bool { throw std::runtime_error("predicate"); })});
  const auto r = fb.try_execute([] { return 1; });
  CHECK(r.has_exception());
  CHECK(handled == 0);
}

TEST_CASE("fallback: a per-call classifier in the context decides instead of the options",
          "[fallback]") {
  auto fb = resil::fallback_to(0);
  const auto only_timeout = resil::only_errors(errc::timeout);
  resil::context ctx;
  ctx.override_classifier(&only_timeout);
  CHECK(fb.try_execute_in(ctx, [] { return fails_with(errc::circuit_open); }).has_error());
  CHECK(fb.try_execute_in(ctx, [] { return fails_with(errc::timeout); }).value() == 0);
}

TEST_CASE("fallback: events carry the replaced outcome's error or exception", "[fallback]") {
  auto fb = resil::fallback_to(0);
  std::vector<resil::fallback_event> seen;
  fb.events().subscribe([&](const resil::fallback_event& e) { seen.push_back(e); });
  (void)fb.try_execute([] { return 1; });
  (void)fb.try_execute([] { return fails_with(errc::rate_limited); });
  (void)fb.try_execute([]() -> int { throw std::runtime_error("x"); });
  REQUIRE(seen.size() == 2);
  CHECK(seen[0].kind == resil::fallback_event_kind::applied);
  CHECK(seen[0].error == errc::rate_limited);
  CHECK_FALSE(seen[0].exception);
  CHECK(seen[1].exception);
  CHECK_FALSE(seen[1].error);
}

TEST_CASE("fallback: outermost in a pipeline it catches an inner bulkhead's rejection",
          "[fallback]") {
  resil::bulkhead b{{.max_concurrent = 1}};
  auto fb = resil::fallback_to(std::string("busy, try later"),
                               {.classify = resil::only_errors(errc::bulkhead_full)});
  resil_test::repeating_policy retry;
  auto pipeline = resil::compose(fb, retry, b);
  CHECK(pipeline.execute([] { return std::string("served"); }) == "served");
  auto held = b.try_acquire();
  CHECK(pipeline.execute([] { return std::string("served"); }) == "busy, try later");
  held.reset();
  CHECK(b.available() == 1);
}

TEST_CASE("fallback: resil::fallback<T> has a nameable type and takes any handler form",
          "[fallback]") {
  struct service {
    resil::fallback<std::string> by_value{std::string("closed")};
    resil::fallback<std::string> by_handler{
        [](const outcome<std::string>& failed) {
          return failed.has_error() ? std::string("rejected") : std::string("failed");
        },
        {.classify = resil::only_errors(errc::circuit_open).failure_on<std::runtime_error>()}};
  } s;
  CHECK(s.by_value.execute([]() -> std::string { throw 1; }) == "closed");
  CHECK(s.by_handler.execute([] { return outcome<std::string>::from_error(errc::circuit_open); }) ==
        "rejected");
  CHECK(s.by_handler.execute([]() -> std::string { throw std::runtime_error("x"); }) == "failed");
  CHECK(s.by_handler.try_execute([]() -> std::string { throw 1; }).has_exception());
}

TEST_CASE("fallback: its options need no validation", "[fallback]") {
  CHECK_FALSE(resil::fallback_options{}.validate());
}

TEST_CASE("fallback: event kinds are named as their enumerators", "[fallback]") {
  CHECK(resil_test::enum_names<resil::fallback_event_kind>(2) ==
        std::vector<std::string_view>{"applied", "failed"});
  CHECK(to_string(static_cast<resil::fallback_event_kind>(2)) == "unknown");
}
