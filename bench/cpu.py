#!/usr/bin/env python3
"""Where the CPU of `up` and `destroy` goes: CPU seconds per phase, for n deployments on LocalStack.

    .venv/bin/python bench/cpu.py [--counts 1 5] [--parallelism N] [--endpoint URL]

Wall time is noisy on a shared machine; CPU seconds are not (much). Each command runs as a fresh
`python -m iam_foundry` process; its CPU (user+sys) is read with wait4, which covers every descendant
that was waited for (terraform, its provider plugins, jsii's node). A `terraform` shim first on PATH
logs each terraform command's own CPU (with its provider) by subcommand, so the python side is the
rest. LocalStack's CPU is read from /proc/<pid>/stat before and after (it serves every stack's calls).
Reports only; writes bench/cpu-results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import stat
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))
from deploy import STATE_BUCKET, config_for  # bench/ is sys.path[0] when run as a script
from run import base_env, write_toml

from iam_foundry.config.target import DEFAULT_LOCALSTACK_ENDPOINT
from iam_foundry.ops import localstack

RESULTS = BENCH / "cpu-results.json"
TICKS = os.sysconf("SC_CLK_TCK")
# bash's `times` prints the shell's and then its children's user and sys time: the second line is terraform's.
SHIM = """#!/bin/bash
{terraform} "$@"
code=$?
times > {log}.$$
printf '%s\\t%s\\n' "$1" "$(tail -n 1 {log}.$$)" >> {log}
rm -f {log}.$$
exit $code
"""


def process_cpu(pid: int) -> float:
    """user+sys seconds of one process (not its children)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def localstack_pid(endpoint: str) -> int | None:
    port = endpoint.rsplit(":", 1)[-1].strip("/")
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if "localstack.runtime.main" in cmdline:
                return int(entry.name)
    return None


def seconds(text: str) -> float:
    """bash `times` format: 0m1.234s"""
    minutes, rest = text.rstrip("s").split("m")
    return int(minutes) * 60 + float(rest)


def run(command: list[str], env: dict[str, str], ls_pid: int | None) -> dict[str, Any]:
    import subprocess

    ls_before = process_cpu(ls_pid) if ls_pid else 0.0
    start = time.perf_counter()
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=errors)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - start
        if process.returncode:
            errors.seek(0)
            raise SystemExit(f"{' '.join(command)} failed:\n{errors.read().decode()[-3000:]}")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime,
            "localstack_cpu": (process_cpu(ls_pid) - ls_before) if ls_pid else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoint", default=os.environ.get("IAM_FOUNDRY_TEST_LOCALSTACK", DEFAULT_LOCALSTACK_ENDPOINT))
    parser.add_argument("--counts", type=int, nargs="+", default=[1, 5])
    parser.add_argument("--parallelism", type=int, default=None)
    args = parser.parse_args()
    localstack.ensure_state_bucket(args.endpoint, STATE_BUCKET, "us-east-1")
    ls_pid = localstack_pid(args.endpoint)
    real = shutil.which("terraform")
    assert real, "terraform not on PATH"
    tag = uuid.uuid4().hex[:6]
    results: dict[str, Any] = {"load_before": Path("/proc/loadavg").read_text().split()[:3], "rows": {}}
    with tempfile.TemporaryDirectory(prefix="iam-foundry-bench-cpu-") as tmp_name:
        tmp = Path(tmp_name)
        shim_dir, log = tmp / "bin", tmp / "terraform.log"
        shim_dir.mkdir()
        shim = shim_dir / "terraform"
        shim.write_text(SHIM.format(terraform=real, log=log))
        shim.chmod(shim.stat().st_mode | stat.S_IXUSR)
        env = base_env(PATH=f"{shim_dir}:{os.environ['PATH']}")
        extra = ["--parallelism", str(args.parallelism)] if args.parallelism else []
        for count in args.counts:
            config = write_toml(tmp / f"{count}.toml", config_for(count, args.endpoint, f"cpu{tag}{count}"))
            outdir = tmp / f"out-{count}"
            row = {}
            for op, op_args in (("up", ["up", "--handoff-file", str(tmp / "handoff.json")]), ("destroy", ["destroy", "--yes"])):
                log.write_text("")
                measured = run([sys.executable, "-m", "iam_foundry", "--config", str(config), "--outdir", str(outdir),
                                *op_args, *extra], env, ls_pid)
                per_command: dict[str, list[float]] = defaultdict(list)
                for line in log.read_text().splitlines():
                    sub, times = line.split("\t")
                    user, system = times.split()
                    per_command[sub].append(seconds(user) + seconds(system))
                terraform_cpu = sum(sum(v) for v in per_command.values())
                measured["terraform"] = {sub: {"runs": len(v), "cpu": sum(v)} for sub, v in per_command.items()}
                measured["python_and_node_cpu"] = measured["cpu"] - terraform_cpu
                row[op] = measured
                ls_cpu = measured["localstack_cpu"]
                print(f"{op} {count}: wall {measured['wall']:.1f} s, tree CPU {measured['cpu']:.1f} s "
                      f"({measured['cpu'] / count:.1f} s/stack), python+node {measured['python_and_node_cpu']:.1f} s, "
                      f"LocalStack {ls_cpu if ls_cpu is None else round(ls_cpu, 1)} s", flush=True)
                for sub, item in sorted(measured["terraform"].items()):
                    print(f"    terraform {sub}: {item['runs']} runs, {item['cpu']:.1f} s CPU", flush=True)
            results["rows"][str(count)] = row
    results["load_after"] = Path("/proc/loadavg").read_text().split()[:3]
    print(f"load before {' '.join(results['load_before'])}, after {' '.join(results['load_after'])}")
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
