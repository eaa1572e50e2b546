// A check for the docs' snippet programs: prints the failed condition and exits with 1.
// SPDX-License-Identifier: MIT
#pragma once

#include <cstdio>
#include <cstdlib>

#define DOCS_CHECK(cond)                                                            \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::exit(1);                                                                 \
    }                                                                               \
  } while (false)
