#!/usr/bin/env python3
"""Synth speed and scale, side by side in one run: `python bench/run.py` (or `make bench`).

Prints medians and ratios against the targets of the project; writes bench/results.json. Nothing
here is a test: it reports, it never fails on a number.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from iam_foundry import localstack as ls  # noqa: E402
from iam_foundry.terraform import terraform_env  # noqa: E402

PYTHON = sys.executable
BENCH_ENDPOINT = "http://127.0.0.1:4599"  # its own LocalStack, not the tests' or `make up`'s
console = Console()


def tree_rss_kb(pid: int) -> int:
    """RSS of a process and all its descendants (jsii runs a node child), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
        stack += children.get(current, [])
    return total


def measure(command: list[str], env: dict[str, str] | None = None, cwd: Path = ROOT) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of the whole process tree, polled every 20 ms."""
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    while process.poll() is None:
        peak = max(peak, tree_rss_kb(process.pid))
        time.sleep(0.02)
    elapsed = time.perf_counter() - start
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{process.stderr.read().decode()}")
    return elapsed, peak / 1024


def median_of(runs: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(r[0] for r in runs), max(r[1] for r in runs)


def base_env(**extra: str) -> dict[str, str]:
    return dict(os.environ, JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20", **extra)


def scale_config(path: Path, count: int) -> Path:
    lines = ['region = "us-east-1"', "[localstack]", "enabled = true", "[backend]", 'bucket = "iam-foundry-state"']
    for index in range(count):
        lines += ["[[deployments]]", f'name = "team{index}"', 'profile = "nextai"', f'user_name = "user{index}"',
                  f'policy_name = "policy{index}"', f'role_name = "role{index}"', 'addenda = ["clone-disk", "s3-access"]']
    path.write_text("\n".join(lines) + "\n")
    return path


def synth_run(tmp: Path, config: Path | None = None, cold: bool = True) -> tuple[float, float]:
    outdir = Path(tempfile.mkdtemp(dir=tmp))
    extra = {"CDKTF_OUTDIR": str(outdir)}
    if config:
        extra["IAM_FOUNDRY_CONFIG"] = str(config)
    if cold:
        extra["IAM_FOUNDRY_NO_CACHE"] = "1"
    else:  # warm the cache first, then time the unchanged run
        measure([PYTHON, "main.py"], base_env(**extra))
    return measure([PYTHON, "main.py"], base_env(**extra))


def plan_comparison(tmp: Path, repeat: int) -> tuple[float, float]:
    state_dir = tmp / "localstack"
    started = ls.start(BENCH_ENDPOINT, state_dir=state_dir)
    try:
        config = tmp / "plan.toml"
        config.write_text(f'region = "us-east-1"\n[localstack]\nendpoint = "{BENCH_ENDPOINT}"\n[backend]\ntype = "local"\n'
                          '[[deployments]]\nname = "nextai"\nprofile = "nextai"\naddenda = ["clone-disk", "open-ports", "s3-access"]\n'
                          '[deployments.tags]\nTeam = "ml-platform"\n')
        out = tmp / "plan-out"
        subprocess.run([PYTHON, "-m", "iam_foundry", "--config", str(config), "--outdir", str(out), "synth"], cwd=ROOT,
                       env=base_env(), check=True, capture_output=True)
        project_dir = out / "stacks" / "nextai"
        hcl_dir = tmp / "hcl"
        shutil.copytree(ROOT / "bench" / "hcl", hcl_dir)
        env = terraform_env(base_env())
        for folder in (project_dir, hcl_dir):
            subprocess.run(["terraform", "init", "-input=false", "-no-color"], cwd=folder, env=env, check=True, capture_output=True)
        project, hcl = [], []
        for _ in range(repeat):  # alternate, so both see the same machine state
            project.append(measure(["terraform", "plan", "-input=false", "-refresh=true", "-no-color"], env, project_dir))
            hcl.append(measure(["terraform", "plan", "-input=false", "-refresh=true", "-no-color", f"-var=endpoint={BENCH_ENDPOINT}"],
                               env, hcl_dir))
        return median_of(project)[0], median_of(hcl)[0]
    finally:
        if started:
            ls.stop(state_dir)


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory = next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))
    terraform = subprocess.run(["terraform", "version"], capture_output=True, text=True).stdout.splitlines()[0]
    return f"{os.cpu_count()} cores, {int(memory) // 1024 // 1024} GiB, {cpu}; Python {platform.python_version()}; {terraform}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3, help="repetitions per measurement (median reported)")
    parser.add_argument("--quick", action="store_true", help="one repetition, no terraform plan comparison")
    args = parser.parse_args()
    repeat = 1 if args.quick else args.repeat
    rows: list[tuple[str, str, str, str]] = []
    results: dict[str, object] = {"machine": machine(), "repeat": repeat}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        with console.status("1/5 floor: importing the typed AWS binding"):
            floor = median_of([measure([PYTHON, "-c", "import cdktf_cdktf_provider_aws.iam_user"], base_env()) for _ in range(repeat)])
        with console.status("2/5 cold synth"):
            cold = median_of([synth_run(tmp) for _ in range(repeat)])
        with console.status("3/5 unchanged synth"):
            warm = median_of([synth_run(tmp, cold=False) for _ in range(repeat)])
        scale = {}
        for count in (1, 10, 100):
            with console.status(f"4/5 scale: {count} deployments"):
                config = scale_config(tmp / f"scale{count}.toml", count)
                scale[count] = median_of([synth_run(tmp, config) for _ in range(repeat)])
        plans = None
        if not args.quick:
            with console.status("5/5 terraform plan: project stack vs hand-written HCL (LocalStack)"):
                plans = plan_comparison(tmp, repeat)

    def verdict(ok: bool) -> str:
        return "[green]met[/green]" if ok else "[red]not met[/red]"

    rows.append(("floor: import typed AWS binding", f"{floor[0]:.2f} s", f"{floor[1]:.0f} MB", "-"))
    rows.append(("cold synth, default config", f"{cold[0]:.2f} s", f"{cold[1]:.0f} MB",
                 f"{cold[0] / floor[0]:.3f} x floor (≤ 0.25: {verdict(cold[0] <= 0.25 * floor[0])})"))
    rows.append(("synth, nothing changed", f"{warm[0]:.2f} s", f"{warm[1]:.0f} MB", f"≤ 0.5 s: {verdict(warm[0] <= 0.5)}"))
    for count, (seconds, rss) in scale.items():
        ratio = seconds / scale[1][0]
        note = f"{ratio:.2f} x 1 deployment"
        if count == 100:
            note += f" (≤ 2: {verdict(ratio <= 2)}); RSS ≤ 300 MB: {verdict(rss <= 300)}"
        rows.append((f"cold synth, {count} deployments", f"{seconds:.2f} s", f"{rss:.0f} MB", note))
    if plans:
        rows.append(("terraform plan, project stack", f"{plans[0]:.2f} s", "-",
                     f"{plans[0] / plans[1]:.2f} x HCL (≤ 1.2: {verdict(plans[0] <= 1.2 * plans[1])})"))
        rows.append(("terraform plan, hand-written HCL", f"{plans[1]:.2f} s", "-", "-"))
    results.update(floor=floor, cold=cold, unchanged=warm, scale={str(k): v for k, v in scale.items()}, plans=plans)
    table = Table(title=f"iam-foundry synth benchmark (median of {repeat}; peak RSS = python + node tree, polled /proc every 20 ms)",
                  caption=results["machine"])
    for column in ("measurement", "time", "peak RSS", "ratio / target"):
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    console.print(table)
    (ROOT / "bench" / "results.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
