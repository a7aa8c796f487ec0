"""memory-idle: RSS per idle keep-alive connection (bench/tools/idleconns.py)."""

import select
import shlex
import subprocess
import sys
import time

from ..common import BENCH, HOST, LOAD_CPU, WORK, children, fd_count, fmt_num, log, pinned, run, tail, vmrss_kb
from ..contenders import CONTENDERS
from ..procs import PROCS

KINDS = ("memory",)
SCENARIOS = {
    "memory-idle": dict(
        kind="memory", n=10000, quick_n=2000,
        contenders=["moe", "nginx", "haproxy"],
        title="Memory per idle keep-alive connection",
        what="RSS growth of the proxy after N client connections each sent one "
             "request and then stay open and idle: (RSS after - RSS before) / "
             "N, from VmRSS in /proc/PID/status."),
}


def run_scenario(bench):
    scname = "memory-idle"
    sc = SCENARIOS[scname]
    n = bench.args.conns or (sc["quick_n"] if bench.quick else sc["n"])
    # Every process (proxy, idle client) has its own open-files limit, but
    # HAProxy refuses to start unless it is 2 x maxconn. Same N for all.
    limit = bench.fd_vars()["haproxy_maxconn"] - 200
    if n > limit:
        new_n = max(100, limit // 1000 * 1000 if limit >= 1000 else limit)
        note = (f"N reduced from {n:,} to {new_n:,}: the open-files limit is "
                f"{bench.nofile} and could not be raised (no CAP_SYS_RESOURCE); "
                f"HAProxy needs 2 fds per connection of maxconn")
        log(f"memory: {note}")
        bench.memory_note = note
        n = new_n
    data = {"kind": "memory", "n": n, "rows": {}, "skip": {}, "cmds": {},
            "note": getattr(bench, "memory_note", None)}
    for c in bench.contenders_for(scname):
        pid, err = bench.start_contender(c, instance="-mem")
        if err:
            data["skip"][c] = err
            log(f"memory: skipping {c}: {err}")
            continue
        try:
            row = measure_memory(bench, c, pid, n, data)
        finally:
            PROCS.stop(c + "-mem")
        data["rows"][c] = row
    bench.results[scname] = data
    bench.write_scenario(scname)


def measure_memory(bench, c, pid, n, data):
    port = CONTENDERS[c]["port"]
    # warm-up: upstream connections exist, first-request allocations done
    run(pinned(LOAD_CPU, ["h2load", "--h1", "-n", "2000", "-c", "8",
                          f"http://{HOST}:{port}/"]), timeout=60)
    time.sleep(1.0)
    kids = children(pid)
    if c == "nginx":
        measured = kids  # the worker(s): the master holds no connections
        scope = "worker process (master excluded; master+worker also shown)"
    else:
        measured = [pid]
        scope = "the single process"
    every = [pid] + kids
    before = {p: vmrss_kb(p) for p in every}
    fds_before = sum(fd_count(p) for p in measured)
    argv = pinned(LOAD_CPU, [sys.executable, str(BENCH / "tools" / "idleconns.py"),
                             HOST, str(port), str(n)])
    data["cmds"][c] = shlex.join(argv)
    logfile = WORK / f"idleconns-{c}.log"
    client = PROCS.start("idleconns", argv, logfile, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE)
    try:
        line = b""
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            rl, _, _ = select.select([client.stdout], [], [], 1.0)
            if rl:
                line = client.stdout.readline()
                break
            if client.poll() is not None:
                break
        parts = line.decode().split()
        if len(parts) != 3 or parts[0] != "READY":
            raise RuntimeError(f"idle client failed: {tail(logfile)}")
        ok, failed = int(parts[1]), int(parts[2])
        time.sleep(2.0)  # let the proxy settle (deferred frees, Go scavenger)
        after = {p: vmrss_kb(p) for p in every}
        fds_after = sum(fd_count(p) for p in measured)
    finally:
        PROCS.stop("idleconns")
    delta_measured = sum(after[p] - before[p] for p in measured) * 1024
    delta_all = sum(after[p] - before[p] for p in every) * 1024
    row = {
        "n": n, "ok": ok, "failed": failed, "scope": scope,
        "before_kb": sum(before[p] for p in measured),
        "after_kb": sum(after[p] for p in measured),
        "per_conn": delta_measured / max(ok, 1),
        "per_conn_all": delta_all / max(ok, 1),
        "fds_added": fds_after - fds_before,
        "processes": len(every),
    }
    log(f"memory {c:10s}: {row['per_conn']:,.0f} bytes/connection "
        f"({ok} idle connections, {failed} failed, RSS "
        f"{row['before_kb']:,} -> {row['after_kb']:,} KiB)")
    return row


def table(bench, scname, d, contenders):
    """The summary table and chart rows (no every-round table)."""
    table, chart_rows, chart = [], [], None
    table.append("| contender | bytes per idle connection | what was measured | "
                 "idle connections | RSS before → after (KiB) | fds added | "
                 "all processes, bytes per connection |")
    table.append("|---|--:|---|--:|--:|--:|--:|")
    for c in contenders:
        if c in d["rows"]:
            r = d["rows"][c]
            table.append(f"| {c} | {fmt_num(r['per_conn'])} | {r['scope']} | "
                         f"{r['ok']:,}" + (f" ({r['failed']} failed)" if r["failed"] else "") +
                         f" | {r['before_kb']:,} → {r['after_kb']:,} | {r['fds_added']:,} | "
                         f"{fmt_num(r['per_conn_all'])} ({r['processes']} process"
                         f"{'es' if r['processes'] > 1 else ''}) |")
            chart_rows.append((c, r["per_conn"]))
    chart = dict(ylabel=f"bytes of RSS per idle connection (N={d['n']:,})", cols=["bytes"])
    raw = []
    return table, chart_rows, chart, raw
