"""Wall time and peak RSS of a command's whole process tree, from /proc (psutil is not a dependency).

The tree matters: jsii runs a node child beside python, terraform runs its provider plugin, and
either can be the bigger half. Peak RSS is the largest sum of VmRSS over the process and every
descendant seen so far, sampled every POLL_SECONDS in a thread while the main thread waits.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Self

POLL_SECONDS = 0.02
METHOD = ("peak RSS = max over time of the sum of VmRSS of the process and all its descendants "
          f"(python + jsii's node; terraform + provider), polled from /proc every {POLL_SECONDS * 1000:.0f} ms")


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_rss_mib: float


class CommandFailed(RuntimeError):
    pass


def _parent(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            # The command name may hold spaces or ')': the fields after the last ')' are fixed.
            return int(stat.read().rsplit(b")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def _rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", "rb") as status:
            for line in status:
                if line.startswith(b"VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0  # gone, or a zombie (which has no VmRSS line)


class TreeSampler:
    """Samples a process tree's total RSS in a background thread; use as a context manager."""

    def __init__(self, root: int) -> None:
        self.tree = {root}
        self.parents: dict[int, int | None] = {}  # read once per pid, so a sample costs ~a directory listing
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while True:
            self.sample()
            if self._stop.wait(POLL_SECONDS):
                return

    def sample(self) -> None:
        alive = {int(entry.name) for entry in os.scandir("/proc") if entry.name.isdigit()}
        for pid in self.parents.keys() - alive:
            del self.parents[pid]
        for pid in alive - self.parents.keys():
            self.parents[pid] = _parent(pid)
        # Membership is sticky: a descendant reparented to init (its parent died) still counts.
        self.tree &= alive
        while new := {pid for pid, parent in self.parents.items() if parent in self.tree} - self.tree:
            self.tree |= new
        self.peak_kib = max(self.peak_kib, sum(_rss_kib(pid) for pid in self.tree))


def measure(command: list[str], env: dict[str, str], cwd: Path) -> Run:
    """Run a command to completion; its wall time (exact, not rounded to the poll) and tree peak RSS."""
    with tempfile.TemporaryFile() as stderr:  # a file, not a pipe: a chatty child can never block on it
        start = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=stderr)
        with TreeSampler(process.pid) as sampler:
            code = process.wait()
            seconds = time.perf_counter() - start
        if code != 0:
            stderr.seek(0)
            tail = "\n".join(stderr.read().decode(errors="replace").strip().splitlines()[-20:])
            raise CommandFailed(f"`{' '.join(command)}` in {cwd} exited with {code}:\n{tail}")
    return Run(seconds, sampler.peak_kib / 1024)
