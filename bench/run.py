#!/usr/bin/env python3
"""iam-foundry benchmark: synth speed, scale and plan cost, side by side in one run.

    .venv/bin/python bench/run.py [--repeat N] [--quick]      (from the project root; or `make bench`)

Prints the machine, then a table of medians, ratios and targets (met / not met), and writes
bench/results.json. It only reports: no number ever makes it fail. See bench/README.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))
from proctree import METHOD, CommandFailed, Run, measure  # bench/ is sys.path[0] when run as a script

from iam_foundry.ops import localstack  # light: neither imports cdktf
from iam_foundry.ops.terraform import terraform_env

PYTHON = sys.executable
RESULTS = BENCH / "results.json"
HCL_DIR = BENCH / "hcl"
BENCH_ENDPOINT = "http://127.0.0.1:4599"  # a LocalStack of its own, apart from `make up`'s and the tests'
SCALE_COUNTS = (1, 10, 100)
FLOOR_COMMAND = [PYTHON, "-c", "import cdktf_cdktf_provider_aws.iam_user"]
PLAN_COMMAND = ["terraform", "plan", "-input=false", "-refresh=true", "-no-color"]
# Settings of the caller's shell that would change what a synth reads or whether it is skipped.
SCRUBBED = ("IAM_FOUNDRY_CONFIG", "IAM_FOUNDRY_OUTDIR", "IAM_FOUNDRY_NO_CACHE", "CDKTF_OUTDIR")

console = Console(width=None if sys.stdout.isatty() else 150)  # a log file gets the whole table
warnings: list[str] = []  # things that make a number mean less than its label says


def base_env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in SCRUBBED}
    env["JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"] = "20"
    env.update(extra)
    return env


def run_checked(command: list[str], cwd: Path, env: dict[str, str]) -> str:
    """An untimed step (init, synth for the plan, show); its stdout."""
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                            stdin=subprocess.DEVNULL, check=False)
    if result.returncode != 0:
        raise CommandFailed(f"`{' '.join(command)}` in {cwd} exited with {result.returncode}:\n"
                            f"{(result.stdout + result.stderr).strip()[-3000:]}")
    return result.stdout


# --- configs -------------------------------------------------------------------------------------

def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML for {value!r}")


def write_toml(path: Path, config: dict[str, Any]) -> Path:
    """Enough TOML for an iam-foundry config: scalars, [tables], [[arrays of tables]], inline nesting."""
    lines = [f"{key} = {toml_value(value)}" for key, value in config.items() if not isinstance(value, (dict, list))]
    for key, value in config.items():
        if isinstance(value, dict):
            lines += [f"\n[{key}]", *(f"{k} = {toml_value(v)}" for k, v in value.items())]
        elif isinstance(value, list):
            for item in value:
                lines += [f"\n[[{key}]]", *(f"{k} = {toml_value(v)}" for k, v in item.items())]
    text = "\n".join(lines) + "\n"
    assert tomllib.loads(text) == config, "write_toml lost something"
    path.write_text(text)
    return path


def scale_config(count: int) -> dict[str, Any]:
    return {
        "region": "us-east-1",
        "localstack": {"enabled": True},
        "backend": {"type": "s3", "bucket": "iam-foundry-state"},
        "deployments": [{"name": f"bench-{i:03d}", "profile": "nextai", "user_name": f"bench-user-{i:03d}",
                         "policy_name": f"bench-policy-{i:03d}", "role_name": f"bench-role-{i:03d}",
                         "addenda": ["clone-disk", "s3-access"]} for i in range(count)],
    }


def plan_config() -> dict[str, Any]:
    """The default config's `nextai` deployment, aimed at the benchmark's LocalStack, with local state."""
    config = tomllib.loads((ROOT / "iam-foundry.toml").read_text())
    config["localstack"] = {**config.get("localstack", {}), "enabled": True, "endpoint": BENCH_ENDPOINT}
    # Relative to the output folder's parent (see LocalBackend in iam_foundry/config/backends.py): stays inside the temp dir.
    config["backend"] = {"type": "local", "path": "state"}
    config["deployments"] = [d for d in config["deployments"] if d["name"] == "nextai"]
    return config


# --- parts 1-4: python processes -------------------------------------------------------------------

def synth(outdir: Path, config: Path | None = None, cache: bool = False) -> Run:
    extra = {"CDKTF_OUTDIR": str(outdir)}
    if config:
        extra["IAM_FOUNDRY_CONFIG"] = str(config)
    if not cache:
        extra["IAM_FOUNDRY_NO_CACHE"] = "1"
    return measure([PYTHON, "main.py"], base_env(**extra), ROOT)


def stack_files(outdir: Path) -> list[Path]:
    return sorted(outdir.glob("stacks/*/cdk.tf.json"))


def cold_synth(tmp: Path, config: Path | None = None, expect: int = 1) -> Run:
    outdir = Path(tempfile.mkdtemp(prefix="out-", dir=tmp))
    run = synth(outdir, config)
    if len(stack_files(outdir)) != expect:  # make sure the time is for the work we think it is
        raise RuntimeError(f"cold synth wrote {len(stack_files(outdir))} stacks into {outdir}, expected {expect}")
    shutil.rmtree(outdir)
    return run


def unchanged_synth(tmp: Path) -> Run:
    outdir = Path(tempfile.mkdtemp(prefix="out-", dir=tmp))
    synth(outdir, cache=True)  # the first run synthesizes and records the fingerprint
    before = [(p.stat().st_ino, p.stat().st_mtime_ns) for p in stack_files(outdir)]
    run = synth(outdir, cache=True)
    if [(p.stat().st_ino, p.stat().st_mtime_ns) for p in stack_files(outdir)] != before:
        warnings.append("unchanged synth rewrote its output: the cache did not hit")
    shutil.rmtree(outdir)
    return run


# --- part 5: terraform plan, project stack vs hand-written HCL ------------------------------------

def normalized_plan(folder: Path, env: dict[str, str]) -> dict[str, Any]:
    """What a plan would do, comparable across the two configurations (policy JSON parsed)."""
    run_checked(["terraform", "plan", "-input=false", "-refresh=true", "-no-color", "-out=bench.tfplan"], folder, env)
    plan = json.loads(run_checked(["terraform", "show", "-json", "bench.tfplan"], folder, env))
    (folder / "bench.tfplan").unlink()

    def parsed(values: dict[str, Any]) -> dict[str, Any]:
        return {k: json.loads(v) if k in ("policy", "assume_role_policy") and isinstance(v, str) else v
                for k, v in values.items()}

    return {
        "resources": {r["address"]: parsed(r.get("values", {})) for r in plan["planned_values"]["root_module"].get("resources", [])},
        "actions": {c["address"]: c["change"]["actions"] for c in plan.get("resource_changes", [])},
        "outputs": {name: o.get("value") for name, o in plan["planned_values"].get("outputs", {}).items()},
        "provider": plan["configuration"]["provider_config"]["aws"].get("expressions"),
        # `show -json` leaves the backend out; init records its type here.
        "backend": json.loads((folder / ".terraform" / "terraform.tfstate").read_text())["backend"]["type"],
    }


def differences(project: Any, hcl: Any, path: str = "") -> list[str]:
    """Leaf-level differences between two normalized plans (empty when they are the same plan)."""
    if isinstance(project, dict) and isinstance(hcl, dict):
        return [line for key in sorted(set(project) | set(hcl))
                for line in differences(project.get(key), hcl.get(key), f"{path}.{key}" if path else key)]
    return [] if project == hcl else [f"{path}: project {json.dumps(project)[:100]} != HCL {json.dumps(hcl)[:100]}"]


def plan_comparison(tmp: Path, repeat: int) -> dict[str, Any]:
    work = tmp / "plan"
    work.mkdir()
    config = write_toml(work / "plan.toml", plan_config())
    run_checked([PYTHON, "-m", "iam_foundry", "--config", str(config), "--outdir", str(work / "out"), "synth"],
                ROOT, base_env())
    folders = {"project": work / "out" / "stacks" / "nextai",
               "hcl": shutil.copytree(HCL_DIR, work / "hcl", ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*"))}
    env = terraform_env(base_env())
    state_dir = work / "localstack"
    here = os.getcwd()
    os.chdir(work)  # LocalStack inherits the working directory: keep its files out of the project
    try:
        started = localstack.start(BENCH_ENDPOINT, state_dir=state_dir)
    finally:
        os.chdir(here)
    if not started:
        warnings.append(f"a LocalStack was already answering at {BENCH_ENDPOINT}; it was used and left running")
    try:
        for folder in folders.values():
            run_checked(["terraform", "init", "-input=false", "-no-color"], folder, env)
        # One untimed plan each: checks the two are the same plan, and warms the provider binary's pages.
        plans = {name: normalized_plan(folder, env) for name, folder in folders.items()}
        diff = differences(plans["project"], plans["hcl"])
        if diff:
            warnings.append("hand-written HCL does not plan the same as the project stack:\n  " + "\n  ".join(diff))
        runs: dict[str, list[Run]] = {"project": [], "hcl": []}
        for index in range(repeat):  # alternate (ABBA...) so drift and order effects hit both alike
            for name in ("project", "hcl") if index % 2 == 0 else ("hcl", "project"):
                runs[name].append(run := measure(PLAN_COMMAND, env, folders[name]))
                progress(f"terraform plan, {name}", run)
        return {"runs": runs, "differences": diff, "resources": len(plans["project"]["actions"]),
                "backend": plans["project"]["backend"]}
    finally:
        if started:
            localstack.stop(state_dir)


# --- report ---------------------------------------------------------------------------------------

def machine() -> dict[str, str]:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), platform.processor())
    kib = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")))

    def version(command: list[str], env: dict[str, str] | None = None) -> str:
        try:
            return subprocess.run(command, capture_output=True, text=True, env=env, check=False).stdout.splitlines()[0].strip()
        except (OSError, IndexError):
            return "not found"

    return {"nproc": str(len(os.sched_getaffinity(0))), "memory": f"{kib / 1024 ** 2:.1f} GiB", "cpu": cpu,
            "python": platform.python_version(), "terraform": version(["terraform", "version"], terraform_env()),
            "node": version(["node", "--version"]), "kernel": platform.release()}


def progress(label: str, run: Run) -> None:
    console.print(f"  {label}: {run.seconds:.2f} s, {run.peak_rss_mib:.0f} MiB", style="dim", highlight=False)


def summary(label: str, runs: list[Run]) -> dict[str, Any]:
    return {"label": label, "runs": [{"seconds": r.seconds, "peak_rss_mib": r.peak_rss_mib} for r in runs],
            "median_seconds": statistics.median(r.seconds for r in runs),
            "median_peak_rss_mib": statistics.median(r.peak_rss_mib for r in runs)}


def collect(repeat: int, quick: bool) -> tuple[dict[str, dict[str, Any]], dict[str, Any] | None]:
    """Runs every part; per-row summaries (in table order) and part 5's details."""
    labels = {"floor": "1 floor: import typed AWS binding", "cold": "2 cold synth, default config",
              "unchanged": "3 synth, nothing changed",
              **{f"scale_{n}": f"4 cold synth, {n} deployment{'s' if n > 1 else ''}" for n in SCALE_COUNTS}}
    runs: dict[str, list[Run]] = {key: [] for key in labels}
    plan = None
    with tempfile.TemporaryDirectory(prefix="iam-foundry-bench-") as tmp_name:
        tmp = Path(tmp_name)
        configs = {n: write_toml(tmp / f"scale-{n}.toml", scale_config(n)) for n in SCALE_COUNTS}
        steps = {"floor": lambda: measure(FLOOR_COMMAND, base_env(), ROOT),
                 "cold": lambda: cold_synth(tmp),
                 "unchanged": lambda: unchanged_synth(tmp),
                 **{f"scale_{n}": (lambda n=n: cold_synth(tmp, configs[n], expect=n)) for n in SCALE_COUNTS}}
        # Round-robin over the parts, so slow drift of the machine touches every row alike.
        for rep in range(repeat):
            console.print(f"[bold]repetition {rep + 1}/{repeat}[/bold] (parts 1-4)")
            for key, step in steps.items():
                runs[key].append(run := step())
                progress(labels[key], run)
        if not quick:
            console.print(f"[bold]part 5[/bold]: terraform plan x {repeat} each, alternating (LocalStack at {BENCH_ENDPOINT})")
            plan = plan_comparison(tmp, repeat)
    rows = {key: summary(labels[key], value) for key, value in runs.items()}
    if plan:
        rows["plan_project"] = summary(f"5 terraform plan, project stack ({plan['resources']} resources)", plan["runs"]["project"])
        rows["plan_hcl"] = summary("5 terraform plan, hand-written HCL", plan["runs"]["hcl"])
    return rows, plan


def targets_of(rows: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The project's targets: value, limit (met when value <= limit), the row it belongs to."""
    t = {key: row["median_seconds"] for key, row in rows.items()}
    found = {
        "cold_vs_floor": ("cold", t["cold"] / t["floor"], 0.25, "≤ 0.25 x floor"),
        "unchanged_seconds": ("unchanged", t["unchanged"], 0.5, "≤ 0.5 s"),
        "scale_100_vs_1": ("scale_100", t["scale_100"] / t["scale_1"], 2.0, "≤ 2 x 1 deployment"),
        "scale_100_peak_rss_mib": ("scale_100", rows["scale_100"]["median_peak_rss_mib"], 300.0, "peak RSS ≤ 300 MiB"),
    }
    if "plan_project" in rows:
        found["plan_project_vs_hcl"] = ("plan_project", t["plan_project"] / t["plan_hcl"], 1.2, "≤ 1.2 x HCL")
    return {name: {"row": row, "value": value, "limit": limit, "text": text, "met": value <= limit}
            for name, (row, value, limit, text) in found.items()}


def ratios_of(rows: dict[str, dict[str, Any]], plan: dict[str, Any] | None) -> dict[str, str]:
    t = {key: row["median_seconds"] for key, row in rows.items()}
    ratios = {"cold": f"{t['cold'] / t['floor']:.3f} x floor", "unchanged": f"{t['unchanged'] / t['floor']:.4f} x floor",
              **{f"scale_{n}": f"{t[f'scale_{n}'] / t['scale_1']:.2f} x 1 deployment" for n in SCALE_COUNTS}}
    if plan:
        ratios["plan_project"] = f"{t['plan_project'] / t['plan_hcl']:.2f} x HCL"
        ratios["plan_hcl"] = "[red]plans differ (see warning)[/red]" if plan["differences"] else "identical plan"
    return ratios


def table_of(rows: dict[str, dict[str, Any]], targets: dict[str, dict[str, Any]], ratios: dict[str, str],
             repeat: int, plan: dict[str, Any] | None) -> Table:
    caption = f"time = median wall clock of a fresh process; min-max over the runs. {METHOD}; MiB = 2^20 bytes."
    if plan:
        caption += (f"\nplan: both with a {plan['backend']} backend and empty state (-refresh=true reads the caller-identity "
                    "data source), against the same LocalStack, runs alternated.")
    table = Table(title=f"iam-foundry benchmark: median of {repeat} run{'s' if repeat > 1 else ''} each",
                  caption=caption, caption_justify="left")
    for column, justify in (("measurement", "left"), ("time", "right"), ("min-max", "right"), ("peak RSS", "right"),
                            ("ratio", "left"), ("target", "left"), ("result", "left")):
        table.add_column(column, justify=justify)
    for key, row in rows.items():
        times = [run["seconds"] for run in row["runs"]]
        cells = [row["label"], f"{row['median_seconds']:.2f} s", f"{min(times):.2f}-{max(times):.2f}",
                 f"{row['median_peak_rss_mib']:.0f} MiB", ratios.get(key, "-")]
        mine = [target for target in targets.values() if target["row"] == key]
        for target in mine or [None]:  # a second target on the same row gets a continuation line
            verdict = "-" if target is None else "[green]met[/green]" if target["met"] else "[red]not met[/red]"
            table.add_row(*cells, target["text"] if target else "-", verdict)
            cells = [""] * len(cells)
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, metavar="N", help="repetitions of each measurement (default 3; medians reported)")
    parser.add_argument("--quick", action="store_true", help="one repetition, and no terraform plan comparison (part 5)")
    args = parser.parse_args()
    repeat = 1 if args.quick else args.repeat
    if repeat < 1:
        parser.error("--repeat must be at least 1")

    info = machine()
    console.print(f"[bold]machine[/bold]: nproc {info['nproc']}, {info['memory']} RAM, {info['cpu']}, Linux {info['kernel']}",
                  highlight=False)
    console.print(f"[bold]software[/bold]: Python {info['python']}, {info['terraform']}, Node {info['node']}", highlight=False)
    rows, plan = collect(repeat, args.quick)
    targets = targets_of(rows)
    console.print(table_of(rows, targets, ratios_of(rows, plan), repeat, plan))
    for warning in warnings:
        console.print(f"[yellow]warning:[/yellow] {escape(warning)}")

    RESULTS.write_text(json.dumps({
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": info, "repeat": repeat, "quick": args.quick, "rss_method": METHOD,
        "measurements": rows, "targets": targets,
        "plan": plan and {"backend": plan["backend"], "state": "empty", "endpoint": BENCH_ENDPOINT,
                          "resources": plan["resources"], "hcl_differences": plan["differences"]},
        "warnings": warnings,
    }, indent=2) + "\n")
    console.print(f"results written to {RESULTS.relative_to(ROOT)}", style="dim")


if __name__ == "__main__":
    main()
