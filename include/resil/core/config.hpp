// Build configuration macros shared by every resil header.
// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <cstdlib>

/// 1 when the translation unit is compiled with exceptions enabled, 0 under `-fno-exceptions`.
/// Without exceptions the throwing API (`execute`, `decorated::operator()`) is absent and the
/// `try_execute` / `try_call` API reports every failure through `resil::outcome`.
#if defined(__cpp_exceptions) || defined(__EXCEPTIONS) || defined(_CPPUNWIND)
#define RESIL_HAS_EXCEPTIONS 1
#else
#define RESIL_HAS_EXCEPTIONS 0
#endif

#if defined(__GNUC__) || defined(__clang__)
#define RESIL_LIKELY(x) __builtin_expect(!!(x), 1)    ///< Hints that `x` is usually true.
#define RESIL_UNLIKELY(x) __builtin_expect(!!(x), 0)  ///< Hints that `x` is usually false.
#else
#define RESIL_LIKELY(x) (x)
#define RESIL_UNLIKELY(x) (x)
#endif

/// Keeps a cold path (a retry loop, a rejection's bookkeeping) out of the caller, so the hot path
/// around it stays small enough to inline.
#if defined(__GNUC__) || defined(__clang__)
#define RESIL_NOINLINE __attribute__((noinline))
#elif defined(_MSC_VER)
#define RESIL_NOINLINE __declspec(noinline)
#else
#define RESIL_NOINLINE
#endif

namespace resil::detail {

/// Size that keeps two hot atomics from sharing a cache line. A fixed 64 rather than
/// std::hardware_destructive_interference_size, whose value g++ warns may change between builds.
inline constexpr std::size_t cache_line = 64;

/// A distinct address per type, usable as a cheap type identity (no RTTI needed).
template <class T>
inline constexpr char type_tag = 0;

}  // namespace resil::detail
