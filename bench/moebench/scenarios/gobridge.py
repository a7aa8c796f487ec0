"""gobridge: micro-benchmarks of the C++/Go boundary alone
(bench/gobridge/gobridge.cc against build/goext/libmoego.a). Its report
has a shape of its own."""

import json
import os
import shlex
import subprocess
from pathlib import Path

from .. import common as C
from ..common import BENCH, ROOT, WORK, fmt_dur, log, median, pinned, run, which

KINDS = ("gobridge",)
SCENARIOS = {
    "gobridge": dict(
        kind="gobridge", contenders=[],
        cross_requests=500_000, quick_cross_requests=100_000, cross_runs=7, quick_cross_runs=3,
        lat_samples=20_000, quick_lat_samples=5_000, gap_us=50,
        loads=["", "spin=2", "spin=2,gc=1"],
        title="Go bridge micro-benchmarks",
        what="The C++/Go boundary alone, without sockets: bench/gobridge/gobridge.cc "
             "links build/goext/libmoego.a (the archive moe links) and calls "
             "moe_go_on_event() from a long-lived C++ thread with a realistic "
             "moe_event (5 request headers, request line, stream info, ops buffer), "
             "as a moe worker does. GOMAXPROCS = 1 worker + 2 async_procs = 3, moe's "
             "default design."),
}
# design targets (docs/go-runtime.md, docs/benchmarks.md)
TARGET_CROSS_NS = 150
TARGET_P99_LOAD_NS = 50_000


def build_gobridge(bench):
    """g++ the harness against build/goext/libmoego.a; the burner plugin
    with scripts/build-plugin.sh (the way moe users build plugins)."""
    archive = ROOT / "build" / "goext" / "libmoego.a"
    if not archive.exists():
        return None, None, f"{archive.relative_to(ROOT)} not built (cmake --build build)"
    cxx = os.environ.get("CXX") or which("g++") or which("c++")
    if not cxx:
        return None, None, "no C++ compiler (g++)"
    d = WORK / "gobridge"
    d.mkdir(parents=True, exist_ok=True)
    exe = WORK / "bin" / "gobridge"
    cmd = [cxx, "-std=c++20", "-O2", "-g", f"-I{ROOT / 'include'}", f"-I{ROOT / 'src'}",
           str(BENCH / "gobridge" / "gobridge.cc"), str(archive),
           "-rdynamic", "-ldl", "-lpthread", "-o", str(exe)]
    r = run(cmd, timeout=300)
    if r.returncode != 0:
        return None, None, f"g++ failed:\n{r.stdout}"
    so = d / "burner.so"
    pcmd = [str(ROOT / "scripts" / "build-plugin.sh"), str(BENCH / "gobridge" / "burner"), str(so)]
    env = dict(os.environ)
    env["PATH"] = str(Path(bench.tools["go"]).parent) + os.pathsep + env.get("PATH", "")
    r2 = run(pcmd, timeout=300, env=env)
    if r2.returncode != 0:
        return None, None, f"burner plugin build failed:\n{r2.stdout}"
    rel = lambda p: str(Path(p).relative_to(ROOT)) if Path(p).is_relative_to(ROOT) else str(p)
    bench.gobridge_build = (shlex.join([Path(cxx).name, "-std=c++20", "-O2", "-g", "-Iinclude", "-Isrc",
                                       rel(BENCH / "gobridge" / "gobridge.cc"), rel(archive),
                                       "-rdynamic", "-ldl", "-lpthread", "-o", rel(exe)]) +
                           "\n" + shlex.join(["scripts/build-plugin.sh", "bench/gobridge/burner", rel(so)]))
    return exe, so, None


def gobridge_run(argv, env_extra=None, pin=True, timeout=300):
    env = dict(os.environ, **(env_extra or {}))
    full = pinned(C.PROXY_CPU, argv) if pin else list(argv)
    r = run(full, env=env, timeout=timeout)
    out = []
    for line in r.stdout.splitlines():
        if line.startswith("RESULT "):
            out.append(json.loads(line[7:]))
    shown = " ".join(f"{k}={v}" for k, v in (env_extra or {}).items())
    cmd = (shown + " " if shown else "") + shlex.join(full)
    if r.returncode != 0 or not out:
        raise RuntimeError(f"`{cmd}` failed (exit {r.returncode}): {r.stdout.strip()[-600:]}")
    return out, cmd


def run_scenario(bench):
    scname = "gobridge"
    sc = SCENARIOS[scname]
    q = bench.quick
    data = {"kind": "gobridge", "skip": {}, "cross": [], "count": [], "lat": {},
            "cmds": [], "rounds": bench.args.rounds}
    bench.results[scname] = data
    exe, so, err = build_gobridge(bench)
    if err:
        data["error"] = err
        log(f"gobridge: skipped: {err}")
        bench.write_scenario(scname)
        return
    try:
        n = sc["quick_cross_requests"] if q else sc["cross_requests"]
        runs = sc["quick_cross_runs"] if q else sc["cross_runs"]
        # (a) ns per crossing: pinned to the proxy CPU, nothing else runs there
        for filters in (1, 3, 10):
            res, cmd = gobridge_run([str(exe), "cross", str(filters),
                                          str(n if filters == 1 else n // 2), str(runs)])
            data["cross"] += res
            data["cmds"].append(cmd)
            log(f"gobridge: {filters:2d} filter(s): median {res[0]['median_ns']:.0f} ns per "
                f"crossing (floor {res[0]['floor_median_ns']:.0f} ns)")
        # (b) crossings per request
        res, cmd = gobridge_run([str(exe), "count"])
        data["count"] = res
        data["cmds"].append(cmd)
        log("gobridge: crossings per request: " +
            ", ".join(f"{r['filters']} filters {r['per_request']:g}" for r in res))
        # (c) latency under async load and GC: not pinned (1 worker thread +
        # 2 async Ps + the GC on 2 CPUs); loads interleaved round by round
        samples = sc["quick_lat_samples"] if q else sc["lat_samples"]
        for rnd in range(1, bench.args.rounds + 1):
            for load in sc["loads"]:
                res, cmd = gobridge_run(
                    [str(exe), "lat", str(samples), str(sc["gap_us"]), str(so)],
                    env_extra={"MOE_BENCH_BURN": load}, pin=False)
                data["lat"].setdefault(load, []).extend(res)
                if rnd == 1:
                    data["cmds"].append(cmd.replace(str(ROOT) + "/", ""))
                r = res[0]
                log(f"gobridge: round {rnd} load {load or 'none':12s} p50 {r['p50_ns']} ns  "
                    f"p99 {fmt_dur(r['p99_ns'] / 1000)}  max {fmt_dur(r['max_ns'] / 1000)}  "
                    f"GC cycles {r['gc_cycles']}")
    except (RuntimeError, subprocess.TimeoutExpired, ValueError) as e:
        data["error"] = str(e)
        log(f"gobridge: failed: {e}")
    data["cmds"] = [c.replace(str(ROOT) + "/", "") for c in data["cmds"]]
    bench.write_scenario(scname)


def gobridge_report(d):
    """(summary lines, detail lines, chart rows) for the gobridge report."""
    ok = lambda b: "**yes**" if b else "**no**"
    summary, detail = [], []
    if d.get("error") and not d["cross"]:
        return [f"Not run: {d['error'].splitlines()[0]}"], [], []
    one = next((c for c in d["cross"] if c["filters"] == 1), None)
    load_key = "spin=2,gc=1"
    lat = d["lat"]
    med = lambda rows, k: median([r[k] for r in rows])
    summary += ["| design target | measured | met |", "|---|--:|:-:|"]
    if one:
        summary.append(f"| median ≤ {TARGET_CROSS_NS} ns per crossing (1 `headers` filter, "
                       f"REQUEST_HEADERS + DONE) | {one['median_ns']:.1f} ns "
                       f"(bare crossing: {one['floor_median_ns']:.0f} ns) | "
                       f"{ok(one['median_ns'] <= TARGET_CROSS_NS)} |")
    if d["count"]:
        per = [c["per_request"] for c in d["count"]]
        counted = all(c["crossings"] == c["go_counted"] for c in d["count"])
        summary.append(f"| crossings per request equal for 1, 3, 10 filters | "
                       f"{' / '.join(f'{x:g}' for x in per)} | {ok(len(set(per)) == 1 and counted)} |")
    if lat.get(load_key):
        p99 = med(lat[load_key], "p99_ns")
        summary.append(f"| p99 ≤ {TARGET_P99_LOAD_NS // 1000} µs per crossing under async CPU "
                       f"load + GC (2 spinners + `runtime.GC()` loop) | {fmt_dur(p99 / 1000)} | "
                       f"{ok(p99 <= TARGET_P99_LOAD_NS)} |")
    if d.get("error"):
        summary += ["", f"- Partly failed: {d['error'].splitlines()[0]}"]
    chart = []
    if d["cross"]:
        detail += ["## (a) Nanoseconds per crossing", "",
                   "One C++ `std::thread`, pinned to CPU " + C.PROXY_CPU + ", loops over "
                   "requests: `moe_go_on_event(REQUEST_HEADERS, end_stream)` on a fresh "
                   "stream (`go_state` 0: Go allocates its state, runs the chain, each "
                   "`headers` filter records a SET op), then `moe_go_on_event(DONE)` "
                   "(Go runs the done hooks and frees the state). ns per crossing = "
                   "run time / (2 × requests); the median of the runs is shown. The "
                   "*bare crossing* is `DONE` for a stream Go holds no state for: the "
                   "export's entry and exit (cgocallback, acquiring a P, the worker's "
                   "stream table) and nothing else.", "",
                   "| chain | ns per crossing (median) | min–max over runs | bare crossing (median) | "
                   "requests per run | runs |", "|---|--:|--:|--:|--:|--:|"]
        for c in d["cross"]:
            detail.append(f"| {c['filters']} × `headers` | {c['median_ns']:.0f} | "
                          f"{c['min_ns']:.0f}–{c['max_ns']:.0f} | {c['floor_median_ns']:.0f} | "
                          f"{c['requests']:,} | {c['runs']} |")
            chart.append((f"{c['filters']} filter{'s' if c['filters'] > 1 else ''}",
                           c["median_ns"], c["floor_median_ns"]))
        detail += ["", "Every run (ns per crossing): " + "; ".join(
            f"{c['filters']} filter(s): {', '.join(f'{x:.0f}' for x in c['per_run'])}"
            for c in d["cross"]), ""]
    if d["count"]:
        detail += ["## (b) Crossings per request", "",
                   "Chains of 1, 3 and 10 `headers` filters (each sets a request and a "
                   "response header). The life of a small GET in moe "
                   "(`src/proxy/stream.cc`): request headers (end of stream), response "
                   "headers, one response body chunk (end of stream), done; C++ crosses "
                   "only for the event kinds in the bitmask `moe_go_create_chain` "
                   "returned. *Counted by Go* is the `crossings` counter of `GET /go` "
                   "(`moe_go_runtime_json`) over the same requests.", "",
                   "| chain | events bitmask | event kinds crossed | crossings per request | "
                   "counted by Go | ns per request (all crossings) | failed events |",
                   "|---|--:|---|--:|--:|--:|--:|"]
        names = {1: "REQUEST_HEADERS", 2: "REQUEST_DATA", 3: "REQUEST_TRAILERS",
                 4: "RESPONSE_HEADERS", 5: "RESPONSE_DATA", 6: "RESPONSE_TRAILERS", 7: "DONE"}
        for c in d["count"]:
            kinds = " + ".join(names.get(int(k), k) for k in c["event_kinds"].split("+"))
            detail.append(f"| {c['filters']} × `headers` | {c['events_mask']:#x} | {kinds} | "
                          f"{c['per_request']:g} | {c['go_counted'] / c['requests']:g} | "
                          f"{c['ns_per_request']:,.0f} | {c['bad']} |")
        detail.append("")
    if lat:
        gap = SCENARIOS["gobridge"]["gap_us"]
        detail += ["## (c) Latency of single crossings under async CPU load and GC", "",
                   f"One C++ thread (the \"worker\") does {gap} µs of C work (a spin on "
                   "the clock: parsing, I/O) before each crossing, so that sysmon can take "
                   "its P away as in a real worker, then times one crossing with "
                   "`clock_gettime` on both sides: REQUEST_HEADERS into a chain of one "
                   "`headers` filter, then DONE. GOMAXPROCS = 3 (1 worker + 2 "
                   "async_procs). The load comes from a Go plugin "
                   "([bench/gobridge/burner](../gobridge/burner/burner.go), built with "
                   "`scripts/build-plugin.sh`, opened with `moe_go_load_plugin`): "
                   "`spin=2` starts 2 goroutines burning CPU forever (every async P "
                   "busy), `gc=1` a goroutine calling `runtime.GC()` in a loop over a "
                   "~5 MB live heap. The process is not pinned: on this 2-CPU machine "
                   "the worker thread, the 2 spinners and the GC share 2 CPUs, so the "
                   "OS scheduler adds to the tail (the worker's thread is preempted for "
                   "a time slice now and then); on a machine with a CPU per P that part "
                   "goes away. Median over rounds; every round below.", "",
                   "| Go-side load | p50 | p99 | p99.9 | max | crossings > 50 µs | "
                   "crossings > 1 ms | GC cycles per run | samples per run |",
                   "|---|--:|--:|--:|--:|--:|--:|--:|--:|"]
        label = {"": "none (idle Go)", "spin=2": "2 spinners (async Ps busy)",
                 "spin=2,gc=1": "2 spinners + `runtime.GC()` loop"}
        for load, rows in lat.items():
            detail.append(f"| {label.get(load, load)} | {med(rows, 'p50_ns'):.0f} ns | "
                          f"{fmt_dur(med(rows, 'p99_ns') / 1000)} | "
                          f"{fmt_dur(med(rows, 'p999_ns') / 1000)} | "
                          f"{fmt_dur(max(r['max_ns'] for r in rows) / 1000)} (worst round) | "
                          f"{med(rows, 'over_50us'):.0f} | {med(rows, 'over_1ms'):.0f} | "
                          f"{med(rows, 'gc_cycles'):.0f} | {rows[0]['samples']:,} |")
        detail += ["", "| Go-side load | p99 per round | max per round | GC cycles per round |",
                   "|---|--:|--:|--:|"]
        for load, rows in lat.items():
            detail.append(f"| {label.get(load, load)} | "
                          f"{', '.join(fmt_dur(r['p99_ns'] / 1000) for r in rows)} | "
                          f"{', '.join(fmt_dur(r['max_ns'] / 1000) for r in rows)} | "
                          f"{', '.join(str(r['gc_cycles']) for r in rows)} |")
        detail.append("")
    return summary, detail, chart


def write(bench, md, png):
    from .. import report  # report imports the scenarios: not at module level
    sc = SCENARIOS["gobridge"]
    d = bench.results["gobridge"]
    summary, detail, chart_rows = gobridge_report(d)
    have_chart = False
    if chart_rows and not bench.args.no_charts and bench.tools.get("gnuplot"):
        have_chart = report.plot(bench, png, sc["title"] + ": ns per crossing" + (" (quick)" if bench.quick else ""),
                                 dict(ylabel="ns per crossing (median of runs)",
                                      cols=["chain of headers filters", "bare crossing"]),
                                 chart_rows)
    elif png.exists():
        png.unlink()
    lines = [f"# {sc['title']} — {bench.date}", "", sc["what"], "",
             "<!-- summary:begin -->"] + summary + ["<!-- summary:end -->", ""]
    if have_chart:
        lines += [f"![{sc['title']}]({png.name})", ""]
    lines += detail
    lines += ["## Setup", "",
              f"- Date: {bench.date}; mode: {'--quick (smoke test, not for publishing)' if bench.quick else 'full'}",
              f"- Machine: {bench.versions['cpu']}, Linux {bench.versions['kernel']}; "
              f"1-minute load average before the run: {bench.load_before:.2f}"
              + (" (**busy machine: noisy numbers**)" if bench.load_before > 0.5 else "")
              + f"; before this scenario: {getattr(bench, 'load_gobridge', bench.load_before):.2f}",
              f"- (a) and (b) pinned to CPU {C.PROXY_CPU} with taskset (the C++ thread and "
              "the Go runtime's threads); (c) not pinned. No proxy or load generator runs "
              "meanwhile (the upstream nginx is idle).",
              "- GOMAXPROCS 3 = 1 worker + 2 async_procs (`moe_go_configure(3, 100, 0)`: "
              "GOGC 100, no memory limit), as moe configures it for `workers: 1` and the "
              "default `go.async_procs: 2`.",
              "- The harness provides the three C functions the archive calls "
              "(`moe_ops_grow` like moe's, `moe_post_resume` counting, `moe_log` to "
              "stderr from warn level).", "",
              "## Commands", "", "Build (by bench/run):", "", "```",
              getattr(bench, "gobridge_build", "(not built)"), "```", "",
              "Runs:", "", "```"] + d.get("cmds", []) + ["```", ""]
    if d.get("error"):
        lines += ["## Errors", "", "```", d["error"].strip()[-3000:], "```", ""]
    lines += report.versions_section(bench) + [""]
    md.write_text("\n".join(lines))
    log(f"wrote {md.relative_to(ROOT) if md.is_relative_to(ROOT) else md}"
        + (f" and {png.name}" if have_chart else ""))
