"""The process table (everything bench/run starts, stopped on any exit) and
the --proxy-cpu cgroup budget."""

import ctypes
import os
import signal
import subprocess
import time
from pathlib import Path

from .common import WORK, log

_libc = ctypes.CDLL(None, use_errno=True)


def _child_setup():
    # If bench/run dies (even by SIGKILL), the kernel kills the child too.
    _libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class Procs:
    """Every process bench/run starts. Each gets its own process group, so
    stopping it stops its children (nginx workers) too."""

    def __init__(self):
        self.procs = {}
        self.pidfile = WORK / "pids"

    def reap_leftovers(self):
        """Kill process groups recorded by an earlier run that was SIGKILLed
        (its children die with it, but nginx workers outlive their master)."""
        if not self.pidfile.exists():
            return
        groups = set()
        for line in self.pidfile.read_text().split():
            if line.isdigit():
                groups.add(int(line))
        ours = (str(WORK).encode(), b"nginx: worker", b"gogateway", b"haproxy",
                b"valgrind", b"moe", b"caddy", b"authserver", b"gobridge", b"mosn",
                b"grpcserver", b"nghttpx", b"h2o")
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                stat = (proc / "stat").read_text()
                pgrp = int(stat.rsplit(")", 1)[1].split()[2])
                cmd = (proc / "cmdline").read_bytes()
            except (OSError, ValueError, IndexError):
                continue
            if pgrp in groups and any(o in cmd for o in ours):
                log(f"stopping leftover process {proc.name} ({cmd.replace(bytes(1), b' ').decode(errors='replace').strip()[:60]}) "
                    "from an earlier run")
                try:
                    os.kill(int(proc.name), signal.SIGKILL)
                    time.sleep(0.2)  # let the kernel release its sockets
                except OSError:
                    pass
        self.pidfile.unlink()

    def _record(self):
        self.pidfile.write_text("\n".join(str(p.pid) for p in self.procs.values()) + "\n")

    def start(self, name, argv, logfile, stdin=subprocess.DEVNULL,
              stdout=None, env=None):
        logf = open(logfile, "ab")
        p = subprocess.Popen(argv, stdin=stdin,
                             stdout=stdout if stdout is not None else logf,
                             stderr=logf, start_new_session=True,
                             preexec_fn=_child_setup, env=env, cwd=WORK)
        logf.close()
        self.procs[name] = p
        self._record()
        return p

    def stop(self, name, grace=5.0, sig=signal.SIGTERM, resend=False):
        """SIGTERM, wait up to `grace` seconds, then SIGKILL the group.
        resend: repeat the signal every second (a process under valgrind can
        lose a signal that arrives while vgdb is detaching from it)."""
        p = self.procs.pop(name, None)
        if p is None:
            return
        deadline = time.monotonic() + grace
        while True:
            try:
                os.killpg(p.pid, sig)
            except OSError:
                pass
            try:
                p.wait(timeout=min(1.0, max(0.0, deadline - time.monotonic())) if resend
                       else grace)
                break
            except subprocess.TimeoutExpired:
                if not resend or time.monotonic() >= deadline:
                    break
        try:  # the group: nginx workers, anything left
            os.killpg(p.pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        self._record()

    def stop_all(self):
        for name in list(self.procs):
            self.stop(name, grace=3.0)
        if self.pidfile.exists():
            self.pidfile.unlink()


PROCS = Procs()


class CpuBudget:
    """--proxy-cpu: each proxy in a cgroup of its own with a CFS quota of
    PCT% of one CPU (10 ms periods), so the proxy, not the load CPU, is what
    runs out, and req/s measures work per CPU second. cgroup v1's cpu
    controller or cgroup v2's cpu.max, whichever this machine has."""

    PERIOD_US = 10000

    def __init__(self, pct):
        self.pct = pct
        self.dirs = {}
        v1 = Path("/sys/fs/cgroup/cpu")
        v2 = Path("/sys/fs/cgroup")
        if (v1 / "cpu.cfs_quota_us").exists():
            self.root, self.v2 = v1, False
        elif (v2 / "cgroup.controllers").exists() and "cpu" in (v2 / "cgroup.controllers").read_text().split():
            self.root, self.v2 = v2, True
            ctl = v2 / "cgroup.subtree_control"
            if "cpu" not in ctl.read_text().split():
                ctl.write_text("+cpu")
        else:
            raise RuntimeError("no cgroup cpu controller (v1 /sys/fs/cgroup/cpu or v2 cpu.max)")

    def create(self, name):
        """The cgroup.procs file a process writes its pid to, to join."""
        d = self.root / f"moe-bench-{name}"
        d.mkdir(exist_ok=True)
        quota = self.PERIOD_US * self.pct // 100
        if self.v2:
            (d / "cpu.max").write_text(f"{quota} {self.PERIOD_US}")
        else:
            (d / "cpu.cfs_period_us").write_text(str(self.PERIOD_US))
            (d / "cpu.cfs_quota_us").write_text(str(quota))
        self.dirs[name] = d
        return d / "cgroup.procs"

    def wrap(self, name, argv):
        # The shell joins the cgroup and execs the proxy: its children
        # (nginx's worker) are born inside.
        return ["sh", "-c", 'echo $$ > "$0" && exec "$@"', str(self.create(name))] + list(argv)

    def stat(self, name):
        """(periods, throttled periods) so far."""
        d = self.dirs.get(name)
        if d is None:
            return None
        kv = dict(line.split() for line in (d / "cpu.stat").read_text().splitlines() if line.strip())
        return int(kv.get("nr_periods", 0)), int(kv.get("nr_throttled", 0))

    def remove_all(self):
        for d in self.dirs.values():
            try:
                d.rmdir()
            except OSError:
                pass
        self.dirs.clear()
