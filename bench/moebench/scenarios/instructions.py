"""instructions: CPU instructions per request under callgrind."""

import shlex
import subprocess
import time

from ..common import HOST, LOAD_CPU, WORK, fmt_num, log, pinned, run
from ..contenders import CONTENDERS, REFERENCE_NGINX
from ..loadgen import parse_h2load
from ..procs import PROCS

KINDS = ("instructions",)
SCENARIOS = {
    "instructions": dict(
        kind="instructions", n=20000, quick_n=2000,
        contenders=["moe", "moe-traceid", "nginx"],
        title="Instructions per request (callgrind)",
        what="CPU instructions the proxy process executes per small keep-alive "
             "GET, counted by valgrind --tool=callgrind over exactly N requests "
             "(h2load --h1 -n N -c 4), with collection switched on only for "
             "those N requests (startup and warm-up excluded)."),
}


def run_scenario(bench):
    scname = "instructions"
    sc = SCENARIOS[scname]
    n = bench.args.requests or (sc["quick_n"] if bench.quick else sc["n"])
    data = {"kind": "instructions", "n": n, "rows": {}, "skip": {}, "cmds": {}}
    if not (bench.tools.get("valgrind") and bench.tools.get("callgrind_control")):
        for c in bench.contenders_for(scname):
            data["skip"][c] = "valgrind not installed (Debian package valgrind)"
        bench.results[scname] = data
        bench.write_scenario(scname)
        return
    cg = WORK / "callgrind"
    cg.mkdir(parents=True, exist_ok=True)
    for c in bench.contenders_for(scname):
        out = cg / f"{c}.callgrind.out"
        for f in list(cg.glob(f"{c}.callgrind.out*")) + list(cg.glob("vgdb-*")):
            f.unlink()
        vgdb = f"--vgdb-prefix={cg / 'vgdb'}"  # its FIFOs go to bench/work, not /tmp
        wrap = ["valgrind", "--tool=callgrind", "--instr-atstart=no", vgdb,
                f"--callgrind-out-file={out}"]
        # nginx: single process (master_process off) so the one process
        # callgrind watches is the one doing the work.
        pid, err = bench.start_contender(c, instance="-cg", wrap=wrap,
                                        master_process="off", ready_timeout=60)
        if err:
            data["skip"][c] = err
            log(f"instructions: skipping {c}: {err}")
            continue
        port = CONTENDERS[c]["port"]
        try:
            run(pinned(LOAD_CPU, ["h2load", "--h1", "-n", "500", "-c", "4",
                                  f"http://{HOST}:{port}/"]), timeout=300)
            r = run(["callgrind_control", vgdb, "-i", "on", str(pid)], timeout=60)
            if r.returncode != 0:
                raise RuntimeError(f"callgrind_control -i on failed: {r.stdout}")
            argv = pinned(LOAD_CPU, ["h2load", "--h1", "-n", str(n), "-c", "4", "-m", "1",
                                     f"http://{HOST}:{port}/"])
            t0 = time.monotonic()
            r = run(argv, timeout=900)
            took = time.monotonic() - t0
            hres = parse_h2load(r.stdout)
            run(["callgrind_control", vgdb, "-i", "off", str(pid)], timeout=60)
            time.sleep(0.5)
            data["cmds"][c] = shlex.join(argv)
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            data["skip"][c] = str(e)
            PROCS.stop(c + "-cg", grace=60, resend=True)
            continue
        PROCS.stop(c + "-cg", grace=60, resend=True)  # callgrind writes its file at exit
        total = None
        for f in cg.glob(f"{c}.callgrind.out*"):
            # "totals:" is what was collected; "summary:" stays 0 when
            # instrumentation starts off (--instr-atstart=no)
            for line in f.read_text(errors="replace").splitlines():
                if line.startswith("totals:"):
                    total = (total or 0) + int(line.split()[1])
                    break
        if total is None or hres.get("requests") != n:
            data["skip"][c] = (f"no callgrind total or incomplete run "
                               f"({hres.get('requests')} of {n} requests succeeded)")
            continue
        data["rows"][c] = {"n": n, "instructions": total, "per_req": total / n,
                           "seconds": took}
        log(f"instructions {c:8s}: {total / n:,.0f} per request ({n} requests, "
            f"{took:.1f}s under callgrind)")
    bench.results[scname] = data
    bench.write_scenario(scname)


def table(bench, scname, d, contenders):
    """The summary table and chart rows (no every-round table)."""
    table, chart_rows, chart = [], [], None
    table.append("| contender | instructions per request | requests | total instructions | "
                 "vs nginx | wall time under callgrind |")
    table.append("|---|--:|--:|--:|--:|--:|")
    ref = d["rows"].get(REFERENCE_NGINX, {}).get("per_req")
    for c in contenders:
        if c in d["rows"]:
            r = d["rows"][c]
            ratio_txt = f"{r['per_req'] / ref:.2f}×" if ref else "-"
            table.append(f"| {c} | {fmt_num(r['per_req'])} | {r['n']:,} | "
                         f"{r['instructions']:,} | "
                         f"{ratio_txt} | "
                         f"{r['seconds']:.1f} s |")
            chart_rows.append((c, r["per_req"]))
    chart = dict(ylabel="instructions per request (callgrind)", cols=["instr/req"])
    raw = []

    return table, chart_rows, chart, raw
