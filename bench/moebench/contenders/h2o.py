"""Contender "h2o": the h2o HTTP server as a reverse proxy (Debian h2o).
bench/peers/h2o.conf; skipped with a clear line when not installed."""

import os

from ..common import debian_tool, render, run

CONTENDERS = {
    "h2o":         dict(port=18097, h2=True,
                        desc="h2o proxy.reverse.url, num-threads 1, upstream keep-alive "
                             "(h1 and h2c on one port)"),
}
LOGS = ("error.log",)
TOOL, PACKAGE = "h2o", "h2o"


exe, missing, version = debian_tool(TOOL, PACKAGE)


def command(bench, name, d, listen, upstream, master_process):
    p = exe(bench)
    if not p:
        return None, missing()
    lh, lp = listen.rsplit(":", 1)
    # started as root, h2o drops to "nobody" unless told otherwise (like nginx)
    conf = render("h2o.conf", d / "h2o.conf", dir=str(d), listen_host=lh, listen_port=lp,
                  upstream=upstream, user_line="user: root" if os.geteuid() == 0 else "",
                  **bench.fd_vars())
    r = run([p, "-t", "-c", str(conf)])
    if r.returncode != 0:
        return None, f"h2o -t failed:\n{r.stdout}"
    bench.configs[name] = conf
    return [p, "-c", str(conf)], None
