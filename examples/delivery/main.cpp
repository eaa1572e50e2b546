// The food-delivery system simulation: user, restaurant, order, payment and notification
// services behind an API gateway, wrapped in resil's policies from the outside.
//
// Placeholder while the policies land (see CHANGELOG.md): it reports what resil provides today.
#include <resil/resil.hpp>

#include <cstdio>

int main() {
  std::printf("resil %s - delivery simulation\n", RESIL_VERSION_STRING);
  std::printf(
      "built so far: core vocabulary (clocks, outcome, errors, classification, context,\n"
      "permits, events) and composition. The services, gateway and scenarios arrive\n"
      "with the policies; see CHANGELOG.md.\n");
}
