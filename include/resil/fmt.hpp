// Optional {fmt} formatters (fmt >= 9.1) for resil's states, statuses, error codes, events and
// metrics snapshots. Link the CMake target resil::fmt. The core headers never include fmt.
// SPDX-License-Identifier: MIT
#pragma once

#include <fmt/format.h>

#include <chrono>
#include <cstdint>
#include <exception>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>

#include "bulkhead.hpp"
#include "chaos.hpp"
#include "circuit_breaker.hpp"
#include "core/config.hpp"
#include "core/errors.hpp"
#include "core/time.hpp"
#include "fallback.hpp"
#include "health.hpp"
#include "keyed_rate_limiter.hpp"
#include "rate_limiter.hpp"
#include "registry.hpp"
#include "retry.hpp"
#include "retry_budget.hpp"
#include "timeout.hpp"
#include "window_rate_limiter.hpp"

#if FMT_VERSION < 90100
#error "resil/fmt.hpp needs fmt 9.1 or later"
#endif

/**
 * @file
 * `fmt::formatter`s for resil's vocabulary, so logs read naturally:
 *
 *     #include <resil/fmt.hpp>      // target resil::fmt
 *     breaker.events().subscribe([](const auto& e) { fmt::print("{}\n", e); });
 *     // circuit_breaker state_transition from=closed to=open
 *     fmt::print("{:>10} | {}\n", resil::health_status::degraded, bulkhead.metrics());
 *     //   degraded | max_concurrent=8 in_flight=8 available=0 waiting=3
 *
 * - **Names** (`circuit_state`, `window_type`, `errc`, `health_status`, `grpc_serving_status`,
 *   every event `kind` enum and `retry_stop`) format as their enumerator name and accept the
 *   string format spec (`{:>10}`).
 * - **Events** format as one line: the policy, the kind, then `key=value` fields.
 * - **Metrics snapshots** (and `call_counts`) format as `key=value` fields.
 *
 * Durations inside events and metrics print exactly in the largest unit that divides them
 * (`1500ms`, `2s`, `250us`, `max` for `nanoseconds::max()`); error codes of the `"resil"`
 * category as their name (`rate_limited`), others as `category:value`; exceptions as their
 * quoted `what()`. Events and metrics take no format spec.
 *
 * `std::error_code` itself is left to fmt (fmt 10's `<fmt/std.h>` formats it), to avoid two
 * definitions of one formatter. Formatting is as thread-safe as reading the value.
 */

namespace resil::detail::fmt_text {

// -- names --------------------------------------------------------------------------------------

// Every enum of resil's vocabulary has a `to_string` next to it (found by ADL).
template <class T>
concept named = std::is_enum_v<T> && requires(T v) {
  { to_string(v) } -> std::same_as<std::string_view>;
};

template <named T>
constexpr std::string_view name(T v) noexcept {
  return to_string(v);
}

// -- values -------------------------------------------------------------------------------------

// A duration, exactly, in the largest unit that divides it.
template <class Out>
Out write_duration(Out out, nanoseconds d) {
  if (d == nanoseconds::max()) return fmt::format_to(out, "max");
  const std::int64_t n = d.count();
  if (n == 0) return fmt::format_to(out, "0s");
  if (n % 1'000'000'000 == 0) return fmt::format_to(out, "{}s", n / 1'000'000'000);
  if (n % 1'000'000 == 0) return fmt::format_to(out, "{}ms", n / 1'000'000);
  if (n % 1'000 == 0) return fmt::format_to(out, "{}us", n / 1'000);
  return fmt::format_to(out, "{}ns", n);
}

// ` <key>=<name>` for a resil code, ` <key>=<category>:<value>` for another; nothing if empty.
template <class Out>
Out write_error(Out out, const std::error_code& ec, std::string_view key = "error") {
  if (!ec) return out;
  if (ec.category() == resil_category()) {
    return fmt::format_to(out, " {}={}", key, name(static_cast<errc>(ec.value())));
  }
  return fmt::format_to(out, " {}={}:{}", key, ec.category().name(), ec.value());
}

// ` exception="<what()>"`; nothing for a null pointer.
template <class Out>
Out write_exception(Out out, const std::exception_ptr& e) {
  if (!e) return out;
#if RESIL_HAS_EXCEPTIONS
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return fmt::format_to(out, " exception=\"{}\"", x.what());
  } catch (...) {
    return fmt::format_to(out, " exception=(not a std::exception)");
  }
#else
  return fmt::format_to(out, " exception");
#endif
}

// -- events -------------------------------------------------------------------------------------

template <class Out>
Out write(Out out, const circuit_breaker_event& e) {
  using kind = circuit_breaker_event::kind_t;
  out = fmt::format_to(out, "circuit_breaker {}", name(e.kind));
  switch (e.kind) {
    case kind::state_transition:
      return fmt::format_to(out, " from={} to={}", name(e.previous_state), name(e.state));
    case kind::success:
    case kind::failure:
    case kind::ignored:
      out = fmt::format_to(out, " state={}", name(e.state));
      if (e.elapsed.count() != 0 || e.slow) {
        out = fmt::format_to(out, " elapsed=");
        out = write_duration(out, e.elapsed);
        out = fmt::format_to(out, " slow={}", e.slow);
      }
      return out;
    case kind::not_permitted:
      out = fmt::format_to(out, " state={} remaining_delay=", name(e.state));
      return write_duration(out, e.remaining_delay);
    case kind::failure_rate_exceeded:
    case kind::slow_call_rate_exceeded:
      return fmt::format_to(out, " state={} rate={}", name(e.state), e.rate);
    case kind::consecutive_failures_exceeded:
      return fmt::format_to(out, " state={} count={}", name(e.state), e.count);
    case kind::reset:
      return fmt::format_to(out, " state={}", name(e.state));
  }
  return out;
}

template <class Out>
Out write(Out out, const bulkhead_event& e) {
  out = fmt::format_to(out, "bulkhead {}", name(e.kind));
  out = write_error(out, e.reason, "reason");
  if (e.kind != bulkhead_event_kind::finished) {
    out = fmt::format_to(out, " waited=");
    out = write_duration(out, e.waited);
  }
  return out;
}

template <class Out>
Out write(Out out, const rate_limiter_event& e) {
  out = fmt::format_to(out, "rate_limiter {} permits={}", name(e.kind), e.permits);
  if (e.kind == rate_limiter_event_kind::permitted) {
    out = fmt::format_to(out, " waited=");
    out = write_duration(out, e.waited);
  } else if (e.kind == rate_limiter_event_kind::rejected) {
    out = fmt::format_to(out, " retry_after=");
    out = write_duration(out, e.retry_after);
  }
  return out;
}

template <class Out, class Key>
Out write(Out out, const keyed_rate_limiter_event<Key>& e) {
  out = fmt::format_to(out, "keyed_rate_limiter {}", name(e.kind));
  if constexpr (fmt::is_formattable<Key>::value) {
    if (e.key != nullptr) out = fmt::format_to(out, " key={}", *e.key);
  }
  if (e.kind == keyed_rate_limiter_event_kind::evicted) {
    return fmt::format_to(out, " lossless={}", e.lossless);
  }
  out = fmt::format_to(out, " permits={}", e.permits);
  if (e.kind == keyed_rate_limiter_event_kind::rejected) {
    out = fmt::format_to(out, " retry_after=");
    out = write_duration(out, e.retry_after);
  }
  return out;
}

template <class Out>
Out write(Out out, const retry_event& e) {
  out = fmt::format_to(out, "retry {} attempt={}", name(e.kind), e.attempt);
  if (e.kind == retry_event_kind::retry_scheduled) {
    out = fmt::format_to(out, " delay=");
    out = write_duration(out, e.delay);
  }
  if (e.kind == retry_event_kind::exhausted) out = fmt::format_to(out, " stop={}", name(e.stop));
  out = write_error(out, e.error);
  return write_exception(out, e.exception);
}

template <class Out>
Out write(Out out, const timeout_event& e) {
  out = fmt::format_to(out, "timeout {} budget=", name(e.kind));
  out = write_duration(out, e.budget);
  out = fmt::format_to(out, " elapsed=");
  return write_duration(out, e.elapsed);
}

template <class Out>
Out write(Out out, const fallback_event& e) {
  out = fmt::format_to(out, "fallback {}", name(e.kind));
  out = write_error(out, e.error);
  return write_exception(out, e.exception);
}

template <class Out>
Out write(Out out, const chaos_event& e) {
  out = fmt::format_to(out, "chaos {}", name(e.kind));
  if (e.kind == chaos_event::kind_t::latency) {
    out = fmt::format_to(out, " latency=");
    out = write_duration(out, e.latency);
  }
  return fmt::format_to(out, " attempt={}", e.attempt);
}

// -- metrics ------------------------------------------------------------------------------------

template <class Out>
Out write(Out out, const circuit_breaker_metrics& m) {
  return fmt::format_to(out,
                        "state={} failure_rate={} slow_call_rate={} calls={} failed={} slow={} "
                        "not_permitted={} consecutive_failures={} probes_in_flight={} "
                        "transitions={}",
                        name(m.state), m.failure_rate, m.slow_call_rate, m.calls, m.failed, m.slow,
                        m.not_permitted, m.consecutive_failures, m.probes_in_flight, m.transitions);
}

template <class Out>
Out write(Out out, const bulkhead_metrics& m) {
  return fmt::format_to(out, "max_concurrent={} in_flight={} available={} waiting={}",
                        m.max_concurrent, m.in_flight, m.available, m.waiting);
}

template <class Out>
Out write(Out out, const rate_limiter_metrics& m) {
  out = fmt::format_to(out, "available_permits={} waiting_callers={} permits={} period=",
                       m.available_permits, m.waiting_callers, m.permits);
  out = write_duration(out, m.period);
  return fmt::format_to(out, " burst={}", m.burst);
}

template <class Out>
Out write(Out out, const keyed_rate_limiter_metrics& m) {
  out = fmt::format_to(
      out, "keys={} max_keys={} evicted_idle={} evicted_active={} permits={} period=", m.keys,
      m.max_keys, m.evicted_idle, m.evicted_active, m.permits);
  out = write_duration(out, m.period);
  return fmt::format_to(out, " burst={}", m.burst);
}

template <class Out>
Out write(Out out, const window_rate_limiter_metrics& m) {
  out = fmt::format_to(out, "available_permits={} limit={} window=", m.available_permits, m.limit);
  out = write_duration(out, m.window);
  return fmt::format_to(out, " segments={}", m.segments);
}

template <class Out>
Out write(Out out, const retry_metrics& m) {
  return fmt::format_to(out,
                        "successful_with_retry={} failed_without_retry={} failed_with_retry={} "
                        "retries={} budget_denied={}",
                        m.successful_with_retry, m.failed_without_retry, m.failed_with_retry,
                        m.retries, m.budget_denied);
}

template <class Out>
Out write(Out out, const retry_budget_metrics& m) {
  return fmt::format_to(out, "tokens={} max_tokens={} retry_allowed={}",
                        static_cast<double>(m.milli_tokens) / 1000.0,
                        static_cast<double>(m.max_milli_tokens) / 1000.0, m.retry_allowed);
}

template <class Out>
Out write(Out out, const retry_concurrency_budget_metrics& m) {
  return fmt::format_to(out, "calls_in_flight={} retries_in_flight={} retry_limit={}",
                        m.calls_in_flight, m.retries_in_flight, m.retry_limit);
}

template <class Out>
Out write(Out out, const call_counts& c) {
  return fmt::format_to(out,
                        "successful={} failed={} ignored={} successful_without_retry={} "
                        "permitted={} rejected={} timed_out={}",
                        c.successful, c.failed, c.ignored, c.successful_without_retry, c.permitted,
                        c.rejected, c.timed_out);
}

template <class T>
concept described = requires(fmt::appender out, const T& v) {
  { fmt_text::write(out, v) } -> std::same_as<fmt::appender>;
};

}  // namespace resil::detail::fmt_text

// Doxygen cannot place specializations of fmt::formatter (fmt is not parsed): hidden from it.
/// @cond fmt_formatters
/// Formats a resil enum as its name; accepts the string format spec (`{:>12}`).
template <class T>
struct fmt::formatter<T, char, std::enable_if_t<resil::detail::fmt_text::named<T>>>
    : fmt::formatter<fmt::string_view> {
  template <class FormatContext>
  auto format(T value, FormatContext& ctx) const -> decltype(ctx.out()) {
    const std::string_view n = resil::detail::fmt_text::name(value);
    return fmt::formatter<fmt::string_view>::format(fmt::string_view(n.data(), n.size()), ctx);
  }
};

/// Formats a resil event or metrics snapshot as one line of `key=value` fields; no format spec.
template <class T>
struct fmt::formatter<T, char, std::enable_if_t<resil::detail::fmt_text::described<T>>> {
  constexpr auto parse(fmt::format_parse_context& ctx) -> decltype(ctx.begin()) {
    const auto it = ctx.begin();
    if (it != ctx.end() && *it != '}') {
      FMT_THROW(fmt::format_error("resil: events and metrics take no format spec"));
    }
    return it;
  }
  template <class FormatContext>
  auto format(const T& value, FormatContext& ctx) const -> decltype(ctx.out()) {
    return resil::detail::fmt_text::write(ctx.out(), value);
  }
};
/// @endcond
