// Turning an exception thrown inside a policy (a listener, a thread start, an allocation) into
// the call's outcome, so that `invoke` never throws. Not API.
// SPDX-License-Identifier: MIT
#pragma once

#include <exception>
#include <utility>

#include "../core/config.hpp"
#include "../core/outcome.hpp"

namespace resil::detail {

/// Runs `f()` (which returns `outcome<R>`); an exception escaping it becomes the outcome.
template <class R, class F>
outcome<R> capture_exceptions(F&& f) noexcept {
#if RESIL_HAS_EXCEPTIONS
  try {
    return std::forward<F>(f)();
  } catch (...) {
    return outcome<R>::from_exception(std::current_exception());
  }
#else
  return std::forward<F>(f)();
#endif
}

}  // namespace resil::detail
