// Snippets of docs/backoff.md.
// SPDX-License-Identifier: MIT
#include <resil/backoff.hpp>
#include <resil/core/random.hpp>

#include "check.hpp"

namespace docs_backoff {

using namespace std::chrono_literals;

void run() {
  // [snippet:backoff-usage]
  auto b = resil::backoff::exponential(100ms, 2.0, 10s).full_jitter();
  resil::backoff_state s;     // one per retry sequence
  resil::splitmix64 rng{42};  // seedable, thread-safe
  auto d1 = b.next(s, rng);   // uniform in [0, 100ms]
  auto d2 = b.next(s, rng);   // uniform in [0, 200ms]
  // [/snippet]
  DOCS_CHECK(d1 >= 0ms && d1 <= 100ms);
  DOCS_CHECK(d2 >= 0ms && d2 <= 200ms);
}

}  // namespace docs_backoff
