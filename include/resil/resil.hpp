// resil: resilience policies for C++20. The umbrella header: it only includes the public headers.
// SPDX-License-Identifier: MIT
#pragma once

#include "compose.hpp"
#include "core/classify.hpp"
#include "core/clock.hpp"
#include "core/context.hpp"
#include "core/errors.hpp"
#include "core/events.hpp"
#include "core/outcome.hpp"
#include "core/permit.hpp"
#include "core/policy.hpp"
#include "core/random.hpp"
#include "core/time.hpp"
#include "keyed_rate_limiter.hpp"
#include "rate_limiter.hpp"
#include "version.hpp"
#include "window_rate_limiter.hpp"
