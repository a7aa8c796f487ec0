"""Contender "haproxy": one thread, connection reuse to the upstream always
(bench/peers/haproxy.cfg)."""

from ..common import render, run

CONTENDERS = {
    "haproxy":     dict(port=18084, h2=False,
                        desc="HAProxy, nbthread 1, http-reuse always"),
}


def command(bench, name, d, listen, upstream, master_process):
    conf = render("haproxy.cfg", d / "haproxy.cfg", listen=listen, upstream=upstream,
                  **bench.fd_vars())
    r = run([bench.tools["haproxy"], "-c", "-f", str(conf)])
    if r.returncode != 0:
        return None, f"haproxy -c failed:\n{r.stdout}"
    bench.configs[name] = conf
    return [bench.tools["haproxy"], "-db", "-f", str(conf)], None
