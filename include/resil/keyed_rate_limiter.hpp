// resil::keyed_rate_limiter: one GCRA limit per key (client IP, tenant, API key) with a cap on
// the number of keys tracked, so memory stays bounded under a scan.
// SPDX-License-Identifier: MIT
#pragma once

#include <atomic>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/clock.hpp"
#include "core/config.hpp"
#include "core/context.hpp"
#include "core/errors.hpp"
#include "core/events.hpp"
#include "core/outcome.hpp"
#include "core/policy.hpp"
#include "detail/config_check.hpp"
#include "detail/gcra.hpp"
#include "rate_limiter.hpp"

namespace resil {

/**
 * Options of a `keyed_rate_limiter`: the limit every key gets, and how many keys are tracked.
 *
 *     resil::keyed_rate_limiter<std::string> per_ip{{
 *         .limit = {.permits = 20, .period = 1s, .burst = 40},
 *         .max_keys = 100'000}};
 *
 * Defaults: the `rate_limiter_options` defaults per key (100 per second, burst 100), at most
 * 10'000 keys in 16 shards. `limit.max_wait` must stay zero: a keyed limiter answers at once.
 */
struct keyed_rate_limiter_options {
  /// The limit applied to each key separately.
  rate_limiter_options limit{};
  /// The most keys tracked at once (rounded down to a multiple of `shards`). At the cap, a new
  /// key replaces a tracked one (an idle one if possible: see `basic_keyed_rate_limiter`).
  std::size_t max_keys = 10'000;
  /// Independently locked parts of the key table: more shards, less contention between keys.
  std::size_t shards = 16;

  /// The first invalid option, if any: an invalid `limit` (its field names are prefixed with
  /// `keyed_rate_limiter_options.limit`), a non-zero `limit.max_wait`, zero `max_keys`, zero
  /// `shards` or more shards than keys.
  [[nodiscard]] std::optional<config_problem> validate() const {
    if (auto problem = limit.validate()) {
      const std::string prefix = "rate_limiter_options.";
      const std::string renamed = "keyed_rate_limiter_options.limit.";
      problem->field.replace(0, prefix.size(), renamed);
      problem->message.replace(problem->message.find(prefix), prefix.size(), renamed);
      return problem;
    }
    detail::config_check c{"keyed_rate_limiter_options"};
    c.require(limit.max_wait == nanoseconds::zero(), "limit.max_wait", limit.max_wait,
              "must be zero: a keyed limiter answers at once");
    c.require(max_keys > 0, "max_keys", max_keys, "must be positive");
    c.require(shards > 0 && shards <= max_keys, "shards", shards,
              "must be positive and at most max_keys");
    return std::move(c).result();
  }
};

/// The answer of a keyed limiter: granted, or refused with the time until it could be granted.
struct rate_decision {
  bool permitted = false;  ///< True when the permits were granted.
  /// When refused: how long until the request could succeed (`nanoseconds::max()`: never).
  nanoseconds retry_after{};
  /// `permitted`.
  [[nodiscard]] explicit operator bool() const noexcept { return permitted; }
};

/// What a keyed rate limiter reports to its listeners.
enum class keyed_rate_limiter_event_kind : std::uint8_t {
  permitted,  ///< Permits were granted to `key`.
  rejected,   ///< A request of `key` was refused; `retry_after` says when it could succeed.
  evicted,    ///< `key` was dropped to make room; `lossless` if its bucket was full anyway.
};

/// The event kind's name: "permitted", "rejected" or "evicted".
[[nodiscard]] constexpr std::string_view to_string(keyed_rate_limiter_event_kind k) noexcept {
  switch (k) {
    case keyed_rate_limiter_event_kind::permitted:
      return "permitted";
    case keyed_rate_limiter_event_kind::rejected:
      return "rejected";
    case keyed_rate_limiter_event_kind::evicted:
      return "evicted";
  }
  return "unknown";
}

/// One keyed rate limiter event. `key` points to the key for the duration of the listener call.
template <class Key>
struct keyed_rate_limiter_event {
  keyed_rate_limiter_event_kind kind =
      keyed_rate_limiter_event_kind::permitted;  ///< What happened.
  const Key* key = nullptr;   ///< The key concerned (valid during the listener call only).
  std::uint64_t permits = 0;  ///< Permits requested (`permitted`, `rejected`).
  nanoseconds retry_after{};  ///< For `rejected`: time until the request could succeed.
  bool lossless = true;       ///< For `evicted`: the key's bucket was full, so nothing was lost.
};

/// A snapshot of a keyed limiter's table.
struct keyed_rate_limiter_metrics {
  std::size_t keys = 0;              ///< Keys tracked now.
  std::size_t max_keys = 0;          ///< The cap (max_keys rounded down to a multiple of shards).
  std::uint64_t evicted_idle = 0;    ///< Keys dropped whose bucket was full (nothing lost).
  std::uint64_t evicted_active = 0;  ///< Keys dropped at the cap while their bucket was not full.
  std::uint64_t permits = 0;         ///< The per-key limit: permits per `period`,
  nanoseconds period{};              ///< its period,
  std::uint64_t burst = 0;           ///< and its burst.
};

/**
 * One GCRA rate limit per key: per client IP, tenant or API key, as a gateway needs.
 *
 *     resil::keyed_rate_limiter<std::string> per_ip{{.limit = {.permits = 20, .period = 1s}}};
 *     if (auto d = per_ip.try_acquire(request.ip); !d) reply_429(d.retry_after);
 *     auto r = per_ip.for_key(tenant).try_execute(handle, request);   // as a policy
 *
 * **Per-key bound.** Each key gets exactly a `rate_limiter`'s guarantee (at most
 * `burst + floor(permits * W / period)` grants in any window of length W) for as long as it is
 * tracked. A key is forgotten only (a) when its bucket is full again, which loses nothing (a
 * full bucket and a new key are the same state), or (b) at the cap, when a new key needs room
 * and no sampled key is idle: then the key closest to full is dropped, and if it returns within
 * its refill time it may get up to its consumed permits (at most `burst`) again. Metrics count
 * both kinds; a cap large enough for the active keys makes (b) rare.
 *
 * **Memory.** At most `max_keys` entries, each about `sizeof(Key) + 60` bytes (the hash node,
 * its bucket slot and a sampling slot; measured with glibc: 64 bytes for `int` keys, 96 for
 * `std::string` keys of up to 15 characters). Nodes are allocated when a key first appears; the
 * bucket arrays are reserved at construction. A scan of millions of distinct keys (a port
 * scan, spoofed IPs) does not grow it: new keys replace idle ones.
 *
 * **Cost.** The hot path of an existing key: a clock read, one hash, one uncontended mutex of
 * its shard, a map lookup; no allocation. A new key allocates its node. Decisions never wait.
 *
 * Thread-safe. Neither copyable nor movable. `Hash` and `KeyEqual` may be transparent (then
 * `try_acquire` accepts any type they accept, e.g. `std::string_view` for `std::string` keys).
 */
template <class Key, resil::clock Clock = steady_clock, class Hash = std::hash<Key>,
          class KeyEqual = std::equal_to<Key>>
class basic_keyed_rate_limiter {
  template <class K>
  static constexpr bool lookup_with = std::same_as<std::remove_cvref_t<K>, Key> || (requires {
                                        typename Hash::is_transparent;
                                        typename KeyEqual::is_transparent;
                                      } && std::constructible_from<Key, const K&>);

 public:
  using key_type = Key;                              ///< The key type.
  using clock_type = Clock;                          ///< The clock it reads.
  using event_type = keyed_rate_limiter_event<Key>;  ///< What `events()` publishes.

  /// A limiter on a default-constructed clock. Throws `config_error` for invalid options.
  explicit basic_keyed_rate_limiter(
      const keyed_rate_limiter_options& options) requires std::default_initializable<Clock>
      : basic_keyed_rate_limiter(options, Clock{}) {}

  /// A limiter reading time from `clock`. Throws `config_error` for invalid options.
  basic_keyed_rate_limiter(const keyed_rate_limiter_options& options, Clock clock)
      : clock_(std::move(clock)), epoch_(clock_.now().time_since_epoch().count()) {
    detail::raise_if(options.validate());
    const detail::gcra_params p = detail::make_gcra(
        options.limit.permits, options.limit.period.count(), options.limit.effective_burst());
    shard_count_ = options.shards;
    per_shard_ = options.max_keys / options.shards;
    shards_ = std::make_unique<shard[]>(shard_count_);
    for (std::size_t i = 0; i < shard_count_; ++i) {
      shards_[i].params = p;
      shards_[i].map.reserve(per_shard_);
      shards_[i].slots.reserve(per_shard_);
    }
  }

  basic_keyed_rate_limiter(const basic_keyed_rate_limiter&) = delete;
  basic_keyed_rate_limiter& operator=(const basic_keyed_rate_limiter&) = delete;

  /// Grants `n` permits to `key` now, or refuses with the retry-after. Never waits.
  template <class K>
  [[nodiscard]] rate_decision try_acquire(const K& key,
                                          std::uint64_t n = 1) requires lookup_with<K> {
    return acquire_at(key, n, clock_.now().time_since_epoch().count());
  }

  /// How long until `try_acquire(key, n)` could succeed (zero for an unknown key).
  template <class K>
  [[nodiscard]] nanoseconds retry_after(const K& key,
                                        std::uint64_t n = 1) const requires lookup_with<K> {
    if (n == 0) return nanoseconds::zero();
    const std::int64_t t = clock_.now().time_since_epoch().count();
    const shard& s = shard_for(key);
    std::lock_guard lock(s.mutex);
    const auto it = s.map.find(key);
    return wait_for(s.params, it == s.map.end() ? s.newest : it->second.tat, t, n);
  }

  /// Forgets every key whose bucket is full again (which loses nothing); returns how many.
  std::size_t prune() {
    const std::int64_t t = clock_.now().time_since_epoch().count();
    std::size_t removed = 0;
    for (std::size_t i = 0; i < shard_count_; ++i) {
      shard& s = shards_[i];
      std::lock_guard lock(s.mutex);
      const std::int64_t lo = detail::to_units(t, epoch_, s.params).lo;
      if (lo > s.newest) s.newest = lo;
      for (std::size_t j = s.slots.size(); j-- > 0;) {
        if (s.slots[j]->second.tat <= lo) {
          erase_slot(s, j);
          ++s.evicted_idle;
          ++removed;
        }
      }
    }
    return removed;
  }

  /**
   * Changes the per-key limit at run time, keeping each key's available permits (capped at the
   * new burst). Takes each shard's lock in turn; O(keys). Throws `config_error` for invalid
   * values.
   */
  void set_limit(std::uint64_t permits, nanoseconds period,
                 std::optional<std::uint64_t> burst = std::nullopt) {
    rate_limiter_options o;
    o.permits = permits;
    o.period = period;
    o.burst = burst;
    detail::raise_if(o.validate());
    const detail::gcra_params next =
        detail::make_gcra(permits, period.count(), o.effective_burst());
    for (std::size_t i = 0; i < shard_count_; ++i) {
      shard& s = shards_[i];
      std::lock_guard lock(s.mutex);
      const std::int64_t t = clock_.now().time_since_epoch().count();
      for (auto* node : s.slots) {
        node->second.tat = detail::gcra_convert(s.params, next, node->second.tat, t, epoch_);
      }
      // The newest time seen, in the new units (at least the time of the change).
      const std::int64_t seen =
          s.newest == detail::tat_min
              ? detail::tat_min
              : detail::to_units(detail::from_units(s.newest, epoch_, s.params), epoch_, next).lo;
      const std::int64_t changed = detail::to_units(t, epoch_, next).lo;
      s.newest = seen > changed ? seen : changed;
      s.params = next;
    }
  }

  /// A snapshot of the table (each shard read under its lock, one after the other).
  [[nodiscard]] keyed_rate_limiter_metrics metrics() const {
    keyed_rate_limiter_metrics m;
    m.max_keys = per_shard_ * shard_count_;
    for (std::size_t i = 0; i < shard_count_; ++i) {
      const shard& s = shards_[i];
      std::lock_guard lock(s.mutex);
      m.keys += s.map.size();
      m.evicted_idle += s.evicted_idle;
      m.evicted_active += s.evicted_active;
      m.permits = s.params.permits;
      m.period = nanoseconds{s.params.period};
      m.burst = s.params.burst;
    }
    return m;
  }

  /// Listeners for `keyed_rate_limiter_event<Key>`s.
  [[nodiscard]] event_publisher<event_type>& events() noexcept { return events_; }

  /**
   * The limit of one key as a policy: `for_key(k).try_execute(f)` or, kept in a variable,
   * `compose(retry, limiter_for_tenant, breaker)`. Refuses with `errc::rate_limited` and the
   * retry-after; never waits. Holds the limiter by reference and the key by value.
   */
  class key_policy : public policy_base<key_policy> {
   public:
    /// The limit of `key` in `owner`; prefer `owner.for_key(key)`.
    key_policy(basic_keyed_rate_limiter& owner, Key key) : owner_(&owner), key_(std::move(key)) {}

    /// The policy protocol: one permit of the key per call.
    template <class R, class Next>
    outcome<R> invoke(context& ctx, Next&& next) {
      const rate_decision d =
          owner_->acquire_at(key_, 1, ctx.start_time(owner_->clock_).time_since_epoch().count());
      if (!d.permitted) return outcome<R>::from_error(errc::rate_limited, d.retry_after);
      return next(ctx);
    }

    /// The key this policy limits.
    [[nodiscard]] const Key& key() const noexcept { return key_; }

   private:
    basic_keyed_rate_limiter* owner_;
    Key key_;
  };

  /// The policy limiting calls of `key` (see `key_policy`).
  [[nodiscard]] key_policy for_key(Key key) { return key_policy(*this, std::move(key)); }

 private:
  struct entry {
    std::int64_t tat;
    std::size_t slot;
  };
  using map_type = std::unordered_map<Key, entry, Hash, KeyEqual>;

  // A part of the key table with its own lock. `slots` lists the entries for O(1) sampling and
  // removal (node pointers stay valid across rehashing).
  struct alignas(detail::cache_line) shard {
    mutable std::mutex mutex;
    map_type map;
    std::vector<typename map_type::value_type*> slots;
    std::size_t cursor = 0;
    detail::gcra_params params;
    // The newest time (units) this shard has seen. An unknown key is "full as of then", not at
    // any time: a caller whose clock reading is older must not find a forgotten key fuller.
    std::int64_t newest = detail::tat_min;
    std::uint64_t evicted_idle = 0;
    std::uint64_t evicted_active = 0;
  };

  static constexpr std::size_t eviction_sample = 8;

  template <class K>
  shard& shard_for(const K& key) const {
    // Hashes such as std::hash<int> are the identity: mix before picking a shard.
    std::uint64_t h = static_cast<std::uint64_t>(hash_(key));
    h = (h ^ (h >> 31U)) * 0x9E3779B97F4A7C15ULL;
    return shards_[static_cast<std::size_t>((h >> 32U) % shard_count_)];
  }

  nanoseconds wait_for(const detail::gcra_params& p, std::int64_t tat, std::int64_t t,
                       std::uint64_t n) const noexcept {
    if (n > p.burst) return nanoseconds::max();
    const std::int64_t ready =
        detail::gcra_ready(p, tat, t, epoch_, detail::to_units(t, epoch_, p), n);
    if (ready == std::numeric_limits<std::int64_t>::max()) return nanoseconds::max();
    return nanoseconds{detail::sat_sub(ready, t)};
  }

  void erase_slot(shard& s, std::size_t i) {
    auto* victim = s.slots[i];
    s.slots[i] = s.slots.back();
    s.slots[i]->second.slot = i;
    s.slots.pop_back();
    s.map.erase(victim->first);
  }

  // Makes room for a new key in a full shard: the first idle entry among a sample taken from a
  // rotating cursor, else the sampled entry closest to full. Returns whether it was idle.
  bool evict_one(shard& s, std::int64_t lo, std::optional<Key>& evicted_key) {
    const std::size_t size = s.slots.size();
    std::size_t victim = s.cursor % size;
    for (std::size_t k = 0; k < eviction_sample && k < size; ++k) {
      const std::size_t i = (s.cursor + k) % size;
      if (s.slots[i]->second.tat < s.slots[victim]->second.tat) victim = i;
      if (s.slots[i]->second.tat <= lo) {
        victim = i;
        break;
      }
    }
    s.cursor = victim + 1;
    const bool idle = s.slots[victim]->second.tat <= lo;
    ++(idle ? s.evicted_idle : s.evicted_active);
    if (events_.has_listeners()) evicted_key.emplace(s.slots[victim]->first);
    erase_slot(s, victim);
    return idle;
  }

  template <class K>
  rate_decision acquire_at(const K& key, std::uint64_t n, std::int64_t t) {
    if (n == 0) return {true, nanoseconds::zero()};
    shard& s = shard_for(key);
    rate_decision d;
    std::optional<Key> evicted;
    bool evicted_idle = true;
    {
      std::lock_guard lock(s.mutex);
      const detail::gcra_params& p = s.params;
      if (n > p.burst) {
        d.retry_after = nanoseconds::max();
      } else {
        const detail::unit_time now = detail::to_units(t, epoch_, p);
        if (now.lo > s.newest) s.newest = now.lo;
        auto it = s.map.find(key);
        const std::int64_t tat = it == s.map.end() ? s.newest : it->second.tat;
        const std::int64_t next = detail::gcra_next(p, tat, now, n);
        if (next == detail::gcra_refused) {
          d.retry_after = wait_for(p, tat, t, n);
        } else if (it != s.map.end()) {
          it->second.tat = next;
          d.permitted = true;
        } else {
          if (s.slots.size() >= per_shard_) evicted_idle = evict_one(s, now.lo, evicted);
          auto [inserted, ok] = s.map.try_emplace(Key(key), entry{next, s.slots.size()});
          (void)ok;
          s.slots.push_back(&*inserted);
          d.permitted = true;
        }
      }
    }
    if (evicted) {
      events_.publish_with([&] {
        event_type e;
        e.kind = keyed_rate_limiter_event_kind::evicted;
        e.key = &*evicted;
        e.lossless = evicted_idle;
        return e;
      });
    }
    if (RESIL_UNLIKELY(events_.has_listeners())) publish_decision(key, n, d);
    return d;
  }

  template <class K>
  void publish_decision(const K& key, std::uint64_t n, const rate_decision& d) {
    event_type e;
    e.kind = d.permitted ? keyed_rate_limiter_event_kind::permitted
                         : keyed_rate_limiter_event_kind::rejected;
    e.permits = n;
    e.retry_after = d.retry_after;
    if constexpr (std::same_as<K, Key>) {
      e.key = &key;
      events_.publish(e);
    } else {
      const Key copy(key);  // a heterogeneous key: listeners get a Key
      e.key = &copy;
      events_.publish(e);
    }
  }

  Clock clock_;
  const std::int64_t epoch_;
  Hash hash_{};
  std::size_t shard_count_ = 1;
  std::size_t per_shard_ = 1;
  std::unique_ptr<shard[]> shards_;
  event_publisher<event_type> events_;
};

/// A keyed rate limiter on `resil::steady_clock`.
template <class Key, class Hash = std::hash<Key>, class KeyEqual = std::equal_to<Key>>
using keyed_rate_limiter = basic_keyed_rate_limiter<Key, steady_clock, Hash, KeyEqual>;

}  // namespace resil
