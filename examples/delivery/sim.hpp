// The simulation machinery: virtual time, service instances (a bounded request queue served by
// worker threads, with chaos policies in front of the service), and remote calls between them.
// SPDX-License-Identifier: MIT
#pragma once

#include <resil/chaos.hpp>
#include <resil/compose.hpp>
#include <resil/core/virtual_clock.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "services.hpp"

namespace delivery {

/// Simulated time: minutes of traffic run in seconds, the same on every run.
using sim_clock = resil::virtual_clock;
using sim_time = sim_clock::time_point;
using std::chrono::nanoseconds;

/// Seconds since the start of the run, as a double (for reports).
[[nodiscard]] inline double seconds_of(sim_time t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

/// Mixes a run seed with a stream number: independent, reproducible generators per participant.
[[nodiscard]] inline std::uint64_t mix_seed(std::uint64_t seed, std::uint64_t stream) {
  resil::splitmix64 g{seed ^ (stream * 0xD1B54A32D192ED03ULL)};
  (void)g();
  return g();
}

/// Errors of the simulated network and servers (resil's own codes cover timeouts and
/// rejections).
enum class net_errc : int {
  unavailable = 1,  ///< The instance answered 503 (it is failing).
  overloaded,       ///< The instance's request queue was full (503, load shed at the door).
  no_instance,      ///< Discovery returned no instance to call.
};

[[nodiscard]] const std::error_category& net_category() noexcept;
[[nodiscard]] inline std::error_code make_error_code(net_errc e) noexcept {
  return {static_cast<int>(e), net_category()};
}

}  // namespace delivery

template <>
struct std::is_error_code_enum<delivery::net_errc> : std::true_type {};

namespace delivery {

/**
 * A FIFO queue whose consumers wait through the virtual clock (so a consumer blocked on it is a
 * well-behaved participant). Bounded when `limit` is given: `push` then refuses when full.
 */
template <class T>
class clock_queue {
 public:
  explicit clock_queue(sim_clock clock, std::size_t limit = std::numeric_limits<std::size_t>::max())
      : clock_(std::move(clock)), limit_(limit) {}
  clock_queue(const clock_queue&) = delete;
  clock_queue& operator=(const clock_queue&) = delete;

  /// Appends `item` and wakes one waiting consumer; false (and nothing queued) when full.
  bool push(T item) {
    resil::waiter* wake = nullptr;
    {
      std::lock_guard lock(mutex_);
      if (items_.size() >= limit_) return false;
      items_.push_back(std::move(item));
      if (items_.size() > high_water_) high_water_ = items_.size();
      if (!idle_.empty()) {
        wake = idle_.front();
        idle_.pop_front();
      }
    }
    if (wake != nullptr) wake->notify();
    return true;
  }

  /// The oldest item, waiting for one until `until`; nothing when `until` passes or `st` stops.
  std::optional<T> pop_until(sim_time until, const std::stop_token& st) {
    for (;;) {
      resil::waiter w;
      {
        std::lock_guard lock(mutex_);
        if (!items_.empty()) {
          T item = std::move(items_.front());
          items_.pop_front();
          return item;
        }
        if (st.stop_requested() || clock_.now() >= until) return std::nullopt;
        idle_.push_back(&w);
      }
      const auto status = clock_.wait_until(w, until, st);
      std::lock_guard lock(mutex_);
      std::erase(idle_, &w);
      if (status != resil::wait_status::notified && items_.empty()) return std::nullopt;
    }
  }

  /// The oldest item, waiting as long as needed; nothing once `st` stops.
  std::optional<T> pop(const std::stop_token& st) { return pop_until(sim_time::max(), st); }

  [[nodiscard]] std::size_t size() const {
    std::lock_guard lock(mutex_);
    return items_.size();
  }
  [[nodiscard]] std::size_t high_water() const {
    std::lock_guard lock(mutex_);
    return high_water_;
  }

 private:
  sim_clock clock_;
  std::size_t limit_;
  mutable std::mutex mutex_;
  std::deque<T> items_;
  std::deque<resil::waiter*> idle_;
  std::size_t high_water_ = 0;
};

/**
 * What a caller's request carries into the instance that serves it: the caller's deadline
 * (deadline propagation, as gRPC does), so the instance's own downstream calls do not outlive
 * the caller. Set per worker thread while it serves a request.
 */
struct request_scope {
  sim_time deadline = sim_time::max();
  std::stop_token stop{};

  /// The scope of the request the current thread serves (a default one outside requests).
  [[nodiscard]] static request_scope& current() noexcept {
    thread_local request_scope scope;
    return scope;
  }
};

/**
 * The runtime a simulated process lends its services: time spent on a request is a wait on the
 * virtual clock (stopped early only at shutdown), with +-20 % jitter from a seeded generator.
 */
class clock_runtime final : public runtime {
 public:
  clock_runtime(sim_clock clock, resil::splitmix64& rng, std::stop_token st)
      : clock_(std::move(clock)), rng_(&rng), stop_(std::move(st)) {}

  void work(nanoseconds d) override {
    const double factor = 0.8 + 0.4 * rng_->uniform();
    const auto spent =
        nanoseconds{static_cast<std::int64_t>(static_cast<double>(d.count()) * factor)};
    (void)clock_.sleep_until(clock_.now() + spent, stop_);
  }
  [[nodiscard]] nanoseconds now() const override { return clock_.now().time_since_epoch(); }

 private:
  sim_clock clock_;
  resil::splitmix64* rng_;
  std::stop_token stop_;
};

/// A misbehaviour of one instance, from a scenario's timeline.
struct fault {
  enum class kind_t : std::uint8_t { error, latency };
  kind_t kind = kind_t::error;
  nanoseconds from{0};
  nanoseconds until{0};
  double rate = 1.0;
  nanoseconds latency{0};      ///< For latency faults.
  bool affects_health = true;  ///< The health endpoint misbehaves too (a sick process), or
                               ///< only business calls do (a bug in one endpoint).
};

/// Sizing of one instance: worker threads and the request queue in front of them.
struct instance_sizing {
  std::size_t workers = 4;
  std::size_t queue_limit = 32;
};

/// Counters of one instance.
struct instance_counters {
  std::uint64_t calls = 0;                ///< Business calls that reached the instance.
  std::uint64_t while_faulty = 0;         ///< ... while one of its faults was active.
  std::uint64_t shed = 0;                 ///< Refused because the queue was full.
  std::uint64_t probes = 0;               ///< Health probes that reached it.
  std::uint64_t probes_while_faulty = 0;  ///< ... while one of its faults was active.
  std::uint64_t served = 0;               ///< Calls a worker finished (including zombie work).
};

/**
 * The infrastructure of one service instance (a process): a bounded request queue, worker
 * threads (daemon participants of the virtual clock), and the chaos policies that make it
 * misbehave on the scenario's timeline. A request waiting in the queue or being served keeps its
 * worker busy even if the caller gave up: a server does not know its client left.
 */
class instance {
 public:
  /// A unit of work for a worker: runs the call and publishes its reply.
  using job = std::function<void(instance&, runtime&)>;

  instance(const sim_clock& clock, std::string id, std::string service, std::string version,
           instance_sizing sizing, const std::vector<fault>& faults, std::uint64_t seed);
  instance(const instance&) = delete;
  instance& operator=(const instance&) = delete;
  virtual ~instance();

  [[nodiscard]] const std::string& id() const noexcept { return id_; }
  [[nodiscard]] const std::string& service() const noexcept { return service_; }
  [[nodiscard]] const std::string& version() const noexcept { return version_; }

  /// Queues a business call (`probe` = a health probe) whose caller waits until `deadline`;
  /// false when the queue is full. A worker skips a request whose caller's deadline has passed
  /// before the work starts (its reply would arrive too late to matter).
  bool submit(job j, bool probe, sim_time deadline);

  /**
   * Runs `f` behind the instance's chaos policies (what the scenario makes it do now) and
   * returns its outcome. Called by jobs, on a worker.
   */
  template <class F>
  auto serve(bool probe, F&& f) {
    resil::context ctx{request_scope::current().stop};
    if (probe) {
      return resil::compose(process_latency_, process_fault_)
          .try_execute_in(ctx, std::forward<F>(f));
    }
    return resil::compose(process_latency_, process_fault_, app_latency_, app_fault_)
        .try_execute_in(ctx, std::forward<F>(f));
  }

  /// Whether one of the instance's faults is active at `t`.
  [[nodiscard]] bool faulty_at(sim_time t) const noexcept;

  /// Starts the workers. Call from a participant (deterministic admission).
  void start();
  /// Asks the workers to stop; `join()` waits for them.
  void request_stop();
  void join();

  [[nodiscard]] instance_counters counters() const;
  [[nodiscard]] const sim_clock& clock() const noexcept { return clock_; }

 private:
  struct queued {
    job run;
    bool probe;
    sim_time deadline;
  };

  void work_loop(const std::stop_token& st);

  sim_clock clock_;
  std::string id_;
  std::string service_;
  std::string version_;
  instance_sizing sizing_;
  std::vector<fault> faults_;
  resil::splitmix64 rng_;
  resil::basic_chaos_latency<sim_clock> process_latency_;
  resil::basic_chaos_fault<sim_clock> process_fault_;
  resil::basic_chaos_latency<sim_clock> app_latency_;
  resil::basic_chaos_fault<sim_clock> app_fault_;
  clock_queue<queued> queue_;
  mutable std::mutex mutex_;
  instance_counters counters_;
  std::vector<sim_clock::thread> workers_;
};

/// An instance of service `S`: the service object plus the instance's infrastructure.
template <class S>
class service_instance final : public instance {
 public:
  template <class... Args>
  service_instance(const sim_clock& clock, std::string id, std::string service, std::string version,
                   instance_sizing sizing, const std::vector<fault>& faults, std::uint64_t seed,
                   Args&&... args)
      : instance(clock, std::move(id), std::move(service), std::move(version), sizing, faults,
                 seed),
        service_object_(std::forward<Args>(args)...) {}

  [[nodiscard]] S& object() noexcept { return service_object_; }

 private:
  S service_object_;
};

namespace detail {

// Where a worker puts its reply, and how the caller learns it arrived. Shared by both sides:
// the caller may give up (time out) before the worker is done.
template <class R>
struct reply_slot {
  resil::waiter done;
  std::optional<resil::outcome<R>> result;
};

}  // namespace detail

/**
 * Sends `call(service, runtime)` (returning `R` or `resil::outcome<R>`) to instance `to` and
 * waits for the reply, at most until the context's deadline and only while its stop token
 * allows. A full queue answers `net_errc::overloaded` at once; a deadline that passes (or has
 * passed: nothing is sent then) gives `resil::errc::timeout`; a stop, `resil::errc::cancelled`.
 * With `propagate_deadline` the instance learns the deadline and drops the request if it has
 * passed before a worker takes it; without, the instance works on after the caller gave up.
 */
template <class R, class S, class F>
resil::outcome<R> send(service_instance<S>& to, resil::context& ctx, F call, bool probe = false,
                       bool propagate_deadline = true) {
  auto slot = std::make_shared<detail::reply_slot<R>>();
  const sim_clock& clock = to.clock();
  const sim_time deadline = ctx.deadline(clock);
  if (deadline <= clock.now()) return resil::outcome<R>::from_error(resil::errc::timeout);
  const bool queued = to.submit(
      [slot, probe, call = std::move(call)](instance& self, runtime& rt) mutable {
        auto& object = static_cast<service_instance<S>&>(self).object();
        slot->result.emplace(self.serve(probe, [&] { return call(object, rt); }));
        slot->done.notify();
      },
      probe, propagate_deadline ? deadline : sim_time::max());
  if (!queued) return resil::outcome<R>::from_error(net_errc::overloaded);
  switch (clock.wait_until(slot->done, deadline, ctx.stop_token())) {
    case resil::wait_status::notified:
      return std::move(*slot->result);
    case resil::wait_status::deadline:
      return resil::outcome<R>::from_error(resil::errc::timeout);
    case resil::wait_status::stopped:
      break;
  }
  // A timeout stops the wait at its deadline: report it as the timeout it is.
  if (clock.now() >= deadline) return resil::outcome<R>::from_error(resil::errc::timeout);
  return resil::outcome<R>::from_error(resil::errc::cancelled);
}

}  // namespace delivery
