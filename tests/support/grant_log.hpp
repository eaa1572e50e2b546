// Checks a log of rate-limiter grants against a window bound: the exact GCRA bound over every
// window at once, and a two-pointer scan for the window limiters' step bounds.
// SPDX-License-Identifier: MIT
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace resil_test {

/// One grant: `permits` permits usable from time `at` (ns).
struct grant {
  std::int64_t at;
  std::uint64_t permits;
};

/// The worst window found by a check, for the failure message.
struct window_report {
  bool ok = true;
  std::int64_t from = 0;  // the window [from, to]
  std::int64_t to = 0;
  std::uint64_t granted = 0;  // grants in it
  std::string describe() const {
    return ok ? std::string("ok")
              : "window [" + std::to_string(from) + ", " + std::to_string(to) + "] (length " +
                    std::to_string(to - from) + ") has " + std::to_string(granted) + " grants";
  }
};

inline void sort_log(std::vector<grant>& log) {
  std::stable_sort(log.begin(), log.end(),
                   [](const grant& a, const grant& b) { return a.at < b.at; });
}

/**
 * Checks that in EVERY closed window [s, s + W], the grants are at most
 * burst + floor(permits * W / period). Sorted log required.
 *
 * For grants i..j (sorted by time) the condition is (X_j - X_{i-1}) <= b + floor(P (t_j - t_i)/D),
 * where X is the running total; since both sides are integers this is
 * (X_j D - P t_j) - (X_{i-1} D - P t_i) <= b D, so a running minimum of the second term checks
 * every pair (i, j) in one pass. The windows that matter start and end at grants.
 */
inline window_report check_gcra_bound(const std::vector<grant>& log, std::uint64_t permits,
                                      std::int64_t period, std::uint64_t burst) {
  __extension__ typedef __int128 i128;  // NOLINT(modernize-use-using)
  window_report r;
  const auto p = static_cast<i128>(permits);
  const auto d = static_cast<i128>(period);
  const i128 limit = static_cast<i128>(burst) * d;
  i128 total_before = 0;  // X_{i-1}
  i128 min_g = 0;
  std::size_t min_at = 0;
  for (std::size_t j = 0; j < log.size(); ++j) {
    const i128 g = total_before * d - p * log[j].at;
    if (j == 0 || g < min_g) {
      min_g = g;
      min_at = j;
    }
    total_before += log[j].permits;
    const i128 f = total_before * d - p * log[j].at;
    if (f - min_g > limit) {
      r.ok = false;
      r.from = log[min_at].at;
      r.to = log[j].at;
      r.granted = 0;
      for (std::size_t k = min_at; k <= j; ++k) r.granted += log[k].permits;
      return r;
    }
  }
  return r;
}

/// The most grants in any closed window [s, s + length] (two-pointer scan; sorted log).
inline window_report max_in_window(const std::vector<grant>& log, std::int64_t length) {
  __extension__ typedef __int128 i128;  // NOLINT(modernize-use-using)
  window_report r;
  std::uint64_t in_window = 0;
  std::size_t left = 0;
  for (std::size_t right = 0; right < log.size(); ++right) {
    in_window += log[right].permits;
    while (static_cast<i128>(log[right].at) - log[left].at > length)
      in_window -= log[left++].permits;
    if (in_window > r.granted) {
      r.granted = in_window;
      r.from = log[left].at;
      r.to = log[right].at;
    }
  }
  return r;
}

}  // namespace resil_test
