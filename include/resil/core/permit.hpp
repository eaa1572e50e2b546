// resil::permit: the RAII reservation every state object hands out (the permit protocol).
// SPDX-License-Identifier: MIT
#pragma once

#include <utility>

#include "classify.hpp"

namespace resil {

/**
 * A reservation taken from a policy's state object: a breaker's admission (and half-open probe
 * slot), a bulkhead's slot. The holder runs the call, then reports how it went; a permit dropped
 * without a report is *released*: the reservation is returned and nothing is counted (the call
 * was cancelled or abandoned). Every permit is settled exactly once.
 *
 *     if (auto p = breaker.try_acquire()) {      // a reservation, not an observation
 *       auto r = co_await call();                // any framework: the permit is movable
 *       r ? p->record_success() : p->record_failure();
 *     }                                          // dropped unrecorded: released
 *
 * Movable, not copyable. Reporting twice is a no-op (the first report settles it). Not
 * thread-safe: one permit belongs to one call.
 *
 * `Owner` is the state object; it befriends `permit<Owner>` and provides `permit_token`,
 * `complete(token, verdict)` and `release(token) noexcept`.
 */
template <class Owner>
class [[nodiscard]] permit {
 public:
  using token_type = typename Owner::permit_token;  ///< What the owner remembers per permit.

  /// A permit of `owner` carrying `token`; only owners create permits.
  permit(Owner& owner, token_type token) noexcept : owner_(&owner), token_(std::move(token)) {}
  /// Takes over `other`'s reservation; `other` is left empty.
  permit(permit&& other) noexcept
      : owner_(std::exchange(other.owner_, nullptr)), token_(std::move(other.token_)) {}
  /// Releases the reservation held (if any), then takes over `other`'s.
  permit& operator=(permit&& other) noexcept {
    if (this != &other) {
      release();
      owner_ = std::exchange(other.owner_, nullptr);
      token_ = std::move(other.token_);
    }
    return *this;
  }
  permit(const permit&) = delete;
  permit& operator=(const permit&) = delete;
  ~permit() { release(); }

  /// The call succeeded.
  void record_success() { record(verdict::success); }
  /// The call failed.
  void record_failure() { record(verdict::failure); }
  /// Reports `v`; `verdict::ignored` returns the reservation uncounted.
  void record(verdict v) {
    if (Owner* o = std::exchange(owner_, nullptr)) o->complete(token_, v);
  }
  /// Classifies `o` with `c` and reports the verdict. If a predicate of `c` throws, the permit is
  /// released and the exception propagates.
  template <class R>
  void record(const outcome<R>& o, const classifier& c) {
    auto [v, error] = c.classify_noexcept(o);
    if (error) {
      release();
      detail::rethrow(error);
    }
    record(v);
  }
  /// Returns the reservation without counting anything (the call never ran or was abandoned).
  void release() noexcept {
    if (Owner* o = std::exchange(owner_, nullptr)) o->release(token_);
  }

  /// True until the permit is settled.
  [[nodiscard]] bool active() const noexcept { return owner_ != nullptr; }
  /// The state object's bookkeeping for this permit (generation, start time, ...).
  [[nodiscard]] const token_type& token() const noexcept { return token_; }

 private:
  Owner* owner_;
  token_type token_;
};

}  // namespace resil
