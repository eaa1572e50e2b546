// Event listener plumbing: run-time listeners, one predictable branch when there are none.
// SPDX-License-Identifier: MIT
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "config.hpp"

namespace resil {

/// Identifies a listener registration, to remove it later. Zero is never a valid id.
enum class subscription : std::uint64_t {};

/**
 * The list of listeners a policy publishes its `Event`s to.
 *
 * - `subscribe(f)` adds `f` (callable as `void(const Event&)`) at run time and returns a
 *   `subscription`; `unsubscribe(s)` removes it.
 * - With no listener, publishing costs one relaxed load and a predictable branch; the policy
 *   does not even build the event (`publish_with(make)`).
 * - Listeners run on the thread that caused the event, after the policy committed its state and
 *   outside any critical section, in registration order. A listener may call back into the
 *   policy. An exception from a listener propagates to that caller; the state change stands.
 *
 *     breaker.events().subscribe([](const resil::circuit_breaker_event& e) { log(e); });
 *
 * Thread-safe: publishing is lock-free; subscribing takes a mutex. A listener removed while
 * another thread is publishing may still be called once by that thread.
 */
template <class Event>
class event_publisher {
 public:
  /// A listener: called with each event, on the publishing thread, outside any lock.
  using listener = std::function<void(const Event&)>;

  event_publisher() = default;
  event_publisher(const event_publisher&) = delete;
  event_publisher& operator=(const event_publisher&) = delete;
  ~event_publisher() { delete current_.load(std::memory_order_relaxed); }

  /// Adds a listener; returns its subscription.
  subscription subscribe(listener f) {
    std::lock_guard lock(write_mutex_);
    const auto id = subscription{++last_id_};
    auto next = copy_locked();
    next->push_back({id, std::move(f)});
    swap_locked(std::move(next));
    return id;
  }

  /// Removes a listener; returns false if it was not registered.
  bool unsubscribe(subscription id) {
    std::lock_guard lock(write_mutex_);
    auto next = copy_locked();
    const auto before = next->size();
    std::erase_if(*next, [id](const entry& e) { return e.id == id; });
    if (next->size() == before) return false;
    swap_locked(next->empty() ? nullptr : std::move(next));
    return true;
  }

  /// True when at least one listener is registered (one relaxed load).
  [[nodiscard]] bool has_listeners() const noexcept {
    return current_.load(std::memory_order_relaxed) != nullptr;
  }

  /// Calls every listener with `e`.
  void publish(const Event& e) const {
    if (RESIL_LIKELY(!has_listeners())) return;
    dispatch(e);
  }

  /// Builds the event with `make()` and publishes it, only when a listener is registered.
  template <class Make>
  void publish_with(Make&& make) const {
    if (RESIL_LIKELY(!has_listeners())) return;
    dispatch(std::forward<Make>(make)());
  }

 private:
  struct entry {
    subscription id;
    listener f;
  };
  using list = std::vector<entry>;

  struct reader_guard {
    const event_publisher* p;
    ~reader_guard() { p->readers_.fetch_sub(1, std::memory_order_release); }
  };

  void dispatch(const Event& e) const {
    // Readers announce themselves before loading the list, so a writer that sees no reader
    // after swapping may free the lists it replaced (seq_cst pairs the two).
    readers_.fetch_add(1, std::memory_order_seq_cst);
    reader_guard guard{this};
    const list* l = current_.load(std::memory_order_seq_cst);
    if (l == nullptr) return;
    for (const auto& item : *l) item.f(e);
  }

  [[nodiscard]] std::unique_ptr<list> copy_locked() const {
    const list* l = current_.load(std::memory_order_relaxed);
    return l != nullptr ? std::make_unique<list>(*l) : std::make_unique<list>();
  }

  void swap_locked(std::unique_ptr<list> next) {
    const list* old = current_.exchange(next.release(), std::memory_order_seq_cst);
    if (old != nullptr) retired_.emplace_back(old);
    if (readers_.load(std::memory_order_seq_cst) == 0) retired_.clear();
  }

  std::atomic<const list*> current_{nullptr};
  mutable std::atomic<std::uint64_t> readers_{0};
  std::mutex write_mutex_;
  std::vector<std::unique_ptr<const list>> retired_;
  std::uint64_t last_id_ = 0;
};

}  // namespace resil
