// Snippets of docs/concepts.md (the custom policy is quoted from examples/09_custom_policy.cpp).
// SPDX-License-Identifier: MIT
#include <resil/resil.hpp>

#include <functional>
#include <utility>

#include "check.hpp"

namespace docs_concepts {

struct result {
  bool ok_ = true;
  [[nodiscard]] bool ok() const { return ok_; }
};

// An asynchronous call: completes later by calling `done` (here: at once).
template <class F>
void start_async_call(F&& done) {
  std::forward<F>(done)(result{});
}

void run() {
  resil::circuit_breaker breaker{{}};
  // [snippet:permit-async]
  if (auto permit = breaker.try_acquire()) {  // a reservation, not an observation
    start_async_call([p = std::move(*permit)](const result& r) mutable {
      r.ok() ? p.record_success() : p.record_failure();
    });  // dropped unrecorded: released
  }
  // [/snippet]
  DOCS_CHECK(breaker.metrics().calls == 1);
}

}  // namespace docs_concepts
