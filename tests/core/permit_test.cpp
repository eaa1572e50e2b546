// Tests for resil/core/permit.hpp: every permit is settled exactly once.
// SPDX-License-Identifier: MIT
#include <resil/core/permit.hpp>

#include <catch2/catch.hpp>

#include <optional>
#include <stdexcept>

namespace {

struct fake_owner {
  using permit_token = int;
  int successes = 0;
  int failures = 0;
  int ignored = 0;
  int releases = 0;
  int last_token = -1;

  resil::permit<fake_owner> acquire(int token) { return {*this, token}; }

 private:
  friend class resil::permit<fake_owner>;
  void complete(int token, resil::verdict v) {
    last_token = token;
    switch (v) {
      case resil::verdict::success:
        ++successes;
        break;
      case resil::verdict::failure:
        ++failures;
        break;
      case resil::verdict::ignored:
        ++ignored;
        break;
    }
  }
  void release(int token) noexcept {
    last_token = token;
    ++releases;
  }
};

}  // namespace

TEST_CASE("permit: a permit dropped unrecorded is released once", "[permit]") {
  fake_owner owner;
  { auto p = owner.acquire(7); }
  CHECK(owner.releases == 1);
  CHECK(owner.last_token == 7);
  CHECK(owner.successes + owner.failures + owner.ignored == 0);
}

TEST_CASE("permit: a recorded permit is settled and not released afterwards", "[permit]") {
  fake_owner owner;
  {
    auto p = owner.acquire(1);
    CHECK(p.active());
    p.record_success();
    CHECK_FALSE(p.active());
    p.record_failure();  // no-op: already settled
    p.release();         // no-op
  }
  CHECK(owner.successes == 1);
  CHECK(owner.failures == 0);
  CHECK(owner.releases == 0);
}

TEST_CASE("permit: moving transfers the duty to settle", "[permit]") {
  fake_owner owner;
  std::optional<resil::permit<fake_owner>> holder;
  {
    auto p = owner.acquire(3);
    holder.emplace(std::move(p));
  }
  CHECK(owner.releases == 0);
  holder->record_failure();
  CHECK(owner.failures == 1);
  holder.reset();
  CHECK(owner.releases == 0);
}

TEST_CASE("permit: move-assigning over an active permit releases it first", "[permit]") {
  fake_owner owner;
  auto a = owner.acquire(1);
  auto b = owner.acquire(2);
  a = std::move(b);
  CHECK(owner.releases == 1);
  CHECK(owner.last_token == 1);
  CHECK(a.token() == 2);
}

TEST_CASE("permit: record(outcome, classifier) reports the classifier's verdict", "[permit]") {
  fake_owner owner;
  const resil::classifier c;
  owner.acquire(1).record(resil::outcome<int>{1}, c);
  owner.acquire(2).record(
      resil::outcome<int>::from_exception(std::make_exception_ptr(std::runtime_error("x"))), c);
  owner.acquire(3).record(resil::outcome<int>::from_error(resil::errc::circuit_open), c);
  CHECK(owner.successes == 1);
  CHECK(owner.failures == 1);
  CHECK(owner.ignored == 1);
  CHECK(owner.releases == 0);
}

TEST_CASE("permit: a throwing classifier releases the permit and propagates (R4j #2324)",
          "[permit]") {
  fake_owner owner;
  const auto c = resil::classifier{}.failure_if_result(
      [](const int&) -> bool { throw std::logic_error("predicate bug"); });
  auto p = owner.acquire(9);
  CHECK_THROWS_AS(p.record(resil::outcome<int>{1}, c), std::logic_error);
  CHECK_FALSE(p.active());
  CHECK(owner.releases == 1);
  CHECK(owner.successes + owner.failures + owner.ignored == 0);
}
