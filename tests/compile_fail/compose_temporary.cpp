// Must not compile: compose() keeps references, so a temporary policy would dangle.
#include <resil/compose.hpp>

#include "support/test_policies.hpp"

int main() {
  auto pipeline = resil::compose(resil_test::counting_policy{});
  return pipeline.execute([] { return 0; });
}
