// A naive reference model of the circuit breaker (count window or none, consecutive failures,
// half-open probes, max_half_open_duration, manual states), for the simulation and the fuzzers.
// Plain sequential code: a deque for the window, plain integers for the probe counters.
// SPDX-License-Identifier: MIT
#pragma once

#include <resil/circuit_breaker.hpp>

#include <cstdint>
#include <deque>
#include <limits>
#include <optional>
#include <string>

namespace resil_test {

class breaker_model {
 public:
  using state = resil::circuit_state;

  struct config {
    double threshold = 0.5;
    std::uint32_t consecutive = 0;
    bool window = true;  // count window (false: window_type::none)
    std::uint32_t window_size = 10;
    std::uint32_t minimum_calls = 10;
    std::int64_t open_duration = 1'000'000;
    std::uint32_t half_open_calls = 1;
    std::int64_t max_half_open = 0;

    [[nodiscard]] resil::circuit_breaker_options options() const {
      return {.failure_rate_threshold = threshold,
              .consecutive_failures = consecutive,
              .window = window ? resil::window_type::count : resil::window_type::none,
              .window_size = window_size,
              .minimum_calls = minimum_calls,
              .open_duration = std::chrono::nanoseconds{open_duration},
              .half_open_calls = half_open_calls,
              .max_half_open_duration = std::chrono::nanoseconds{max_half_open}};
    }
  };

  /// What an admitted call remembers.
  struct token {
    std::uint64_t gen;
    state in;
  };

  enum class verdict { success, failure, ignored, dropped };

  explicit breaker_model(config c) : c_(c) {}

  /// try_acquire at `now`: the token if admitted.
  std::optional<token> acquire(std::int64_t now) {
    switch (st_) {
      case state::closed:
      case state::metrics_only:
      case state::disabled:
        return token{gen_, st_};
      case state::open:
        if (now < open_until_) return reject();
        move(state::half_open, now);
        reserved_ = 1;
        return token{gen_, state::half_open};
      case state::half_open:
        if (reserved_ < c_.half_open_calls) {
          ++reserved_;
          return token{gen_, state::half_open};
        }
        if (c_.max_half_open > 0 && sat_sub(now, half_open_since_) >= c_.max_half_open) {
          move(state::open, now);
        }
        return reject();
      case state::forced_open:
        return reject();
    }
    return std::nullopt;
  }

  /// Settles a token at `now` (the clock at completion).
  void complete(const token& t, verdict v, std::int64_t now) {
    if (v == verdict::ignored || v == verdict::dropped) {
      if (t.in == state::half_open && t.gen == gen_ && st_ == state::half_open && reserved_ > 0) {
        --reserved_;
      }
      return;
    }
    const bool failed = v == verdict::failure;
    if (t.gen != gen_) return;  // an earlier generation: not counted
    if (t.in == state::half_open) {
      ++recorded_;
      if (failed) ++probe_failed_;
      if (recorded_ < c_.half_open_calls) return;
      const double rate = static_cast<double>(probe_failed_) / c_.half_open_calls;
      move(rate >= c_.threshold ? state::open : state::closed, now);
      return;
    }
    if (t.in != state::closed && t.in != state::metrics_only) return;  // disabled: nothing
    bool trip = false;
    if (c_.consecutive > 0) {
      run_ = failed ? run_ + 1 : 0;
      if (failed && run_ == c_.consecutive) trip = true;
    }
    if (c_.window) {
      window_.push_back(failed);
      if (window_.size() > c_.window_size) window_.pop_front();
      std::uint64_t f = 0;
      for (bool b : window_) f += b ? 1U : 0U;
      if (window_.size() >= c_.minimum_calls && f != 0 &&
          static_cast<double>(f) / static_cast<double>(window_.size()) >= c_.threshold) {
        trip = true;
      }
    }
    if (trip && t.in == state::closed) move(state::open, now);
  }

  void force_open(std::int64_t now) { manual(state::forced_open, now); }
  void close(std::int64_t now) { manual(state::closed, now); }
  void reset(std::int64_t now) {
    move(state::closed, now);
    rejections_ = 0;
  }

  [[nodiscard]] state current() const { return st_; }
  [[nodiscard]] std::uint64_t transitions() const { return transitions_; }
  [[nodiscard]] std::uint64_t rejections() const { return rejections_; }
  [[nodiscard]] std::uint64_t probes_in_flight() const {
    return st_ == state::half_open ? reserved_ - recorded_ : 0;
  }
  [[nodiscard]] std::int64_t open_until() const { return open_until_; }

  /// Compares a breaker's metrics (and state) with the model; empty if they agree.
  [[nodiscard]] std::string compare(const resil::circuit_breaker_metrics& m) const {
    std::uint64_t calls = 0, failed = 0;
    if (st_ == state::half_open) {
      calls = recorded_;
      failed = probe_failed_;
    } else if (st_ == state::open && has_tally_) {
      calls = tally_calls_;
      failed = tally_failed_;
    } else {
      calls = window_.size();
      for (bool b : window_) failed += b ? 1U : 0U;
    }
    std::string diff;
    const auto expect = [&](const char* what, auto got, auto want) {
      if (got != want) {
        diff += std::string(what) + " is " + std::to_string(got) + ", the model says " +
                std::to_string(want) + "; ";
      }
    };
    expect("state", static_cast<int>(m.state), static_cast<int>(st_));
    expect("calls", m.calls, calls);
    expect("failed", m.failed, failed);
    expect("transitions", m.transitions, transitions_);
    expect("not_permitted", m.not_permitted, rejections_);
    expect("probes_in_flight", std::uint64_t{m.probes_in_flight}, probes_in_flight());
    const bool counts_run = st_ == state::closed || st_ == state::metrics_only;
    expect("consecutive_failures", m.consecutive_failures,
           counts_run && c_.consecutive > 0 ? run_ : 0U);
    return diff;
  }

  static std::int64_t sat_add(std::int64_t a, std::int64_t b) {
    if (b > 0 && a > std::numeric_limits<std::int64_t>::max() - b) {
      return std::numeric_limits<std::int64_t>::max();
    }
    if (b < 0 && a < std::numeric_limits<std::int64_t>::min() - b) {
      return std::numeric_limits<std::int64_t>::min();
    }
    return a + b;
  }
  static std::int64_t sat_sub(std::int64_t a, std::int64_t b) {
    if (b == std::numeric_limits<std::int64_t>::min()) {
      return a >= 0 ? std::numeric_limits<std::int64_t>::max() : a - b;
    }
    return sat_add(a, -b);
  }

 private:
  std::optional<token> reject() {
    ++rejections_;
    return std::nullopt;
  }

  void manual(state to, std::int64_t now) {
    if (st_ == to) return;
    move(to, now);
  }

  void move(state to, std::int64_t now) {
    const state from = st_;
    if (to == state::open) {
      open_until_ = sat_add(now, c_.open_duration);
      // The probes' counts, shown while open; a half-open state with nothing reserved or
      // recorded carries none (the window's counts show instead).
      has_tally_ = from == state::half_open && (reserved_ != 0 || recorded_ != 0);
      tally_calls_ = recorded_;
      tally_failed_ = probe_failed_;
    } else if (to == state::half_open) {
      half_open_since_ = now;
    } else {
      window_.clear();
    }
    run_ = 0;
    reserved_ = recorded_ = probe_failed_ = 0;
    st_ = to;
    ++gen_;
    if (from != to) ++transitions_;
  }

  config c_;
  state st_ = state::closed;
  std::uint64_t gen_ = 0;
  std::deque<bool> window_;
  std::uint64_t run_ = 0;
  std::int64_t open_until_ = 0;
  std::int64_t half_open_since_ = 0;
  std::uint32_t reserved_ = 0, recorded_ = 0, probe_failed_ = 0;
  bool has_tally_ = false;
  std::uint64_t tally_calls_ = 0, tally_failed_ = 0;
  std::uint64_t transitions_ = 0;
  std::uint64_t rejections_ = 0;
};

}  // namespace resil_test
