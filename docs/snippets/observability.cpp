// Snippets of docs/observability.md (a program of its own: it needs fmt, target resil::fmt).
// SPDX-License-Identifier: MIT
#include <resil/fmt.hpp>
#include <resil/policy_health.hpp>
#include <resil/prometheus.hpp>
#include <resil/registry.hpp>
#include <resil/resil.hpp>

#include <cstdio>
#include <string>

#include "check.hpp"

namespace {

using namespace std::chrono_literals;

struct logger {
  int warnings = 0;
  template <class... Args>
  void warn(fmt::format_string<Args...> f, Args&&... args) {
    fmt::print(f, std::forward<Args>(args)...);
    std::puts("");
    ++warnings;
  }
};
logger log;
int printed = 0;
template <class... Args>
void print(const Args&...) {
  ++printed;
}
int replied = 0;
void reply(int status, std::string_view, const std::string& body) {
  replied = status;
  DOCS_CHECK(body.find("resil_") != std::string::npos);
}

void events() {
  resil::circuit_breaker breaker{{.window_size = 2, .minimum_calls = 2}};
  // [snippet:observability-subscribe]
  breaker.events().subscribe([](const resil::circuit_breaker_event& e) {
    if (e.kind == resil::circuit_breaker_event::kind_t::state_transition)
      log.warn("breaker {} -> {}", e.previous_state, e.state);  // with <resil/fmt.hpp>
  });
  // [/snippet]
  for (int i = 0; i < 2; ++i) (void)breaker.try_execute([]() -> int { throw 1; });
  DOCS_CHECK(log.warnings == 1);
}

void event_log() {
  resil::retry retry{{.max_attempts = 2, .backoff = resil::backoff::constant(0ms)}};
  (void)retry.try_execute([]() -> int { throw 1; });
  // [snippet:observability-event-log]
  resil::event_log<resil::retry_event> recent{100};
  recent.attach(retry.events());  // a listener: costs only once attached
  for (const auto& e : recent.snapshot()) print(e.seq, e.time, e.event);  // oldest first
  // [/snippet]
  (void)retry.try_execute([]() -> int { throw 1; });
  for (const auto& e : recent.snapshot()) print(e.seq, e.time, e.event);
  DOCS_CHECK(printed > 0);
}

void registry() {
  // [snippet:observability-registry]
  resil::registry reg{{.count_calls = true}};

  // Configs: plain option structs. "default" is the base of every instance without its own.
  reg.circuit_breakers.add_config(
      "default", {.failure_rate_threshold = 0.3, .window_size = 50, .minimum_calls = 20});
  reg.circuit_breakers.add_config("payment", "default", [](auto& o) { o.open_duration = 10s; });
  reg.retries.add_config("default", {.max_attempts = 3, .budget = &reg.retry_budget("shared")});

  // Get-or-create: the config of the name, else "default", else the options' defaults.
  auto payment =
      resil::compose(reg.retry("payment"), reg.circuit_breaker("payment"), reg.bulkhead("payment"));

  // Run-time limit changes keep the instance's state.
  reg.rate_limiter("partner-api").set_limit(50, 1s);
  reg.bulkhead("payment").set_max_concurrent(4);

  // Exporters and admin pages iterate.
  reg.circuit_breakers.for_each([](const auto& i) {
    std::printf("%s: %s\n", i.name().c_str(), std::string(to_string(i.policy().state())).c_str());
  });
  // [/snippet]
  DOCS_CHECK(payment.try_execute([] { return 1; }).has_value());

  resil::health_registry health;
  resil::bulkhead& payment_bulkhead = reg.bulkhead("payment");
  // [snippet:observability-health]
  health.add("bulkhead:payment", resil::health_check_of(payment_bulkhead), {.critical = false});
  reg.register_health_checks(health);  // "circuit_breakers", "bulkheads", "rate_limiters"
  // [/snippet]

  // [snippet:observability-prometheus]
  // GET /metrics
  reply(200, resil::prometheus_text::content_type, resil::render_prometheus(reg, health.report()));
  // [/snippet]
  DOCS_CHECK(replied == 200);
}

void formatters() {
  resil::circuit_breaker breaker{{}};
  resil::retry retry{{.max_attempts = 2, .backoff = resil::backoff::constant(0ms)}};
  // [snippet:observability-fmt]
  fmt::print("{:>10} {}\n", breaker.state(), breaker.metrics());
  //    half_open state=half_open failure_rate=nan slow_call_rate=nan calls=0 ...
  retry.events().subscribe([](const resil::retry_event& e) { fmt::print("{}\n", e); });
  //  retry retry_scheduled attempt=1 delay=200ms exception="connection reset"
  // [/snippet]
  (void)retry.try_execute([]() -> int { throw std::runtime_error("connection reset"); });
}

}  // namespace

int main() {
  events();
  event_log();
  registry();
  formatters();
  std::puts("every observability snippet ran");
}
