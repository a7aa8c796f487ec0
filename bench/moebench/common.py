"""Paths, fixed ports, CPU pinning and the small helpers every part of the
suite uses (subprocesses, HTTP probes, /proc readings, number formats)."""

import http.client
import os
import shlex
import shutil
import socket
import statistics
import string
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent  # bench/
ROOT = BENCH.parent
WORK = BENCH / "work"
PEERS = BENCH / "peers"
HOST = "127.0.0.1"

UPSTREAM_PORT = 18080
AUTH_PORT = 18090  # bench/tools/authserver, for moe-extauth
GRPC_PORT = 18091  # bench/grpcserver, the gRPC peer of grpc-unary
PROXY_CPU = "1"  # the proxy under test
LOAD_CPU = "0"   # upstream nginx, the gRPC server, wrk, h2load, the idle-connection client


def log(msg):
    print(f"[bench] {msg}", flush=True)


def die(msg):
    log(f"error: {msg}")
    sys.exit(1)


def _on_signal(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


# ------------------------------------------------------------------ helpers
def run(argv, timeout=None, check=False, env=None, cwd=None):
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=timeout, env=env, cwd=cwd, text=True)
    if check and r.returncode != 0:
        die(f"`{shlex.join(argv)}` failed ({r.returncode}):\n{r.stdout}")
    return r


def which(cmd, extra=()):
    p = shutil.which(cmd)
    if p:
        return p
    for d in extra:
        c = Path(d) / cmd
        if c.exists() and os.access(c, os.X_OK):
            return str(c)
    return None


def port_free(port):
    s = socket.socket()
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((HOST, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def http_get(port, path="/", timeout=2.0):
    c = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        body = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, body
    finally:
        c.close()


def wait_ready(port, proc, timeout):
    """Until GET / through the contender answers 200 "ok" (from the upstream)."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False, f"exited with status {proc.returncode}"
        try:
            status, headers, body = http_get(port)
            if status == 200 and body == b"ok":
                return True, headers
            last = f"answered {status} {body[:60]!r}"
        except OSError as e:
            last = str(e)
        time.sleep(0.1)
    return False, f"not ready after {timeout:.0f}s ({last})"


def tail(path, n=15):
    try:
        lines = Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(lines[-n:]) or "(empty log)"


def render(template, out, **vars):
    text = string.Template((PEERS / template).read_text()).substitute(**vars)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    return out


def pinned(cpu, argv):
    return ["taskset", "-c", cpu] + list(argv)


def vmrss_kb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def children(pid):
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


def cpu_ns(pid):
    """CPU time (ns) of pid and its descendants, every thread, from
    /proc/*/task/*/schedstat: exact, not sampled at the tick like
    /proc/PID/stat (whose 10 ms ticks alias with a 10 ms CFS period)."""
    total, todo, seen = 0, [pid], set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            for task in Path(f"/proc/{p}/task").iterdir():
                try:
                    total += int((task / "schedstat").read_text().split()[0])
                except (OSError, ValueError, IndexError):
                    pass
            todo += children(p)
        except OSError:
            pass
    return total


def fd_count(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def fmt_dur(us):
    if us is None:
        return "-"
    if us >= 1_000_000:
        return f"{us / 1e6:.2f} s"
    if us >= 1000:
        return f"{us / 1000:.2f} ms"
    return f"{us:.0f} µs"


def fmt_num(x, digits=0):
    if x is None:
        return "-"
    return f"{x:,.{digits}f}"


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def go_env():
    env = dict(os.environ, GOTOOLCHAIN="local", GOWORK="off", GOFLAGS="-mod=mod")
    if not env.get("GOCACHE") and not env.get("HOME") and not env.get("XDG_CACHE_HOME"):
        env["GOCACHE"] = str(WORK / "gocache")
    if not env.get("GOPATH") and not env.get("HOME"):
        env["GOPATH"] = str(WORK / "gopath")
    return env


def debian_tool(tool, package):
    """exe(bench), missing() and version(bench) for a peer that a Debian
    package installs (nghttpx, h2o): found through --build-peers' tools or
    PATH (plus /usr/sbin), and named with its package when it is absent."""
    def exe(bench):
        return bench.tools.get(tool) or which(tool, ["/usr/sbin", "/sbin"])

    def missing():
        return (f"not installed: {tool} (Debian package {package}; scripts/install-deps.sh "
                "installs it)")

    def version(bench):
        p = exe(bench)
        if not p:
            return missing()
        return run([p, "--version"]).stdout.strip().splitlines()[0]

    return exe, missing, version
