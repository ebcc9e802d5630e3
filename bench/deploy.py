#!/usr/bin/env python3
"""iam-foundry deployment benchmark: `up` and `destroy` of 1, 5 and 20 deployments on LocalStack, in one run.

    .venv/bin/python bench/deploy.py [--endpoint URL] [--parallelism N] [--no-sequential]   (or `make bench-deploy`)

Each row is a fresh `python -m iam_foundry ... up` (validate, synth, init, apply, outputs, handoff) or
`destroy --yes` process, timed start to exit, with the peak RSS of its whole process tree (python,
terraform, provider plugins). Prints the load of the machine before and after, a table of times,
ratios against one deployment and the targets, and writes bench/deploy-results.json. It reports
only: a missed target does not change the exit code. See bench/README.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))
from proctree import METHOD, CommandFailed, Run, measure  # bench/ is sys.path[0] when run as a script
from run import base_env, machine, write_toml

from iam_foundry.config.target import DEFAULT_LOCALSTACK_ENDPOINT
from iam_foundry.ops import localstack

RESULTS = BENCH / "deploy-results.json"
COUNTS = (1, 5, 20)
STATE_BUCKET = "iam-foundry-bench-state"
TARGETS = {5: 2.2, 20: 6.0}  # n deployments <= limit x one deployment, for up and for destroy
console = Console(width=None if sys.stdout.isatty() else 150)


def config_for(count: int, endpoint: str, tag: str) -> dict[str, Any]:
    """n nextai deployments with names no one else uses, state under a key prefix of this run."""
    return {
        "region": "us-east-1",
        "localstack": {"enabled": True, "endpoint": endpoint},
        "backend": {"type": "s3", "bucket": STATE_BUCKET, "key_prefix": f"bench-{tag}-{count}"},
        "deployments": [{"name": f"d{i:03d}", "profile": "nextai", "user_name": f"bench-{tag}-{count}-{i:03d}-user",
                         "policy_name": f"bench-{tag}-{count}-{i:03d}-policy", "role_name": f"bench-{tag}-{count}-{i:03d}-role",
                         "addenda": ["clone-disk", "s3-access"]} for i in range(count)],
    }


def cli(config: Path, outdir: Path, *args: str) -> Run:
    return measure([sys.executable, "-m", "iam_foundry", "--config", str(config), "--outdir", str(outdir), *args],
                   base_env(), ROOT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoint", default=os.environ.get("IAM_FOUNDRY_TEST_LOCALSTACK", DEFAULT_LOCALSTACK_ENDPOINT),
                        help="a running LocalStack (default: the project's, %(default)s)")
    parser.add_argument("--parallelism", type=int, default=None, help="passed to up/destroy (default: the CLI's own)")
    parser.add_argument("--no-sequential", action="store_true", help="skip the --parallelism 1 reference rows for 5 deployments")
    args = parser.parse_args()
    if not localstack.is_ready(args.endpoint):
        console.print(f"[red]no LocalStack answers at {args.endpoint}[/red]: start one (`iam-foundry localstack start`) or pass --endpoint")
        sys.exit(2)
    localstack.ensure_state_bucket(args.endpoint, STATE_BUCKET, "us-east-1")
    info = machine()
    load_before = Path("/proc/loadavg").read_text().split()[:3]
    console.print(f"[bold]machine[/bold]: nproc {info['nproc']}, {info['memory']} RAM, {info['cpu']}; "
                  f"load before {' '.join(load_before)}", highlight=False)
    parallel = ["--parallelism", str(args.parallelism)] if args.parallelism else []
    plans: list[tuple[str, int, list[str]]] = [(f"{n}", n, parallel) for n in COUNTS]
    if not args.no_sequential:
        plans.append(("5 sequential", 5, ["--parallelism", "1"]))
    rows: dict[str, dict[str, Any]] = {}
    tag = uuid.uuid4().hex[:6]
    with tempfile.TemporaryDirectory(prefix="iam-foundry-bench-deploy-") as tmp_name:
        tmp = Path(tmp_name)
        for index, (label, count, extra) in enumerate(plans):
            config = write_toml(tmp / f"{label.replace(' ', '-')}.toml", config_for(count, args.endpoint, f"{tag}{index}"))
            outdir = tmp / f"out-{label.replace(' ', '-')}"
            up = cli(config, outdir, "up", "--handoff-file", str(tmp / "handoff.json"), *extra)
            console.print(f"  up {label}: {up.seconds:.1f} s, {up.peak_rss_mib:.0f} MiB", style="dim", highlight=False)
            destroy = cli(config, outdir, "destroy", "--yes", *extra)
            console.print(f"  destroy {label}: {destroy.seconds:.1f} s, {destroy.peak_rss_mib:.0f} MiB", style="dim", highlight=False)
            rows[label] = {"deployments": count, "args": extra,
                           "up": {"seconds": up.seconds, "peak_rss_mib": up.peak_rss_mib},
                           "destroy": {"seconds": destroy.seconds, "peak_rss_mib": destroy.peak_rss_mib}}
    load_after = Path("/proc/loadavg").read_text().split()[:3]

    targets = {}
    for op in ("up", "destroy"):
        one = rows["1"][op]["seconds"]
        for count, limit in TARGETS.items():
            ratio = rows[str(count)][op]["seconds"] / one
            targets[f"{op}_{count}_vs_1"] = {"value": ratio, "limit": limit, "met": ratio <= limit}
    table = Table(title="iam-foundry up / destroy on LocalStack (one run each)",
                  caption=f"load average before {' '.join(load_before)}, after {' '.join(load_after)} (1/5/15 min). {METHOD}.",
                  caption_justify="left")
    for column in ("deployments", "up", "ratio", "destroy", "ratio", "peak RSS up / destroy", "targets"):
        table.add_column(column)
    for label, row in rows.items():
        cells = [label]
        verdicts = []
        for op in ("up", "destroy"):
            ratio = row[op]["seconds"] / rows["1"][op]["seconds"]
            cells += [f"{row[op]['seconds']:.1f} s", f"{ratio:.2f} x"]
            target = targets.get(f"{op}_{row['deployments']}_vs_1") if label == str(row["deployments"]) else None
            if target:
                verdicts.append(f"{op} ≤ {target['limit']} x: " + ("[green]met[/green]" if target["met"] else "[red]not met[/red]"))
        cells += [f"{row['up']['peak_rss_mib']:.0f} / {row['destroy']['peak_rss_mib']:.0f} MiB", "; ".join(verdicts) or "-"]
        table.add_row(*cells)
    console.print(table)
    RESULTS.write_text(json.dumps({
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"), "machine": info,
        "load_before": load_before, "load_after": load_after, "endpoint": args.endpoint, "rss_method": METHOD,
        "rows": rows, "targets": targets,
    }, indent=2) + "\n")
    console.print(f"results written to {RESULTS.relative_to(ROOT)}", style="dim")


if __name__ == "__main__":
    try:
        main()
    except CommandFailed as err:  # a step itself failed: say which, without a traceback
        console.print(f"[red]benchmark step failed[/red]: {err}", highlight=False)
        sys.exit(1)
