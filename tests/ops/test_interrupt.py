"""Ctrl-C during a parallel run: one SIGINT per running terraform, waiting stacks never start, exit 130
with the stacks to re-run; a second Ctrl-C kills. Uses a fake `terraform` that traps SIGINT."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Stands in for `terraform apply`: says it started, then runs until SIGINT; on SIGINT it records the
# signal (as terraform would stop and release its lock) and exits 1 - or, with IGNORE_INT, keeps going.
FAKE_TERRAFORM = """#!/bin/bash
name=$(basename "$PWD")
on_int() {
  echo int >> "$MARKS/$name.int"
  if [ -z "$IGNORE_INT" ]; then echo "Interrupt received. Gracefully shutting down..."; exit 1; fi
}
trap on_int INT
echo started >> "$MARKS/$name.started"
for i in $(seq 600); do sleep 0.05; done
echo finished >> "$MARKS/$name.finished"
"""

DRIVER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from rich.console import Console
    from iam_foundry.ops.runner import InterruptedRun, run_stacks
    from iam_foundry.ops.terraform import Terraform

    root, names = Path(sys.argv[1]), sys.argv[2:]
    def apply(stack, report):
        (root / stack).mkdir(exist_ok=True)
        Terraform(root / stack).apply()
    try:
        run_stacks(names, apply, 2, Console(stderr=True, force_terminal=False, width=300), command="up")
    except InterruptedRun as err:
        for problem in err.problems:
            print(problem, file=sys.stderr)
        sys.exit(err.exit_code)
""")


def start_run(tmp_path: Path, names: list[str], ignore_int: bool = False) -> tuple[subprocess.Popen[str], Path]:
    bin_dir, marks = tmp_path / "bin", tmp_path / "marks"
    bin_dir.mkdir()
    marks.mkdir()
    fake = bin_dir / "terraform"
    fake.write_text(FAKE_TERRAFORM)
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "MARKS": str(marks), "PYTHONPATH": str(ROOT)}
    if ignore_int:
        env["IGNORE_INT"] = "1"
    (tmp_path / "stacks").mkdir()
    # Its own process group, like a shell's foreground job: killpg below is the terminal's Ctrl-C.
    process = subprocess.Popen([sys.executable, "-c", DRIVER, str(tmp_path / "stacks"), *names], env=env, cwd=ROOT,
                               text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, process_group=0)
    return process, marks


def wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def marks_of(marks: Path, kind: str) -> dict[str, int]:
    return {path.name.split(".")[0]: len(path.read_text().split()) for path in marks.glob(f"*.{kind}")}


def test_ctrl_c_reaches_each_running_terraform_once_and_waiting_stacks_never_start(tmp_path):
    names = ["alpha", "beta", "gamma"]
    process, marks = start_run(tmp_path, names)
    wait_for(lambda: len(marks_of(marks, "started")) == 2)  # parallelism 2: the third waits
    os.killpg(process.pid, signal.SIGINT)  # the terminal's Ctrl-C: the whole foreground group
    _, err = process.communicate(timeout=30)
    running = set(marks_of(marks, "started"))
    waiting = set(names) - running
    assert process.returncode == 130, err
    # Exactly one SIGINT each (a second would make terraform quit without releasing its lock).
    assert marks_of(marks, "int") == {name: 1 for name in running}
    assert not marks_of(marks, "finished") and len(waiting) == 1
    assert f"stopped while running: {', '.join(sorted(running))}" in err and "locks released" in err
    assert f"never started: {waiting.pop()}" in err
    assert "to continue, run `iam-foundry up -s " in err and all(f"-s {name}" in err for name in names)


def test_a_second_ctrl_c_kills_what_does_not_stop(tmp_path):
    names = ["alpha", "beta"]
    process, marks = start_run(tmp_path, names, ignore_int=True)
    wait_for(lambda: len(marks_of(marks, "started")) == 2)
    os.killpg(process.pid, signal.SIGINT)
    wait_for(lambda: len(marks_of(marks, "int")) == 2)  # asked, and ignoring it
    started = time.monotonic()
    os.killpg(process.pid, signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130, err
    assert time.monotonic() - started < 10  # killed, not waited for (the fakes run 30 s)
    assert not marks_of(marks, "finished")
    assert "they were killed, so a state lock may be left" in err and "force-unlock" in err
