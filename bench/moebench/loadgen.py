"""The load generators: wrk and h2load command lines and their output parsers."""

import re
import shlex

from .common import BENCH, HOST, LOAD_CPU, cpu_ns, log, pinned, run

_UNITS = {"us": 1, "ms": 1000, "s": 1_000_000, "m": 60_000_000, "h": 3_600_000_000}


def _to_us(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text.strip())
    return float(m.group(1)) * _UNITS[m.group(2)] if m else None


def parse_wrk(out):
    res = {"rps": None, "p50": None, "p75": None, "p90": None, "p99": None,
           "requests": None, "errors": 0, "non2xx": 0, "transfer": None}
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if m:
        res["rps"] = float(m.group(1))
    m = re.search(r"Transfer/sec:\s+(\S+)", out)
    if m:
        res["transfer"] = m.group(1)
    m = re.search(r"(\d+) requests in", out)
    if m:
        res["requests"] = int(m.group(1))
    for pct, val in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", out, re.M):
        res[f"p{pct}"] = _to_us(val)
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        res["errors"] += sum(int(x) for x in m.groups())
        res["socket_errors"] = m.group(0)
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        res["non2xx"] = int(m.group(1))
        res["errors"] += res["non2xx"]
    return res


def parse_h2load(out):
    res = {"rps": None, "p50": None, "p99": None, "errors": 0, "mean": None}
    m = re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", out)
    if m:
        res["rps"] = float(m.group(1))
    m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout", out)
    if m:
        res["requests"] = int(m.group(4))
        res["errors"] = int(m.group(5)) + int(m.group(6)) + int(m.group(7))
    m = re.search(r"time for request:\s+(\S+)\s+(\S+)\s+(\S+)", out)
    if m:
        res["mean"] = _to_us(m.group(3))
    m = re.search(r"^traffic: .*\((\d+)\) data", out, re.M)
    if m:
        res["data_bytes"] = int(m.group(1))
    return res


def wrk_argv(sc, port, dur):
    argv = ["wrk", "-t1", f"-c{sc['conns']}", f"-d{dur}s", "--latency"]
    for h in sc.get("headers", []):
        argv += ["-H", h]
    if sc.get("script"):
        argv += ["-s", str(BENCH / sc["script"])]
    argv.append(f"http://{HOST}:{port}{sc['path']}")
    return pinned(LOAD_CPU, argv)


def h2load_argv(sc, port, dur):
    argv = ["h2load", f"-c{sc['clients']}", f"-m{sc['streams']}", "-t1",
            "-D", str(dur), "--warm-up-time=1", f"http://{HOST}:{port}{sc['path']}"]
    return pinned(LOAD_CPU, argv)


def measured_run(argv, timeout, parse, pid=None):
    """One load-generator run, parsed. With the proxy's pid, res["cpu_us"]
    is its own CPU per request: what the load CPU does not cap
    (docs/benchmarks.md)."""
    cpu0 = cpu_ns(pid) if pid else None
    r = run(argv, timeout=timeout)
    res = parse(r.stdout)
    if cpu0 is not None and res.get("requests"):
        res["cpu_us"] = (cpu_ns(pid) - cpu0) / 1000 / res["requests"]
    return r, res


def record_round(data, c, rnd, argv, r, res, detail):
    """Files one round of contender c: its command, a log line (detail(res)
    says what the scenario shows besides req/s), the result."""
    data["cmds"][c] = shlex.join(argv)
    if res["rps"] is None:
        res["raw"] = r.stdout[-2000:]
        log(f"  round {rnd} {c}: no result (exit {r.returncode}): {r.stdout.strip()[-300:]}")
    else:
        log(f"  round {rnd} {c:12s} {res['rps']:>12,.0f} req/s  {detail(res)}"
            + (f"  errors {res['errors']}" if res["errors"] else ""))
    data["runs"].setdefault(c, []).append(res)
