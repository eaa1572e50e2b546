#!/usr/bin/env python3
"""Turns resil_bench JSON runs into bench/README.md's tables.

    scripts/bench_report.py run-1.json run-2.json run-3.json

Each run holds the median of its repetitions (--benchmark_report_aggregates_only); a row's figure
is the median of those medians over the runs. 1T rows give CPU ns per call; 2T rows give the
per-thread cost (CPU ns per call on each thread) and the aggregate (wall time / all calls, the
inverse of throughput). Prints the DESIGN.md section 5 table, then every row.
"""
import json
import statistics
import sys

# (label, resil row, hand-written row or None, target over raw 1T ns, target 2T per-thread ns)
# Targets are DESIGN.md section 5's "over the raw call"; None where it sets none.
TARGETS = [
    ("composition plumbing, 1 empty policy", "compose_empty_x1", "std_function_chain_x1", 1, None),
    ("composition plumbing, 5 empty policies", "compose_empty_x5", "std_function_chain_x5", 1,
     None),
    ("closed breaker, consecutive-failure mode", "circuit_breaker_closed_consecutive_failures",
     "mutex_circuit_breaker_closed", 3, None),
    ("closed breaker, count window", "circuit_breaker_closed_count_window",
     "mutex_circuit_breaker_closed", 12, 30),
    ("open breaker rejection (try_execute)", "circuit_breaker_open_rejection/steady_clock",
     "mutex_circuit_breaker_open_rejection", 30, None),
    ("rate limiter try_acquire granted, steady", "rate_limiter_try_acquire_granted/steady_clock",
     "mutex_rate_limiter_try_acquire_granted", 35, None),
    ("rate limiter try_acquire refused, steady", "rate_limiter_try_acquire_refused/steady_clock",
     "mutex_rate_limiter_try_acquire_refused", 30, None),
    ("rate limiter try_acquire granted, coarse", "rate_limiter_try_acquire_granted/coarse_clock",
     "mutex_rate_limiter_try_acquire_granted", 12, None),
    ("rate limiter try_acquire refused, coarse", "rate_limiter_try_acquire_refused/coarse_clock",
     "mutex_rate_limiter_try_acquire_refused", None, None),
    ("bulkhead acquire + release", "bulkhead_acquire_release", None, 15, 50),
    ("bulkhead try_execute", "bulkhead_try_execute", "mutex_bulkhead_try_execute", None, None),
    ("retry, success on first attempt", "retry_execute_success_first_attempt",
     "mutex_retry_execute_success_first_attempt", 1, None),
    ("compose(retry, breaker, limiter, bulkhead), steady", "compose_full/steady_clock",
     "mutex_compose_full", 60, None),
    ("compose(retry, breaker, limiter, bulkhead), coarse", "compose_full/coarse_clock",
     "mutex_compose_full", 40, None),
]

T2 = "/real_time/threads:2"


def load(paths):
    """{row name: {"cpu": [..], "real": [..], "allocs": [..]}} from the median aggregates."""
    rows = {}
    for path in paths:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        for b in data["benchmarks"]:
            if b.get("aggregate_name", "median") != "median" or "error_occurred" in b:
                continue
            r = rows.setdefault(b["run_name"], {"cpu": [], "real": [], "allocs": []})
            r["cpu"].append(b["cpu_time"])
            r["real"].append(b["real_time"])
            r["allocs"].append(b.get("allocs/call", float("nan")))
    return {k: {m: statistics.median(v) for m, v in r.items() if v} for k, r in rows.items()}


def fmt(x, digits=None):
    if x is None:
        return "–"
    if digits is None:
        digits = 2 if x < 10 else 1 if x < 100 else 0
    return f"{x:.{digits}f}"


def fmt_allocs(r):
    a = r.get("allocs", float("nan"))
    if a != a:
        return "–"
    return "0" if a == 0 else f"{a:.3g}"


def main(paths):
    rows = load(paths)
    raw = rows["raw_call"]["cpu"]

    def one(name):
        return rows.get(name)

    def two(name):
        return rows.get(name + T2)

    print("| path | 1T ns/call | 2T ns/call per thread (aggregate) | allocs/call "
          "| over raw (× raw) | vs hand-written 1T | vs hand-written 2T throughput "
          "| target over raw | met? |")
    print("|---|---:|---:|---:|---:|---:|---:|---|---|")
    for label, name, hand, target1, target2 in TARGETS:
        r1, r2 = one(name), two(name)
        if r1 is None:
            print(f"| {label} | not measured | | | | | | | |")
            continue
        over = r1["cpu"] - raw
        t2 = f"{fmt(r2['cpu'])} ({fmt(r2['real'])})" if r2 else "–"
        h1, h2 = (one(hand), two(hand)) if hand else (None, None)
        vs1 = f"{h1['cpu'] / r1['cpu']:.1f}× faster" if h1 else "–"
        vs2 = f"{h2['real'] / r2['real']:.1f}×" if h2 and r2 else "–"
        target = []
        met = []
        if target1 is not None:
            target.append(f"≤ {target1} ns")
            met.append(over <= target1)
        if target2 is not None:
            target.append(f"2T ≤ {target2} ns/thread")
            met.append(r2 is not None and r2["cpu"] <= target2)
        verdict = "–" if not met else "yes" if all(met) else "**no**"
        print(f"| {label} (`{name}`) | {fmt(r1['cpu'])} | {t2} | {fmt_allocs(r1)} "
              f"| +{fmt(over)} ({r1['cpu'] / raw:.0f}×) | {vs1} | {vs2} "
              f"| {', '.join(target) or '–'} | {verdict} |")

    print()
    print("| row | 1T ns/call | 2T ns/call per thread | 2T aggregate ns/call | allocs/call |")
    print("|---|---:|---:|---:|---:|")
    order = []
    for k in rows:
        if k.removesuffix(T2) not in order:
            order.append(k.removesuffix(T2))
    for name in order:
        r1, r2 = one(name), two(name)
        c1 = fmt(r1["cpu"]) if r1 else "–"
        allocs = fmt_allocs(r1 or r2)
        print(f"| `{name}` | {c1} | {fmt(r2['cpu']) if r2 else '–'} "
              f"| {fmt(r2['real']) if r2 else '–'} | {allocs} |")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
