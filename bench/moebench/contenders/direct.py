"""Contender "direct": no proxy, the load generator straight to the upstream
(the ceiling of the load side)."""

from ..common import UPSTREAM_PORT

CONTENDERS = {
    "direct":      dict(port=UPSTREAM_PORT, h2=False,
                        desc="wrk straight to the upstream nginx (ceiling, no proxy)"),
}


def command(bench, name, d, listen, upstream, master_process):
    raise ValueError(name)  # nothing to start
