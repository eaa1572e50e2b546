// Snippets of docs/policies/health.md.
// SPDX-License-Identifier: MIT
#include <resil/health.hpp>

#include <string>

#include "check.hpp"

namespace docs_health {

using namespace std::chrono_literals;

struct event_loop {
  [[nodiscard]] std::chrono::nanoseconds heartbeat_age() const { return 1s; }
};
struct database {
  [[nodiscard]] bool ping(std::chrono::nanoseconds budget) const { return budget > 0ns; }
};
struct recommendations {
  [[nodiscard]] bool fresh() const { return false; }
};
int replied_status = 0;
void reply(int status, const char*, const std::string&) {
  replied_status = status;
}

void run() {
  event_loop loop;
  database db;
  recommendations recs;
  // [snippet:health-usage]
  resil::health_registry health;

  health.add("event-loop", [&] { return loop.heartbeat_age() < 5s; }, {.tags = {"liveness"}});
  health.add("database",
             [&](resil::context& ctx) {  // ctx: deadline = timeout
               return db.ping(ctx.remaining()) ? resil::health_result::healthy()
                                               : resil::health_result::unhealthy("ping failed");
             },
             {.tags = {"readiness"}, .timeout = 2s, .unhealthy_threshold = 3});
  health.add("recommendations", [&] { return recs.fresh(); },
             {.tags = {"readiness"}, .critical = false});

  // GET /health/ready
  auto r = health.report("readiness");
  reply(r.http_status(), "application/json", r.to_json());
  // [/snippet]
  DOCS_CHECK(replied_status == 200);  // recommendations are not critical: degraded, still 200
  DOCS_CHECK(r.status == resil::health_status::degraded);
}

}  // namespace docs_health
