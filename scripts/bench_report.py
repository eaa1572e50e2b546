#!/usr/bin/env python3
"""Turns resil_bench JSON runs into bench/README.md's report (bench/run calls it).

    scripts/bench_report.py DIR                   DIR/run-*.json, with the description of the
                                                  run (meta.json, run-*.load.json) and the
                                                  instruction counts and compile times
    scripts/bench_report.py run-1.json run-2.json just the tables

Each run holds the median of its repetitions (--benchmark_report_aggregates_only); a row's figure
is the median of those medians over the runs. 1T rows give CPU ns per call; 2T rows give the
per-thread cost (CPU ns per call on each thread) and the aggregate (wall time / all calls, the
inverse of throughput). Prints the DESIGN.md section 5 table, then every row.
"""
import glob
import json
import os
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
# Hand-written rows that take no lock on the measured path (a retry loop's success, a chain of
# std::function): the "3x a mutex" target does not apply to them.
UNLOCKED_HAND_WRITTEN = {"mutex_retry_execute_success_first_attempt", "std_function_chain_x1",
                         "std_function_chain_x5"}
ERRORS = set()  # rows that reported an error (an allocation where none is allowed)


def load(paths):
    """{row name: {"cpu": [..], "real": [..], "allocs": [..]}} from the median aggregates."""
    rows = {}
    for path in paths:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        for b in data["benchmarks"]:
            if b.get("error_occurred"):
                ERRORS.add(f"`{b['run_name']}`: {b.get('error_message', '?')}")
                continue
            if b.get("aggregate_name", "median") != "median":
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


def load_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def print_header(directory, paths):
    """The run's description: machine, compiler, flags, date, method and load."""
    meta_path = os.path.join(directory, "meta.json")
    meta = load_json(meta_path) if os.path.exists(meta_path) else {}
    loads = [load_json(p) for p in sorted(glob.glob(os.path.join(directory, "run-*.load.json")))]
    context = load_json(paths[0]).get("context", {})
    print(f"Produced by `{meta.get('command', 'bench/run')}` on {meta.get('date', '?')} "
          f"(commit {meta.get('commit', '?')}); not edited by hand.")
    print()
    print("| | |")
    print("|---|---|")
    print(f"| machine | {meta.get('cpu', '?')}, {meta.get('cpus', context.get('num_cpus', '?'))} "
          f"vCPUs at {context.get('mhz_per_cpu', '?')} MHz, {meta.get('kernel', '?')}, "
          f"clocksource `{meta.get('clocksource', '?')}` |")
    print(f"| compiler | {meta.get('compiler', '?')} |")
    print(f"| flags | `{meta.get('flags', '?')}` (preset `release`) |")
    print(f"| library | {meta.get('benchmark', 'Google Benchmark')} (Debian's build prints "
          "\"Library was built as DEBUG\", which affects only its timing loop) |")
    reps = meta.get("repetitions", "?")
    print(f"| method | {len(paths)} runs of the whole executable, each row {reps} repetitions "
          "per run; a figure is the median over the runs of each run's median |")
    if loads:
        parts = []
        for l in loads:
            wait = ("quiet at start" if l.get("quiet_at_start") else
                    "did not wait" if not l.get("waited_s") else
                    f"still busy after {l.get('waited_s')} s of waiting")
            parts.append(f"run {l['run']}: other processes used **{l['others_cpu_percent']}%** "
                         f"of one CPU; load average {l['load_before']} → {l['load_after']} "
                         f"({wait}, {l.get('wall_s', '?')} s)")
        print(f"| load during the runs | {'<br>'.join(parts)} |")
    print()


def main(args):
    if len(args) == 1 and os.path.isdir(args[0]):
        directory = args[0]
        paths = sorted(glob.glob(os.path.join(directory, "run-*.json")))
        paths = [p for p in paths if not p.endswith(".load.json")]
        print_header(directory, paths)
    else:
        directory, paths = None, args
    rows = load(paths)
    raw = rows["raw_call"]["cpu"]
    for e in sorted(ERRORS):
        print(f"**ERROR** {e}  ")
    if ERRORS:
        print()

    def one(name):
        return rows.get(name)

    def two(name):
        return rows.get(name + T2)

    print(f"#### DESIGN.md section 5 targets (raw call: {fmt(raw)} ns)")
    print()
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

    # The two targets that hold over every row.
    ratios = []
    for _, name, hand, _, _ in TARGETS:
        r2, h2 = two(name), two(hand) if hand else None
        if r2 and h2 and hand not in UNLOCKED_HAND_WRITTEN:
            ratios.append((h2["real"] / r2["real"], name))
    resil_allocs = [(r.get("allocs", 0), k) for k, r in rows.items()
                    if not k.startswith(("mutex_", "floor_", "std_function_"))
                    and r.get("allocs", 0) == r.get("allocs", 0)]
    if ratios:
        worst = min(ratios)
        print(f"| against the hand-written mutex version, 2 threads (the rows whose "
              f"hand-written version locks on every call) | | | | | | "
              f"lowest {worst[0]:.1f}× (`{worst[1]}`) | ≥ 3× the throughput "
              f"| {'yes' if worst[0] >= 3 else '**no**'} |")
    if resil_allocs:
        most = max(resil_allocs)
        print(f"| heap allocations per call, every resil row ({len(resil_allocs)} rows) | | | "
              f"{'0' if most[0] == 0 else f'{most[0]:.3g} (`{most[1]}`)'} | | | | 0 "
              f"| {'yes' if most[0] == 0 else '**no**'} |")

    print()
    print("#### Every row")
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

    if directory is None:
        return
    for file, title in (("instructions.md", "Instructions per call (callgrind, load-independent)"),
                        ("compile-time.md", "Compile time")):
        path = os.path.join(directory, file)
        if os.path.exists(path) and os.path.getsize(path) > 0:
            print()
            print(f"#### {title}")
            print()
            with open(path, encoding="utf-8") as f:
                print(f.read().rstrip())


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
