// The stress harness: N threads released together by a std::latch, random yields, a watchdog,
// and lock-free invariant counters read after the join (Catch2 assertions are not thread-safe).
// SPDX-License-Identifier: MIT
#pragma once

#include <resil/core/random.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <latch>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace resil_stress {

/// The figures of a run: threads x calls per thread x repetitions. Defaults are the per-change
/// tier's (8 x 20,000 x 3); RESIL_STRESS_THREADS, RESIL_STRESS_CALLS and RESIL_STRESS_REPS
/// override them (scripts/soak runs 16 x 250,000).
struct figures {
  std::size_t threads = 8;
  std::uint64_t calls = 20'000;
  std::uint64_t reps = 3;

  static figures from_env() {
    figures f;
    f.threads = static_cast<std::size_t>(read("RESIL_STRESS_THREADS", f.threads));
    f.calls = read("RESIL_STRESS_CALLS", f.calls);
    f.reps = read("RESIL_STRESS_REPS", f.reps);
    return f;
  }

 private:
  static std::uint64_t read(const char* name, std::uint64_t fallback) {
    const char* v = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): read before threads
    if (v == nullptr || *v == '\0') return fallback;
    return std::strtoull(v, nullptr, 10);
  }
};

/// Prints one line of figures for a repetition (the run's record: docs/reliability.md quotes it).
inline void report(const char* what, std::uint64_t rep, const figures& f,
                   std::initializer_list<std::pair<const char*, std::int64_t>> values) {
  std::printf("stress %s rep %llu: %zu threads x %llu calls", what,
              static_cast<unsigned long long>(rep), f.threads,
              static_cast<unsigned long long>(f.calls));
  for (const auto& [name, v] : values) std::printf(", %s %lld", name, static_cast<long long>(v));
  std::printf("\n");
  std::fflush(stdout);
}

/// Raises `max` to `v` if it is larger (lock-free).
inline void raise_max(std::atomic<std::int64_t>& max, std::int64_t v) noexcept {
  for (std::int64_t seen = max.load(); v > seen;) {
    if (max.compare_exchange_weak(seen, v)) break;
  }
}

/// Yields with probability 1/64: perturbs the schedule without slowing the run much.
inline void maybe_yield(resil::splitmix64& rng) {
  if (rng() % 64 == 0) std::this_thread::yield();
}

/// Aborts the process with a message if the scope is not left within `limit`: a deadlock is a
/// failure, not a hung CI job.
class watchdog {
 public:
  watchdog(std::string what, std::chrono::seconds limit)
      : what_(std::move(what)), thread_([this, limit] {
          std::unique_lock lock(mutex_);
          if (!cv_.wait_for(lock, limit, [this] { return done_; })) {
            std::fprintf(stderr, "watchdog: %s did not finish within %llds (deadlock?)\n",
                         what_.c_str(), static_cast<long long>(limit.count()));
            std::abort();
          }
        }) {}
  watchdog(const watchdog&) = delete;
  watchdog& operator=(const watchdog&) = delete;
  ~watchdog() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::string what_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

/// Runs `body(thread_index, rng)` on `threads` threads that start together (a latch), each with
/// its own generator seeded from `seed` and its index, under a watchdog.
template <class Body>
void run(const std::string& what, std::size_t threads, std::uint64_t seed, Body body) {
  const watchdog dog{what, std::chrono::seconds{600}};
  std::latch start{static_cast<std::ptrdiff_t>(threads)};
  std::vector<std::thread> pool;
  pool.reserve(threads);
  for (std::size_t i = 0; i < threads; ++i) {
    pool.emplace_back([&, i] {
      resil::splitmix64 rng{seed * 1'000'003U + i};
      start.arrive_and_wait();
      body(i, rng);
    });
  }
  for (auto& t : pool) t.join();
}

}  // namespace resil_stress
