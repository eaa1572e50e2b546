// Must not compile: a resil::fallback<T> handles only calls whose result type is T.
#include <resil/fallback.hpp>

#include <string>

int main() {
  resil::fallback<std::string> fb{std::string("cached")};
  auto r = fb.try_execute([] { return 42L; });
  return r.has_value() ? 0 : 1;
}
