// resil: resilience policies for C++20. The umbrella header: it only includes the public headers.
// SPDX-License-Identifier: MIT
#pragma once

#include "backoff.hpp"
#include "chaos.hpp"
#include "circuit_breaker.hpp"
#include "compose.hpp"
#include "core/classify.hpp"
#include "core/clock.hpp"
#include "core/context.hpp"
#include "core/errors.hpp"
#include "core/event_log.hpp"
#include "core/events.hpp"
#include "core/outcome.hpp"
#include "core/permit.hpp"
#include "core/policy.hpp"
#include "core/random.hpp"
#include "core/sliding_window.hpp"
#include "core/time.hpp"
#include "core/virtual_clock.hpp"
#include "health.hpp"
#include "version.hpp"
