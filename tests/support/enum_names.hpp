// The names `to_string` gives the enumerators first .. first + count - 1 of an enum, in order, for
// checking a whole enum's names in one comparison.
// SPDX-License-Identifier: MIT
#pragma once

#include <string_view>
#include <type_traits>
#include <vector>

namespace resil_test {

template <class E>
std::vector<std::string_view> enum_names(int count, int first = 0) {
  std::vector<std::string_view> names;
  for (int i = first; i < first + count; ++i) {
    names.push_back(to_string(static_cast<E>(static_cast<std::underlying_type_t<E>>(i))));
  }
  return names;
}

}  // namespace resil_test
