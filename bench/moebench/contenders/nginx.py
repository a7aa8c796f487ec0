"""Contender "nginx": proxy_pass with upstream keep-alive, 1 worker
(bench/peers/proxy-nginx.conf). The reference of the "vs nginx" ratios."""

from ..common import HOST, render, run

CONTENDERS = {
    "nginx":       dict(port=18083, h2=True, h2_port=18093,
                        desc="nginx proxy_pass, 1 worker, upstream keepalive 64 "
                             "(h2c: a second server block `listen ... http2` on h2_port)"),
}
LOGS = ("error.log",)  # quoted when it fails to start, beside its output


def command(bench, name, d, listen, upstream, master_process):
    for sub in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (d / sub).mkdir(exist_ok=True)
    conf = render("proxy-nginx.conf", d / "nginx.conf", dir=str(d), listen=listen,
                  h2_listen=f"{HOST}:{CONTENDERS['nginx']['h2_port']}",
                  upstream=upstream, user_line=bench.user_line(),
                  master_process=master_process, **bench.fd_vars())
    base = [bench.tools["nginx"], "-p", f"{d}/", "-c", str(conf), "-e", str(d / "error.log")]
    r = run(base + ["-t"])
    if r.returncode != 0:
        return None, f"nginx -t failed:\n{r.stdout}"
    bench.configs[name] = conf
    return base, None
