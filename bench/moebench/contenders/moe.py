"""The moe contenders: one worker, no Go filters or a Go filter chain
(bench/peers/moe*.yaml); moe-extauth's auth service."""

import shlex
import time

from ..common import AUTH_PORT, BENCH, HOST, LOAD_CPU, WORK, go_env, http_get, log, pinned, render, run, tail
from ..procs import PROCS

CONTENDERS = {
    "moe":         dict(port=18081, h2=True, grpc_port=18094,
                        desc="moe, 1 worker, no Go filters (grpc-unary: its gRPC "
                             "config on grpc_port)"),
    "moe-traceid": dict(port=18082, h2=True, grpc_port=18095,
                        desc="moe, 1 worker, Go filter chain [traceid] (grpc-unary: "
                             "its gRPC config on grpc_port)"),
    "moe-3filters": dict(port=18086, h2=True,
                         desc="moe, 1 worker, Go filter chain [traceid, headers, headers]"),
    "moe-extauth": dict(port=18087, h2=True,
                        desc="moe, 1 worker, Go filter chain [extauth] calling a local "
                             "auth service (async: Pending, goroutine, resume)"),
}
REQUEST_ID = ("moe-traceid", "moe-3filters")  # their readiness answer must carry x-request-id


def command(bench, name, d, listen, upstream, master_process):
    if not bench.moe.exists():
        return None, f"moe binary not built ({bench.moe} is absent)"
    if name == "moe-extauth":
        err = start_authserver(bench)
        if err:
            return None, err
    conf = render(f"{name}.yaml", d / "moe.yaml", listen=listen, upstream=upstream,
                  authserver=f"{HOST}:{AUTH_PORT}")
    bench.configs[name] = conf
    return [str(bench.moe), "-c", str(conf)], None


def start_authserver(bench):
    """The auth service moe-extauth calls: Go stdlib, pinned like the upstream."""
    if "authserver" in PROCS.procs:
        return None
    out = WORK / "bin" / "authserver"
    env = dict(go_env(), CGO_ENABLED="0")
    cmd = [bench.tools["go"], "build", "-trimpath", "-o", str(out), "."]
    r = run(cmd, env=env, cwd=BENCH / "tools" / "authserver", timeout=300)
    if r.returncode != 0:
        return f"auth service: go build failed:\n{r.stdout}"
    d = WORK / "authserver"
    d.mkdir(parents=True, exist_ok=True)
    argv = pinned(LOAD_CPU, ["env", "GOMAXPROCS=1", str(out), "-listen", f"{HOST}:{AUTH_PORT}"])
    p = PROCS.start("authserver", argv, d / "output.log")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            status, _, _ = http_get(AUTH_PORT, "/check")
            if status == 200:
                bench.authserver_cmd = shlex.join(argv)
                log(f"auth service up on {HOST}:{AUTH_PORT} (CPU {LOAD_CPU})")
                return None
        except OSError:
            pass
        if p.poll() is not None:
            break
        time.sleep(0.1)
    PROCS.stop("authserver")
    return f"auth service did not start: {tail(d / 'output.log')}"
