// The out-of-line members of resil::basic_circuit_breaker: the rare paths (rejections,
// transitions, half-open probes, manual control, metrics). Included at the end of
// circuit_breaker.hpp; not API.
// SPDX-License-Identifier: MIT
#pragma once

namespace resil {

template <clock Clock>
auto basic_circuit_breaker<Clock>::admit_slow(context* ctx, std::uint64_t w) -> admission {
  for (;;) {
    switch (to_state(w)) {
      case circuit_state::closed:
      case circuit_state::metrics_only:
      case circuit_state::disabled:
        return {true, {word::id(w), slow_tracking_ ? now_ticks(ctx) : 0}};
      case circuit_state::open: {
        const std::int64_t now = now_ticks(ctx);
        const std::int64_t until = open_until_.load(std::memory_order_acquire);
        if (now < until) return reject(circuit_state::open, nanoseconds{until - now});
        const auto r = transition(word::id(w), circuit_state::half_open, now, true);
        if (r.done) {
          const auto id = word::make(word::gen(w) + 1, code(circuit_state::half_open), 0);
          return {true, {id, now}, {}, circuit_state::half_open, r};
        }
        break;  // someone else moved it: look again
      }
      case circuit_state::half_open: {
        const std::uint64_t p = word::payload(w);
        if (word::field(p, word::reserved_at) < options_.half_open_calls) {
          // The probe slot is reserved by this CAS: never more than half_open_calls at once.
          if (state_.compare_exchange_weak(w, word::with_payload(w, p + word::one(0)))) {
            return {true, {word::id(w), slow_tracking_ ? now_ticks(ctx) : 0}};
          }
          continue;  // w was reloaded by the failed CAS
        }
        if (options_.max_half_open_duration.count() > 0) {
          const std::int64_t now = now_ticks(ctx);
          const std::int64_t since = half_open_since_.load(std::memory_order_acquire);
          if (detail::sat_sub(now, since) >= options_.max_half_open_duration.count()) {
            const auto r = transition(word::id(w), circuit_state::open, now);
            if (r.done) {
              const auto left = detail::sat_sub(open_until_.load(), now);
              return reject(circuit_state::open, nanoseconds{left > 0 ? left : 0}, r);
            }
            break;
          }
        }
        return reject(circuit_state::half_open, nanoseconds{0});
      }
      case circuit_state::forced_open:
        return reject(circuit_state::forced_open, nanoseconds{0});
    }
    w = state_.load(std::memory_order_acquire);
  }
}

template <clock Clock>
void basic_circuit_breaker<Clock>::complete_general(const permit_token& t, verdict v) {
  nanoseconds elapsed{0};
  bool slow = false;
  std::int64_t end = 0;
  if (needs_end_time_) {
    end = ticks(clock_.now());
    if (slow_tracking_) {
      const auto d = detail::sat_sub(end, t.start_);
      elapsed = nanoseconds{d > 0 ? d : 0};  // a clock that went backwards measures zero
      slow = elapsed > options_.slow_call_duration;
    }
  }
  const circuit_state s = t.state();
  effects f;
  kind k = kind::ignored;
  if (v == verdict::ignored) {
    give_back_probe(t);
  } else {
    const bool failed = v == verdict::failure;
    k = failed ? kind::failure : kind::success;
    if (s == circuit_state::half_open) {
      record_probe(t, failed, slow, f);
    } else if (s == circuit_state::closed || s == circuit_state::metrics_only) {
      record_closed(t, failed, slow, end, f);
    }
  }
  // State first, then listeners: a throwing listener cannot undo or strand anything.
  events_.publish_with([&] {
    event e{k, s, s};
    e.elapsed = elapsed;
    e.slow = slow;
    return e;
  });
  if (RESIL_UNLIKELY(f.rate_kind || f.run != 0 || f.moved.done)) publish_effects(f);
}

template <clock Clock>
void basic_circuit_breaker<Clock>::record_closed(const permit_token& t, bool failed, bool slow,
                                                 std::int64_t end, effects& f) {
  std::uint64_t w = state_.load(std::memory_order_acquire);
  if (word::id(w) != t.id_) return;  // admitted in an earlier generation: not counted
  if (options_.consecutive_failures > 0 && (failed || word::payload(w) != 0)) {
    if (!count_run(t, failed, w, f)) return;
  }
  if (count_ || time_) {
    const window_update u = count_ ? count_->record({failed, slow}, word::gen(t.id_))
                                   : time_->record({failed, slow}, end, word::gen(t.id_));
    // Only a window with a failed (or slow) call can be above a threshold: no division
    // on a healthy path.
    if (u.has_totals && u.totals.calls >= options_.minimum_calls &&
        (u.totals.failed != 0 || (slow_tracking_ && u.totals.slow != 0))) {
      f.rate_kind = exceeded(u.totals);
      if (f.rate_kind) f.rate = rate_of(*f.rate_kind, u.totals);
    }
    if (u.has_totals && t.state() == circuit_state::metrics_only) announce(f);
  }
  if (t.state() == circuit_state::metrics_only) return;  // announces, never opens
  if (RESIL_UNLIKELY(f.rate_kind || f.run != 0)) trip(t, end, f);
}

template <clock Clock>
auto basic_circuit_breaker<Clock>::reject(circuit_state s, nanoseconds remaining,
                                          transition_result moved) -> admission {
  not_permitted_.add();
  return {false, {}, remaining, s, moved};
}

template <clock Clock>
void basic_circuit_breaker<Clock>::give_back_probe(const permit_token& t) noexcept {
  if (!t.probe()) return;
  std::uint64_t w = state_.load();
  while (word::id(w) == t.id_) {
    const std::uint64_t p = word::payload(w);
    if (word::field(p, word::reserved_at) == 0) return;  // not ours to give back
    if (state_.compare_exchange_weak(w, word::with_payload(w, p - word::one(0)))) return;
  }
}

// Counts the failure run in the state word (a failure adds one, a success clears it); false if
// the permit's generation has ended meanwhile.
template <clock Clock>
bool basic_circuit_breaker<Clock>::count_run(const permit_token& t, bool failed, std::uint64_t w,
                                             effects& f) {
  for (;;) {
    const std::uint64_t p = word::payload(w);
    const std::uint64_t np = failed ? (p < word::payload_max ? p + 1 : p) : 0;
    if (np == p) return true;
    if (state_.compare_exchange_weak(w, word::with_payload(w, np))) {
      if (failed && np == options_.consecutive_failures) f.run = np;
      f.in = to_state(w);
      return true;
    }
    if (word::id(w) != t.id_) return false;
  }
}

// metrics_only: announce a rate crossing its threshold once, until it falls below again.
template <clock Clock>
void basic_circuit_breaker<Clock>::announce(effects& f) {
  f.in = circuit_state::metrics_only;
  if (f.rate_kind) {
    if (exceeded_.exchange(true)) f.rate_kind.reset();  // announced already
  } else if (exceeded_.load(std::memory_order_relaxed)) {
    exceeded_.store(false, std::memory_order_relaxed);
  }
}

// The fast path's window holds a failure and enough calls: check the rates, open if needed.
template <clock Clock>
void basic_circuit_breaker<Clock>::evaluate(const permit_token& t, const window_totals& totals) {
  effects f;
  f.rate_kind = exceeded(totals);
  if (!f.rate_kind) return;
  f.rate = rate_of(*f.rate_kind, totals);
  trip(t, 0, f);
  publish_effects(f);
}

// A closed window crossed a threshold (or the failure run reached its limit): open, unless
// another thread changed the state first (then the events are its to publish).
template <clock Clock>
void basic_circuit_breaker<Clock>::trip(const permit_token& t, std::int64_t end, effects& f) {
  f.in = circuit_state::closed;
  f.moved =
      transition(t.id_, circuit_state::open, needs_end_time_ ? std::optional{end} : std::nullopt);
  if (!f.moved.done) f = {};
}

template <clock Clock>
void basic_circuit_breaker<Clock>::record_probe(const permit_token& t, bool failed, bool slow,
                                                effects& f) {
  const std::uint64_t n = options_.half_open_calls;
  std::uint64_t w = state_.load();
  std::uint64_t p = 0;
  for (;;) {
    if (word::id(w) != t.id_) return;  // the half-open state it probed has ended
    p = word::payload(w) + word::one(word::recorded_at) +
        (failed ? word::one(word::failed_at) : 0U) + (slow ? word::one(word::slow_at) : 0U);
    if (state_.compare_exchange_weak(w, word::with_payload(w, p))) break;
  }
  if (word::field(p, word::recorded_at) < n) return;
  // The last probe of this half-open state decides, exactly once.
  const window_totals probes{n, word::field(p, word::failed_at), word::field(p, word::slow_at)};
  f.in = circuit_state::half_open;
  f.rate_kind = exceeded(probes);
  if (f.rate_kind) f.rate = rate_of(*f.rate_kind, probes);
  f.moved =
      transition(t.id_, f.rate_kind ? circuit_state::open : circuit_state::closed, std::nullopt);
  if (!f.moved.done) f = {};
}

template <clock Clock>
auto basic_circuit_breaker<Clock>::transition(std::uint64_t expected_id, circuit_state to,
                                              std::optional<std::int64_t> now, bool reserve_probe,
                                              bool reset) -> transition_result {
  std::lock_guard lock(mutex_);
  std::uint64_t w = state_.load();
  if (word::id(w) != expected_id) return {};
  const circuit_state from = to_state(w);
  const std::uint64_t gen = word::gen(w) + 1;
  // Everything the new state needs is written before the state word publishes it.
  switch (to) {
    case circuit_state::open: {
      nanoseconds d = options_.open_duration;
      if (options_.open_backoff) d = options_.open_backoff->next(backoff_, rng_);
      const std::int64_t t = now ? *now : ticks(clock_.now());
      open_until_.store(detail::sat_add(t, d.count()), std::memory_order_release);
      probe_tally_ = from == circuit_state::half_open ? word::payload(w) : 0U;
      break;
    }
    case circuit_state::half_open:
      half_open_since_.store(now ? *now : ticks(clock_.now()), std::memory_order_release);
      break;
    case circuit_state::closed:
    case circuit_state::metrics_only:
    case circuit_state::disabled:
    case circuit_state::forced_open:
      if (to == circuit_state::closed) backoff_ = {};
      // A fresh window whose epoch is the new generation: records of calls admitted before
      // this point no longer count.
      if (count_) count_->reset(gen & word::gen_max);
      if (time_) time_->reset(gen & word::gen_max);
      exceeded_.store(false, std::memory_order_relaxed);
      break;
  }
  if (reset) not_permitted_.clear();
  const std::uint64_t next = word::make(gen, code(to), reserve_probe ? 1U : 0U);
  // Only the payload can change under us (probe counters, the failure run): the generation and
  // the state change only here, under the mutex.
  while (!state_.compare_exchange_weak(w, next)) {
  }
  if (from != to) ++transitions_;
  return {true, from, to};
}

template <clock Clock>
void basic_circuit_breaker<Clock>::manual(circuit_state to, bool reset) {
  transition_result r;
  for (;;) {
    const std::uint64_t w = state_.load();
    if (to_state(w) == to && !reset) return;
    // A reset of a closed breaker still starts a new generation (earlier calls stop counting).
    r = transition(word::id(w), to, std::nullopt, false, reset);
    if (r.done) break;
  }
  publish_transition(r);
  if (reset) {
    events_.publish_with([] {
      return event{kind::reset, circuit_state::closed, circuit_state::closed};
    });
  }
}

template <clock Clock>
void basic_circuit_breaker<Clock>::publish_admission(const admission& a) {
  publish_transition(a.moved);
  if (a.admitted) return;
  events_.publish_with([&] {
    event e{kind::not_permitted, a.in, a.in};
    e.remaining_delay = a.remaining;
    return e;
  });
}

template <clock Clock>
void basic_circuit_breaker<Clock>::publish_effects(const effects& f) {
  if (f.rate_kind) publish_exceeded(*f.rate_kind, f.rate, 0, f.in);
  if (f.run != 0) publish_exceeded(kind::consecutive_failures_exceeded, 0.0, f.run, f.in);
  publish_transition(f.moved);
}

template <clock Clock>
void basic_circuit_breaker<Clock>::publish_transition(const transition_result& r) {
  if (r.done && r.from != r.to) {
    events_.publish_with([&] { return event{kind::state_transition, r.to, r.from}; });
  }
}

template <clock Clock>
void basic_circuit_breaker<Clock>::publish_exceeded(kind k, double rate, std::uint64_t n,
                                                    circuit_state s) {
  events_.publish_with([&] {
    event e{k, s, s};
    e.rate = rate;
    e.count = n;
    return e;
  });
}

template <clock Clock>
circuit_breaker_metrics basic_circuit_breaker<Clock>::metrics() const {
  std::lock_guard lock(mutex_);
  circuit_breaker_metrics m;
  const std::uint64_t w = state_.load();
  m.state = to_state(w);
  m.not_permitted = not_permitted_.sum();
  m.transitions = transitions_;
  window_totals t;
  const auto tally = [&](std::uint64_t p) {
    t = {word::field(p, word::recorded_at), word::field(p, word::failed_at),
         word::field(p, word::slow_at)};
  };
  if (m.state == circuit_state::half_open) {
    tally(word::payload(w));
    m.probes_in_flight = static_cast<std::uint32_t>(probes_running(w));
  } else if (m.state == circuit_state::open && probe_tally_ != 0) {
    tally(probe_tally_);
  } else if (count_) {
    t = count_->totals();
  } else if (time_) {
    t = time_->totals(ticks(clock_.now()));
  }
  if (m.state == circuit_state::closed || m.state == circuit_state::metrics_only) {
    m.consecutive_failures = word::payload(w);
  }
  m.calls = t.calls;
  m.failed = t.failed;
  m.slow = t.slow;
  m.failure_rate = t.failure_rate();
  m.slow_call_rate = t.slow_call_rate();
  return m;
}

}  // namespace resil
