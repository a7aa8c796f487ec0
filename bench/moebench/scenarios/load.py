"""The load scenarios: HTTP/1.1 with wrk (h1-*) and h2c with h2load
(h2-get-small). Every contender is started once and serves all of them;
the runs are interleaved round by round."""

from .. import common as C
from ..common import HOST, fmt_dur, fmt_num, log, median, run
from ..contenders import CONTENDERS, REFERENCE_GO, REFERENCE_NGINX
from ..loadgen import h2load_argv, measured_run, parse_h2load, parse_wrk, record_round, wrk_argv
from ..procs import PROCS

KINDS = ("wrk", "h2load")
SCENARIOS = {
    "h1-get-small": dict(
        kind="wrk", path="/", conns=64, dur=5, quick_dur=1,
        title="HTTP/1.1 keep-alive, small GET",
        what="Throughput of tiny requests over 64 keep-alive connections: the "
             "per-request cost of parsing, routing, the upstream pool and (for "
             "moe+traceid) one Go crossing per stream event. Response body: "
             "2 bytes."),
    "h1-post-4k": dict(
        kind="wrk", path="/post", conns=64, dur=2, quick_dur=1,
        script="lua/post4k.lua",
        title="HTTP/1.1 keep-alive, 4 KiB POST",
        what="Request bodies: every request carries a 4 KiB body that the "
             "proxy must forward (Content-Length framing)."),
    "h1-get-1m": dict(
        kind="wrk", path="/1m", conns=16, dur=2, quick_dur=1,
        title="HTTP/1.1 keep-alive, 1 MiB responses",
        what="Large bodies: the data path's copying and buffering (16 "
             "connections, each fetching a 1 MiB body)."),
    "h1-conn-close": dict(
        kind="wrk", path="/", conns=64, dur=2, quick_dur=1,
        headers=["Connection: close"],
        title="HTTP/1.1, new connection per request",
        what="Connection setup and teardown: wrk sends `Connection: close`, so "
             "every request is a new client connection (accept, parse, close). "
             "Upstream connections stay pooled."),
    "h1-latency": dict(
        kind="wrk", path="/", conns=1, dur=2, quick_dur=1,
        title="HTTP/1.1 light-load latency (1 connection)",
        what="Latency with no queueing: one connection, one request at a time. "
             "The interesting number is what a proxy adds over `direct`."),
    "h2-get-small": dict(
        kind="h2load", path="/", clients=16, streams=16, dur=10, quick_dur=2,
        default=False,
        title="HTTP/2 (h2c prior knowledge), small GET",
        what="h2load -c16 -m16 against contenders that accept h2c on their "
             "listener (off by default, enable with --h2)."),
}


def run_scenarios(bench, names):
    names = [n for n in names if n in SCENARIOS]
    if not names:
        return
    live = []
    for c in bench.args.contenders:
        if c == "direct":
            live.append(c)
            continue
        pid, err = bench.start_contender(c)
        if err:
            bench.skipped[c] = err
            log(f"skipping {c}: {err}")
        else:
            bench.pids[c] = pid
            live.append(c)
            log(f"{c} up on {HOST}:{CONTENDERS[c]['port']} (CPU {C.PROXY_CPU})")
    # one warm-up per contender (connections, pools, allocator, Go runtime)
    warm = 1 if bench.quick else 2
    for c in live:
        sc = SCENARIOS["h1-get-small"]
        run(wrk_argv(sc, CONTENDERS[c]["port"], warm), timeout=warm + 30)
    for scname in names:
        sc = SCENARIOS[scname]
        dur = bench.args.duration or (sc["quick_dur"] if bench.quick else sc["dur"])
        data = {"kind": sc["kind"], "dur": dur, "rounds": bench.args.rounds,
                "runs": {}, "cmds": {}, "skip": {}}
        for c in bench.args.contenders:
            if c in bench.skipped:
                data["skip"][c] = bench.skipped[c]
            elif sc["kind"] == "h2load" and not CONTENDERS[c]["h2"]:
                data["skip"][c] = "no h2c on this contender's listener in this setup"
        active = [c for c in live if c not in data["skip"]]
        log(f"scenario {scname}: {bench.args.rounds} rounds x {len(active)} "
            f"contenders x {dur}s")
        for rnd in range(1, bench.args.rounds + 1):
            for c in active:
                port = CONTENDERS[c]["port"]
                if sc["kind"] == "h2load":
                    # nginx cannot serve HTTP/1.1 and h2c prior knowledge
                    # on one cleartext port: it has a second one for h2c.
                    port = CONTENDERS[c].get("h2_port", port)
                st0 = bench.budget.stat(c) if bench.budget else None
                pid = bench.pids.get(c)
                if sc["kind"] == "wrk":
                    argv = wrk_argv(sc, port, dur)
                    r, res = measured_run(argv, dur + 60, parse_wrk, pid)
                else:
                    argv = h2load_argv(sc, port, dur)
                    r, res = measured_run(argv, dur + 60, parse_h2load, pid)
                    if not res.get("requests"):
                        res["rps"] = None  # nothing succeeded: no h2c there
                if st0:
                    st1 = bench.budget.stat(c)
                    res["periods"], res["throttled"] = st1[0] - st0[0], st1[1] - st0[1]
                record_round(data, c, rnd, argv, r, res,
                             lambda x: f"p50 {fmt_dur(x['p50'])}  p99 {fmt_dur(x['p99'])}")
        bench.results[scname] = data
        bench.write_scenario(scname)
    for c in live:
        if c != "direct":
            PROCS.stop(c)
    if bench.budget:
        bench.budget.remove_all()


def table(bench, scname, d, contenders):
    """The summary table, chart rows and the every-round table."""
    table, chart_rows, chart = [], [], None
    med = {}
    for c, runs in d["runs"].items():
        med[c] = {k: median([r.get(k) for r in runs]) for k in ("rps", "p50", "p99", "mean", "cpu_us")}
        med[c]["errors"] = sum(r.get("errors", 0) for r in runs)
    ref_n = med.get(REFERENCE_NGINX, {}).get("rps")
    ref_cpu = med.get(REFERENCE_NGINX, {}).get("cpu_us")

    def cpu_cols(m):
        # The proxy's CPU per request, and how many requests it
        # serves per CPU-second against nginx (nginx's µs / its µs).
        if not m.get("cpu_us"):
            return "- | -"
        return (f"{m['cpu_us']:.2f} µs | "
                + (f"{ref_cpu / m['cpu_us']:.2f}×" if ref_cpu else "-"))
    ref_g = med.get(REFERENCE_GO, {}).get("rps")
    direct = med.get("direct", {})

    def ratio(x, ref):
        return f"{x / ref:.2f}×" if x and ref else "-"

    if scname == "h1-latency":
        table.append("| contender | p50 | p99 | p50 added over direct | "
                     "p99 added over direct | req/s (1 conn) | proxy CPU per request | "
                     "requests per CPU-s vs nginx | errors |")
        table.append("|---|--:|--:|--:|--:|--:|--:|--:|--:|")
        for c in contenders:
            if c not in med:
                continue
            m = med[c]
            a50 = (m["p50"] - direct["p50"]) if c != "direct" and direct.get("p50") and m["p50"] else None
            a99 = (m["p99"] - direct["p99"]) if c != "direct" and direct.get("p99") and m["p99"] else None
            table.append(f"| {c} | {fmt_dur(m['p50'])} | {fmt_dur(m['p99'])} | "
                         f"{fmt_dur(a50) if c != 'direct' else '(baseline)'} | "
                         f"{fmt_dur(a99) if c != 'direct' else '(baseline)'} | "
                         f"{fmt_num(m['rps'])} | {cpu_cols(m)} | {m['errors']} |")
            chart_rows.append((c, (m["p50"] or 0), (m["p99"] or 0)))
        chart = dict(ylabel="latency, µs (median of rounds)", cols=["p50", "p99"])
    else:
        lat = "mean" if d["kind"] == "h2load" else None
        cpu_head = " proxy CPU per request | requests per CPU-s vs nginx |"
        head = ("| contender | req/s (median) | mean latency | vs nginx | vs Go gateway |"
                + cpu_head + " errors |"
                if lat else
                "| contender | req/s (median) | p50 | p99 | vs nginx | vs Go gateway |"
                + cpu_head + " errors |")
        table.append(head)
        table.append("|---|--:|--:|--:|--:|--:|--:|--:|--:|" if not lat
                     else "|---|--:|--:|--:|--:|--:|--:|--:|")
        for c in contenders:
            if c not in med:
                continue
            m = med[c]
            if lat:
                table.append(f"| {c} | {fmt_num(m['rps'])} | {fmt_dur(m['mean'])} | "
                             f"{ratio(m['rps'], ref_n)} | {ratio(m['rps'], ref_g)} | "
                             f"{cpu_cols(m)} | {m['errors']} |")
            else:
                table.append(f"| {c} | {fmt_num(m['rps'])} | {fmt_dur(m['p50'])} | "
                             f"{fmt_dur(m['p99'])} | {ratio(m['rps'], ref_n)} | "
                             f"{ratio(m['rps'], ref_g)} | {cpu_cols(m)} | {m['errors']} |")
            chart_rows.append((c, m["rps"] or 0))
        chart = dict(ylabel="requests/s (median of rounds)", cols=["req/s"])
    raw = ["## Every round", "", "| contender | " +
           " | ".join(f"round {i} req/s" for i in range(1, d["rounds"] + 1)) +
           " | p99 per round | proxy CPU µs per request, per round |",
           "|---|" + "--:|" * (d["rounds"] + 2)]
    for c in contenders:
        if c in d["runs"]:
            rs = d["runs"][c]
            raw.append(f"| {c} | " + " | ".join(fmt_num(r.get("rps")) for r in rs) +
                       " | " + ", ".join(fmt_dur(r.get("p99")) for r in rs) +
                       " | " + ", ".join(f"{r['cpu_us']:.2f}" if r.get("cpu_us") else "-"
                                         for r in rs) + " |")
    return table, chart_rows, chart, raw
