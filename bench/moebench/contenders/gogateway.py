"""Contender "gogateway": Go net/http/httputil.ReverseProxy with an
x-request-id middleware (bench/gogateway), built by bench/run."""

import os
import shlex

from ..common import BENCH, WORK, run

CONTENDERS = {
    "gogateway":   dict(port=18085, h2=False,
                        desc="Go net/http/httputil.ReverseProxy + x-request-id "
                             "middleware, GOMAXPROCS=1"),
}
REQUEST_ID = ("gogateway",)


def command(bench, name, d, listen, upstream, master_process):
    if not hasattr(bench, "gogateway_bin"):
        bench.gogateway_bin, err = build_gogateway(bench)
        bench.gogateway_err = err
    if bench.gogateway_bin is None:
        return None, bench.gogateway_err
    return ["env", "GOMAXPROCS=1", str(bench.gogateway_bin), "-listen", listen,
            "-upstream", f"http://{upstream}"], None


def build_gogateway(bench):
    out = WORK / "bin" / "gogateway"
    out.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, GOTOOLCHAIN="local", GOWORK="off", CGO_ENABLED="0",
               GOFLAGS="-mod=mod")
    if not env.get("GOCACHE") and not env.get("HOME") and not env.get("XDG_CACHE_HOME"):
        env["GOCACHE"] = str(WORK / "gocache")
    if not env.get("GOPATH") and not env.get("HOME"):
        env["GOPATH"] = str(WORK / "gopath")
    cmd = [bench.tools["go"], "build", "-trimpath", "-o", str(out), "."]
    r = run(cmd, env=env, cwd=BENCH / "gogateway", timeout=300)
    if r.returncode != 0:
        return None, f"go build failed:\n{r.stdout}"
    bench.gogateway_build = f"cd bench/gogateway && GOTOOLCHAIN=local GOWORK=off CGO_ENABLED=0 {shlex.join(cmd)}"
    return out, None
