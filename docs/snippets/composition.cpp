// Snippets of docs/composition.md.
// SPDX-License-Identifier: MIT
#include <resil/resil.hpp>

#include <string>
#include <vector>

#include "check.hpp"

namespace docs_composition {

using namespace std::chrono_literals;

struct menu {
  std::vector<std::string> items;
};
menu fetch_menu(int restaurant) {
  return {{"dish " + std::to_string(restaurant)}};
}

// Any type with this member composes with the built-in policies.
struct my_policy : resil::policy_base<my_policy> {
  // [snippet:invoke-signature]
  template <class R, class Next>
  resil::outcome<R> invoke(resil::context& ctx, Next&& next);
  // [/snippet]
};
template <class R, class Next>
resil::outcome<R> my_policy::invoke(resil::context& ctx, Next&& next) {
  return next(ctx);
}

void run() {
  const int restaurant_id = 7;
  auto fallback = resil::fallback_to(menu{{"soup of the day"}});
  resil::retry retry{{.max_attempts = 3}};
  resil::circuit_breaker breaker{{}};
  resil::rate_limiter limiter{{.permits = 100, .period = 1s}};
  resil::timeout timeout{{.duration = 1s}};
  resil::bulkhead bulkhead{{.max_concurrent = 8}};
  {
    // [snippet:composition-order]
    auto pipeline = resil::compose(fallback, retry, breaker, limiter, timeout, bulkhead);
    auto menu = pipeline.execute(fetch_menu, restaurant_id);
    // fallback( retry( breaker( limiter( timeout( bulkhead( fetch_menu(restaurant_id) ))))))
    // [/snippet]
    DOCS_CHECK(menu.items.at(0) == "dish 7");
  }
  resil::timeout total_timeout{{.duration = 5s}};
  resil::timeout attempt_timeout{{.duration = 1s}};
  // [snippet:composition-two-timeouts]
  auto pipeline = resil::compose(total_timeout, retry, breaker, attempt_timeout, bulkhead);
  // [/snippet]
  DOCS_CHECK(pipeline.try_execute(fetch_menu, 1).has_value());
  my_policy mine;
  DOCS_CHECK(resil::compose(mine, retry).try_execute(fetch_menu, 2).has_value());
}

}  // namespace docs_composition
