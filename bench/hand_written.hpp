// The baselines: each policy as a user writes it by hand from a blog post, with a std::mutex
// and std::function, so that resil's ratio against it is measured in the same run.
// SPDX-License-Identifier: MIT
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <stdexcept>
#include <stop_token>
#include <thread>

namespace resil_bench {

/// A retry loop over std::function, exceptions for failures, exponential backoff with full
/// jitter from one shared generator behind a mutex.
class mutex_retry {
 public:
  explicit mutex_retry(int max_attempts = 3,
                       std::chrono::nanoseconds base = std::chrono::milliseconds{100})
      : max_attempts_(max_attempts), base_(base) {}

  int call(const std::function<int()>& f) {
    for (int attempt = 1;; ++attempt) {
      try {
        return f();
      } catch (...) {
        if (attempt >= max_attempts_) throw;
      }
      std::this_thread::sleep_for(jittered_delay(attempt));
    }
  }

 private:
  std::chrono::nanoseconds jittered_delay(int attempt) {
    const std::lock_guard lock(mutex_);
    std::uniform_int_distribution<std::int64_t> d(0, base_.count() << attempt);
    return std::chrono::nanoseconds{d(rng_)};
  }

  int max_attempts_;
  std::chrono::nanoseconds base_;
  std::mutex mutex_;
  std::mt19937_64 rng_{42};
};

/// A breaker with one mutex around a state flag and a ring of the last 100 outcomes; it opens
/// when half of them failed, for 60 s.
class mutex_circuit_breaker {
 public:
  /// Calls `f` unless the breaker is open; false (and `f` not called) then.
  bool try_call(const std::function<int()>& f, int& out) {
    {
      const std::lock_guard lock(mutex_);
      if (open_) {
        if (std::chrono::steady_clock::now() < open_until_) return false;
        open_ = false;
      }
    }
    bool ok = true;
    try {
      out = f();
    } catch (...) {
      ok = false;
    }
    const std::lock_guard lock(mutex_);
    failures_ += (ok ? 0 : 1) - (ring_[next_] ? 1 : 0);
    ring_[next_] = !ok;
    next_ = (next_ + 1) % 100;
    calls_ = calls_ < 100 ? calls_ + 1 : 100;
    if (calls_ == 100 && failures_ * 2 >= calls_) {
      open_ = true;
      open_until_ = std::chrono::steady_clock::now() + std::chrono::seconds{60};
    }
    return true;
  }

  /// Opens the breaker for 24 hours (to benchmark the rejection).
  void trip() {
    const std::lock_guard lock(mutex_);
    open_ = true;
    open_until_ = std::chrono::steady_clock::now() + std::chrono::hours{24};
  }

 private:
  std::mutex mutex_;
  bool open_ = false;
  std::chrono::steady_clock::time_point open_until_{};
  bool ring_[100] = {};
  int next_ = 0;
  int calls_ = 0;
  int failures_ = 0;
};

/// A token bucket behind a std::mutex, refilled from steady_clock in floating point.
class mutex_token_bucket {
 public:
  mutex_token_bucket(double per_second, double burst)
      : per_ns_(per_second / 1e9),
        burst_(burst),
        tokens_(burst),
        last_(std::chrono::steady_clock::now()) {}

  bool try_acquire(double n = 1) {
    const std::lock_guard lock(mutex_);
    const auto now = std::chrono::steady_clock::now();
    tokens_ = std::min(burst_, tokens_ + static_cast<double>((now - last_).count()) * per_ns_);
    last_ = now;
    if (tokens_ < n) return false;
    tokens_ -= n;
    return true;
  }

  /// Calls `f` if a token is available; false (and `f` not called) otherwise.
  bool try_call(const std::function<int()>& f, int& out) {
    if (!try_acquire()) return false;
    out = f();
    return true;
  }

 private:
  std::mutex mutex_;
  double per_ns_;
  double burst_;
  double tokens_;
  std::chrono::steady_clock::time_point last_;
};

/// A mutex-protected in-flight counter around a std::function call.
class mutex_bulkhead {
 public:
  explicit mutex_bulkhead(int max) : max_(max) {}

  bool try_call(const std::function<int()>& f, int& out) {
    {
      const std::lock_guard lock(mutex_);
      if (in_flight_ >= max_) return false;
      ++in_flight_;
    }
    out = f();
    {
      const std::lock_guard lock(mutex_);
      --in_flight_;
    }
    cv_.notify_one();  // for callers that wait for a slot
    return true;
  }

  /// Takes a slot and keeps it (to benchmark the rejection of a full bulkhead).
  void fill() {
    const std::lock_guard lock(mutex_);
    in_flight_ = max_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  int in_flight_ = 0;
  int max_;
};

/// A timeout: a std::stop_source per call, registered in a mutex-protected std::multimap of
/// deadlines that a timer thread watches.
class mutex_timeout {
 public:
  explicit mutex_timeout(std::chrono::nanoseconds d) : duration_(d) {
    timer_ = std::thread([this] { run(); });
  }
  ~mutex_timeout() {
    {
      const std::lock_guard lock(mutex_);
      done_ = true;
    }
    cv_.notify_one();
    timer_.join();
  }
  mutex_timeout(const mutex_timeout&) = delete;
  mutex_timeout& operator=(const mutex_timeout&) = delete;

  /// Calls `f`; false if it returned after the deadline.
  bool try_call(const std::function<int(std::stop_token)>& f, int& out) {
    std::stop_source source;
    const auto deadline = std::chrono::steady_clock::now() + duration_;
    std::multimap<std::chrono::steady_clock::time_point, std::stop_source>::iterator it;
    {
      const std::lock_guard lock(mutex_);
      it = pending_.emplace(deadline, source);
      if (it == pending_.begin()) cv_.notify_one();
    }
    out = f(source.get_token());
    {
      const std::lock_guard lock(mutex_);
      pending_.erase(it);
    }
    return std::chrono::steady_clock::now() < deadline;
  }

 private:
  void run() {
    std::unique_lock lock(mutex_);
    while (!done_) {
      if (pending_.empty()) {
        cv_.wait(lock);
        continue;
      }
      const auto first = pending_.begin();
      if (first->first <= std::chrono::steady_clock::now()) {
        first->second.request_stop();
        pending_.erase(first);
        continue;
      }
      cv_.wait_until(lock, first->first);
    }
  }

  std::chrono::nanoseconds duration_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::multimap<std::chrono::steady_clock::time_point, std::stop_source> pending_;
  bool done_ = false;
  std::thread timer_;
};

/// Fault injection: a shared std::mt19937_64 behind a mutex decides whether a call fails.
class mutex_chaos_fault {
 public:
  explicit mutex_chaos_fault(double rate) : coin_(rate) {}

  /// Calls `f` unless the coin says "inject"; false (and `f` not called) then.
  bool try_call(const std::function<int()>& f, int& out) {
    {
      const std::lock_guard lock(mutex_);
      if (coin_(rng_)) return false;
    }
    out = f();
    return true;
  }

 private:
  std::mutex mutex_;
  std::bernoulli_distribution coin_;
  std::mt19937_64 rng_{42};
};

}  // namespace resil_bench
