// Snippets of docs/policies/fallback.md.
// SPDX-License-Identifier: MIT
#include <resil/resil.hpp>

#include <string>
#include <system_error>
#include <vector>

#include "check.hpp"

namespace docs_fallback {

using namespace std::chrono_literals;

struct menu {
  std::vector<std::string> items;
  static menu closed(std::chrono::nanoseconds = {}) { return {{"closed"}}; }
};
struct http_error {
  int status = 500;
};
menu fetch_menu(int restaurant) {
  return {{"dish " + std::to_string(restaurant)}};
}
const menu last_menu{{"yesterday's special"}};

// [snippet:fallback-usage]
#include <resil/fallback.hpp>

auto cached = resil::fallback_to(last_menu);  // a value
auto on_open = resil::fallback_to(
    [](const resil::outcome<menu>& failed) { return menu::closed(failed.retry_after()); },
    {.classify = resil::only_errors(resil::errc::circuit_open)});  // a handler, selected
// [/snippet]

// [snippet:fallback-member]
class menu_service {
  resil::fallback<menu> fallback_{menu::closed()};
};
// [/snippet]

void run() {
  const int restaurant_id = 7;
  resil::retry retry{{}};
  resil::circuit_breaker breaker{{}};
  resil::timeout timeout{{.duration = 1s}};
  resil::bulkhead bulkhead{{.max_concurrent = 4}};
  // [snippet:fallback-pipeline]
  auto pipeline = resil::compose(cached, retry, breaker, timeout, bulkhead);
  menu m = pipeline.execute(fetch_menu, restaurant_id);  // never the failure
  // [/snippet]
  DOCS_CHECK(m.items.at(0) == "dish 7");
  DOCS_CHECK(on_open.try_execute(fetch_menu, 1).has_value());

  // [snippet:fallback-selection]
  // Only these codes; also a std::system_error exception carrying one (circuit_open_error
  // thrown by a nested execute).
  auto rejections = resil::only_errors(resil::errc::circuit_open, resil::errc::bulkhead_full);
  // Only these exception types (and derived).
  auto http_failures = resil::only_exceptions<http_error, std::system_error>();
  // Both: chain exception types onto only_errors.
  auto open_or_http = resil::only_errors(resil::errc::circuit_open).failure_on<http_error>();
  // Also values: an empty menu counts as a failure (exceptions and errors still do).
  auto empty_menu =
      resil::classifier{}.failure_if_result([](const menu& v) { return v.items.empty(); });
  // Exceptions by what they say.
  auto server_errors =
      resil::classifier{}.failure_if([](const http_error& e) { return e.status >= 500; });
  // [/snippet]
  for (const auto* c : {&rejections, &http_failures, &open_or_http, &empty_menu, &server_errors}) {
    auto fb = resil::fallback_to(last_menu, {.classify = *c});
    DOCS_CHECK(fb.try_execute(fetch_menu, 2).has_value());
  }
  menu_service service;
  (void)service;
}

}  // namespace docs_fallback
