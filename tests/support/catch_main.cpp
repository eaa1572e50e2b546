// The Catch2 v2 test runner shared by resil's test executables.
// SPDX-License-Identifier: MIT
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
