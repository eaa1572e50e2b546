// Must not compile: the fallback's value does not fit the call's result type.
#include <resil/fallback.hpp>

#include <string>

int main() {
  auto fb = resil::fallback_to(std::string("cached"));
  auto r = fb.try_execute([] { return 42; });
  return r.has_value() ? 0 : 1;
}
