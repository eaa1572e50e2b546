// Snippets of docs/policies/timeout.md.
// SPDX-License-Identifier: MIT
#include <resil/resil.hpp>

#include <stop_token>
#include <string>

#include "check.hpp"

namespace docs_timeout {

using namespace std::chrono_literals;

std::string http_get(const std::string& url, std::chrono::nanoseconds, const std::stop_token&) {
  return "GET " + url;
}
const std::string url = "http://menu.local/today";
bool gave_up = false;
void give_up() {
  gave_up = true;
}

void fetch() {
  // [snippet:timeout-usage]
  resil::timeout per_attempt{{.duration = 800ms}};

  auto r = per_attempt.try_execute([](resil::context& ctx) {
    return http_get(url, ctx.remaining(), ctx.stop_token());  // pass the deadline on
  });
  if (r.error() == resil::errc::timeout) give_up();
  // [/snippet]
}

void run() {
  fetch();
  DOCS_CHECK(!gave_up);
  resil::retry retry{{.max_attempts = 3}};
  resil::bulkhead bulkhead{{.max_concurrent = 4}};
  {
    // [snippet:timeout-total-and-attempt]
    resil::timeout total{{.duration = 2s}};
    resil::timeout per_attempt{{.duration = 500ms}};

    auto pipeline = resil::compose(total, retry, per_attempt, bulkhead);
    //  total:       one deadline for the call and every retry (the retry stops when it passes)
    //  per_attempt: each attempt gets min(500 ms, what is left of the 2 s)
    // [/snippet]
    DOCS_CHECK(pipeline.try_execute([] { return 1; }).has_value());
  }
}

}  // namespace docs_timeout
