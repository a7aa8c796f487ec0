"""The contenders, one module per kind. A kind module has
  CONTENDERS  {name: dict(port, h2, desc, [h2_port], [grpc_port])} in --list order
  command(bench, name, d, listen, upstream, master_process) -> (argv, None) or
              (None, reason): renders its config into d (bench/work/<name>) and
              returns the command line (not yet pinned or wrapped)
and optionally REQUEST_ID (names whose answers must carry x-request-id),
LOGS (files in d quoted beside its output when it fails to start) and
version(bench) (its line in the reports' Versions, for a contender that may
not be installed: a missing one is skipped with the reason)."""

import shlex

from .. import common as C
from ..common import HOST, UPSTREAM_PORT, WORK, log, pinned, tail, wait_ready
from ..procs import PROCS
from . import direct, gogateway, gopeers, h2o, haproxy, moe, nghttpx, nginx

KINDS = (direct, moe, nginx, haproxy, gogateway, gopeers, nghttpx, h2o)

CONTENDERS = {}  # name: port, what it is, whether it has h2c on its listener here
KIND = {}        # name: its kind module
for _k in KINDS:
    for _name, _spec in _k.CONTENDERS.items():
        CONTENDERS[_name] = _spec
        KIND[_name] = _k
# contenders whose readiness answer must carry x-request-id
REQUEST_ID_CONTENDERS = tuple(n for k in KINDS for n in getattr(k, "REQUEST_ID", ()))
MOE_CONTENDERS = tuple(moe.CONTENDERS)
REFERENCE_NGINX = "nginx"
REFERENCE_GO = "gogateway"


def contender_argv(bench, name, instance="", master_process="on"):
    """Render the config of `name`; return (argv without pinning, dir, None)
    or (None, dir, reason)."""
    port = CONTENDERS[name]["port"]
    d = WORK / (name + instance)
    d.mkdir(parents=True, exist_ok=True)
    listen = f"{HOST}:{port}"
    upstream = f"{HOST}:{UPSTREAM_PORT}"
    argv, err = KIND[name].command(bench, name, d, listen, upstream, master_process)
    return argv, d, err


def start_contender(bench, name, instance="", wrap=(), master_process="on",
                    ready_timeout=10.0):
    """Start one contender; return (pid, None) or (None, reason)."""
    if name == "direct":
        return None, None
    argv, d, err = contender_argv(bench, name, instance, master_process)
    if argv is None:
        return None, err
    argv = list(wrap) + argv
    if bench.budget and not instance:
        argv = bench.budget.wrap(name, argv)
    argv = pinned(C.PROXY_CPU, argv)
    logfile = d / "output.log"
    p = PROCS.start(name + instance, argv, logfile)
    ok, info = wait_ready(CONTENDERS[name]["port"], p, ready_timeout)
    if not ok:
        PROCS.stop(name + instance)
        extra = tail(logfile)
        for f in getattr(KIND[name], "LOGS", ()):
            extra += "\n" + tail(d / f)
        return None, f"failed to start: {info}; output:\n{extra}"
    if name in REQUEST_ID_CONTENDERS:
        if "x-request-id" not in info:
            msg = ("its response to the readiness GET had no x-request-id header: "
                   "the request-id filter/middleware did not run")
            log(f"warning: {name}: {msg}")
            bench.warnings[name] = msg
    label = {"": name, "-cg": f"{name} (callgrind)", "-mem": f"{name} (memory)"}.get(instance)
    if label:
        bench.server_cmds[label] = shlex.join(argv)
    return p.pid, None
