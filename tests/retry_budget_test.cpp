// Tests for resil/retry_budget.hpp: the gRPC A6 token budget and the Envoy-style concurrency
// budget, driven by hand (the retry's use of them is in retry_test.cpp).
// SPDX-License-Identifier: MIT
#include <resil/core/random.hpp>
#include <resil/retry_budget.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <string>
#include <thread>
#include <vector>

using resil::retry_budget;
using resil::retry_concurrency_budget;

TEST_CASE("retry_budget: walks gRPC's token sequence exactly (retry_throttle_test)",
          "[retry_budget]") {
  // 4 tokens, +1.6 per success: retries only while more than 2 tokens are left.
  retry_budget b{{.max_tokens = 4, .token_ratio = 1.6}};
  struct step {
    char op;          // 'f' failure, 's' success
    bool allowed;     // record_failure's answer (for 'f')
    long long milli;  // tokens after the step, in thousandths
  };
  const std::vector<step> walk = {
      {'f', true, 3000},  {'s', true, 4000},                    // clamped at the maximum
      {'f', true, 3000},  {'f', false, 2000},                   // at half: no retry
      {'f', false, 1000}, {'f', false, 0},    {'f', false, 0},  // clamped at zero
      {'s', false, 1600}, {'s', true, 3200},  {'f', true, 2200}, {'f', false, 1200},
      {'s', false, 2800}, {'f', false, 1800}, {'s', true, 3400}, {'f', true, 2400},
  };
  CHECK(b.milli_tokens() == 4000);
  CHECK(b.can_retry());
  int i = 0;
  for (const auto& s : walk) {
    INFO("step " << i++);
    if (s.op == 'f') {
      CHECK(b.record_failure() == s.allowed);
    } else {
      b.record_success();
    }
    CHECK(b.milli_tokens() == s.milli);
    CHECK(b.can_retry() == (2 * s.milli > 4000));
  }
}

TEST_CASE(
    "retry_budget: the count is clamped to [0, max], so a long run of successes cannot "
    "hide a later outage (gRPC proposal #27)",
    "[retry_budget]") {
  retry_budget b{{.max_tokens = 10, .token_ratio = 0.1}};
  for (int i = 0; i < 1'000'000; ++i) b.record_success();
  CHECK(b.milli_tokens() == 10'000);
  // The outage: retries stop after 5 failures (10 -> 5 is not above half), not after 10^5.
  int allowed = 0;
  while (b.record_failure()) ++allowed;
  CHECK(allowed == 4);
  for (int i = 0; i < 100; ++i) CHECK_FALSE(b.record_failure());
  CHECK(b.milli_tokens() == 0);
  const auto m = b.metrics();
  CHECK(m.milli_tokens == 0);
  CHECK(m.max_milli_tokens == 10'000);
  CHECK_FALSE(m.retry_allowed);
  b.reset();
  CHECK(b.metrics().retry_allowed);
}

TEST_CASE("retry_budget: counts in whole milli-tokens", "[retry_budget]") {
  retry_budget b{{.max_tokens = 3.5, .token_ratio = 0.001}};
  CHECK(b.metrics().max_milli_tokens == 3500);
  (void)b.record_failure();
  b.record_success();
  CHECK(b.milli_tokens() == 2501);
  retry_budget tiny{{.max_tokens = 0.001, .token_ratio = 0.001}};
  CHECK_FALSE(tiny.record_failure());  // 1 -> 0: a one-milli-token budget allows nothing after
  CHECK(tiny.milli_tokens() == 0);
}

TEST_CASE("retry_budget: invalid bounds are rejected; 1000 tokens is valid (grpc-go #2670)",
          "[retry_budget]") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  CHECK_FALSE(resil::retry_budget_options{.max_tokens = 1000}.validate());
  CHECK_FALSE(resil::retry_budget_options{.max_tokens = 0.001, .token_ratio = 1000}.validate());
  const std::vector<std::pair<resil::retry_budget_options, std::string>> bad = {
      {{.max_tokens = 0}, "retry_budget_options.max_tokens"},
      {{.max_tokens = -1}, "retry_budget_options.max_tokens"},
      {{.max_tokens = 1000.001}, "retry_budget_options.max_tokens"},
      {{.max_tokens = nan}, "retry_budget_options.max_tokens"},
      {{.max_tokens = inf}, "retry_budget_options.max_tokens"},
      {{.token_ratio = 0}, "retry_budget_options.token_ratio"},
      {{.token_ratio = -0.5}, "retry_budget_options.token_ratio"},
      {{.token_ratio = nan}, "retry_budget_options.token_ratio"},
      {{.token_ratio = inf}, "retry_budget_options.token_ratio"},
  };
  for (const auto& [options, field] : bad) {
    REQUIRE(options.validate());
    CHECK(options.validate()->field == field);
    CHECK_THROWS_AS(retry_budget{options}, resil::config_error);
  }
  CHECK(resil::retry_budget_options{.max_tokens = 0}.validate()->message ==
        "resil: retry_budget_options.max_tokens = 0 is invalid: must be in [0.001, 1000]");
}

TEST_CASE("retry_budget: matches a naive model over 10^5 random operations", "[retry_budget]") {
  // The model: a plain integer, clamped by hand after every step.
  for (const auto& [max_tokens, ratio] : {std::pair{10.0, 0.1}, std::pair{4.0, 1.6},
                                          std::pair{1000.0, 0.001}, std::pair{0.5, 0.25}}) {
    retry_budget b{{.max_tokens = max_tokens, .token_ratio = ratio}};
    const auto max_milli = static_cast<long long>(std::llround(max_tokens * 1000));
    const auto ratio_milli = static_cast<long long>(std::llround(ratio * 1000));
    long long model = max_milli;
    resil::splitmix64 rng{2670};
    for (int i = 0; i < 100'000; ++i) {
      // Alternate calm phases (90 % successes) and outages (90 % failures), so the walk spends
      // time at both clamps and crosses the half-way threshold many times.
      const bool calm = (i / 500) % 2 == 0;
      const bool success = (rng() % 10 < 9) == calm;
      if (success) {
        model = std::min(model + ratio_milli, max_milli);
        b.record_success();
      } else {
        model = std::max(model - 1000, 0LL);
        REQUIRE(b.record_failure() == (2 * model > max_milli));
      }
      REQUIRE(b.milli_tokens() == model);
      REQUIRE(b.can_retry() == (2 * model > max_milli));
    }
  }
}

TEST_CASE("retry_budget: concurrent failures and successes keep the count in [0, max]",
          "[retry_budget]") {
  retry_budget b{{.max_tokens = 5, .token_ratio = 0.7}};
  std::atomic<bool> ok{true};
  std::vector<std::thread> pool;
  for (int t = 0; t < 4; ++t) {
    pool.emplace_back([&, t] {
      for (int i = 0; i < 20'000; ++i) {
        if ((i + t) % 3 == 0) {
          b.record_success();
        } else {
          (void)b.record_failure();
        }
        const auto m = b.milli_tokens();
        if (m < 0 || m > 5000) ok = false;
      }
    });
  }
  for (auto& th : pool) th.join();
  CHECK(ok);
  // Each thread ends with two failures after its last success, so whatever the interleaving the
  // count is a sum of whole steps within bounds.
  CHECK(b.milli_tokens() >= 0);
  CHECK(b.milli_tokens() <= 5000);
}

TEST_CASE("retry_concurrency_budget: allows max(min, ratio x calls) retries in flight",
          "[retry_budget]") {
  retry_concurrency_budget b;  // 20 %, at least 3
  CHECK(b.metrics().retry_limit == 3);
  for (int i = 0; i < 20; ++i) b.call_started();
  CHECK(b.metrics().retry_limit == 4);
  std::vector<resil::permit<retry_concurrency_budget>> held;
  for (int i = 0; i < 4; ++i) {
    auto p = b.try_acquire_retry();
    REQUIRE(p);
    held.push_back(std::move(*p));
  }
  CHECK_FALSE(b.can_retry());
  CHECK_FALSE(b.try_acquire_retry());
  held.pop_back();  // a retry finished
  CHECK(b.can_retry());
  CHECK(b.try_acquire_retry());  // a temporary: returned at once
  CHECK(b.metrics().retries_in_flight == 3);
  for (int i = 0; i < 10; ++i) b.call_finished();  // load halves: 10 calls, limit max(3, 2) = 3
  CHECK(b.metrics().retry_limit == 3);
  CHECK_FALSE(b.try_acquire_retry());
  held.front().record_success();  // settling returns the reservation too
  CHECK(b.metrics().retries_in_flight == 2);
  held.clear();
  for (int i = 0; i < 10; ++i) b.call_finished();
  CHECK(b.metrics().retries_in_flight == 0);
  CHECK(b.metrics().calls_in_flight == 0);
}

TEST_CASE("retry_concurrency_budget: a zero minimum follows the load alone", "[retry_budget]") {
  retry_concurrency_budget b{{.retry_ratio = 0.5, .min_retry_concurrency = 0}};
  CHECK_FALSE(b.try_acquire_retry());  // nothing in flight: no retry
  b.call_started();
  CHECK_FALSE(b.try_acquire_retry());  // 0.5 x 1 rounds down to 0
  b.call_started();
  auto p = b.try_acquire_retry();
  CHECK(p);
  CHECK_FALSE(b.try_acquire_retry());
}

TEST_CASE("retry_concurrency_budget: invalid options are rejected", "[retry_budget]") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<std::pair<resil::retry_concurrency_budget_options, std::string>> bad = {
      {{.retry_ratio = -0.1}, "retry_concurrency_budget_options.retry_ratio"},
      {{.retry_ratio = 1.5}, "retry_concurrency_budget_options.retry_ratio"},
      {{.retry_ratio = nan}, "retry_concurrency_budget_options.retry_ratio"},
      {{.min_retry_concurrency = -1}, "retry_concurrency_budget_options.min_retry_concurrency"},
      {{.retry_ratio = 0, .min_retry_concurrency = 0},
       "retry_concurrency_budget_options.retry_ratio"},
  };
  for (const auto& [options, field] : bad) {
    REQUIRE(options.validate());
    CHECK(options.validate()->field == field);
    CHECK_THROWS_AS(retry_concurrency_budget{options}, resil::config_error);
  }
  CHECK_FALSE(resil::retry_concurrency_budget_options{.retry_ratio = 1.0}.validate());
  CHECK_FALSE(resil::retry_concurrency_budget_options{.retry_ratio = 0, .min_retry_concurrency = 1}
                  .validate());
}

TEST_CASE("retry_concurrency_budget: threads racing for permits never exceed the limit",
          "[retry_budget]") {
  retry_concurrency_budget b{{.retry_ratio = 0.25, .min_retry_concurrency = 1}};
  for (int i = 0; i < 8; ++i) b.call_started();  // fixed load: limit max(1, 2) = 2
  std::atomic<int> inside{0};
  std::atomic<int> worst{0};
  std::atomic<long> granted{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < 4; ++t) {
    pool.emplace_back([&] {
      for (int i = 0; i < 20'000; ++i) {
        if (auto p = b.try_acquire_retry()) {
          const int now = ++inside;
          int w = worst.load();
          while (now > w && !worst.compare_exchange_weak(w, now)) {
          }
          ++granted;
          --inside;
        }
      }
    });
  }
  for (auto& th : pool) th.join();
  CHECK(worst <= 2);
  CHECK(granted > 0);
  CHECK(b.metrics().retries_in_flight == 0);
}
