// resil version macros.
// SPDX-License-Identifier: MIT
#pragma once

#define RESIL_VERSION_MAJOR 0  ///< Incremented for incompatible API changes.
#define RESIL_VERSION_MINOR 1  ///< Incremented for compatible additions.
#define RESIL_VERSION_PATCH 0  ///< Incremented for fixes.
/// The version as one number: major * 10000 + minor * 100 + patch.
#define RESIL_VERSION \
  (RESIL_VERSION_MAJOR * 10000 + RESIL_VERSION_MINOR * 100 + RESIL_VERSION_PATCH)
/// The version as a string literal, "major.minor.patch".
#define RESIL_VERSION_STRING "0.1.0"
