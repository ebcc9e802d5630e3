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
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Generic, Iterator, TypeVar

from rich.console import Console
from rich.live import Live
from rich.table import Table

from iam_foundry.errors import FoundryError, Problem
from iam_foundry.ops.terraform import Terraform, plugin_cache_dir, terraform_env

T = TypeVar("T")
INIT_MARKER = "iam-foundry-init.json"  # inside .terraform: moves with it between synths
MAX_DEFAULT_PARALLELISM = 8


def default_parallelism() -> int:
    """Terraform runs wait on the network much of the time, so twice the CPUs keeps them busy without
    thrashing; capped because each run holds a provider process of a few hundred MB."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(MAX_DEFAULT_PARALLELISM, 2 * cpus))


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

    @property
    def ok(self) -> bool:
        return not self.problems


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


def run_stacks(names: list[str], action: StackAction[T], parallelism: int, console: Console,
               live: bool | None = None, done_label: str = "done", show: bool = True) -> dict[str, StackResult[T]]:
    """Run `action(stack, report)` for every stack, at most `parallelism` at once; `report(text)` sets
    the stack's status line (`show=False`: no progress display, for quick reads). Returns every
    stack's result (in `names` order); never raises for a stack's failure."""
    results: dict[str, StackResult[T]] = {name: StackResult(name) for name in names}
    with Progress(names, console, live, show) as progress:
        def one(name: str) -> None:
            start = time.monotonic()
            result = results[name]
            try:
                result.value = action(name, lambda text: progress.update(name, text))
            except FoundryError as err:
                result.problems = err.problems
            except Exception as err:  # noqa: BLE001 - one stack's bug must not hide the others' results
                result.problems = [Problem(f"stack '{name}'", f"{type(err).__name__}: {err}")]
            result.seconds = time.monotonic() - start
            if result.ok:
                progress.update(name, done_label, "green")
            else:
                progress.update(name, f"failed: {_headline(result.problems[0])}", "red")

        with ThreadPoolExecutor(max_workers=max(1, min(parallelism, len(names) or 1)),
                                thread_name_prefix="stack") as pool:
            for future in [pool.submit(one, name) for name in names]:
                future.result()
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
