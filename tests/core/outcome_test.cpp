// Tests for resil/core/outcome.hpp.
// SPDX-License-Identifier: MIT
#include <resil/core/outcome.hpp>

#include <catch2/catch.hpp>

#include <memory>
#include <stdexcept>
#include <string>

using namespace std::chrono_literals;

TEST_CASE("outcome: holds a value and returns it by reference", "[outcome]") {
  resil::outcome<std::string> r{"menu"};
  REQUIRE(r.has_value());
  CHECK(static_cast<bool>(r));
  CHECK_FALSE(r.has_exception());
  CHECK_FALSE(r.has_error());
  CHECK(r.value() == "menu");
  CHECK(*r == "menu");
  CHECK(r->size() == 4);
  CHECK_FALSE(r.error());
  CHECK(r.exception() == nullptr);
  r.value() += "s";
  CHECK(r.value() == "menus");
}

TEST_CASE("outcome: void outcomes succeed by default", "[outcome]") {
  resil::outcome<void> r;
  CHECK(r.has_value());
  CHECK_NOTHROW(r.value());
}

TEST_CASE("outcome: reference outcomes refer to the original object", "[outcome]") {
  int x = 1;
  resil::outcome<int&> r{x};
  REQUIRE(r.has_value());
  CHECK(&r.value() == &x);
  r.value() = 5;
  CHECK(x == 5);
  const resil::outcome<const int&> c{x};
  CHECK(&c.value() == &x);
}

TEST_CASE("outcome: move-only values can be moved out", "[outcome]") {
  resil::outcome<std::unique_ptr<int>> r{std::make_unique<int>(7)};
  std::unique_ptr<int> p = std::move(r).value();
  REQUIRE(p);
  CHECK(*p == 7);
  resil::outcome<std::unique_ptr<int>> q{std::in_place, new int(3)};
  CHECK(**q == 3);
}

TEST_CASE("outcome: value() rethrows the very exception object the callable threw", "[outcome]") {
  const auto original = std::make_exception_ptr(std::runtime_error("payment declined"));
  const auto r = resil::outcome<int>::from_exception(original);
  REQUIRE(r.has_exception());
  CHECK(r.exception() == original);
  const std::exception* seen = nullptr;
  try {
    (void)r.value();
  } catch (const std::runtime_error& e) {
    seen = &e;
  }
  try {
    std::rethrow_exception(original);
  } catch (const std::runtime_error& e) {
    CHECK(seen == &e);
  }
}

TEST_CASE("outcome: non-std exceptions pass through unchanged", "[outcome]") {
  const auto r = resil::outcome<void>::from_exception(std::make_exception_ptr(42));
  int caught = 0;
  try {
    r.value();
  } catch (int v) {
    caught = v;
  }
  CHECK(caught == 42);
}

TEST_CASE("outcome: an error code throws the matching resil exception with its hint", "[outcome]") {
  const auto open = resil::outcome<int>::from_error(resil::errc::circuit_open, 5s);
  REQUIRE(open.has_error());
  CHECK(open.error() == resil::errc::circuit_open);
  CHECK(open.retry_after() == 5s);
  try {
    (void)open.value();
    FAIL("expected circuit_open_error");
  } catch (const resil::circuit_open_error& e) {
    CHECK(e.remaining_delay() == 5s);
  }

  const auto limited = resil::outcome<int>::from_error(resil::errc::rate_limited, 40ms);
  try {
    (void)limited.value();
    FAIL("expected rate_limited_error");
  } catch (const resil::rate_limited_error& e) {
    CHECK(e.retry_after() == 40ms);
  }

  CHECK_THROWS_AS(resil::outcome<int>::from_error(resil::errc::bulkhead_full).value(),
                  resil::bulkhead_full_error);
  CHECK_THROWS_AS(resil::outcome<int>::from_error(resil::errc::timeout).value(),
                  resil::timeout_error);
  CHECK_THROWS_AS(resil::outcome<int>::from_error(resil::errc::retries_exhausted).value(),
                  resil::retries_exhausted_error);
  CHECK_THROWS_AS(resil::outcome<int>::from_error(resil::errc::cancelled).value(),
                  resil::cancelled_error);
}

TEST_CASE("outcome: a foreign error code throws std::system_error with that code", "[outcome]") {
  const auto ec = std::make_error_code(std::errc::connection_refused);
  const auto r = resil::outcome<void>::from_error(ec);
  try {
    r.value();
    FAIL("expected system_error");
  } catch (const std::system_error& e) {
    CHECK(e.code() == ec);
  }
}

TEST_CASE("outcome: value_or substitutes for failures only", "[outcome]") {
  CHECK(resil::outcome<int>{3}.value_or(9) == 3);
  CHECK(resil::outcome<int>::from_error(resil::errc::timeout).value_or(9) == 9);
  CHECK(resil::outcome<std::string>::from_exception(std::make_exception_ptr(1)).value_or("x") ==
        "x");
}

TEST_CASE("outcome: failure_of carries an exception or error across value types", "[outcome]") {
  const auto e = std::make_exception_ptr(std::logic_error("x"));
  const auto a = resil::outcome<std::string>::failure_of(resil::outcome<int>::from_exception(e));
  CHECK(a.exception() == e);
  const auto b = resil::outcome<void>::failure_of(
      resil::outcome<int>::from_error(resil::errc::rate_limited, 1s));
  CHECK(b.error() == resil::errc::rate_limited);
  CHECK(b.retry_after() == 1s);
}

TEST_CASE("outcome: throw_if_failed is silent for values", "[outcome]") {
  CHECK_NOTHROW(resil::outcome<int>{1}.throw_if_failed());
  CHECK_THROWS_AS(resil::outcome<int>::from_error(resil::errc::timeout).throw_if_failed(),
                  resil::timeout_error);
}
