"""A Ray cluster of a head and a worker node on this machine's loopback, for the ray engine's
tests and bench/ray_build.py.

Each node is ``ray start --block`` (``--node-ip-address=127.0.0.1``, dashboard off, usage
statistics off), run by this Python with two workarounds, both cited:

- Ray replaces a loopback ``--node-ip-address`` or ``--address`` with the machine's routable
  address (https://github.com/ray-project/ray/issues/59110), and then listens there. The nodes
  are started with the machine's address taken to be 127.0.0.1, so every Ray process listens
  on loopback only.
- With usage statistics off, Ray 2.60's head still asks the AWS/Azure/GCP metadata services
  which cloud it runs on and, for a ``ray start`` cluster, reports to usage-stats.ray.io that
  statistics are off (ray/dashboard/modules/usage_stats/usage_stats_head.py). No setting
  stops either; both use ``requests``, which is given a proxy on loopback where nothing listens.

A driver connects with ``auth`` in its environment (the cluster's token). ``stop`` sends
SIGTERM to the two ``ray start`` processes this started (by their ids, not ``ray stop``, which
would stop every Ray of this user), which stop their nodes' processes.
With ``trace``, each node runs under strace and ``network_calls`` returns every ``socket``,
``connect``, ``bind`` and ``listen`` its processes made.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["NO_EGRESS", "LoopbackCluster", "free_port"]

# `ray start` with this machine's address taken to be 127.0.0.1. The nodes' own processes
# get RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0, which on Linux does only that (read at their import;
# set after this process's import, whose `ray start` refuses a worker node under it).
_RAY_START = (
    "import os, sys\n"
    "from ray._private import services\n"
    "services.node_ip_address_from_perspective = lambda address=None: '127.0.0.1'\n"
    "os.environ['RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER'] = '0'\n"
    "from ray.scripts.scripts import main\n"
    "sys.argv[0] = 'ray'\n"
    "main()\n"
)
NO_EGRESS = {"http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9", "no_proxy": "",
             "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "NO_PROXY": ""}


def free_port() -> int:
    """A TCP port on loopback that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LoopbackCluster:
    """A head and a worker node of ``cpus`` CPUs each, on 127.0.0.1."""

    def __init__(self, *, cpus: int = 1, trace: bool = False) -> None:
        self.cpus = cpus
        self.trace = trace and shutil.which("strace") is not None
        # Short: Ray's Unix socket paths live under it, and those are limited to 107 bytes.
        self.temp_dir = Path(tempfile.mkdtemp(prefix="ray-aside-", dir="/tmp"))
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        # Token authentication, with a token of its own: Ray turns it on by itself when it
        # finds ~/.ray/auth_token (left by any local `ray.init()`), for the head node only.
        self.auth = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
        self.env = {**os.environ, **NO_EGRESS, **self.auth, "RAY_USAGE_STATS_ENABLED": "0",
                    # Stop at once: the head otherwise waits up to 30 s for its node to drain.
                    "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0"}
        self._nodes: list[subprocess.Popen[bytes]] = []

    def start(self) -> LoopbackCluster:
        common = ["--node-ip-address=127.0.0.1", f"--num-cpus={self.cpus}", "--disable-usage-stats",
                  f"--temp-dir={self.temp_dir}", "--block"]
        self._start("head", ["--head", f"--port={self.port}", "--include-dashboard=false", *common])
        self._wait(lambda: _listening(self.port), "the head node's GCS")
        self._start("worker", [f"--address={self.address}", *common])
        self._wait(lambda: self._raylets() >= 2, "two raylets")
        return self

    def _start(self, name: str, args: list[str]) -> None:
        command = [sys.executable, "-c", _RAY_START, "start", *args]
        if self.trace:
            command = ["strace", "-f", "-qq", "--seccomp-bpf", "-e", "trace=socket,connect,bind,listen",
                       "-o", str(self.temp_dir / f"{name}.strace"), *command]
        with (self.temp_dir / f"{name}.log").open("wb") as log:
            self._nodes.append(subprocess.Popen(command, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                                start_new_session=True))

    def _raylets(self) -> int:
        return sum(1 for pid in self.pids() if _name(pid) == "raylet")

    def _wait(self, ready: object, what: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while not ready():  # type: ignore[operator]
            if any(node.poll() is not None for node in self._nodes) or time.monotonic() > deadline:
                logs = "\n".join((self.temp_dir / f"{n}.log").read_text(errors="replace")[-2000:]
                                 for n in ("head", "worker") if (self.temp_dir / f"{n}.log").exists())
                self.stop()
                raise RuntimeError(f"the loopback Ray cluster did not start ({what}):\n{logs}")
            time.sleep(0.2)

    def pids(self) -> list[int]:
        """The processes of both nodes: the two `ray start`s and everything under them."""
        children: dict[int, list[int]] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
                children.setdefault(ppid, []).append(int(entry.name))
        found, todo = [], [node.pid for node in self._nodes]
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo.extend(children.get(pid, []))
        return found

    def network_calls(self) -> list[str]:
        """Every connect, bind and listen the nodes' processes made (with ``trace``)."""
        lines: list[str] = []
        for name in ("head", "worker"):
            path = self.temp_dir / f"{name}.strace"
            if path.exists():
                lines += path.read_text(errors="replace").splitlines()
        return lines

    def stop(self) -> None:
        """SIGTERM to each node's `ray start` (its processes follow), then wait; kill stragglers."""
        left = self.pids()
        for node in reversed(self._nodes):
            target = node.pid
            if self.trace:  # strace's child is the `ray start`
                target = next((p for p in left if _parent(p) == node.pid), node.pid)
            _signal(target, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while any(_alive(p) for p in left) and time.monotonic() < deadline:
            time.sleep(0.2)
        for pid in left:
            _signal(pid, signal.SIGKILL)
        for node in self._nodes:
            node.wait(timeout=10)
        shutil.rmtree(self.temp_dir, ignore_errors=True)


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _signal(pid: int, sig: signal.Signals) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass
