// Tests for resil/core/errors.hpp: error codes, the "resil" category and the exception types.
// SPDX-License-Identifier: MIT
#include <resil/core/errors.hpp>

#include <catch2/catch.hpp>

#include <string_view>
#include <vector>

#include "support/enum_names.hpp"

using namespace std::chrono_literals;

TEST_CASE("errors: errc converts implicitly to an error_code in the \"resil\" category",
          "[errors]") {
  const std::error_code ec = resil::errc::rate_limited;
  CHECK(std::string_view{ec.category().name()} == "resil");
  CHECK(ec.value() == 3);
  CHECK(ec == resil::errc::rate_limited);
  CHECK(ec != resil::errc::timeout);
  CHECK(static_cast<bool>(ec));
}

TEST_CASE("errors: every code has a readable message", "[errors]") {
  CHECK(resil::make_error_code(resil::errc::circuit_open).message() == "circuit breaker is open");
  CHECK(resil::make_error_code(resil::errc::bulkhead_full).message() == "bulkhead is full");
  CHECK(resil::make_error_code(resil::errc::rate_limited).message() == "rate limit exceeded");
  CHECK(resil::make_error_code(resil::errc::timeout).message() == "deadline exceeded");
  CHECK(resil::make_error_code(resil::errc::retries_exhausted).message() == "retries exhausted");
  CHECK(resil::make_error_code(resil::errc::cancelled).message() == "cancelled");
  CHECK(resil::resil_category().message(99) == "unknown resil error");
}

TEST_CASE("errors: only circuit_open, bulkhead_full and rate_limited are rejections", "[errors]") {
  CHECK(resil::is_rejection(resil::errc::circuit_open));
  CHECK(resil::is_rejection(resil::errc::bulkhead_full));
  CHECK(resil::is_rejection(resil::errc::rate_limited));
  CHECK_FALSE(resil::is_rejection(resil::errc::timeout));
  CHECK_FALSE(resil::is_rejection(resil::errc::cancelled));
  CHECK_FALSE(resil::is_rejection(resil::errc::retries_exhausted));
  // The same number in another category is not a rejection.
  CHECK_FALSE(resil::is_rejection(std::error_code{1, std::generic_category()}));
}

TEST_CASE("errors: rejection exceptions derive from rejected_error and carry their codes",
          "[errors]") {
  const resil::circuit_open_error open{3s};
  const resil::rejected_error& base = open;
  const std::system_error& sys = open;
  CHECK(base.code() == resil::errc::circuit_open);
  CHECK(sys.code() == resil::errc::circuit_open);
  CHECK(open.remaining_delay() == 3s);

  const resil::rate_limited_error limited{250ms};
  CHECK(limited.code() == resil::errc::rate_limited);
  CHECK(limited.retry_after() == 250ms);

  const resil::bulkhead_full_error full;
  CHECK(full.code() == resil::errc::bulkhead_full);
  CHECK(std::string_view{full.what()}.find("bulkhead is full") != std::string_view::npos);
}

TEST_CASE("errors: timeout, exhaustion and cancellation are system errors, not rejections",
          "[errors]") {
  CHECK(resil::timeout_error{}.code() == resil::errc::timeout);
  CHECK(resil::retries_exhausted_error{}.code() == resil::errc::retries_exhausted);
  CHECK(resil::cancelled_error{}.code() == resil::errc::cancelled);
  STATIC_REQUIRE_FALSE(std::is_base_of_v<resil::rejected_error, resil::timeout_error>);
  STATIC_REQUIRE(std::is_base_of_v<std::invalid_argument, resil::config_error>);
}

TEST_CASE("errors: config_error names the field and keeps the message", "[errors]") {
  const resil::config_error e{"bulkhead_options.max_concurrent",
                              "resil: bulkhead_options.max_concurrent = 0 is invalid"};
  CHECK(e.field() == "bulkhead_options.max_concurrent");
  CHECK(std::string_view{e.what()} == "resil: bulkhead_options.max_concurrent = 0 is invalid");
}

TEST_CASE("errors: every code has a short name for logs and metric labels", "[errors]") {
  CHECK(resil_test::enum_names<resil::errc>(6, 1) ==
        std::vector<std::string_view>{"circuit_open", "bulkhead_full", "rate_limited", "timeout",
                                      "retries_exhausted", "cancelled"});
  CHECK(to_string(static_cast<resil::errc>(7)) == "unknown");
}
