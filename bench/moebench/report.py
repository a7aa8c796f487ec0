"""The report writer: bench/results/<date>-<scenario>.md (+ .png chart with
gnuplot) from a scenario's results, and SUMMARY.md from the latest of each."""

import re
from pathlib import Path

from . import common as C
from .common import LOAD_CPU, ROOT, WORK, log, median, run
from .scenarios import MODULE, SCENARIOS


def env_section(bench, scname):
    sc = SCENARIOS[scname]
    if hasattr(MODULE[sc["kind"]], "env_section"):
        return MODULE[sc["kind"]].env_section(bench, scname)
    lines = [
        "## Setup", "",
        f"- Date: {bench.date}; mode: {'--quick (smoke test, not for publishing)' if bench.quick else 'full'}",
        f"- Machine: {bench.versions['cpu']}, Linux {bench.versions['kernel']}; "
        f"1-minute load average before the run: {bench.load_before:.2f}"
        + (" (**busy machine: noisy numbers**)" if bench.load_before > 0.5 else ""),
        f"- CPU pinning (taskset): proxy under test on CPU {C.PROXY_CPU}; upstream nginx "
        f"and the load generator on CPU {LOAD_CPU}. On a 2-core machine this is as fair "
        "as it gets: the proxy has a core to itself, and every contender shares "
        "the other core's load generator and upstream equally. `direct` has no "
        "proxy, so its wrk and upstream share CPU 0 and CPU 1 idles: it is the "
        "ceiling of the load side, not of a proxy.",
        "- Every contender runs 1 worker / 1 thread (moe `workers: 1`, nginx "
        "`worker_processes 1`, HAProxy `nbthread 1`, nghttpx `workers=1` + `single-thread`, "
        "h2o `num-threads: 1`, Go gateway and Caddy `GOMAXPROCS=1`; "
        "moe with Go filters has GOMAXPROCS 3 = 1 worker + 2 async_procs, its default, "
        "on the same single CPU), no access log, keep-alive to the upstream. nghttpx and "
        "h2o add no Via or X-Forwarded-* headers here (nginx adds none).",
        "- Upstream: nginx, 1 worker, `return 200 \"ok\"` for `/`, a 1 MiB file for `/1m`, "
        "reads and discards POST bodies on `/post`.",
    ]
    if bench.budget and sc["kind"] in ("wrk", "h2load"):
        lines.append(f"- **CPU budget** (`--proxy-cpu {bench.budget.pct}`): each proxy ran in a "
                     f"cgroup of its own, allowed {bench.budget.pct}% of one CPU (CFS quota "
                     f"{bench.budget.PERIOD_US * bench.budget.pct // 100} µs per "
                     f"{bench.budget.PERIOD_US} µs), all of its threads counted. The load CPU "
                     "then has room to spare, and req/s is the proxy's work per CPU second: "
                     "what a proxy-bound machine would see. `direct` has no proxy and no budget.")
    if sc["kind"] in ("wrk", "h2load") and "moe-extauth" in bench.args.contenders:
        lines.append("- moe-extauth's auth service (bench/tools/authserver, Go stdlib, 200 for "
                     "everything, `GOMAXPROCS=1`) runs on CPU "
                     f"{LOAD_CPU} with the upstream and the load generator.")
    if sc["kind"] in ("wrk", "h2load"):
        d = bench.results[scname]
        lines.append(f"- {d['rounds']} rounds, contenders interleaved round by round "
                     f"(A B C … A B C …), {d['dur']} s per run; the table shows "
                     "the median over rounds. Each contender had one short warm-up "
                     "run before the first scenario.")
    return lines


def versions_section(bench):
    lines = ["## Versions", ""]
    for k, v in bench.versions.items():
        lines.append(f"- {k}: `{v}`")
    return lines


def commands_section(bench, scname, contenders):
    d = bench.results[scname]
    lines = ["## Commands", "", "Servers (rendered configs under `bench/work/`, "
             "templates in `bench/peers/`):", "", "```"]
    if d["kind"] == "grpc":
        if getattr(bench, "grpcserver_build", None):
            lines.append(f"# gRPC server build and request file (by bench/run)\n{bench.grpcserver_build}")
        if getattr(bench, "grpcserver_cmd", None):
            lines.append(f"# gRPC server (bench/grpcserver)\n{bench.grpcserver_cmd}")
    else:
        lines.append(f"# upstream\n{bench.upstream_cmd}")
    if getattr(bench, "gogateway_build", None) and "gogateway" in contenders:
        lines.append(f"# gogateway build\n{bench.gogateway_build}")
    if getattr(bench, "authserver_cmd", None) and "moe-extauth" in contenders:
        lines.append(f"# auth service for moe-extauth (bench/tools/authserver)\n{bench.authserver_cmd}")
    for c in contenders:
        key = {"instructions": f"{c} (callgrind)", "memory": f"{c} (memory)",
               "grpc": f"{c} (grpc)"}.get(d["kind"], c)
        if key in bench.server_cmds:
            lines.append(f"# {key}\n{bench.server_cmds[key]}")
    lines.append("```")
    if d.get("cmds"):
        lines += ["", "Load (identical every round):", "", "```"]
        for c in contenders:
            if c in d["cmds"]:
                lines.append(f"# {c}\n{d['cmds'][c]}")
        lines.append("```")
    if d["kind"] == "instructions":
        lines += ["", "Around the measured run: `h2load --h1 -n 500 -c 4` warm-up, then "
                  "`callgrind_control -i on PID`, the command above, "
                  "`callgrind_control -i off PID`, SIGTERM; the total comes from the "
                  "`totals:` line of the callgrind output."]
    if d["kind"] == "memory":
        lines += ["", "Before the idle connections: `h2load --h1 -n 2000 -c 8` warm-up "
                  "and 1 s pause; after: 2 s pause, then VmRSS is read again."]
    if d["kind"] == "grpc":
        lines += ["", "Check (before round 1, per contender; ADDR is the contender's "
                  "address or the gRPC server's for direct):", "", "```",
                  f"{bench.grpc_exe if getattr(bench, 'grpc_exe', None) else 'grpcserver'} "
                  f"-method {SCENARIOS[scname]['method']} -request-size "
                  f"{SCENARIOS[scname]['request_size']} -response-size "
                  f"{SCENARIOS[scname]['response_size']} -check ADDR -n 200", "```"]
    confs = []
    for c in (["upstream"] + contenders if d["kind"] != "grpc"
              else [f"{c} (grpc)" for c in contenders]):
        p = bench.configs.get(c)
        if p and Path(p).exists():
            confs += [f"<details><summary>{c} config</summary>", "", "```",
                      Path(p).read_text().rstrip(), "```", "", "</details>", ""]
    return lines + [""] + confs


def skip_lines(d):
    out = []
    for c, why in d.get("skip", {}).items():
        lines = [l.strip() for l in why.strip().splitlines() if l.strip()]
        text = lines[0] if lines else why
        if len(lines) > 1:
            text += " … " + lines[-1]
        out.append(f"- **{c}** skipped: {text.replace('|', '/')}")
    return out


def write_scenario(bench, scname):
    sc = SCENARIOS[scname]
    d = bench.results[scname]
    bench.out.mkdir(parents=True, exist_ok=True)
    budgeted = bench.budget and d["kind"] in ("wrk", "h2load")
    stem = f"{bench.date}-{scname}" + (f"-cpu{bench.budget.pct}" if budgeted else "")
    title = sc["title"] + (f", each proxy held to {bench.budget.pct}% of a CPU" if budgeted else "")
    md = bench.out / f"{stem}.md"
    png = bench.out / f"{stem}.png"
    if d["kind"] == "gobridge":
        return MODULE[d["kind"]].write(bench, md, png)
    contenders = bench.contenders_for(scname) if sc.get("contenders") else bench.args.contenders
    table, chart_rows, chart, raw = MODULE[d["kind"]].table(bench, scname, d, contenders)
    have_chart = False
    if chart_rows and not bench.args.no_charts and bench.tools.get("gnuplot"):
        have_chart = plot(bench, png, title + (" (quick)" if bench.quick else ""),
                          chart, chart_rows)
    elif png.exists():
        png.unlink()
    skips = skip_lines(d)
    if d["kind"] in ("wrk", "h2load"):
        for c, w in bench.warnings.items():
            if c in d.get("runs", {}):
                skips.append(f"- **{c}** warning: {w}")
    if d["kind"] == "grpc":
        for c, w in d.get("warn", {}).items():
            skips.append(f"- **{c}** warning: {w}")
        if d.get("checks"):
            skips.append(f"- gRPC check: before round 1, grpc-go made 200 "
                         f"{sc['method']} calls through each of "
                         f"{', '.join(d['checks'])}; all ended with grpc-status 0 and "
                         f"a {sc['response_size']}-byte payload. A correct answer carries "
                         f"{d['expect_data']} bytes of DATA (the column above).")
    if d.get("note"):
        skips.append(f"- Note: {d['note']}.")
    if budgeted:
        thr = []
        for c in contenders:
            rs = [r for r in d.get("runs", {}).get(c, []) if r.get("periods")]
            if rs:
                thr.append(f"{c} {median([100 * r['throttled'] / r['periods'] for r in rs]):.0f}%")
        skips.append(f"- CPU budget: each proxy ran in its own cgroup with a CFS quota of "
                     f"{bench.budget.pct}% of one CPU ({bench.budget.PERIOD_US // 1000} ms periods). "
                     "Share of periods in which it used up its quota (median of rounds; "
                     "near 100% means the proxy, not the load CPU, set the pace): "
                     + (", ".join(thr) if thr else "not measured") + ".")
    summary = table[:] + ([""] + skips if skips else [])
    lines = [f"# {title} — {bench.date}", "", sc["what"], ""]
    if scname == "h1-latency":
        lines += ["*Proxy CPU per request* is the proxy's own CPU time (all its threads "
                  "and processes, from /proc/*/task/*/schedstat) over the requests of the "
                  "run, median of rounds; with one connection and one request at a time it "
                  "includes the cost of waking up for every request. *Requests per CPU-s vs "
                  "nginx* is nginx's figure divided by the contender's.", ""]
    if d["kind"] in ("wrk", "h2load") and scname != "h1-latency":
        lines += ["Ratios are median req/s divided by nginx's and by the Go gateway's "
                  "in the same run; above 1× is faster. *Proxy CPU per request* is the "
                  "proxy's own CPU time (all its threads and processes, from "
                  "/proc/*/task/*/schedstat) over the requests of the run, median of "
                  "rounds; *requests per CPU-s vs nginx* is nginx's figure divided by "
                  "the contender's: how the proxies compare where the proxy, not the "
                  "load side, is the bottleneck.", ""]
    if d["kind"] == "grpc":
        lines += ["*vs direct* is median req/s divided by direct's in the same run "
                  "(moe/direct: what the extra hop costs; below 1× is slower). *Proxy "
                  "CPU per request* is the proxy's own CPU time (all its threads, from "
                  "/proc/*/task/*/schedstat) over the succeeded requests of the run, "
                  "median of rounds (`direct` has no proxy).", ""]
    lines += ["<!-- summary:begin -->"] + summary + ["<!-- summary:end -->", ""]
    if have_chart:
        lines += [f"![{title}]({png.name})", ""]
    lines += raw + ([""] if raw else [])
    if d["kind"] == "grpc" and d.get("checks"):
        lines += ["## gRPC checks", "",
                  "grpc-go calls through each contender before its first round "
                  f"(`{bench.grpc_exe.name} -check ADDR -n 200`, see Commands):", ""]
        lines += [f"- {c}: `{info}`" for c, info in d["checks"].items()] + [""]
    lines += env_section(bench, scname) + [""]
    lines += commands_section(bench, scname, contenders) + [""]
    lines += versions_section(bench) + [""]
    md.write_text("\n".join(lines))
    log(f"wrote {md.relative_to(ROOT) if md.is_relative_to(ROOT) else md}"
        + (f" and {png.name}" if have_chart else ""))


def plot(bench, png, title, chart, rows):
    d = WORK / "plot"
    d.mkdir(parents=True, exist_ok=True)
    dat = d / (png.stem + ".tsv")
    with open(dat, "w") as f:
        for row in rows:
            f.write("\t".join([row[0]] + [f"{v:.3f}" for v in row[1:]]) + "\n")
    ncol = len(chart["cols"])
    plots = []
    for i, col in enumerate(chart["cols"]):
        u = f"using {i + 2}" + (":xtic(1)" if i == 0 else "")
        plots.append(f"'{dat}' {u} title '{col}'")
    if ncol == 1:
        plots.append(f"'{dat}' using 0:2:(sprintf('%.0f', $2)) with labels offset 0,0.8 notitle")
    script = f"""
set terminal pngcairo size 900,480 font 'sans,10'
set output '{png}'
set title "{title}"
set datafile separator "\\t"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.85
set ylabel "{chart['ylabel']}"
set yrange [0:*]
set offsets 0,0,graph 0.08,0
set grid ytics
set key {'top right' if ncol > 1 else 'off'}
set format y "%.0f"
plot {', '.join(plots)}
"""
    (d / (png.stem + ".gp")).write_text(script)
    r = run(["gnuplot", str(d / (png.stem + ".gp"))], timeout=60)
    if r.returncode != 0 or not png.exists():
        log(f"chart failed: {r.stdout.strip()[:500]}")
        return False
    return True


def write_summary(bench):
    files = {}
    for f in sorted(bench.out.glob("*.md")):
        m = re.fullmatch(r"(\d{4}-\d{2}-\d{2})-(.+?)(-cpu\d+)?\.md", f.name)
        if m and m.group(2) in SCENARIOS:
            files[m.group(2) + (m.group(3) or "")] = f  # sorted: the latest date wins
    if not files:
        return
    lines = ["# moe benchmarks: latest results", "",
             "Generated by `bench/run` (see [docs/benchmarks.md](../../docs/benchmarks.md) "
             "for what each scenario measures and how to read it). One section per "
             "scenario, from its most recent run; follow the link for the setup, "
             "every round, exact commands and versions.", ""]
    order = list(SCENARIOS)
    for key in sorted(files, key=lambda k: (order.index(re.sub(r"-cpu\d+$", "", k)), k)):
        f = files[key]
        scname = re.sub(r"-cpu\d+$", "", key)
        text = f.read_text()
        m = re.search(r"<!-- summary:begin -->\n(.*?)<!-- summary:end -->", text, re.S)
        date = f.name[:10]
        quick = " (quick mode)" if "mode: --quick" in text else ""
        budget = "" if key == scname else f", each proxy held to {key.rsplit('-cpu', 1)[1]}% of a CPU"
        lines += [f"## {SCENARIOS[scname]['title']}{budget}", "",
                  f"[{f.name}]({f.name}) — {date}{quick}", ""]
        if m:
            lines += [m.group(1).rstrip(), ""]
        png = f.with_suffix(".png")
        if png.exists():
            lines += [f"![{scname}]({png.name})", ""]
    (bench.out / "SUMMARY.md").write_text("\n".join(lines))
    log(f"wrote {(bench.out / 'SUMMARY.md')}")
