// A consumer's first program: one policy of its own, composed and called both ways.
// SPDX-License-Identifier: MIT
#include <resil/resil.hpp>

#include <cstdio>

struct counter : resil::policy_base<counter> {
  int calls = 0;
  template <class R, class Next>
  resil::outcome<R> invoke(resil::context& ctx, Next&& next) {
    ++calls;
    return next(ctx);
  }
};

int main() {
  counter c;
  auto pipeline = resil::compose(c);
  const int doubled = pipeline.execute([](int x) { return 2 * x; }, 21);
  const auto r = pipeline.try_execute([]() -> int { throw 7; });
  std::printf("resil %s: %d, %d calls, failure captured: %s\n", RESIL_VERSION_STRING, doubled,
              c.calls, r.has_exception() ? "yes" : "no");
  return doubled == 42 && c.calls == 2 && r.has_exception() ? 0 : 1;
}
