"""Terraform on many stacks at once: bounded parallelism, a live per-stack view, every failure reported.

Each stack is its own Terraform working folder and state file, so stacks never wait on each other;
what they share is the CPU, the provider plugin cache (see terraform.plugin_cache_dir) and the
screen. A failing stack never stops the others: the caller gets every stack's result and turns the
failures into one summary (`failure_summary`).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Generic, Iterator, TypeVar

from rich.console import Console
from rich.live import Live
from rich.table import Table

from iam_foundry.errors import FoundryError, Problem
from iam_foundry.ops.terraform import RUNNING, Terraform, plugin_cache_dir, terraform_env

T = TypeVar("T")
INIT_MARKER = "iam-foundry-init.json"  # inside .terraform: moves with it between synths
MAX_DEFAULT_PARALLELISM = 8
STACK_MEMORY_MIB = 1000  # one running stack: terraform + its AWS provider (measured peak 800-900 MiB with GOGC=300)


def available_memory_mib() -> int | None:
    """MemAvailable from /proc/meminfo (None where there is none)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def default_parallelism(cpus: int | None = None, memory_mib: int | None = None) -> int:
    """A stack's run is CPU-bound (each provider start spends seconds building its schema), so more
    stacks at once than CPUs + 1 only share the same cores; and each one holds ~STACK_MEMORY_MIB, so
    no more than the available memory holds. Arguments: for tests (default: this machine's)."""
    if cpus is None:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if memory_mib is None:
        memory_mib = available_memory_mib()
    by_memory = MAX_DEFAULT_PARALLELISM if memory_mib is None else memory_mib // STACK_MEMORY_MIB
    return max(1, min(MAX_DEFAULT_PARALLELISM, cpus + 1, by_memory))


# --- init once per stack ----------------------------------------------------------------------------

def init_fingerprint(workdir: Path) -> str:
    """What `terraform init` depends on: the stack's terraform block (backend settings, provider
    requirements, cloud block) and the CLI config that decides where providers come from."""
    synthesized = json.loads((workdir / "cdk.tf.json").read_text())
    terraform_block = {k: v for k, v in synthesized.get("terraform", {}).items()}
    env = terraform_env()
    inputs = {"terraform": terraform_block, "cli_config": env.get("TF_CLI_CONFIG_FILE"),
              "plugin_cache": env.get("TF_PLUGIN_CACHE_DIR")}
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def is_initialised(workdir: Path) -> bool:
    marker = workdir / ".terraform" / INIT_MARKER
    if not marker.is_file() or not (workdir / ".terraform.lock.hcl").is_file():
        return False
    try:
        return json.loads(marker.read_text()).get("fingerprint") == init_fingerprint(workdir)
    except (OSError, ValueError):
        return False


@contextmanager
def _plugin_cache_lock() -> Iterator[None]:
    """Terraform does not promise that concurrent inits can share a plugin cache: take turns (also
    across processes). An init whose provider is cached already takes well under a second."""
    cache = plugin_cache_dir(terraform_env())
    if cache is None:
        yield
        return
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".iam-foundry.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_init(terraform: Terraform, report: Callable[[str], None] | None = None) -> bool:
    """`terraform init` unless this folder is initialised for the same backend and providers already
    (synth keeps .terraform, so a changed backend must be noticed here). Returns True when it ran."""
    workdir = terraform.workdir
    if is_initialised(workdir):
        return False
    marker = workdir / ".terraform" / INIT_MARKER
    marker.unlink(missing_ok=True)  # a failed init must not leave an old marker claiming success
    if report:
        report("terraform init")
    with _plugin_cache_lock():
        terraform.init()
    marker.write_text(json.dumps({"fingerprint": init_fingerprint(workdir)}))
    return True


# --- running stacks concurrently ----------------------------------------------------------------------

@dataclass
class StackResult(Generic[T]):
    name: str
    value: T | None = None
    problems: list[Problem] = field(default_factory=list)
    seconds: float = 0.0
    state: str = "waiting"  # waiting -> running -> done; "interrupted" / "not started" after Ctrl-C

    @property
    def ok(self) -> bool:
        return not self.problems


class InterruptedRun(FoundryError):
    """Ctrl-C: running stacks were stopped gracefully (locks released), waiting ones never started."""

    exit_code = 130  # 128 + SIGINT, as shells report it

    def __init__(self, results: dict[str, "StackResult[Any]"], command: str, killed: bool):
        self.results = results
        stopped = [r.name for r in results.values() if r.state == "interrupted"]
        waiting = [r.name for r in results.values() if r.state == "not started"]
        done = [r.name for r in results.values() if r.state == "done" and r.ok]
        again = stopped + waiting + [r.name for r in results.values() if r.state == "done" and not r.ok]
        problems = []
        if stopped:
            problems.append(Problem("interrupted", f"stopped while running: {', '.join(stopped)}",
                                    "their state is saved as far as they got" + (
                                        "; they were killed, so a state lock may be left: the next run names it and "
                                        "the `terraform force-unlock` to run" if killed else " and their locks released")))
        if waiting:
            problems.append(Problem("interrupted", f"never started: {', '.join(waiting)}"))
        if done:
            problems.append(Problem("interrupted", f"finished before the interrupt: {', '.join(done)}"))
        if again:
            problems.append(Problem("summary", f"{len(again)} of {len(results)} stacks to redo",
                                    f"to continue, run `iam-foundry {command} -s {' -s '.join(again)}`"))
        super().__init__(problems)


@dataclass
class _Row:
    status: str = "waiting"
    started: float | None = None
    finished: float | None = None
    style: str = "dim"


class Progress:
    """Per-stack status: a live table on a terminal, one plain line per change otherwise (CI logs)."""

    def __init__(self, names: list[str], console: Console, live: bool | None = None, show: bool = True):
        self.rows = {name: _Row() for name in names}
        self.console = console
        self.show = show
        self.live_enabled = show and (console.is_terminal if live is None else live)
        self._lock = threading.Lock()
        self._live: Live | None = None

    def __enter__(self) -> "Progress":
        if self.live_enabled:
            self._live = Live(self._table(), console=self.console, refresh_per_second=4, transient=False,
                              get_renderable=self._table)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live:
            self._live.__exit__(None, None, None)

    def update(self, name: str, status: str, style: str = "") -> None:
        with self._lock:
            row = self.rows[name]
            if row.started is None:
                row.started = time.monotonic()
            row.status, row.style = status, style
            if style in ("green", "red"):
                row.finished = time.monotonic()
            if self.show and not self._live:
                elapsed = f" ({row.finished - row.started:.1f} s)" if row.finished else ""
                self.console.print(f"{name}: {status}{elapsed}", highlight=False, markup=False, soft_wrap=True)

    def _table(self) -> Table:
        table = Table(box=None, show_header=True, header_style="bold")
        table.add_column("stack")
        table.add_column("status")
        table.add_column("time", justify="right")
        now = time.monotonic()
        for name, row in self.rows.items():
            elapsed = "" if row.started is None else f"{(row.finished or now) - row.started:.0f} s"
            table.add_row(name, f"[{row.style}]{row.status}[/{row.style}]" if row.style else row.status, elapsed)
        return table


StackAction = Callable[[str, Callable[[str], None]], T]


@contextmanager
def _ctrl_c(on_first: Callable[[], None], on_second: Callable[[], None]) -> Iterator[None]:
    """While stacks run: the first SIGINT calls on_first, any later one on_second (instead of
    KeyboardInterrupt, which would leave the worker threads and their terraform behind)."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread (e.g. a test's worker)
        return
    count = 0

    def handler(signum: int, frame: object) -> None:
        nonlocal count
        count += 1
        (on_first if count == 1 else on_second)()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def run_stacks(names: list[str], action: StackAction[T], parallelism: int, console: Console,
               live: bool | None = None, done_label: str = "done", show: bool = True,
               command: str | None = None) -> dict[str, StackResult[T]]:
    """Run `action(stack, report)` for every stack, at most `parallelism` at once; `report(text)` sets
    the stack's status line (`show=False`: no progress display, for quick reads). Returns every
    stack's result (in `names` order); never raises for a stack's failure.

    Ctrl-C: each running terraform gets one SIGINT and stops gracefully (releasing its state lock),
    waiting stacks are not started; once all have stopped, InterruptedRun says which stacks to re-run
    with `iam-foundry <command>`. A second Ctrl-C kills the running terraform processes."""
    results: dict[str, StackResult[T]] = {name: StackResult(name) for name in names}
    killed = False
    RUNNING.reset()
    with Progress(names, console, live, show) as progress:
        def one(name: str) -> None:
            start = time.monotonic()
            result = results[name]
            if RUNNING.interrupted.is_set():
                result.state = "not started"
                result.problems = [Problem(f"stack '{name}'", "not started: the run was interrupted")]
                progress.update(name, "not started (interrupted)", "yellow")
                return
            result.state = "running"
            try:
                result.value = action(name, lambda text: progress.update(name, text))
            except FoundryError as err:
                result.problems = err.problems
            except Exception as err:  # noqa: BLE001 - one stack's bug must not hide the others' results
                result.problems = [Problem(f"stack '{name}'", f"{type(err).__name__}: {err}")]
            result.seconds = time.monotonic() - start
            # An action that was running at the interrupt: its failure is the interrupt's doing.
            result.state = "interrupted" if RUNNING.interrupted.is_set() and result.problems else "done"
            if result.state == "interrupted":
                progress.update(name, "interrupted", "yellow")
            elif result.ok:
                progress.update(name, done_label, "green")
            else:
                progress.update(name, f"failed: {_headline(result.problems[0])}", "red")

        def first() -> None:
            count = RUNNING.interrupt()
            console.print(f"Interrupted: stopping {count} running terraform (each releases its state lock); "
                          "press Ctrl-C again to kill them", highlight=False)

        def second() -> None:
            nonlocal killed
            killed = True
            RUNNING.kill()
            console.print("Killing the running terraform processes", highlight=False)

        with _ctrl_c(first, second), ThreadPoolExecutor(max_workers=max(1, min(parallelism, len(names) or 1)),
                                                         thread_name_prefix="stack") as pool:
            futures = [pool.submit(one, name) for name in names]
            for future in futures:
                future.result()
    if RUNNING.interrupted.is_set() and command is not None:
        raise InterruptedRun(results, command, killed)
    return results


def _headline(problem: Problem) -> str:
    """One line for a problem: Terraform's own `Error:` line when there is one, else the first line."""
    lines = [line.strip() for line in problem.message.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error:")]
    return (errors[0] if errors else lines[0] if lines else problem.where)[:300]


def failure_summary(results: dict[str, StackResult[T]], verb: str) -> FoundryError | None:
    """One problem per failed stack, naming it and its error; None when every stack succeeded."""
    failed = [r for r in results.values() if not r.ok]
    if not failed:
        return None
    problems = []
    for result in failed:
        for problem in result.problems:  # each of the stack's problems, one line each
            problems.append(Problem(f"stack '{result.name}'", f"{verb} failed: {_headline(problem)}",
                                    problem.fix or "fix the cause and re-run; stacks that succeeded are not redone"))
    ok = len(results) - len(failed)
    problems.append(Problem("summary", f"{len(failed)} of {len(results)} stacks failed, {ok} succeeded",
                            f"re-run with -s {' -s '.join(r.name for r in failed)} after fixing"))
    return FoundryError(problems)


def print_failure_details(results: dict[str, StackResult[T]], console: Console) -> None:
    """The whole message of each failed stack (Terraform's output tail), before the one-line summary."""
    for result in results.values():
        for problem in result.problems:
            if "\n" in problem.message:
                console.print(f"[red]{result.name}[/red]: {problem.where}", highlight=False)
                console.print(problem.message, markup=False, highlight=False, style="dim")
