// Tests for resil/detail/config_check.hpp: every policy's config_error reads the same way.
// SPDX-License-Identifier: MIT
#include <resil/detail/config_check.hpp>

#include <catch2/catch.hpp>

#include <limits>

using namespace std::chrono_literals;

TEST_CASE("config_check: the first problem names the option, its value and the rule",
          "[config_check]") {
  resil::detail::config_check c{"bulkhead_options"};
  c.require(true, "max_wait", 5ms, "must not be negative");
  c.require(false, "max_concurrent", 0, "must be at least 1");
  c.require(false, "other", 1, "ignored: only the first problem is kept");
  CHECK_FALSE(c.ok());
  const auto p = std::move(c).result();
  REQUIRE(p);
  CHECK(p->field == "bulkhead_options.max_concurrent");
  CHECK(p->message == "resil: bulkhead_options.max_concurrent = 0 is invalid: must be at least 1");
}

TEST_CASE("config_check: values render readably", "[config_check]") {
  using resil::detail::format_value;
  CHECK(format_value(1.5) == "1.5");
  CHECK(format_value(std::numeric_limits<double>::quiet_NaN()) == "nan");
  CHECK(format_value(-std::numeric_limits<double>::infinity()) == "-inf");
  CHECK(format_value(250ms) == "250ms");
  CHECK(format_value(std::chrono::duration<double>{0.5}) == "0.5s");
  CHECK(format_value(std::chrono::hours{2}) == "2h");
  CHECK(format_value(std::chrono::duration<long, std::ratio<86400>>{3}) == "3 x 86400/1s");
  CHECK(format_value(true) == "true");
  CHECK(format_value(std::string("x")) == "\"x\"");
}

TEST_CASE("config_check: raise_if throws config_error with the same field and message",
          "[config_check]") {
  resil::detail::config_check c{"retry_options"};
  c.require(false, "max_attempts", 0, "must be at least 1");
  const auto p = std::move(c).result();
  try {
    resil::detail::raise_if(p);
    FAIL("expected config_error");
  } catch (const resil::config_error& e) {
    CHECK(e.field() == "retry_options.max_attempts");
    CHECK(std::string(e.what()) == p->message);
  }
  CHECK_NOTHROW(resil::detail::raise_if(std::nullopt));
}
