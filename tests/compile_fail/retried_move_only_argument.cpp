// Must not compile: a retried callable would see a moved-from unique_ptr on its second attempt.
#include <resil/compose.hpp>

#include <memory>

#include "support/test_policies.hpp"

int main() {
  resil_test::repeating_policy twice;
  auto r = twice.try_execute([](std::unique_ptr<int> p) { return *p; }, std::make_unique<int>(1));
  return r.has_value() ? 0 : 1;
}
