"""Contender "nghttpx": nghttp2's reverse proxy (Debian nghttp2-proxy), the
peer closest to moe in stack (C++, libev-style loop, nghttp2 for HTTP/2).
bench/peers/nghttpx.conf; skipped with a clear line when not installed."""

from ..common import debian_tool, render

CONTENDERS = {
    "nghttpx":     dict(port=18096, h2=True,
                        desc="nghttpx (nghttp2-proxy) reverse proxy, workers=1 single-thread, "
                             "HTTP/1.1 keep-alive to the upstream (h1 and h2c on one port)"),
}
LOGS = ("error.log",)
TOOL, PACKAGE = "nghttpx", "nghttp2-proxy"


exe, missing, version = debian_tool(TOOL, PACKAGE)


def command(bench, name, d, listen, upstream, master_process):
    p = exe(bench)
    if not p:
        return None, missing()
    lh, lp = listen.rsplit(":", 1)
    uh, up = upstream.rsplit(":", 1)
    conf = render("nghttpx.conf", d / "nghttpx.conf", dir=str(d), listen_host=lh,
                  listen_port=lp, upstream_host=uh, upstream_port=up, **bench.fd_vars())
    bench.configs[name] = conf
    # master_process "off" (callgrind): one process, the worker inside it
    single = ["--single-process"] if master_process == "off" else []
    return [p, f"--conf={conf}"] + single, None
