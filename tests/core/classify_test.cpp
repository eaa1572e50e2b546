// Tests for resil/core/classify.hpp.
// SPDX-License-Identifier: MIT
#include <resil/core/classify.hpp>

#include <catch2/catch.hpp>

#include <optional>
#include <stdexcept>
#include <string_view>
#include <vector>

#include "support/enum_names.hpp"

namespace {

struct http_response {
  int status;
};
struct not_found : std::runtime_error {
  not_found() : std::runtime_error("404") {}
};
struct io_error : std::runtime_error {
  explicit io_error(int c) : std::runtime_error("io"), code(c) {}
  int code;
};

template <class E>
resil::outcome<int> thrown(E e) {
  return resil::outcome<int>::from_exception(std::make_exception_ptr(e));
}

}  // namespace

TEST_CASE("classifier: by default values succeed and exceptions fail", "[classify]") {
  const resil::classifier c;
  CHECK(c.classify(resil::outcome<int>{1}) == resil::verdict::success);
  CHECK(c.classify(resil::outcome<void>{}) == resil::verdict::success);
  CHECK(c.classify(thrown(std::runtime_error("boom"))) == resil::verdict::failure);
  CHECK(c.classify(thrown(42)) == resil::verdict::failure);
}

TEST_CASE("classifier: other policies' rejections and cancellations are ignored by default",
          "[classify]") {
  const resil::classifier c;
  CHECK(c.classify(thrown(resil::circuit_open_error{})) == resil::verdict::ignored);
  CHECK(c.classify(thrown(resil::rate_limited_error{})) == resil::verdict::ignored);
  CHECK(c.classify(thrown(resil::cancelled_error{})) == resil::verdict::ignored);
  CHECK(c.classify(resil::outcome<int>::from_error(resil::errc::bulkhead_full)) ==
        resil::verdict::ignored);
  CHECK(c.classify(resil::outcome<int>::from_error(resil::errc::cancelled)) ==
        resil::verdict::ignored);
}

TEST_CASE("classifier: timeouts and foreign error codes are failures", "[classify]") {
  const resil::classifier c;
  CHECK(c.classify(resil::outcome<int>::from_error(resil::errc::timeout)) ==
        resil::verdict::failure);
  CHECK(c.classify(thrown(resil::timeout_error{})) == resil::verdict::failure);
  CHECK(c.classify(resil::outcome<int>::from_error(
            std::make_error_code(std::errc::connection_reset))) == resil::verdict::failure);
}

TEST_CASE("classifier: count_rejections(true) makes rejections ordinary failures", "[classify]") {
  const auto c = resil::classifier{}.count_rejections(true);
  CHECK(c.classify(thrown(resil::circuit_open_error{})) == resil::verdict::failure);
  CHECK(c.classify(resil::outcome<int>::from_error(resil::errc::rate_limited)) ==
        resil::verdict::failure);
}

TEST_CASE("classifier: failure_on makes only the listed exception types failures", "[classify]") {
  const auto c = resil::classifier{}.failure_on<io_error, std::logic_error>();
  CHECK(c.classify(thrown(io_error{5})) == resil::verdict::failure);
  CHECK(c.classify(thrown(std::invalid_argument("derived from logic_error"))) ==
        resil::verdict::failure);
  CHECK(c.classify(thrown(not_found{})) == resil::verdict::success);
  CHECK(c.classify(thrown(7)) == resil::verdict::success);
}

TEST_CASE("classifier: ignore rules take precedence over failure rules", "[classify]") {
  const auto c = resil::classifier{}.failure_on<std::runtime_error>().ignore<not_found>();
  CHECK(c.classify(thrown(not_found{})) == resil::verdict::ignored);
  CHECK(c.classify(thrown(std::runtime_error("x"))) == resil::verdict::failure);
}

TEST_CASE("classifier: exception predicates see the exception by its declared type", "[classify]") {
  const auto c = resil::classifier{}
                     .failure_on<not_found>()
                     .failure_if([](const io_error& e) { return e.code >= 500; })
                     .ignore_if([](const io_error& e) { return e.code == 499; });
  CHECK(c.classify(thrown(io_error{503})) == resil::verdict::failure);
  CHECK(c.classify(thrown(io_error{499})) == resil::verdict::ignored);
  CHECK(c.classify(thrown(io_error{400})) == resil::verdict::success);
  CHECK(c.classify(thrown(std::runtime_error("other"))) == resil::verdict::success);
}

TEST_CASE("classifier: a predicate on std::exception_ptr sees every exception", "[classify]") {
  const auto c = resil::classifier{}.ignore_if([](const std::exception_ptr& e) { return !!e; });
  CHECK(c.classify(thrown(1)) == resil::verdict::ignored);
}

TEST_CASE("classifier: result predicates apply to values of their own type only", "[classify]") {
  const auto c =
      resil::classifier{}
          .failure_if_result([](const http_response& r) { return r.status >= 500; })
          .ignore_if_result([](const http_response& r) { return r.status == 404; })
          .failure_if_result<std::optional<int>>([](const auto& o) { return !o.has_value(); });
  CHECK(c.classify(resil::outcome<http_response>{http_response{503}}) == resil::verdict::failure);
  CHECK(c.classify(resil::outcome<http_response>{http_response{404}}) == resil::verdict::ignored);
  CHECK(c.classify(resil::outcome<http_response>{http_response{200}}) == resil::verdict::success);
  CHECK(c.classify(resil::outcome<std::optional<int>>{std::nullopt}) == resil::verdict::failure);
  CHECK(c.classify(resil::outcome<std::optional<int>>{3}) == resil::verdict::success);
  CHECK(c.classify(resil::outcome<int>{503}) == resil::verdict::success);
  http_response shared{500};
  CHECK(c.classify(resil::outcome<const http_response&>{shared}) == resil::verdict::failure);
}

TEST_CASE("classifier: has_result_rules tells whether values can be anything but successes",
          "[classify]") {
  CHECK_FALSE(resil::classifier{}.has_result_rules());
  CHECK_FALSE(resil::classifier{}.failure_on<std::runtime_error>().has_result_rules());
  CHECK_FALSE(resil::classifier{}
                  .failure_if_error([](const std::error_code&) { return true; })
                  .has_result_rules());
  CHECK(
      resil::classifier{}.failure_if_result([](const int& v) { return v < 0; }).has_result_rules());
  CHECK(
      resil::classifier{}.ignore_if_result([](const int& v) { return v < 0; }).has_result_rules());
}

TEST_CASE("classifier: error predicates decide for error codes", "[classify]") {
  const auto c = resil::classifier{}
                     .ignore_if_error([](const std::error_code& e) {
                       return e == std::errc::operation_would_block;
                     })
                     .failure_if_error(
                         [](const std::error_code& e) { return e == resil::errc::bulkhead_full; });
  CHECK(c.classify(resil::outcome<int>::from_error(
            std::make_error_code(std::errc::operation_would_block))) == resil::verdict::ignored);
  CHECK(c.classify(resil::outcome<int>::from_error(resil::errc::bulkhead_full)) ==
        resil::verdict::failure);
  CHECK(c.classify(resil::outcome<int>::from_error(resil::errc::circuit_open)) ==
        resil::verdict::ignored);
}

TEST_CASE("classifier: a throwing predicate is captured by classify_noexcept", "[classify]") {
  const auto c = resil::classifier{}.failure_if_result(
      [](const int&) -> bool { throw std::logic_error("predicate bug"); });
  CHECK_THROWS_AS(c.classify(resil::outcome<int>{1}), std::logic_error);
  const auto [v, error] = c.classify_noexcept(resil::outcome<int>{1});
  REQUIRE(error);
  CHECK_THROWS_WITH(std::rethrow_exception(error), "predicate bug");
  (void)v;
}

TEST_CASE("classifier: copies are independent values", "[classify]") {
  resil::classifier a;
  resil::classifier b = a;
  b.ignore<std::runtime_error>();
  CHECK(a.classify(thrown(std::runtime_error("x"))) == resil::verdict::failure);
  CHECK(b.classify(thrown(std::runtime_error("x"))) == resil::verdict::ignored);
}

TEST_CASE("classify: verdicts are named as their enumerators", "[classify]") {
  CHECK(resil_test::enum_names<resil::verdict>(3) ==
        std::vector<std::string_view>{"success", "failure", "ignored"});
  CHECK(to_string(static_cast<resil::verdict>(3)) == "unknown");
}
