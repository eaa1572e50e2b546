// Timeout: a call that finishes in time, against a hand-written timeout (std::function, a
// std::stop_source per call, a mutex-protected std::multimap of deadlines and a timer thread).
// SPDX-License-Identifier: MIT
#include <resil/timeout.hpp>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <stop_token>
#include <thread>

#include "support.hpp"

namespace {

// The hand-written version.
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

template <class Clock>
void timeout_try_execute(benchmark::State& state) {
  static resil::basic_timeout<Clock> t{{.duration = std::chrono::hours{1}}};
  int x = 0;
  x = t.try_execute(resil_bench::work, x).value();  // warm-up: timer thread, stop source
  resil_bench::allocation_report allocs(state);
  for (auto _ : state) {
    benchmark::DoNotOptimize(x = t.try_execute(resil_bench::work, x).value());
  }
}
BENCHMARK(timeout_try_execute<resil::steady_clock>)->Name("timeout_try_execute/steady_clock");
BENCHMARK(timeout_try_execute<resil::steady_clock>)
    ->Name("timeout_try_execute/steady_clock")
    ->Threads(2)
    ->UseRealTime();
BENCHMARK(timeout_try_execute<resil::coarse_clock>)->Name("timeout_try_execute/coarse_clock");
BENCHMARK(timeout_try_execute<resil::coarse_clock>)
    ->Name("timeout_try_execute/coarse_clock")
    ->Threads(2)
    ->UseRealTime();

void baseline_mutex_timeout(benchmark::State& state) {
  static mutex_timeout t{std::chrono::hours{1}};
  resil_bench::allocation_report allocs(state);
  int x = 0;
  for (auto _ : state) {
    int out = 0;
    benchmark::DoNotOptimize(
        t.try_call([x](const std::stop_token&) { return resil_bench::work(x); }, out));
    x = out;
  }
}
BENCHMARK(baseline_mutex_timeout);
BENCHMARK(baseline_mutex_timeout)->Threads(2)->UseRealTime();

}  // namespace
