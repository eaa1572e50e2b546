// Must not compile: a chaos_outcome<int> cannot stand in for a call returning a string.
#include <resil/chaos.hpp>

#include <string>

int main() {
  resil::chaos_outcome<int> fake{{.injection_rate = 1.0}, 503};
  auto r = fake.try_execute([] { return std::string("menu"); });
  return r.has_value() ? 0 : 1;
}
