"""bench/run's options and main()."""

import argparse
import signal
import subprocess
import sys
import time

from .common import WORK, _on_signal, log
from .contenders import CONTENDERS
from .procs import PROCS
from .runner import Bench
from .scenarios import SCENARIOS


def parse_args():
    ap = argparse.ArgumentParser(
        description="moe benchmark suite (see docs/benchmarks.md)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="scenarios: " + ", ".join(
            n + ("" if SCENARIOS[n].get("default", True) else " (off by default)")
            for n in SCENARIOS) + "\ncontenders: " + ", ".join(CONTENDERS))
    ap.add_argument("--quick", action="store_true",
                    help="2 rounds of 1 s runs, smaller N (< 2 minutes): a smoke test")
    ap.add_argument("--scenarios", help="comma-separated subset (default: all but h2 and grpc)")
    ap.add_argument("--contenders", help="comma-separated subset (default: all)")
    ap.add_argument("--h2", action="store_true", help="also run the h2 scenario")
    ap.add_argument("--grpc", action="store_true",
                    help="also run the gRPC unary scenario (grpc-unary)")
    ap.add_argument("--rounds", type=int,
                    help="rounds per scenario (default 3; 2 with --quick)")
    ap.add_argument("--duration", type=int, help="seconds per run, overriding every scenario")
    ap.add_argument("--conns", type=int, help="idle connections for memory-idle (default 10000)")
    ap.add_argument("--requests", type=int, help="requests for instructions (default 20000)")
    ap.add_argument("--proxy-cpu", type=int, metavar="PCT",
                    help="hold each proxy to PCT%% of one CPU (its own cgroup, CFS quota) in the "
                         "load scenarios, so that the proxy and not the shared load CPU sets "
                         "the pace; results go to *-cpuPCT.md (docs/benchmarks.md)")
    ap.add_argument("--moe", help="moe binary (default build/moe)")
    ap.add_argument("--out", help="results directory (default bench/results)")
    ap.add_argument("--no-charts", action="store_true", help="skip PNG charts")
    ap.add_argument("--no-install", action="store_true",
                    help="never apt-get install gnuplot-nox")
    ap.add_argument("--build-peers", action="store_true",
                    help="first go install the third-party Go proxies not built yet "
                         "(Caddy, MOSN; into bench/work/bin, minutes each)")
    ap.add_argument("--list", action="store_true", help="list scenarios and contenders")
    a = ap.parse_args()
    if a.list:
        for n, s in SCENARIOS.items():
            flag = "--grpc" if s["kind"] == "grpc" else "--h2"
            print(f"{n:16s} {s['title']}" + ("" if s.get("default", True) else f"  [{flag}]"))
        for n, c in CONTENDERS.items():
            print(f"{n:16s} :{c['port']}  {c['desc']}")
        sys.exit(0)
    if a.scenarios:
        a.scenarios = [s.strip() for s in a.scenarios.split(",") if s.strip()]
        bad = [s for s in a.scenarios if s not in SCENARIOS]
        if bad:
            ap.error(f"unknown scenarios {bad}; known: {', '.join(SCENARIOS)}")
    else:
        a.scenarios = [n for n, s in SCENARIOS.items() if s.get("default", True) or
                       (a.h2 and s["kind"] == "h2load") or (a.grpc and s["kind"] == "grpc")]
    if a.contenders:
        a.contenders = [c.strip() for c in a.contenders.split(",") if c.strip()]
        bad = [c for c in a.contenders if c not in CONTENDERS]
        if bad:
            ap.error(f"unknown contenders {bad}; known: {', '.join(CONTENDERS)}")
    else:
        a.contenders = list(CONTENDERS)
    if a.rounds is None:
        a.rounds = 2 if a.quick else 3
    if a.rounds < 1:
        ap.error("--rounds must be at least 1")
    if a.proxy_cpu is not None and not 1 <= a.proxy_cpu <= 100:
        ap.error("--proxy-cpu must be 1 to 100")
    return a


def main():
    args = parse_args()
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, _on_signal)
    WORK.mkdir(parents=True, exist_ok=True)
    PROCS.reap_leftovers()
    b = Bench(args)
    rc = 0
    try:
        b.preflight()
        if args.build_peers:
            b.build_peers()
        b.collect_versions()
        log(f"{'quick' if args.quick else 'full'} run: scenarios {', '.join(args.scenarios)}; "
            f"contenders {', '.join(args.contenders)}; results to {b.out}")
        if not b.moe.exists():
            log(f"note: moe binary not built ({b.moe}); moe rows will be skipped")

        b.run()
    except KeyboardInterrupt as e:
        log(f"interrupted ({e}); stopping everything")
        rc = 130
    except subprocess.TimeoutExpired as e:
        log(f"timed out: {e}")
        rc = 1
    finally:
        PROCS.stop_all()
    log(f"done in {time.monotonic() - b.started:.0f}s")
    return rc
