// Must not compile: the callable cannot take these arguments.
#include <resil/compose.hpp>

#include "support/test_policies.hpp"

int main() {
  resil_test::counting_policy counter;
  auto r = counter.try_execute([](int x) { return x; }, "not an int");
  return r.has_value() ? 0 : 1;
}
