// Health checks for a service: liveness and readiness groups, a critical database check, a
// non-critical recommendations check, hysteresis, and the JSON a /health endpoint would serve.
//
//   GET /health/live   --> report("liveness")  --> 200
//   GET /health/ready  --> report("readiness") --> 200 / 503
#include <resil/resil.hpp>

#include <cstdio>

using namespace std::chrono_literals;

int main() {
  resil::manual_clock clock;  // a real service uses the default clock
  resil::basic_health_registry<resil::manual_clock> health{clock};

  bool db_up = true;
  health.add("event-loop", [] { return true; }, {.tags = {"liveness"}});
  health.add("database", [&] { return db_up; },
             {.tags = {"readiness"}, .interval = 5s, .unhealthy_threshold = 2});
  health.add("recommendations",
             [] { return resil::health_result::degraded("model stale").with("age", "3h"); },
             {.tags = {"readiness"}, .critical = false});

  auto show = [&](const char* when) {
    const auto ready = health.report("readiness");
    std::printf("%-28s live=%d ready=%d (%s)\n", when, health.report("liveness").http_status(),
                ready.http_status(), std::string(resil::to_string(ready.status)).c_str());
  };
  show("all good:");
  db_up = false;
  clock.advance(5s);
  show("database fails once:");  // hysteresis: one failure is not enough
  clock.advance(5s);
  show("database fails twice:");  // now out of rotation
  std::printf("%s\n", health.report("readiness").to_json().substr(0, 60).c_str());
}
// Output:
//   all good:                    live=200 ready=200 (degraded)
//   database fails once:         live=200 ready=200 (degraded)
//   database fails twice:        live=200 ready=503 (unhealthy)
//   {"status":"unhealthy","checks":[{"name":"database","status"
