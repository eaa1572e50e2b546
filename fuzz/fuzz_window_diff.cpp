// libFuzzer target, differential: resil's lock-free count_window and time_window against naive
// models (a deque of the last n samples; a list of (bucket, sample) with a head bucket), for
// up to 256 actions (record, stale record, totals, reset, time moves forward, backwards, by a
// bucket, a window or years), compared after every action (I5: equal, never negative).
// SPDX-License-Identifier: MIT
#include <resil/core/sliding_window.hpp>

#include <array>
#include <cstdint>
#include <deque>
#include <limits>
#include <string>
#include <vector>

#include "fuzz.hpp"

using resil::call_sample;
using resil::window_totals;

namespace {

std::string show(const window_totals& t) {
  return "{" + std::to_string(t.calls) + ", " + std::to_string(t.failed) + ", " +
         std::to_string(t.slow) + "}";
}

window_totals sum(const std::deque<call_sample>& d) {
  window_totals t;
  for (const auto& s : d) {
    ++t.calls;
    t.failed += s.failed ? 1U : 0U;
    t.slow += s.slow ? 1U : 0U;
  }
  return t;
}

struct time_model {
  std::uint32_t size;
  std::int64_t width;
  bool any = false;
  std::int64_t head = 0;
  std::vector<std::pair<std::int64_t, call_sample>> entries;

  [[nodiscard]] std::int64_t bucket_of(std::int64_t t) const {
    std::int64_t q = t / width;
    if (t % width != 0 && t < 0) --q;
    return q;
  }
  void see(std::int64_t t) {
    const auto b = bucket_of(t);
    if (!any || b > head) head = b;
    any = true;
  }
  void record(call_sample s, std::int64_t t) {
    see(t);
    entries.emplace_back(head, s);
  }
  [[nodiscard]] window_totals totals() const {
    window_totals out;
    for (const auto& [bucket, s] : entries) {
      if (static_cast<std::uint64_t>(head) - static_cast<std::uint64_t>(bucket) >= size) continue;
      ++out.calls;
      out.failed += s.failed ? 1U : 0U;
      out.slow += s.slow ? 1U : 0U;
    }
    return out;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  const auto n = in.ConsumeIntegralInRange<std::uint32_t>(1, 100);
  constexpr std::array<std::int64_t, 4> widths{1, 7, 1'000'000, 1'000'000'000};
  const std::int64_t width = widths[in.ConsumeIntegralInRange<std::size_t>(0, widths.size() - 1)];
  resil::count_window cw{n};
  resil::time_window tw{n, std::chrono::nanoseconds{width}};
  std::deque<call_sample> cm;
  time_model tm{n, width, false, 0, {}};
  RESIL_FUZZ_TRACE("window of %u, bucket width %lld", n, static_cast<long long>(width));
  std::uint64_t epoch = 0;
  // A model head near the ends of time would wrap in its age computation: stay a window away.
  const std::int64_t margin = 2 * width * n;
  std::int64_t now =
      in.ConsumeIntegralInRange<std::int64_t>(std::numeric_limits<std::int64_t>::min() + margin,
                                              std::numeric_limits<std::int64_t>::max() - margin);

  for (int action = 0; action < resil_fuzz::max_actions && in.remaining_bytes() > 0; ++action) {
    const call_sample s{in.ConsumeBool(), in.ConsumeBool()};
    const int op = in.ConsumeIntegralInRange<int>(0, 5);
    RESIL_FUZZ_TRACE("action %d: op %d, now %lld, sample {%d, %d}", action, op,
                     static_cast<long long>(now), s.failed, s.slow);
    switch (op) {
      case 0:
      case 1: {  // record in both windows
        const auto cu = cw.record(s, epoch);
        cm.push_back(s);
        if (cm.size() > n) cm.pop_front();
        resil_fuzz::check(cu.recorded && cu.has_totals, "count_window: not recorded", action);
        resil_fuzz::check(cu.totals == sum(cm), "I5: count_window differs:", action,
                          show(cu.totals) + " vs " + show(sum(cm)));
        const auto tu = tw.record(s, now, epoch);
        tm.record(s, now);
        resil_fuzz::check(tu.recorded, "time_window: not recorded", action);
        resil_fuzz::check(tu.totals == tm.totals(), "I5: time_window differs:", action,
                          show(tu.totals) + " vs " + show(tm.totals()));
        break;
      }
      case 2: {  // a record of an ended epoch counts nothing (time still passes)
        resil_fuzz::check(!cw.record(s, epoch + 1).recorded, "count_window: stale counted", action);
        tm.see(now);
        resil_fuzz::check(!tw.record(s, now, epoch + 1).recorded, "time_window: stale counted",
                          action);
        break;
      }
      case 3:  // reset
        ++epoch;
        cw.reset(epoch);
        tw.reset(epoch);
        cm.clear();
        tm.entries.clear();
        break;
      case 4: {  // time moves: forwards or backwards, by little or a lot
        const std::int64_t step = resil_fuzz::time_step(in, width, width * n);
        const std::int64_t next = in.ConsumeBool() ? resil::detail::sat_add(now, step)
                                                   : resil::detail::sat_sub(now, step);
        if (next > std::numeric_limits<std::int64_t>::min() + margin &&
            next < std::numeric_limits<std::int64_t>::max() - margin) {
          now = next;
        }
        break;
      }
      default:
        tm.see(now);
        resil_fuzz::check(tw.totals(now) == tm.totals(), "I5: time_window totals differ", action);
        resil_fuzz::check(cw.totals() == sum(cm), "I5: count_window totals differ", action);
        break;
    }
    const auto t = cw.totals();
    resil_fuzz::check(t.failed <= t.calls && t.slow <= t.calls && t.calls <= n,
                      "count_window counts out of range", action);
  }
  return 0;
}
