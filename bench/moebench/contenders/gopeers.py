"""Third-party Go proxies built from source with the Go module proxy by
`bench/run --build-peers` (into bench/work/bin; the outcome of the last
attempt is kept in bench/work/bin/<name>.status and quoted in the reports):
Caddy and MOSN."""

import datetime
import os
import shlex
import shutil
import subprocess
import time

from ..common import PEERS, WORK, go_env, log, render, run

CONTENDERS = {
    "caddy":       dict(port=18088, h2=False,
                        desc="Caddy reverse_proxy + x-request-id logic (request_header "
                             "X-Request-Id {http.request.uuid} when absent, copied onto the "
                             "response), "
                             "GOMAXPROCS=1 (needs --build-peers once)"),
    "mosn":        dict(port=18089, h2=False,
                        desc="MOSN (mosn.io/mosn) HTTP/1 proxy, GOMAXPROCS=1 "
                             "(needs --build-peers once; see its build status)"),
}
REQUEST_ID = ("caddy",)

PEER_BUILDS = {
    "caddy": dict(pkg="github.com/caddyserver/caddy/v2/cmd/caddy", version="v2.10.2",
                  binary="caddy", timeout=480),
    "mosn": dict(pkg="mosn.io/mosn/cmd/mosn/main", version="v1.6.0",
                 binary="main", timeout=300),
}


def command(bench, name, d, listen, upstream, master_process):
    exe = peer_bin(name)
    if not exe:
        return None, f"not built: {peer_status(name)}"
    if name == "caddy":
        conf = render("caddy.Caddyfile", d / "Caddyfile", listen=listen, upstream=upstream)
        bench.configs[name] = conf
        # Caddy's data/config dirs inside bench/work, not $HOME
        return ["env", "GOMAXPROCS=1", f"XDG_DATA_HOME={d}/data", f"XDG_CONFIG_HOME={d}/config",
                str(exe), "run", "--config", str(conf), "--adapter", "caddyfile"], None
    if not (PEERS / "mosn.json").exists():
        return None, ("MOSN is built but bench/peers/mosn.json (its listener/cluster "
                      "config) is not written yet")
    conf = render("mosn.json", d / "mosn.json", listen=listen, upstream=upstream)
    bench.configs[name] = conf
    return ["env", "GOMAXPROCS=1", str(exe), "start", "-c", str(conf)], None


def peer_bin(name):
    b = WORK / "bin" / name
    return b if b.exists() and os.access(b, os.X_OK) else None


def peer_status(name):
    f = WORK / "bin" / f"{name}.status"
    if f.exists():
        return f.read_text().strip()
    return "never attempted (run `bench/run --build-peers` once)"


def build_peers(bench):
    """--build-peers: go install the third-party Go proxies that are not
    built yet, each under its time limit; record the outcome."""
    for name, spec in PEER_BUILDS.items():
        if name not in bench.args.contenders or peer_bin(name):
            continue
        status = WORK / "bin" / f"{name}.status"
        status.parent.mkdir(parents=True, exist_ok=True)
        gobin = WORK / "gobin-tmp"
        shutil.rmtree(gobin, ignore_errors=True)
        gobin.mkdir(parents=True)
        env = dict(go_env(), GOBIN=str(gobin), CGO_ENABLED="0")
        env.pop("GOFLAGS", None)
        cmd = [bench.tools["go"], "install", "-trimpath", f"{spec['pkg']}@{spec['version']}"]
        log(f"building {name}: {shlex.join(cmd)} (limit {spec['timeout']}s)")
        t0 = time.monotonic()
        try:
            r = run(cmd, env=env, timeout=spec["timeout"], cwd=WORK)
            took = time.monotonic() - t0
            out = gobin / spec["binary"]
            if r.returncode == 0 and out.exists():
                shutil.move(str(out), WORK / "bin" / name)
                status.write_text(f"built {spec['pkg']}@{spec['version']} in {took:.0f}s on "
                                  f"{datetime.date.today().isoformat()}")
                log(f"{name}: built in {took:.0f}s")
            else:
                lines = [l for l in r.stdout.strip().splitlines() if not l.startswith("go: downloading")]
                why = " / ".join(lines[-4:]) or f"exit {r.returncode}"
                status.write_text(f"`go install {spec['pkg']}@{spec['version']}` failed after "
                                  f"{took:.0f}s: {why}")
                log(f"{name}: build failed: {why[:400]}")
        except subprocess.TimeoutExpired:
            status.write_text(f"`go install {spec['pkg']}@{spec['version']}` did not finish "
                              f"within its {spec['timeout']}s limit")
            log(f"{name}: build timed out after {spec['timeout']}s")
        shutil.rmtree(gobin, ignore_errors=True)
