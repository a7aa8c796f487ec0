"""grpc-unary: gRPC unary calls over h2c through moe to grpc-go's interop
TestService (bench/grpcserver), with h2load and grpc-go checks."""

import shlex
import time
from pathlib import Path

from .. import common as C
from ..common import (BENCH, GRPC_PORT, HOST, LOAD_CPU, WORK, fmt_dur, fmt_num, go_env, log,
                      median, pinned, render, run, tail)
from ..contenders import CONTENDERS, REQUEST_ID_CONTENDERS
from ..loadgen import measured_run, parse_h2load, record_round
from ..procs import PROCS

KINDS = ("grpc",)
SCENARIOS = {
    "grpc-unary": dict(
        kind="grpc", method="UnaryCall", request_size=64, response_size=64,
        clients=16, streams=16, dur=10, quick_dur=2, default=False,
        contenders=["direct", "moe", "moe-traceid"],
        title="gRPC unary (h2c), 64-byte request and response payloads",
        what="h2load -c16 -m16 POSTing one gRPC message per stream "
             "(`/grpc.testing.TestService/UnaryCall`, a SimpleRequest with a 64-byte "
             "payload and response_size 64) to grpc-go's interop TestService "
             "([bench/grpcserver](../grpcserver/main.go), h2c, GOMAXPROCS=1, on the "
             "load CPU): `direct` to the gRPC server, `moe` and `moe-traceid` through "
             "an h2c listener and an `h2c` cluster. h2load only sees `:status 200`, so grpc-status is "
             "checked apart: grpc-go calls through every contender before its first "
             "round must end OK, and every run must receive one 73-byte response "
             "message (DATA) per succeeded request (a gRPC error has none). Off by "
             "default, enable with --grpc."),
}


def grpc_response_bytes(sc):
    """Bytes of DATA a successful UnaryCall/EmptyCall answer carries: the
    5-byte message prefix and the SimpleResponse (or Empty) protobuf."""
    if sc["method"] == "EmptyCall":
        return 5

    def field(n):  # a length-delimited field with a 1-byte tag
        v, size = n, 1
        while v >= 0x80:
            v >>= 7
            size += 1
        return 1 + size + n

    n = sc["response_size"]
    # Payload{type COMPRESSABLE (0, omitted), body} inside SimpleResponse{payload}
    return 5 + (field(field(n)) if n else field(0))


def start_grpcserver(bench, sc):
    """Build bench/grpcserver, write the request file, start the server
    (GOMAXPROCS=1, pinned like the upstream); None or the reason."""
    if "grpcserver" in PROCS.procs:
        return None
    exe = WORK / "bin" / "grpcserver"
    exe.parent.mkdir(parents=True, exist_ok=True)
    env = dict(go_env(), CGO_ENABLED="0")
    cmd = [bench.tools["go"], "build", "-trimpath", "-o", str(exe), "."]
    r = run(cmd, env=env, cwd=BENCH / "grpcserver", timeout=600)
    if r.returncode != 0:
        return f"gRPC server: go build failed:\n{r.stdout}"
    bench.grpc_exe = exe
    d = WORK / "grpc"
    d.mkdir(parents=True, exist_ok=True)
    req = d / f"{sc['method']}-req{sc['request_size']}-resp{sc['response_size']}.bin"
    wcmd = [str(exe), "-write-request", str(req), "-method", sc["method"],
            "-request-size", str(sc["request_size"]),
            "-response-size", str(sc["response_size"])]
    r = run(wcmd, timeout=30)
    if r.returncode != 0 or not req.exists():
        return f"gRPC server: writing the request file failed:\n{r.stdout}"
    bench.grpc_request = req
    bench.grpcserver_build = (
        "cd bench/grpcserver && GOTOOLCHAIN=local GOWORK=off CGO_ENABLED=0 "
        + shlex.join(["go", "build", "-trimpath", "-o", str(exe), "."]) + "\n"
        + shlex.join(wcmd) + "\n# " + r.stdout.strip())
    argv = pinned(LOAD_CPU, ["env", "GOMAXPROCS=1", str(exe), "-listen", f"{HOST}:{GRPC_PORT}"])
    p = PROCS.start("grpcserver", argv, d / "output.log")
    ok, info = grpc_check(bench, GRPC_PORT, p, 10, sc)
    if not ok:
        PROCS.stop("grpcserver")
        return f"gRPC server did not start or answer OK: {info}\n{tail(d / 'output.log')}"
    bench.grpcserver_cmd = shlex.join(argv)
    log(f"gRPC server up on {HOST}:{GRPC_PORT} (CPU {LOAD_CPU}): {info}")
    return None


def grpc_check(bench, port, proc, timeout, sc, n=200):
    """Until one grpc-go call to port ends OK; then n more, which must all
    end with grpc-status 0 and the requested payload. (ok, output line)."""
    base = [str(bench.grpc_exe), "-method", sc["method"],
            "-request-size", str(sc["request_size"]),
            "-response-size", str(sc["response_size"])]
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False, f"exited with status {proc.returncode}"
        r = run(base + ["-check", f"{HOST}:{port}", "-n", "1", "-timeout", "1s"], timeout=30)
        if r.returncode == 0:
            r = run(base + ["-check", f"{HOST}:{port}", "-n", str(n)], timeout=120)
            return r.returncode == 0, r.stdout.strip().splitlines()[-1] if r.stdout.strip() else "?"
        last = r.stdout.strip()[-300:]
        time.sleep(0.1)
    return False, f"no OK answer after {timeout:.0f}s ({last})"


def start_grpc_contender(bench, name, sc):
    """moe with its gRPC config (h2c listener, h2c cluster to the gRPC
    server) on the contender's port; (check line, None) or (None, reason)."""
    if not bench.moe.exists():
        return None, f"moe binary not built ({bench.moe} is absent)"
    port = CONTENDERS[name]["grpc_port"]
    d = WORK / (name + "-grpc")
    d.mkdir(parents=True, exist_ok=True)
    conf = render(f"{name}-grpc.yaml", d / "moe.yaml", listen=f"{HOST}:{port}",
                  grpc_upstream=f"{HOST}:{GRPC_PORT}")
    bench.configs[f"{name} (grpc)"] = conf
    argv = pinned(C.PROXY_CPU, [str(bench.moe), "-c", str(conf)])
    p = PROCS.start(name + "-grpc", argv, d / "output.log")
    ok, info = grpc_check(bench, port, p, 10, sc)
    if not ok:
        PROCS.stop(name + "-grpc")
        return None, f"failed to start or its gRPC check failed: {info}; output:\n{tail(d / 'output.log')}"
    bench.server_cmds[f"{name} (grpc)"] = shlex.join(argv)
    return info, None


def h2load_grpc_argv(bench, sc, port, dur):
    # No --warm-up-time here (h2-get-small has one): h2load does not reset
    # its DATA byte count after the warm-up, and the DATA per succeeded
    # request is this scenario's check that the answers were not gRPC
    # errors. The warm-up run before round 1 and 10 s runs make up for it.
    argv = ["h2load", f"-c{sc['clients']}", f"-m{sc['streams']}", "-t1", "-D", str(dur),
            "-d", str(bench.grpc_request),
             "-H", "content-type: application/grpc", "-H", "te: trailers",
             f"http://{HOST}:{port}/grpc.testing.TestService/{sc['method']}"]
    return pinned(LOAD_CPU, argv)


def run_scenario(bench, scname):
    sc = SCENARIOS[scname]
    dur = bench.args.duration or (sc["quick_dur"] if bench.quick else sc["dur"])
    expect = grpc_response_bytes(sc)
    data = {"kind": "grpc", "dur": dur, "rounds": bench.args.rounds, "runs": {},
            "cmds": {}, "skip": {}, "checks": {}, "warn": {}, "expect_data": expect,
            "warm": 1 if bench.quick else 2}
    bench.results[scname] = data
    contenders = bench.contenders_for(scname)
    try:
        data["load_before"] = float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        pass
    err = start_grpcserver(bench, sc)
    if err:
        for c in contenders:
            data["skip"][c] = err
        log(f"{scname}: skipped: {err}")
        bench.write_scenario(scname)
        return
    live = []
    for c in contenders:
        if c == "direct":
            ok, info = grpc_check(bench, GRPC_PORT, None, 10, sc)
            if not ok:
                data["skip"][c] = f"gRPC check failed: {info}"
                continue
        else:
            info, err = start_grpc_contender(bench, c, sc)
            if err:
                data["skip"][c] = err
                log(f"{scname}: skipping {c}: {err}")
                continue
            log(f"{c} (gRPC config) up on {HOST}:{CONTENDERS[c]['grpc_port']} (CPU {C.PROXY_CPU}): {info}")
        data["checks"][c] = info
        if c in REQUEST_ID_CONTENDERS and "x-request-id" not in info:
            data["warn"][c] = ("its gRPC responses had no x-request-id header metadata: "
                               "the request-id filter did not run")
            log(f"warning: {c}: {data['warn'][c]}")
        live.append(c)
    warm = data["warm"]
    for c in live:
        run(h2load_grpc_argv(bench, sc, CONTENDERS[c]["grpc_port"] if c != "direct" else GRPC_PORT,
                                  warm), timeout=warm + 30)
    log(f"scenario {scname}: {bench.args.rounds} rounds x {len(live)} contenders x {dur}s "
        f"(every answer should carry {expect} bytes of DATA)")
    for rnd in range(1, bench.args.rounds + 1):
        for c in live:
            port = GRPC_PORT if c == "direct" else CONTENDERS[c]["grpc_port"]
            argv = h2load_grpc_argv(bench, sc, port, dur)
            proc = PROCS.procs.get(c + "-grpc")
            r, res = measured_run(argv, dur + 60, parse_h2load, proc.pid if proc else None)
            if not res.get("requests"):
                res["rps"] = None
            if res.get("requests") and res.get("data_bytes") is not None:
                res["data_per_req"] = res["data_bytes"] / res["requests"]
                # a gRPC error (trailers-only, :status 200) carries no
                # message: fewer DATA bytes than answers x expect
                if abs(res["data_per_req"] - expect) > 0.01 * expect:
                    # answers without a message count as errors
                    missing = max(0, res["requests"] - res["data_bytes"] // expect)
                    res["errors"] += missing
                    data["warn"][c] = (f"round {rnd}: {res['data_per_req']:.2f} bytes of DATA "
                                       f"per succeeded request, not {expect}: about {missing:,} "
                                       "answers carried no message (gRPC errors?), counted "
                                       "as errors")
                    log(f"warning: {c}: {data['warn'][c]}")
            record_round(data, c, rnd, argv, r, res,
                         lambda x: f"mean {fmt_dur(x['mean'])}  DATA/req {x.get('data_per_req', 0):.2f}")
    try:
        data["load_after"] = float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        pass
    for c in live:
        if c != "direct":
            PROCS.stop(c + "-grpc")
    PROCS.stop("grpcserver")
    bench.write_scenario(scname)


def env_section(bench, scname):
    sc = SCENARIOS[scname]
    d = bench.results[scname]
    busy = lambda x: " (**busy machine: noisy numbers**)" if x > 0.5 else ""
    la = f"1-minute load average before the run: {bench.load_before:.2f}{busy(bench.load_before)}"
    if d.get("load_before") is not None:
        la += f"; before this scenario: {d['load_before']:.2f}"
    if d.get("load_after") is not None:
        la += f"; after it: {d['load_after']:.2f}"
    return [
        "## Setup", "",
        f"- Date: {bench.date}; mode: {'--quick (smoke test, not for publishing)' if bench.quick else 'full'}",
        f"- Machine: {bench.versions['cpu']}, Linux {bench.versions['kernel']}; {la}",
        f"- CPU pinning (taskset): moe on CPU {C.PROXY_CPU}; the gRPC server and h2load on "
        f"CPU {LOAD_CPU}. `direct` has no proxy: h2load and the gRPC server share CPU "
        f"{LOAD_CPU} while CPU {C.PROXY_CPU} idles, exactly as in the moe rows minus the hop.",
        "- gRPC server: [bench/grpcserver](../grpcserver/main.go), grpc-go "
        "`grpc.NewServer()` with default options over plain h2c, grpc-go's interop "
        "TestService (`EmptyCall`, `UnaryCall` answering a zero-filled payload of "
        "`response_size` bytes), `GOMAXPROCS=1`.",
        "- moe: `workers: 1`, access log off, the listener with `http2: true`, route `/` "
        "to a cluster with `protocol: h2c` (moe multiplexes the streams over its own "
        "upstream h2c connections); moe-traceid adds `filters: [{name: traceid}]` "
        "(GOMAXPROCS 3 = 1 worker + 2 async_procs, on the same CPU).",
        f"- Load: h2load, {sc['clients']} connections × {sc['streams']} concurrent streams, "
        f"POST `/grpc.testing.TestService/{sc['method']}` with `content-type: "
        "application/grpc` and `te: trailers`, the body one length-prefixed gRPC message "
        f"from a file (a SimpleRequest with a {sc['request_size']}-byte payload and "
        f"response_size {sc['response_size']}). h2load counts an answer as succeeded on "
        "`:status 200`, which a gRPC error also has; see the gRPC checks and the DATA column.",
        f"- {d['rounds']} rounds, contenders interleaved round by round (A B C … A B C …), "
        f"{d['dur']} s per run; the table shows the median over rounds. Each contender had "
        f"one warm-up run (same command, {d['warm']} s) before the first round. No "
        "`--warm-up-time` inside the runs: h2load does not reset its DATA byte count "
        "after one, and DATA per succeeded request is the check that the answers were "
        "gRPC messages, not gRPC errors.",
    ]


def table(bench, scname, d, contenders):
    """The summary table, chart rows and the every-round table."""
    table, chart_rows, chart = [], [], None
    med = {}
    for c, runs in d["runs"].items():
        med[c] = {k: median([r.get(k) for r in runs])
                  for k in ("rps", "mean", "data_per_req", "cpu_us")}
        med[c]["errors"] = sum(r.get("errors", 0) for r in runs)
    ref = med.get("direct", {}).get("rps")
    table.append("| contender | req/s (median) | mean latency | vs direct | "
                 "proxy CPU per request | DATA bytes per answer | errors |")
    table.append("|---|--:|--:|--:|--:|--:|--:|")
    for c in contenders:
        if c not in med:
            continue
        m = med[c]
        vs = f"{m['rps'] / ref:.2f}×" if m["rps"] and ref else "-"
        cpu = f"{m['cpu_us']:.2f} µs" if m.get("cpu_us") else "-"
        table.append(f"| {c} | {fmt_num(m['rps'])} | {fmt_dur(m['mean'])} | {vs} | {cpu} | "
                     f"{fmt_num(m['data_per_req'], 2)} | {m['errors']} |")
        chart_rows.append((c, m["rps"] or 0))
    chart = dict(ylabel="gRPC unary calls/s (median of rounds)", cols=["req/s"])
    raw = ["## Every round", "", "| contender | " +
           " | ".join(f"round {i} req/s" for i in range(1, d["rounds"] + 1)) +
           " | mean latency per round | proxy CPU µs per request, per round | "
           "DATA bytes per answer, per round |",
           "|---|" + "--:|" * (d["rounds"] + 3)]
    for c in contenders:
        if c in d["runs"]:
            rs = d["runs"][c]
            raw.append(f"| {c} | " + " | ".join(fmt_num(r.get("rps")) for r in rs) +
                       " | " + ", ".join(fmt_dur(r.get("mean")) for r in rs) +
                       " | " + ", ".join(f"{r['cpu_us']:.2f}" if r.get("cpu_us") else "-"
                                         for r in rs) +
                       " | " + ", ".join(fmt_num(r.get("data_per_req"), 2) for r in rs) + " |")
    return table, chart_rows, chart, raw
