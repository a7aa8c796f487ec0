"""The runner: one Bench per bench/run invocation holds the options, the tools
found, the versions, the results; checks the machine (preflight), starts the
upstream, and runs the scenarios in their fixed order."""

import datetime
import hashlib
import os
import platform
import re
import resource
import time
from pathlib import Path

from . import common as C
from . import contenders, report
from .common import BENCH, HOST, LOAD_CPU, ROOT, UPSTREAM_PORT, WORK, AUTH_PORT, GRPC_PORT
from .common import die, http_get, log, pinned, port_free, render, run, tail, wait_ready, which
from .contenders import CONTENDERS, gopeers
from .contenders.gopeers import PEER_BUILDS
from .procs import PROCS, CpuBudget
from .scenarios import MODULE, SCENARIOS
import shlex


class Bench:
    def __init__(self, args):
        self.args = args
        self.quick = args.quick
        self.tools = {}
        self.versions = {}
        self.server_cmds = {}   # contender -> command line (string)
        self.configs = {}       # contender -> rendered config path
        self.skipped = {}       # contender -> reason (for the whole run)
        self.warnings = {}      # contender -> something odd seen (in reports)
        self.results = {}       # scenario -> data
        self.date = datetime.date.today().isoformat()
        self.started = time.monotonic()
        self.out = Path(args.out).resolve() if args.out else BENCH / "results"
        self.moe = Path(args.moe).resolve() if args.moe else ROOT / "build" / "moe"
        self.ncpu = os.cpu_count() or 1
        self.budget = None  # CpuBudget with --proxy-cpu (made in preflight)
        self.pids = {}      # contender -> pid of the running proxy (load scenarios)
        if self.ncpu < 2:
            C.PROXY_CPU = "0"

    # ---------------------------------------------------------- preflight


    def preflight(self):
        if self.args.proxy_cpu:
            try:
                self.budget = CpuBudget(self.args.proxy_cpu)
            except (OSError, RuntimeError) as e:
                die(f"--proxy-cpu: {e} (it needs root and a cgroup cpu controller)")
        need = {  # command: Debian package
            "nginx": "nginx-light (or nginx)",
            "haproxy": "haproxy",
            "wrk": "wrk",
            "h2load": "nghttp2-client",
            "taskset": "util-linux",
        }
        missing = []
        for cmd, pkg in need.items():
            p = which(cmd, ["/usr/sbin", "/sbin"])
            if p:
                self.tools[cmd] = p
            else:
                missing.append(f"{cmd} (Debian package {pkg})")
        go = which("go", ["/usr/local/go/bin", "/usr/lib/go/bin"])
        if go:
            self.tools["go"] = go
        else:
            missing.append("go (Debian package golang-go, or a Go toolchain in PATH)")
        if missing:
            die("missing tools:\n  - " + "\n  - ".join(missing) +
                "\ninstall them, e.g. apt-get install -y nginx-light haproxy wrk "
                "nghttp2-client golang-go")
        for cmd, pkg in (("valgrind", "valgrind"), ("callgrind_control", "valgrind")):
            p = which(cmd)
            if p:
                self.tools[cmd] = p
            else:
                log(f"note: {cmd} not found (Debian package {pkg}): the "
                    "instructions scenario will be skipped")
        self.tools["gnuplot"] = which("gnuplot")
        if not self.tools["gnuplot"] and not self.args.no_charts:
            if os.geteuid() == 0 and which("apt-get") and not self.args.no_install:
                log("gnuplot missing: installing gnuplot-nox with apt-get (charts)")
                env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
                r = run(["apt-get", "install", "-y", "-q", "gnuplot-nox"], env=env, timeout=300)
                if r.returncode != 0:
                    run(["apt-get", "update", "-q"], env=env, timeout=300)
                    run(["apt-get", "install", "-y", "-q", "gnuplot-nox"], env=env, timeout=300)
                self.tools["gnuplot"] = which("gnuplot")
            if not self.tools["gnuplot"]:
                log("note: gnuplot not available (Debian package gnuplot-nox): "
                    "no PNG charts this run")
        try:
            self.load_before = float(Path("/proc/loadavg").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            self.load_before = 0.0
        if self.load_before > 0.5:
            log(f"warning: the machine is busy (load average {self.load_before:.2f}): "
                "results will be noisy; run on an idle machine for numbers to publish")
        if self.ncpu < 2:
            log("note: only one CPU: everything shares CPU 0; numbers are not comparable")

        # file descriptors: 10,000 idle connections need 10,000 in the proxy
        # and 10,000 in the client (each process has its own limit)
        want = 200_000
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, max(want, hard)))
        except (ValueError, OSError):
            # no CAP_SYS_RESOURCE (containers): the hard limit is the ceiling
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            except (ValueError, OSError):
                pass
        self.nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        log(f"open files limit (ulimit -n): {soft} -> {self.nofile}")

        # the ports this run will listen on: the upstream, the auth service,
        # the gRPC server, and the contenders its scenarios start
        ports = [UPSTREAM_PORT] if self.needs_upstream() else []
        for n in self.args.scenarios:
            for c in self.contenders_for(n):
                spec = CONTENDERS[c]
                if SCENARIOS[n]["kind"] == "grpc":
                    ports.append(GRPC_PORT if c == "direct" else spec["grpc_port"])
                elif c != "direct":
                    ports += [spec["port"]] + ([spec["h2_port"]] if "h2_port" in spec else [])
                    if c == "moe-extauth":
                        ports.append(AUTH_PORT)
        busy = sorted(p for p in set(ports) if not port_free(p))
        if busy:
            die(f"ports already in use on {HOST}: {busy} (another bench/run? "
                "`ss -ltnp` shows who holds them)")

    def needs_upstream(self):
        """The nginx upstream serves every scenario but grpc-unary (which has
        its own gRPC server)."""
        return any(SCENARIOS[n]["kind"] != "grpc" for n in self.args.scenarios)

    def collect_versions(self):
        v = self.versions
        v["nginx"] = run([self.tools["nginx"], "-v"]).stdout.strip()
        v["haproxy"] = run([self.tools["haproxy"], "-v"]).stdout.splitlines()[0].strip()
        for kind in contenders.KINDS:  # the optional peers (nghttpx, h2o)
            if hasattr(kind, "version") and (set(kind.CONTENDERS) & set(self.args.contenders)):
                for name in kind.CONTENDERS:
                    v[name] = kind.version(self)
        v["wrk"] = run(["wrk", "-v"]).stdout.splitlines()[0].strip()
        v["h2load"] = run(["h2load", "--version"]).stdout.strip()
        v["go"] = run([self.tools["go"], "version"]).stdout.strip()
        for name in PEER_BUILDS:
            b = gopeers.peer_bin(name)
            if b:
                # `caddy version` says "unknown" for a go-installed build: take the
                # module version from the binary's build info instead
                r = run([self.tools["go"], "version", "-m", str(b)], timeout=30)
                mod = re.search(r"^\s+mod\s+(\S+)\s+(\S+)", r.stdout, re.M)
                first = f"{mod.group(1)} {mod.group(2)}" if mod else "?"
                v[name] = f"{first} ({gopeers.peer_status(name)})"
            elif name in self.args.contenders:
                v[name] = f"not built: {gopeers.peer_status(name)}"
        if any(SCENARIOS[n]["kind"] == "grpc" for n in self.args.scenarios):
            m = re.search(r"google\.golang\.org/grpc (v\S+)",
                          (BENCH / "grpcserver" / "go.mod").read_text())
            v["grpc-go (bench/grpcserver)"] = m.group(1) if m else "?"
        if self.tools.get("valgrind"):
            v["valgrind"] = run(["valgrind", "--version"]).stdout.strip()
        if self.tools.get("gnuplot"):
            v["gnuplot"] = run(["gnuplot", "--version"]).stdout.strip()
        v["python"] = platform.python_version()
        if self.moe.exists():
            r = run([str(self.moe), "--version"], timeout=10)
            first = r.stdout.strip().splitlines()[0] if r.stdout.strip() else ""
            digest = hashlib.sha256(self.moe.read_bytes()).hexdigest()[:16]
            v["moe"] = (first + " " if r.returncode == 0 and first else "") + \
                f"({self.moe.relative_to(ROOT) if self.moe.is_relative_to(ROOT) else self.moe}, sha256 {digest}…)"
        else:
            v["moe"] = "not built"
        git = run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
        rev = git.stdout.strip() if git.returncode == 0 else "no commit yet"
        dirty = run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"])
        v["moe source"] = f"git {rev}" + (" (uncommitted changes)" if dirty.stdout.strip() else "")
        v["kernel"] = platform.release()
        cpu = "unknown"
        try:
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        except OSError:
            pass
        v["cpu"] = f"{cpu}, {self.ncpu} CPUs"

    # ------------------------------------------------------------- peers


    def fd_vars(self):
        # connection limits follow the open-files limit bench/run got
        # (HAProxy wants 2 fds per connection for maxconn, reuse or not)
        return dict(nofile=self.nofile, maxconn=max(1024, self.nofile - 500),
                    haproxy_maxconn=max(512, (self.nofile - 400) // 2))

    def user_line(self):
        # nginx started as root drops workers to "nobody"; keep them as the
        # invoking user so they can read bench/work whatever its permissions.
        return "user root;" if os.geteuid() == 0 else ""

    def start_upstream(self):
        d = WORK / "upstream"
        for sub in ("html", "client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        body = d / "html" / "1m.bin"
        if not body.exists() or body.stat().st_size != 1 << 20:
            body.write_bytes((b"0123456789abcdef" * 65536))
        conf = render("upstream-nginx.conf", d / "nginx.conf", dir=str(d),
                      listen=f"{HOST}:{UPSTREAM_PORT}", user_line=self.user_line(),
                      **self.fd_vars())
        base = [self.tools["nginx"], "-p", f"{d}/", "-c", str(conf), "-e", str(d / "error.log")]
        r = run(base + ["-t"])
        if r.returncode != 0:
            die(f"upstream nginx config test failed:\n{r.stdout}")
        argv = pinned(LOAD_CPU, base)
        p = PROCS.start("upstream", argv, d / "stdout.log")
        ok, info = wait_ready(UPSTREAM_PORT, p, 10)
        if not ok:
            die(f"upstream nginx did not start: {info}\n{tail(d / 'error.log')}")
        status, _, body = http_get(UPSTREAM_PORT, "/1m")
        if status != 200 or len(body) != 1 << 20:
            die("upstream /1m is not a 1 MiB 200 response")
        self.upstream_cmd = shlex.join(argv)
        self.configs["upstream"] = conf
        log(f"upstream nginx up on {HOST}:{UPSTREAM_PORT} (CPU {LOAD_CPU})")

    def contenders_for(self, scname):
        sc = SCENARIOS[scname]
        allowed = sc.get("contenders")
        return [c for c in self.args.contenders if allowed is None or c in allowed]

    def start_contender(self, name, instance="", wrap=(), master_process="on",
                        ready_timeout=10.0):
        """Start one contender; return (pid, None) or (None, reason)."""
        return contenders.start_contender(self, name, instance, wrap, master_process,
                                          ready_timeout)

    def build_peers(self):
        gopeers.build_peers(self)

    def write_scenario(self, scname):
        report.write_scenario(self, scname)

    def run(self):
        """The scenarios, in their fixed order: the load scenarios (one set of
        contenders for all), gRPC, memory, instructions, gobridge."""
        args, b = self.args, self
        if b.needs_upstream():
            b.start_upstream()
        t = time.monotonic()
        MODULE["wrk"].run_scenarios(b, args.scenarios)
        if any(SCENARIOS[n]["kind"] in ("wrk", "h2load") for n in args.scenarios):
            log(f"load scenarios took {time.monotonic() - t:.0f}s")
        for scname in [n for n in args.scenarios if SCENARIOS[n]["kind"] == "grpc"]:
            t = time.monotonic()
            MODULE["grpc"].run_scenario(b, scname)
            log(f"{scname} scenario took {time.monotonic() - t:.0f}s")
        if "memory-idle" in args.scenarios:
            t = time.monotonic()
            MODULE["memory"].run_scenario(b)
            log(f"memory scenario took {time.monotonic() - t:.0f}s")
        if "instructions" in args.scenarios:
            t = time.monotonic()
            MODULE["instructions"].run_scenario(b)
            log(f"instructions scenario took {time.monotonic() - t:.0f}s")
        if "gobridge" in args.scenarios:
            t = time.monotonic()
            try:
                b.load_gobridge = float(Path("/proc/loadavg").read_text().split()[0])
            except (OSError, ValueError):
                pass
            MODULE["gobridge"].run_scenario(b)
            log(f"gobridge scenario took {time.monotonic() - t:.0f}s")
        report.write_summary(b)
