// Calls that report failure without throwing: try_execute returns resil::outcome<T>, which holds
// a value, the callable's exception, or a policy's error code.
//
//   caller --try_execute--> [policy] --> fetch_price()
//            <-- outcome<int>: value | exception | error code
#include <resil/resil.hpp>

#include <cstdio>
#include <stdexcept>

// A do-nothing policy, so the example needs nothing but the core.
struct pass_through : resil::policy_base<pass_through> {
  template <class R, class Next>
  resil::outcome<R> invoke(resil::context& ctx, Next&& next) {
    return next(ctx);
  }
};

int fetch_price(int dish) {
  if (dish == 13) throw std::runtime_error("dish 13 is sold out");
  return 250 * dish;
}

int main() {
  pass_through policy;
  for (int dish : {2, 13}) {
    resil::outcome<int> r = policy.try_execute(fetch_price, dish);  // never throws
    if (r) {
      std::printf("dish %d costs %d cents\n", dish, *r);
    } else if (r.has_exception()) {
      try {
        std::rethrow_exception(r.exception());
      } catch (const std::exception& e) {
        std::printf("dish %d failed: %s\n", dish, e.what());
      }
    }
  }
  // A rejection is an error code, with the resil exception it maps to for execute():
  const auto refused = resil::outcome<int>::from_error(resil::errc::circuit_open);
  std::printf("a refused call: %s\n", refused.error().message().c_str());
}
// Output:
//   dish 2 costs 500 cents
//   dish 13 failed: dish 13 is sold out
//   a refused call: circuit breaker is open
