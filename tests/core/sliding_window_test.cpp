// Tests for resil/core/sliding_window.hpp: count and time windows against naive models.
// SPDX-License-Identifier: MIT
#include <resil/core/sliding_window.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <deque>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include <resil/core/random.hpp>

namespace Catch {
template <>
struct StringMaker<resil::window_totals> {
  static std::string convert(const resil::window_totals& t) {
    return "{calls " + std::to_string(t.calls) + ", failed " + std::to_string(t.failed) +
           ", slow " + std::to_string(t.slow) + "}";
  }
};
}  // namespace Catch

using namespace std::chrono_literals;
using resil::call_sample;
using resil::window_totals;

namespace {

constexpr std::int64_t i64_min = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t i64_max = std::numeric_limits<std::int64_t>::max();

// The last n samples, kept in a deque: obviously right, O(n).
struct count_model {
  explicit count_model(std::uint32_t n) : size(n) {}
  std::uint32_t size;
  std::deque<call_sample> samples;

  void record(call_sample s) {
    samples.push_back(s);
    if (samples.size() > size) samples.pop_front();
  }
  [[nodiscard]] window_totals totals() const {
    window_totals t;
    for (const auto& s : samples) {
      ++t.calls;
      t.failed += s.failed ? 1U : 0U;
      t.slow += s.slow ? 1U : 0U;
    }
    return t;
  }
};

// Every sample with its bucket; the window is the samples of the last n buckets up to the
// newest bucket seen. A sample earlier than the newest bucket counts in the newest bucket.
struct time_model {
  time_model(std::uint32_t n, std::int64_t w) : size(n), width(w) {}
  std::uint32_t size;
  std::int64_t width;
  bool any = false;
  std::int64_t head = 0;
  struct entry {
    std::int64_t bucket;
    call_sample s;
  };
  std::vector<entry> entries;

  [[nodiscard]] std::int64_t bucket_of(std::int64_t t) const {
    return static_cast<std::int64_t>(std::floor(static_cast<long double>(t) / width));
  }
  void see(std::int64_t t) {
    const auto b = bucket_of(t);
    if (!any || b > head) head = b;
    any = true;
  }
  void record(call_sample s, std::int64_t t) {
    see(t);
    entries.push_back({head, s});
  }
  [[nodiscard]] window_totals totals() const {
    window_totals out;
    for (const auto& e : entries) {
      const auto age = static_cast<std::uint64_t>(head) - static_cast<std::uint64_t>(e.bucket);
      if (age >= size) continue;
      ++out.calls;
      out.failed += e.s.failed ? 1U : 0U;
      out.slow += e.s.slow ? 1U : 0U;
    }
    return out;
  }
};

call_sample random_sample(resil::splitmix64& rng) {
  const auto r = rng();
  return {(r & 1U) != 0, (r & 6U) == 6U};
}

bool sane(const window_totals& t) {
  return t.failed <= t.calls && t.slow <= t.calls;
}

}  // namespace

// The window's test hook: moves an empty window to position p, as if p calls had been recorded
// and the window reset, to test the 2^32 position wrap without making four billion calls.
struct resil::detail::count_window_access {
  static void start_at(count_window& w, std::uint32_t p) {
    w.head_.store(p);
    w.slots_[w.index(p)].x.store(p);
    w.base_.store(p);
  }
};

TEST_CASE("window_totals: rates are fractions, NaN while empty", "[sliding_window]") {
  CHECK(std::isnan(window_totals{}.failure_rate()));
  CHECK(std::isnan(window_totals{}.slow_call_rate()));
  const window_totals t{4, 1, 2};
  CHECK(t.failure_rate() == 0.25);
  CHECK(t.slow_call_rate() == 0.5);
}

TEST_CASE("count_window: holds exactly the last n calls", "[sliding_window]") {
  resil::count_window w{3};
  CHECK(w.size() == 3);
  CHECK(w.totals() == window_totals{});
  CHECK(w.record({.failed = true}).totals == window_totals{1, 1, 0});
  CHECK(w.record({.slow = true}).totals == window_totals{2, 1, 1});
  CHECK(w.record({}).totals == window_totals{3, 1, 1});
  CHECK(w.record({}).totals == window_totals{3, 0, 1});  // the failure slid out
  CHECK(w.record({}).totals == window_totals{3, 0, 0});
  CHECK(w.totals() == window_totals{3, 0, 0});
}

TEST_CASE("count_window: matches a naive deque model for sizes 1, 2, 3, 7 and 100 (R4j #1335)",
          "[sliding_window]") {
  for (const std::uint32_t size : {1U, 2U, 3U, 7U, 100U}) {
    resil::splitmix64 rng{0xC0FFEE + size};
    resil::count_window w{size};
    count_model model{size};
    std::uint64_t epoch = 0;
    for (int op = 0; op < 100'000; ++op) {
      const auto dice = rng() % 1000;
      if (dice == 0) {  // reset: a new epoch, an empty window
        w.reset(++epoch);
        model.samples.clear();
      } else if (dice < 5) {  // a stale record from an older epoch is not counted
        REQUIRE_FALSE(w.record(random_sample(rng), epoch + 7).recorded);
      } else {
        const auto s = random_sample(rng);
        model.record(s);
        const auto u = w.record(s, epoch);
        REQUIRE(u.recorded);
        REQUIRE(u.has_totals);  // always, without concurrency
        REQUIRE(u.totals == model.totals());
      }
      if (op % 97 == 0) REQUIRE(w.totals() == model.totals());
    }
    CHECK(w.totals() == model.totals());
  }
}

TEST_CASE("count_window: positions wrap around 2^32 and past 2^31 without a glitch",
          "[sliding_window]") {
  for (const std::uint32_t start : {0xFFFF'FFFFU - 150U, 0x7FFF'FFFFU - 50U, 0xFFFF'FFFFU}) {
    for (const std::uint32_t size : {1U, 7U, 100U}) {
      resil::count_window w{size};
      resil::detail::count_window_access::start_at(w, start);
      count_model model{size};
      resil::splitmix64 rng{start ^ size};
      for (int i = 0; i < 400; ++i) {
        const auto s = random_sample(rng);
        model.record(s);
        const auto u = w.record(s, w.epoch());
        REQUIRE(u.has_totals);
        REQUIRE(u.totals == model.totals());
        REQUIRE(w.totals() == model.totals());
      }
      w.reset(9);  // and a reset right after the wrap still starts an empty window
      CHECK(w.totals() == window_totals{});
      CHECK(w.record({.failed = true}, 9).totals == window_totals{1, 1, 0});
    }
  }
}

TEST_CASE("count_window: size 1 holds the last call over 10^5 calls (R4j #2379)",
          "[sliding_window]") {
  resil::count_window w{1};
  resil::splitmix64 rng{1};
  for (int i = 0; i < 100'000; ++i) {
    const auto s = random_sample(rng);
    const auto t = w.record(s).totals;
    REQUIRE(t == window_totals{1, s.failed ? 1U : 0U, s.slow ? 1U : 0U});
  }
}

TEST_CASE("count_window: the largest window holds 65535 calls", "[sliding_window]") {
  resil::count_window w{resil::count_window::max_size};
  for (std::uint32_t i = 0; i < 70'000; ++i) (void)w.record({.failed = true, .slow = true});
  CHECK(w.totals() == window_totals{65535, 65535, 65535});
  for (std::uint32_t i = 0; i < 65535; ++i) (void)w.record({});
  CHECK(w.totals() == window_totals{65535, 0, 0});
}

TEST_CASE("count_window: sizes 0 and above 65535 are rejected", "[sliding_window]") {
  CHECK_THROWS_AS(resil::count_window{0}, resil::config_error);
  CHECK_THROWS_AS(resil::count_window{65536}, resil::config_error);
}

TEST_CASE("count_window: concurrent records never produce impossible totals", "[sliding_window]") {
  resil::count_window w{7};
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0};
  std::thread reader([&] {
    while (!stop.load()) {
      const auto t = w.totals();
      if (!sane(t) || t.calls > 7) ++bad;
    }
  });
  std::vector<std::thread> writers;
  for (int k = 0; k < 4; ++k) {
    writers.emplace_back([&, k] {
      resil::splitmix64 rng{static_cast<std::uint64_t>(k)};
      for (int i = 0; i < 20'000; ++i) {
        const auto u = w.record(random_sample(rng));
        if (!u.recorded || (u.has_totals && (!sane(u.totals) || u.totals.calls > 7))) ++bad;
      }
    });
  }
  for (auto& t : writers) t.join();
  stop = true;
  reader.join();
  CHECK(bad == 0);
  CHECK(w.totals().calls == 7);
}

TEST_CASE("count_window: concurrent failures only are counted exactly", "[sliding_window]") {
  resil::count_window w{100};
  std::vector<std::thread> writers;
  for (int k = 0; k < 4; ++k) {
    writers.emplace_back([&] {
      for (int i = 0; i < 10'000; ++i) (void)w.record({.failed = true});
    });
  }
  for (auto& t : writers) t.join();
  CHECK(w.totals() == window_totals{100, 100, 0});
}

TEST_CASE("count_window: after concurrent phases the window holds exactly the last phase",
          "[sliding_window]") {
  resil::count_window w{100};
  for (const bool failed : {true, false, true}) {
    std::vector<std::thread> writers;
    for (int k = 0; k < 4; ++k) {
      writers.emplace_back([&] {
        for (int i = 0; i < 5'000; ++i) (void)w.record({.failed = failed, .slow = !failed});
      });
    }
    for (auto& t : writers) t.join();
    CHECK(w.totals() == (failed ? window_totals{100, 100, 0} : window_totals{100, 0, 100}));
    const auto u = w.record({});  // a quiescent record always sees its window
    REQUIRE(u.has_totals);
    CHECK(u.totals.calls == 100);
  }
}

TEST_CASE("time_window: counts the calls of the last n buckets", "[sliding_window]") {
  resil::time_window w{3, 1s};
  const auto at = [](std::chrono::milliseconds t) { return resil::nanoseconds{t}.count(); };
  CHECK(w.record({.failed = true}, at(100ms)).totals == window_totals{1, 1, 0});
  CHECK(w.record({}, at(1500ms)).totals == window_totals{2, 1, 0});
  CHECK(w.record({.slow = true}, at(2999ms)).totals == window_totals{3, 1, 1});
  CHECK(w.totals(at(3000ms)) == window_totals{2, 0, 1});  // bucket 0 slid out
  CHECK(w.totals(at(4000ms)) == window_totals{1, 0, 1});
  CHECK(w.totals(at(100ms)) == window_totals{1, 0, 1});             // never slides backwards
  CHECK(w.record({}, at(100ms)).totals == window_totals{2, 0, 1});  // late: counts as now
  CHECK(w.totals(at(7000ms)) == window_totals{});
}

TEST_CASE("time_window: matches a naive model under random clock moves, backwards included",
          "[sliding_window]") {
  for (const std::uint32_t size : {1U, 2U, 3U, 7U, 100U}) {
    for (const std::int64_t width :
         {std::int64_t{1}, std::int64_t{1'000'000}, std::int64_t{1'000'000'000}}) {
      resil::splitmix64 rng{0xBEEF + size * 31U + static_cast<std::uint64_t>(width)};
      resil::time_window w{size, resil::nanoseconds{width}};
      time_model model{size, width};
      std::uint64_t epoch = 0;
      std::int64_t now = static_cast<std::int64_t>(rng() % 1'000'000'000'000ULL);
      for (int op = 0; op < 20'000; ++op) {
        const auto dice = rng() % 100;
        if (dice < 40) {  // time moves: not at all, a little, a bucket, a window, or back
          const std::int64_t steps[] = {0,
                                        1,
                                        width / 3 + 1,
                                        width,
                                        width * size,
                                        width * (size + 1),
                                        -width,
                                        -(width / 2) - 1};
          now += steps[rng() % 8];
        } else if (dice < 45) {
          model.see(now);
          REQUIRE(w.totals(now) == model.totals());
        } else if (dice == 45) {
          w.reset(++epoch);
          model.entries.clear();
        } else if (dice == 46) {  // a stale record counts nothing, but time has still passed
          model.see(now);
          REQUIRE_FALSE(w.record(random_sample(rng), now, epoch + 3).recorded);
        } else {
          const auto s = random_sample(rng);
          model.record(s, now);
          const auto u = w.record(s, now, epoch);
          INFO("size " << size << " width " << width << " op " << op << " now " << now);
          REQUIRE(u.recorded);
          REQUIRE(u.totals == model.totals());
        }
      }
    }
  }
}

TEST_CASE("time_window: size 1 with the clock advancing two buckets per call (R4j #2379)",
          "[sliding_window]") {
  resil::time_window w{1, 1s};
  resil::splitmix64 rng{8};
  std::int64_t now = 0;
  for (int i = 0; i < 100'000; ++i) {
    const auto s = random_sample(rng);
    now += 2'000'000'000;
    REQUIRE(w.record(s, now).totals == window_totals{1, s.failed ? 1U : 0U, s.slow ? 1U : 0U});
  }
}

TEST_CASE("time_window: a jump of a hundred years costs O(buckets), not O(elapsed)",
          "[sliding_window]") {
  // One-nanosecond buckets: sliding bucket by bucket over 100 years would never finish.
  resil::time_window w{resil::time_window::max_buckets, 1ns};
  for (std::int64_t t = 0; t < 1000; ++t) (void)w.record({.failed = true}, t);
  CHECK(w.totals(999) == window_totals{1000, 1000, 0});
  const std::int64_t century = 100LL * 365 * 24 * 3600 * 1'000'000'000LL;
  CHECK(w.totals(century) == window_totals{});
  CHECK(w.record({}, century).totals == window_totals{1, 0, 0});
}

TEST_CASE(
    "time_window: a jump of an exact multiple of 65536 buckets does not bring the dead buckets' "
    "counts back (found by fuzz_window_diff)",
    "[sliding_window]") {
  // Slots are tagged with the bucket index modulo 2^16: after such a jump every dead bucket
  // carries the tag of the new bucket sharing its slot.
  for (const std::uint32_t size : {1U, 3U, 7U}) {
    for (const std::int64_t width : {std::int64_t{1}, std::int64_t{1'000'000'000}}) {
      INFO("size " << size << ", width " << width);
      resil::time_window w{size, resil::nanoseconds{width}};
      const std::int64_t start = 5 * width;
      for (std::uint32_t i = 0; i < size; ++i) {
        (void)w.record({.failed = true, .slow = true}, start + i * width);
      }
      CHECK(w.totals(start + (size - 1) * width) == window_totals{size, size, size});
      const std::int64_t jump = std::int64_t{65536} * size * width;
      CHECK(w.totals(start + (size - 1) * width + jump) == window_totals{});
      CHECK(w.record({}, start + (size - 1) * width + jump).totals == window_totals{1, 0, 0});
      // The same through a record (not a read) that makes the jump.
      resil::time_window v{size, resil::nanoseconds{width}};
      (void)v.record({.failed = true}, start);
      CHECK(v.record({}, start + jump).totals == window_totals{1, 0, 0});
    }
  }
  // Ten years in nanosecond buckets is 2^17 x an odd number of buckets.
  resil::time_window w{1, 1ns};
  (void)w.record({.failed = true}, 0);
  CHECK(w.record({}, 315'360'000'000'000'000).totals == window_totals{1, 0, 0});
}

// The time window's test hook: the second half of record(), which touches the bucket it chose
// from a head read earlier. Called after moving the head on, it replays a record that was
// preempted between the two, one interleaving that a stress test reaches only by luck.
struct resil::detail::time_window_access {
  // true: counted in bucket j; false: bucket j has left the window (record() then retries)
  static bool finish_record_in(time_window& w, std::int64_t j) {
    return w.touch(time_window::field::calls, j, 1, nullptr) == time_window::step::ok;
  }
};

TEST_CASE(
    "time_window: a record preempted while another thread moves the head exactly one window on "
    "does not evict the new head's counts",
    "[sliding_window]") {
  using access = resil::detail::time_window_access;
  constexpr std::int64_t ms = 1'000'000;
  for (const std::int64_t size : {1, 2, 4, 7}) {
    INFO("size " << size);
    resil::time_window w{static_cast<std::uint32_t>(size), 1ms};
    (void)w.record({}, 10 * ms);  // head: bucket 10, where the preempted record will count
    // Meanwhile another thread records in bucket 10 + size, which shares bucket 10's slot.
    for (int i = 0; i < 5; ++i) (void)w.record({.failed = true}, (10 + size) * ms);
    REQUIRE(w.totals((10 + size) * ms) == window_totals{5, 5, 0});
    CHECK_FALSE(access::finish_record_in(w, 10));  // bucket 10 is out: count it at the head
    CHECK(w.totals((10 + size) * ms) == window_totals{5, 5, 0});

    // One bucket less and bucket 10 is still in the window: the record counts there.
    resil::time_window v{static_cast<std::uint32_t>(size), 1ms};
    (void)v.record({}, 10 * ms);
    for (int i = 0; i < 5; ++i) (void)v.record({.failed = true}, (10 + size - 1) * ms);
    CHECK(access::finish_record_in(v, 10));
    CHECK(v.totals((10 + size - 1) * ms) == window_totals{7, 5, 0});
  }
}

TEST_CASE("time_window: works at the extremes of the clock (R4j PR #66)", "[sliding_window]") {
  for (const std::int64_t start : {i64_min, i64_min + 1, std::int64_t{-1}, std::int64_t{0},
                                   i64_max - std::int64_t{5'000'000'000}}) {
    resil::time_window w{3, 1s};
    std::int64_t now = start;
    for (int i = 0; i < 5; ++i) {
      const auto t = w.record({.failed = i % 2 == 0}, now).totals;
      REQUIRE(sane(t));
      REQUIRE(t.calls == static_cast<std::uint64_t>(i < 3 ? i + 1 : 3));
      now = resil::detail::sat_add(now, 1'000'000'000);
    }
    CHECK(w.totals(i64_max).calls <= 3);
  }
  resil::time_window w{2, 1ns};  // bucket index INT64_MIN itself
  CHECK(w.record({}, i64_min).totals == window_totals{1, 0, 0});
  CHECK(w.record({}, i64_max).totals == window_totals{1, 0, 0});
}

TEST_CASE("time_window: bad sizes are rejected", "[sliding_window]") {
  CHECK_THROWS_AS(resil::time_window(0, 1s), resil::config_error);
  CHECK_THROWS_AS(resil::time_window(65536, 1s), resil::config_error);
  CHECK_THROWS_AS(resil::time_window(10, 0s), resil::config_error);
  CHECK_THROWS_AS(resil::time_window(10, -1s), resil::config_error);
}

TEST_CASE("time_window: concurrent records in one bucket are counted exactly", "[sliding_window]") {
  resil::time_window w{5, 1s};
  std::vector<std::thread> writers;
  for (int k = 0; k < 4; ++k) {
    writers.emplace_back([&, k] {
      for (int i = 0; i < 10'000; ++i) (void)w.record({.failed = i % 4 == k}, 42);
    });
  }
  for (auto& t : writers) t.join();
  CHECK(w.totals(42) == window_totals{40'000, 10'000, 0});
}

TEST_CASE("time_window: concurrent records while time moves never drift", "[sliding_window]") {
  resil::time_window w{4, 1ms};
  std::atomic<std::int64_t> now{0};
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0};
  std::thread ticker([&] {
    while (!stop.load()) {
      now.fetch_add(250'000);
      std::this_thread::yield();
    }
  });
  std::vector<std::thread> writers;
  for (int k = 0; k < 3; ++k) {
    writers.emplace_back([&, k] {
      resil::splitmix64 rng{static_cast<std::uint64_t>(k) + 100};
      for (int i = 0; i < 20'000; ++i) {
        const auto u = w.record(random_sample(rng), now.load());
        if (!u.recorded || !sane(u.totals)) ++bad;
      }
    });
  }
  for (auto& t : writers) t.join();
  stop = true;
  ticker.join();
  CHECK(bad == 0);
  // Once everything has slid out, the running totals are back to exactly zero.
  CHECK(w.totals(now.load() + 10'000'000) == window_totals{});
  CHECK(w.record({.failed = true}, now.load() + 20'000'000).totals == window_totals{1, 1, 0});
}
