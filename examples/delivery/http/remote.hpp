// How the HTTP delivery system calls a service: discovery picks an instance, the plan's
// policies (on the steady clock) wrap the attempt, and the attempt is a real HTTP request whose
// connect and read timeouts are the time the policies leave it.
// SPDX-License-Identifier: MIT
#pragma once

#include <httplib.h>
#include <resil/circuit_breaker.hpp>
#include <resil/compose.hpp>
#include <resil/fallback.hpp>
#include <resil/registry.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "clients.hpp"
#include "discovery.hpp"
#include "plan.hpp"
#include "services.hpp"

namespace delivery::http {

using steady = std::chrono::steady_clock;

/// Where each registered instance listens (the part of discovery a real registry stores as the
/// instance's address). Thread-safe.
class address_book {
 public:
  void add(const std::string& id, int port);
  [[nodiscard]] std::optional<int> port_of(std::string_view id) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, int, std::less<>> ports_;
};

/// The last events worth showing at `/resil/events`: breaker transitions, rejections, health
/// changes, injected faults. Bounded; thread-safe.
class journal {
 public:
  explicit journal(std::size_t capacity = 256) : capacity_(capacity) {}
  void add(std::string source, std::string kind, std::string detail = {});
  /// `{"events":[{"seq":..,"seconds":..,"source":..,"kind":..,"detail":..}, ...]}`, oldest first,
  /// only events with a sequence number above `since`.
  [[nodiscard]] std::string json(std::uint64_t since = 0) const;

 private:
  struct entry {
    std::uint64_t seq;
    double seconds;
    std::string source;
    std::string kind;
    std::string detail;
  };
  std::size_t capacity_;
  steady::time_point start_ = steady::now();
  mutable std::mutex mutex_;
  std::deque<entry> entries_;
  std::uint64_t next_ = 1;
};

/// The deadline of the request the current thread serves, from the caller's `X-Deadline-Ms`
/// header (deadline propagation): calls made while serving it do not outlive it.
struct inbound {
  /// Sets the current thread's deadline from `request` for the lifetime of the scope.
  explicit inbound(const httplib::Request& request);
  ~inbound();
  inbound(const inbound&) = delete;
  inbound& operator=(const inbound&) = delete;

  [[nodiscard]] static std::optional<steady::time_point> deadline() noexcept;

 private:
  std::optional<steady::time_point> saved_;
};

/// What an edge shares with the rest of the system.
struct edge_environment {
  const service_registry* registry = nullptr;
  const address_book* addresses = nullptr;
  resil::registry* policies = nullptr;  ///< Owns the edges' policies (for /metrics, health).
  journal* events = nullptr;
};

/// One HTTP request an edge sends (to whichever instance discovery picks).
struct call_spec {
  std::string method = "GET";
  std::string path;
  httplib::Params form{};  ///< The form body of a POST, the query of a GET.
};

/**
 * One caller → callee dependency over HTTP, with the plan's policies for it (outermost first):
 * fallback → retry (+ budget) → circuit breaker → timeout → bulkhead → pick an instance → HTTP.
 * Thread-safe.
 */
class http_edge {
 public:
  http_edge(const edge_plan& plan, const edge_environment& env, std::string service,
            std::string version);
  http_edge(const http_edge&) = delete;
  http_edge& operator=(const http_edge&) = delete;

  /**
   * Sends `spec`; `parse(const httplib::Response&) -> std::optional<R>` reads a 2xx or 4xx
   * answer (nothing: the answer is unusable, counted as a failure); 5xx answers, transport
   * errors and timeouts are failures. When the pipeline fails and `fallback() ->
   * std::optional<R>` has a value, that is the reply, marked degraded.
   */
  template <class R, class Parse, class Fallback>
  reply<R> call(const call_spec& spec, Parse parse, Fallback fallback) {
    resil::context ctx;
    if (const auto d = inbound::deadline()) ctx.tighten_deadline(clock_, *d);
    bool degraded = false;
    auto fb = resil::fallback_to([&](const resil::outcome<R>& failed) -> resil::outcome<R> {
      if (std::optional<R> v = fallback()) {
        degraded = true;
        return std::move(*v);
      }
      return resil::outcome<R>::failure_of(failed);
    });
    resil::outcome<R> out = resil::compose(fb, *retry_, *breaker_, *timeout_, *bulkhead_)
                                .try_execute_in(ctx, [&](resil::context& c) -> resil::outcome<R> {
                                  const auto answer = attempt(c, spec);
                                  if (!answer.has_value())
                                    return resil::outcome<R>::failure_of(answer);
                                  if (std::optional<R> v = parse(*answer)) return std::move(*v);
                                  return resil::outcome<R>::from_error(net_errc::unavailable);
                                });
    if (out.has_value()) return reply<R>::success(std::move(*out), degraded);
    return reply<R>::failure(out.has_error() ? out.error()
                                             : std::error_code{net_errc::unavailable});
  }

  /// The same without a fallback.
  template <class R, class Parse>
  reply<R> call(const call_spec& spec, Parse parse) {
    return call<R>(spec, std::move(parse), [] { return std::optional<R>{}; });
  }

  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  [[nodiscard]] resil::circuit_breaker& breaker() noexcept { return *breaker_; }
  [[nodiscard]] const resil::circuit_breaker& breaker() const noexcept { return *breaker_; }
  [[nodiscard]] load_balancer& balancer() noexcept { return balancer_; }

 private:
  // One attempt on one instance: the response (any status below 500) or the failure.
  resil::outcome<httplib::Response> attempt(resil::context& ctx, const call_spec& spec);

  std::string name_;
  edge_environment env_;
  resil::steady_clock clock_;
  load_balancer balancer_;
  resil::circuit_breaker* breaker_;
  resil::retry* retry_;
  resil::timeout* timeout_;
  resil::bulkhead* bulkhead_;
};

/// A timeout for httplib as (seconds, microseconds): `left`, at least 1 ms, at most 60 s.
[[nodiscard]] std::pair<time_t, time_t> split_timeout(std::chrono::nanoseconds left);

/// `Response::status` of a reply that failed with `ec`: 504 for a timeout, else 503.
[[nodiscard]] int status_of(const std::error_code& ec);

}  // namespace delivery::http
