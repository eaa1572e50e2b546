// Tests for resil/compose.hpp and the policy protocol (resil/core/policy.hpp), using policies
// written against the public protocol (tests/support/test_policies.hpp).
// SPDX-License-Identifier: MIT
#include <resil/compose.hpp>
#include <resil/core/classify.hpp>

#include <catch2/catch.hpp>

#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/test_policies.hpp"

using namespace std::chrono_literals;
using resil_test::counting_policy;
using resil_test::deadline_policy;
using resil_test::rejecting_policy;
using resil_test::repeating_policy;
using resil_test::tracing_policy;

namespace {
struct classifying_policy : resil::policy_base<classifying_policy> {
  resil::classifier own;
  resil::verdict last = resil::verdict::success;
  template <class R, class Next>
  resil::outcome<R> invoke(resil::context& ctx, Next&& next) {
    auto r = next(ctx);
    last = ctx.effective_classifier(own).classify(r);
    return r;
  }
};
}  // namespace

TEST_CASE("compose: user-written policies model resil::policy", "[compose]") {
  STATIC_REQUIRE(resil::policy<counting_policy>);
  STATIC_REQUIRE(resil::policy<rejecting_policy>);
  STATIC_REQUIRE(resil::policy<resil::composition<counting_policy&, repeating_policy&>>);
  STATIC_REQUIRE_FALSE(resil::policy<int>);
}

TEST_CASE("compose: policies are listed outermost first", "[compose]") {
  std::vector<std::string> trace;
  tracing_policy a{"a", trace};
  tracing_policy b{"b", trace};
  tracing_policy c{"c", trace};
  auto pipeline = resil::compose(a, b, c);
  STATIC_REQUIRE(decltype(pipeline)::size() == 3);
  const int r = pipeline.execute([&] {
    trace.emplace_back("call");
    return 1;
  });
  CHECK(r == 1);
  CHECK(trace == std::vector<std::string>{"a>", "b>", "c>", "call", "<c", "<b", "<a"});
}

TEST_CASE("compose: nested compositions keep the order they were written in", "[compose]") {
  std::vector<std::string> trace;
  tracing_policy a{"a", trace};
  tracing_policy b{"b", trace};
  tracing_policy c{"c", trace};
  auto inner = resil::compose(b, c);
  auto pipeline = resil::compose(a, inner);
  pipeline.execute([] {});
  trace.clear();
  auto temp = resil::compose(resil::compose(a, b), c);  // a temporary composition is kept
  temp.execute([] {});
  CHECK(trace == std::vector<std::string>{"a>", "b>", "c>", "<c", "<b", "<a"});
}

TEST_CASE("compose: an empty composition just calls", "[compose]") {
  auto none = resil::compose();
  CHECK(none.execute([](int x) { return x + 1; }, 1) == 2);
}

TEST_CASE("compose: execute returns values, references, void and move-only results", "[compose]") {
  counting_policy counter;
  auto pipeline = resil::compose(counter);
  int target = 0;
  int& ref = pipeline.execute([&]() -> int& { return target; });
  CHECK(&ref == &target);
  pipeline.execute([&] { target = 5; });
  CHECK(target == 5);
  std::unique_ptr<int> p = pipeline.execute([] { return std::make_unique<int>(9); });
  CHECK(*p == 9);
  const std::string s = pipeline.execute([] { return std::string("menu"); });
  CHECK(s == "menu");
  CHECK(counter.calls == 4);
}

TEST_CASE("compose: arguments are perfectly forwarded through a single-call pipeline",
          "[compose]") {
  counting_policy counter;
  auto pipeline = resil::compose(counter);
  auto owned = std::make_unique<int>(4);
  const int r = pipeline.execute([](std::unique_ptr<int> q) { return *q; }, std::move(owned));
  CHECK(r == 4);
  CHECK(owned == nullptr);  // moved into the callable
  std::string text = "in";
  pipeline.execute([](std::string& out) { out += "-out"; }, text);
  CHECK(text == "in-out");
}

TEST_CASE("compose: a pipeline that repeats the call hands every attempt intact arguments",
          "[compose]") {
  repeating_policy twice;
  std::vector<std::string> seen;
  twice.execute([&](std::string s) { seen.push_back(std::move(s)); }, std::string("order-17"));
  CHECK(seen == std::vector<std::string>{"order-17", "order-17"});
  STATIC_REQUIRE(resil::composition<counting_policy&, repeating_policy&>::repeats_call);
  STATIC_REQUIRE_FALSE(resil::composition<counting_policy&>::repeats_call);
}

TEST_CASE("compose: try_execute never throws and captures the callable's exception", "[compose]") {
  counting_policy counter;
  auto pipeline = resil::compose(counter);
  std::exception_ptr thrown;
  const auto r = pipeline.try_execute([&]() -> int {
    try {
      throw std::runtime_error("kitchen closed");
    } catch (...) {
      thrown = std::current_exception();
      throw;
    }
  });
  REQUIRE(r.has_exception());
  CHECK(r.exception() == thrown);  // the same exception object, not a copy
  CHECK(counter.failures == 1);
}

TEST_CASE("compose: execute rethrows the callable's exception unchanged, even non-std ones",
          "[compose]") {
  counting_policy counter;
  auto pipeline = resil::compose(counter);
  CHECK_THROWS_WITH(pipeline.execute([] { throw std::runtime_error("kitchen closed"); }),
                    "kitchen closed");
  int caught = 0;
  try {
    pipeline.execute([] { throw 42; });
  } catch (int v) {
    caught = v;
  }
  CHECK(caught == 42);
}

TEST_CASE("compose: a rejecting policy stops the call and reports its error", "[compose]") {
  counting_policy outer;
  rejecting_policy reject;
  auto pipeline = resil::compose(outer, reject);
  bool called = false;
  const auto r = pipeline.try_execute([&] {
    called = true;
    return 1;
  });
  CHECK_FALSE(called);
  CHECK(r.error() == resil::errc::bulkhead_full);
  CHECK(r.retry_after() == 250ms);
  CHECK_THROWS_AS(pipeline.execute([] { return 1; }), resil::bulkhead_full_error);
  CHECK_THROWS_AS(pipeline.execute([] { return 1; }), resil::rejected_error);
  CHECK(outer.failures == 3);
}

TEST_CASE("compose: a callable taking resil::context& receives the call's context", "[compose]") {
  repeating_policy twice;
  deadline_policy deadline{{}, resil::manual_clock{}, 2s};
  auto pipeline = resil::compose(twice, deadline);
  std::vector<std::uint32_t> attempts;
  std::vector<resil::nanoseconds> remaining;
  pipeline.execute(
      [&](resil::context& ctx, int) {
        attempts.push_back(ctx.attempt());
        remaining.push_back(ctx.remaining());
      },
      1);
  CHECK(attempts == std::vector<std::uint32_t>{1, 2});
  CHECK(remaining == std::vector<resil::nanoseconds>{2s, 2s});
}

TEST_CASE("compose: a deadline set inside the pipeline does not leak out of its scope",
          "[compose]") {
  deadline_policy deadline{{}, resil::manual_clock{}, 2s};
  resil::context ctx;
  const auto r = deadline.try_execute_in(ctx, [](resil::context& c) { return c.has_deadline(); });
  CHECK(r.value());
  CHECK_FALSE(ctx.has_deadline());
}

TEST_CASE("compose: try_execute_in propagates the caller's deadline and stop token", "[compose]") {
  counting_policy counter;
  resil::manual_clock clock;
  std::stop_source stop;
  resil::context ctx{stop.get_token()};
  ctx.tighten_deadline(clock, clock.now() + 3s);
  stop.request_stop();
  const auto r = counter.try_execute_in(
      ctx, [](resil::context& c) { return c.stop_requested() && c.remaining() == 3s; });
  CHECK(r.value());
}

TEST_CASE("compose: a callable returning outcome<T> reports errors without throwing", "[compose]") {
  counting_policy counter;
  auto pipeline = resil::compose(counter);
  const resil::outcome<int> ok = pipeline.try_execute([] { return resil::outcome<int>{3}; });
  CHECK(ok.value() == 3);
  const auto failed = pipeline.try_execute([]() -> resil::outcome<int> {
    return resil::outcome<int>::from_error(std::make_error_code(std::errc::host_unreachable));
  });
  CHECK(failed.error() == std::errc::host_unreachable);
  CHECK(counter.failures == 1);
}

TEST_CASE("compose: decorate binds a callable to a pipeline", "[compose]") {
  counting_policy counter;
  rejecting_policy reject;
  auto price = resil::decorate([](int qty) { return qty * 250; }, counter);
  CHECK(price(4) == 1000);
  CHECK(price.try_call(2).value() == 500);
  std::function<int(int)> erased = price;  // copyable: it holds the policy by reference
  CHECK(erased(1) == 250);
  CHECK(counter.calls == 3);
  auto refused = resil::decorate([] { return 1; }, counter, reject);
  CHECK(refused.try_call().error() == resil::errc::bulkhead_full);
  CHECK_THROWS_AS(refused(), resil::bulkhead_full_error);
}

TEST_CASE("compose: a policy sees the per-call classifier through the context", "[compose]") {
  classifying_policy p;
  const auto failing = [] { throw std::runtime_error("not found"); };
  (void)p.try_execute(failing);
  CHECK(p.last == resil::verdict::failure);
  const auto per_call = resil::classifier{}.ignore<std::runtime_error>();
  resil::context ctx;
  ctx.override_classifier(&per_call);
  (void)p.try_execute_in(ctx, failing);
  CHECK(p.last == resil::verdict::ignored);
}
