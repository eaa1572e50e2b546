// Timeout + fallback: a price service that sometimes hangs. The timeout asks it to stop after
// 50 ms (through the context's stop token: cooperative), and the fallback outside serves the
// last known price instead, seeing why the call failed.
//
//   compose(fallback, timeout) --> fallback( timeout( fetch_price ))
//                                        \--> errc::timeout --> last known price
#include <resil/resil.hpp>

#include <chrono>
#include <cstdio>
#include <string>

using namespace std::chrono_literals;

struct quote {
  double price;
  std::string source;
};

// A dependency that honours the deadline: it waits for an answer, or for its stop token.
quote fetch_price(resil::context& ctx, bool hangs) {
  if (hangs) {
    resil::waiter never_answered;
    resil::steady_clock::wait_until(never_answered, resil::steady_clock::time_point::max(),
                                    ctx.stop_token());  // returns when the timeout fires
    throw std::runtime_error("price service gave up");
  }
  return {101.5, "live"};
}

int main() {
  resil::timeout deadline{{.duration = 50ms}};
  auto last_known = resil::fallback_to([](const resil::outcome<quote>& failed) {
    return quote{99.0, "cached (" + failed.error().message() + ")"};
  });
  auto pipeline = resil::compose(last_known, deadline);  // outermost first

  for (const bool hangs : {false, true}) {
    const quote q = pipeline.execute(fetch_price, hangs);
    std::printf("%.1f from %s\n", q.price, q.source.c_str());
  }
}
// Output:
//   101.5 from live
//   99.0 from cached (deadline exceeded)
