// Runs the snippets of every docs page (each page's file defines docs_<page>::run).
// SPDX-License-Identifier: MIT
#include <cstdio>

namespace docs_backoff {
void run();
}
namespace docs_bulkhead {
void run();
}
namespace docs_circuit_breaker {
void run();
}
namespace docs_composition {
void run();
}
namespace docs_concepts {
void run();
}
namespace docs_fallback {
void run();
}
namespace docs_health {
void run();
}
namespace docs_rate_limiter {
void run();
}
namespace docs_retry {
void run();
}
namespace docs_testing {
void run();
}
namespace docs_timeout {
void run();
}

int main() {
  docs_backoff::run();
  docs_bulkhead::run();
  docs_circuit_breaker::run();
  docs_composition::run();
  docs_concepts::run();
  docs_fallback::run();
  docs_health::run();
  docs_rate_limiter::run();
  docs_retry::run();
  docs_testing::run();
  docs_timeout::run();
  std::puts("every docs snippet ran");
}
