// Retry budgets: limits on retries shared by many calls, so a struggling dependency is not buried
// under retries (gRPC A6 retry throttling; Envoy and failsafe-go concurrency budgets).
// SPDX-License-Identifier: MIT
#pragma once

#include <algorithm>
#include <atomic>
#include <cassert>
#include <cmath>
#include <cstdint>
#include <optional>
#include <utility>

#include "core/classify.hpp"
#include "core/config.hpp"
#include "core/errors.hpp"
#include "core/permit.hpp"
#include "detail/config_check.hpp"

namespace resil {

/**
 * Options of `resil::retry_budget` (gRPC A6 retry throttling).
 *
 * | field | default | meaning |
 * |---|---|---|
 * | `max_tokens` | 10 | bucket size, in (0, 1000]; the bucket starts full |
 * | `token_ratio` | 0.1 | tokens a success puts back; a failure takes 1 |
 *
 * Both are stored as integer milli-tokens, so at most three decimals count (as in gRPC).
 *
 *     resil::retry_budget budget{{.max_tokens = 10, .token_ratio = 0.1}};
 */
struct retry_budget_options {
  /// Bucket size in tokens, in [0.001, 1000]. Retries are allowed while more than half is left.
  double max_tokens = 10.0;
  /// Tokens a success refunds, in [0.001, 1000]. A failure always costs one token.
  double token_ratio = 0.1;

  /// The first invalid field, if any.
  [[nodiscard]] std::optional<config_problem> validate() const {
    detail::config_check c{"retry_budget_options"};
    c.require(max_tokens >= 0.001 && max_tokens <= 1000.0, "max_tokens", max_tokens,
              "must be in [0.001, 1000]");
    c.require(token_ratio >= 0.001 && token_ratio <= 1000.0, "token_ratio", token_ratio,
              "must be in [0.001, 1000]");
    return std::move(c).result();
  }
};

/// A snapshot of a `retry_budget`.
struct retry_budget_metrics {
  std::int64_t milli_tokens = 0;      ///< Tokens left, in thousandths.
  std::int64_t max_milli_tokens = 0;  ///< The bucket size, in thousandths.
  bool retry_allowed = false;         ///< `milli_tokens > max_milli_tokens / 2`.
};

/**
 * A token bucket that throttles retries across every call sharing it: gRPC's retry throttling
 * (gRFC A6). The bucket starts full with `max_tokens`; every failed attempt takes one token,
 * every success puts `token_ratio` back; the count is clamped to [0, max_tokens] (so a day of
 * successes cannot hide a later outage). Retries are allowed only while **more than half** the
 * bucket is left. When a dependency fails for everyone, the bucket drains after a few failures
 * and calls stop retrying: the retry storm never starts.
 *
 * Give one budget to every retry that calls the same dependency:
 *
 *     resil::retry_budget budget{{.max_tokens = 10, .token_ratio = 0.1}};
 *     resil::retry search{{.max_attempts = 3, .budget = &budget}};
 *     resil::retry details{{.max_attempts = 5, .budget = &budget}};
 *
 * or drive it by hand around any call: `budget.record_failure()` returns whether a retry is
 * allowed, `record_success()` after a success. Counts are integer milli-tokens in one atomic word:
 * lock-free, exact, no floating-point drift. A success at a full bucket only reads.
 *
 * Thread-safe; neither copyable nor movable (share it by reference; it must outlive the retries
 * that use it).
 */
class retry_budget {
 public:
  /// A full bucket. Throws `config_error` for invalid options.
  explicit retry_budget(retry_budget_options options = {})
      : options_(checked(options)),
        max_milli_(to_milli(options.max_tokens)),
        ratio_milli_(to_milli(options.token_ratio)),
        milli_tokens_(max_milli_) {}
  retry_budget(const retry_budget&) = delete;
  retry_budget& operator=(const retry_budget&) = delete;

  /// True while more than half of the bucket is left. One relaxed load.
  [[nodiscard]] bool can_retry() const noexcept {
    return above_half(milli_tokens_.load(std::memory_order_relaxed));
  }

  /// A failed attempt: takes one token (not below zero) and returns whether a retry is still
  /// allowed after it, i.e. whether *this* failure may be retried (as gRPC decides).
  bool record_failure() noexcept {
    std::int64_t t = milli_tokens_.load(std::memory_order_relaxed);
    std::int64_t next = 0;
    do {
      next = std::max<std::int64_t>(t - 1000, 0);
    } while (next != t && !milli_tokens_.compare_exchange_weak(t, next, std::memory_order_relaxed));
    return above_half(next);
  }

  /// A successful attempt: puts `token_ratio` back (not above the maximum). Only reads when the
  /// bucket is full.
  void record_success() noexcept {
    std::int64_t t = milli_tokens_.load(std::memory_order_relaxed);
    while (t < max_milli_) {
      const std::int64_t next = std::min(t + ratio_milli_, max_milli_);
      if (milli_tokens_.compare_exchange_weak(t, next, std::memory_order_relaxed)) return;
    }
  }

  /// Tokens left, in thousandths.
  [[nodiscard]] std::int64_t milli_tokens() const noexcept {
    return milli_tokens_.load(std::memory_order_relaxed);
  }

  /// Fills the bucket again.
  void reset() noexcept { milli_tokens_.store(max_milli_, std::memory_order_relaxed); }

  /// A snapshot (one load, so the fields agree).
  [[nodiscard]] retry_budget_metrics metrics() const noexcept {
    const auto t = milli_tokens();
    return {t, max_milli_, above_half(t)};
  }

  /// The options the budget was built with.
  [[nodiscard]] const retry_budget_options& options() const noexcept { return options_; }

 private:
  static const retry_budget_options& checked(const retry_budget_options& o) {
    detail::raise_if(o.validate());
    return o;
  }
  static std::int64_t to_milli(double tokens) noexcept {
    return static_cast<std::int64_t>(std::llround(tokens * 1000.0));
  }
  [[nodiscard]] bool above_half(std::int64_t t) const noexcept { return 2 * t > max_milli_; }

  retry_budget_options options_;
  std::int64_t max_milli_;
  std::int64_t ratio_milli_;
  alignas(detail::cache_line) std::atomic<std::int64_t> milli_tokens_;
};

/**
 * Options of `resil::retry_concurrency_budget` (Envoy's `retry_budget`, failsafe-go's budget).
 *
 * | field | default | meaning |
 * |---|---|---|
 * | `retry_ratio` | 0.2 | retries in flight may be this fraction of the calls in flight |
 * | `min_retry_concurrency` | 3 | ... but at least this many, however few calls are in flight |
 */
struct retry_concurrency_budget_options {
  /// Fraction of the calls in flight that may be retrying at once, in [0, 1] (Envoy's
  /// `budget_percent` 20 %, failsafe-go's `maxRate` 0.2).
  double retry_ratio = 0.2;
  /// Retries allowed in flight whatever the load, at least 0 (Envoy and failsafe-go: 3).
  int min_retry_concurrency = 3;

  /// The first invalid field, if any.
  [[nodiscard]] std::optional<config_problem> validate() const {
    detail::config_check c{"retry_concurrency_budget_options"};
    c.require(retry_ratio >= 0.0 && retry_ratio <= 1.0, "retry_ratio", retry_ratio,
              "must be in [0, 1]");
    c.require(min_retry_concurrency >= 0, "min_retry_concurrency", min_retry_concurrency,
              "must not be negative");
    c.require(retry_ratio > 0.0 || min_retry_concurrency > 0, "retry_ratio", retry_ratio,
              "and min_retry_concurrency are both zero: no retry could ever run");
    return std::move(c).result();
  }
};

/// A snapshot of a `retry_concurrency_budget`.
struct retry_concurrency_budget_metrics {
  std::int64_t calls_in_flight = 0;    ///< Calls started and not finished.
  std::int64_t retries_in_flight = 0;  ///< Retry permits held.
  std::int64_t retry_limit = 0;        ///< max(min_retry_concurrency, ⌊ratio · calls⌋) now.
};

/**
 * Limits retries to a fraction of the load: at most `max(min_retry_concurrency,
 * ⌊retry_ratio · calls in flight⌋)` retries in flight at once (Envoy's retry budget,
 * failsafe-go's budget). Where `retry_budget` reacts to the failure rate, this one caps the
 * *extra load* retries can add, whatever the failure rate: with the defaults, retries add at most
 * 20 % to the calls in flight (or 3 retries when traffic is light).
 *
 * A retry counts the calls it runs (`call_started` / `call_finished`) and takes a permit for each
 * retry, held from the decision to retry (through the backoff delay) until that attempt returns:
 *
 *     resil::retry_concurrency_budget budget;                     // 20 %, at least 3
 *     resil::retry r{{.max_attempts = 4, .concurrency_budget = &budget}};
 *
 * By hand: `call_started()` / `call_finished()` around each logical call, and
 * `if (auto p = budget.try_acquire_retry()) { ...retry...; }` (the permit returns on destruction).
 * Two atomic counters on their own cache lines; under concurrent call completion the limit is
 * evaluated against the calls in flight at the moment of the decision (approximate by a call or
 * two, as Envoy's is).
 *
 * Thread-safe; neither copyable nor movable (it must outlive the retries that use it).
 */
class retry_concurrency_budget {
 public:
  /// The bookkeeping of one retry permit (nothing: the count is the state).
  struct permit_token {};

  /// An empty budget. Throws `config_error` for invalid options.
  explicit retry_concurrency_budget(retry_concurrency_budget_options options = {})
      : options_(checked(options)) {}
  retry_concurrency_budget(const retry_concurrency_budget&) = delete;
  retry_concurrency_budget& operator=(const retry_concurrency_budget&) = delete;
  /// Debug builds assert that no retry permit is held: it would outlive the budget.
  ~retry_concurrency_budget() {
    assert(retries_.load(std::memory_order_relaxed) == 0 &&
           "resil::retry_concurrency_budget destroyed while retry permits are held");
  }

  /// A logical call (all its attempts) begins.
  void call_started() noexcept { calls_.fetch_add(1, std::memory_order_relaxed); }
  /// A logical call ends.
  void call_finished() noexcept { calls_.fetch_sub(1, std::memory_order_relaxed); }

  /// True when a retry permit would be granted now (an observation, not a reservation).
  [[nodiscard]] bool can_retry() const noexcept {
    return retries_.load(std::memory_order_relaxed) < limit();
  }

  /// Reserves one retry in flight, or nothing when the budget is spent. The permit returns the
  /// reservation when it is settled or destroyed, whatever the verdict.
  [[nodiscard]] std::optional<permit<retry_concurrency_budget>> try_acquire_retry() noexcept {
    std::int64_t r = retries_.load(std::memory_order_relaxed);
    do {
      if (r >= limit()) return std::nullopt;
    } while (!retries_.compare_exchange_weak(r, r + 1, std::memory_order_relaxed));
    return std::optional<permit<retry_concurrency_budget>>{std::in_place, *this, permit_token{}};
  }

  /// A snapshot (each counter read once).
  [[nodiscard]] retry_concurrency_budget_metrics metrics() const noexcept {
    return {calls_.load(std::memory_order_relaxed), retries_.load(std::memory_order_relaxed),
            limit()};
  }

  /// The options the budget was built with.
  [[nodiscard]] const retry_concurrency_budget_options& options() const noexcept {
    return options_;
  }

 private:
  friend class permit<retry_concurrency_budget>;

  static const retry_concurrency_budget_options& checked(
      const retry_concurrency_budget_options& o) {
    detail::raise_if(o.validate());
    return o;
  }
  [[nodiscard]] std::int64_t limit() const noexcept {
    const std::int64_t calls = std::max<std::int64_t>(calls_.load(std::memory_order_relaxed), 0);
    const auto share = static_cast<std::int64_t>(options_.retry_ratio * static_cast<double>(calls));
    return std::max<std::int64_t>(share, options_.min_retry_concurrency);
  }
  void complete(const permit_token& t, verdict) noexcept { release(t); }
  void release(const permit_token&) noexcept { retries_.fetch_sub(1, std::memory_order_relaxed); }

  retry_concurrency_budget_options options_;
  alignas(detail::cache_line) std::atomic<std::int64_t> calls_{0};
  alignas(detail::cache_line) std::atomic<std::int64_t> retries_{0};
};

}  // namespace resil
