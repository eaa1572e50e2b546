// Snippets of docs/policies/retry.md.
// SPDX-License-Identifier: MIT
#include <resil/resil.hpp>

#include <optional>
#include <stdexcept>

#include "check.hpp"

namespace docs_retry {

struct io_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct auth_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct response {
  int status = 200;
  std::chrono::nanoseconds retry_after{};
};
int calls = 0;
response fetch_menu(int) {
  if (++calls == 1) throw io_error("connection reset");
  if (calls == 2) return {503, std::chrono::milliseconds{1}};
  return {};
}

// [snippet:retry-usage]
#include <resil/retry.hpp>
using namespace std::chrono_literals;

resil::retry_budget budget;  // one per dependency, shared by its retries

resil::retry retry{{
    .max_attempts = 4,  // the first call + up to 3 retries
    .backoff = resil::backoff::exponential(50ms, 2.0, 2s).full_jitter(),
    .max_delay = 30s,  // never wait longer, whatever proposes it
    .max_total_duration = 5s,
    .classify = resil::classifier{}
                    .failure_on<io_error>()  // retry these exceptions ...
                    .ignore<auth_error>()    // ... never these (abort at once)
                    .failure_if_result([](const response& r) { return r.status == 503; }),
    .delay_from_outcome =
        [](const resil::retry_attempt_info& a) -> std::optional<resil::nanoseconds> {
      if (const auto* r = a.value<response>()) return r->retry_after;  // honour Retry-After
      return std::nullopt;                                             // else the backoff
    },
    .budget = &budget,
}};

response fetch(int restaurant_id) {
  response r = retry.execute(fetch_menu, restaurant_id);          // throws the last failure
  resil::outcome<response> o = retry.try_execute(fetch_menu, 7);  // never throws
  return o ? *o : r;
}
// [/snippet]

void run() {
  DOCS_CHECK(fetch(1).status == 200 && calls == 4);
  resil::circuit_breaker breaker{{}};
  resil::rate_limiter limiter{{.permits = 100}};
  resil::timeout timeout{{.duration = 1s}};
  resil::bulkhead bulkhead{{.max_concurrent = 4}};
  // [snippet:retry-pipeline]
  auto pipeline = resil::compose(retry, breaker, limiter, timeout, bulkhead);
  // [/snippet]
  DOCS_CHECK(pipeline.try_execute(fetch_menu, 2).has_value());
}

}  // namespace docs_retry
