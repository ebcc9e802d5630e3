"""Runs the terraform binary on synthesized stacks, with the provider mirror where the machine has one."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .errors import FoundryError, Problem
from .paths import MIRROR_CONFIG
MIRROR_DIR = Path("/opt/tf-plugins")


class TerraformError(FoundryError):
    pass


class StateLockedError(TerraformError):
    """Another run holds the state lock; nothing was changed."""


def terraform_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for terraform: the mirror CLI config where the mirror exists, no prompts, no telemetry."""
    env = dict(os.environ if base is None else base)
    if MIRROR_DIR.is_dir():
        env["TF_CLI_CONFIG_FILE"] = str(MIRROR_CONFIG)
    elif env.get("TF_CLI_CONFIG_FILE") and not Path(env["TF_CLI_CONFIG_FILE"]).is_file():
        env.pop("TF_CLI_CONFIG_FILE")  # a dangling setting only produces warnings
    env.setdefault("TF_IN_AUTOMATION", "1")
    env.setdefault("CHECKPOINT_DISABLE", "1")
    return env


@dataclass
class Terraform:
    """terraform in one stack's folder (cdktf.out/stacks/<name>, as the cdktf CLI uses it)."""

    workdir: Path
    echo: Callable[[str], None] | None = None  # receives output lines as they come

    def __post_init__(self) -> None:
        if not shutil.which("terraform"):
            raise TerraformError(Problem("terraform", "not found on PATH", "install Terraform >= 1.10"))

    def run(self, *args: str, check: bool = True, ok_codes: tuple[int, ...] = (0,),
            quiet: bool = False) -> subprocess.CompletedProcess[str]:
        """quiet: never echo, for commands whose output holds sensitive values in clear."""
        command = ["terraform", *args]
        process = subprocess.Popen(command, cwd=self.workdir, env=terraform_env(), text=True,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        lines = []
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if self.echo and not quiet:
                self.echo(line.rstrip("\n"))
        code = process.wait()
        output = "".join(lines)
        if check and code not in ok_codes:
            if "Error acquiring the state lock" in output:
                lock_id = re.search(r"ID:\s+(\S+)", output)
                raise StateLockedError(Problem(
                    f"terraform {args[0]} in {self.workdir}",
                    "the state is locked: another run of this stack is in progress" + (f" (lock {lock_id.group(1)})" if lock_id else ""),
                    "wait for the other run to finish; if it died, run `terraform force-unlock "
                    f"{lock_id.group(1) if lock_id else '<lock id>'}` in {self.workdir}, then re-run"))
            if "DeleteConflict" in output and "access key" in output.lower():
                raise TerraformError(Problem(
                    f"terraform {args[0]} in {self.workdir}",
                    "the IAM user has access keys (or other credentials) created outside Terraform, so it cannot be deleted",
                    "delete those keys, or set force_destroy = true on the deployment, apply, then destroy again"))
            tail = "\n".join(output.strip().splitlines()[-25:])
            if quiet and output.lstrip().startswith("{"):  # values as JSON, secrets included: never shown
                tail = "(output withheld: it holds output values, sensitive ones in clear)"
            raise TerraformError(Problem(f"terraform {args[0]} in {self.workdir}", f"exit code {code}:\n{tail}",
                                         "read the Terraform message above; fix the input or the target, then re-run"))
        return subprocess.CompletedProcess(command, code, output, "")

    def init(self) -> None:
        self.run("init", "-input=false", "-no-color", "-reconfigure")

    def plan_with_output(self, *extra: str) -> tuple[bool, str]:
        """(has changes, Terraform's plan text). Fails fast when another run holds the lock."""
        result = self.run("plan", "-input=false", "-no-color", "-lock-timeout=0s", "-detailed-exitcode", *extra, ok_codes=(0, 2))
        return result.returncode == 2, result.stdout

    def plan(self, *extra: str) -> bool:
        """Returns True when the plan has changes."""
        return self.plan_with_output(*extra)[0]

    def apply(self, *extra: str) -> None:
        # Fail fast when another run holds the lock, instead of waiting.
        self.run("apply", "-input=false", "-no-color", "-auto-approve", "-lock-timeout=0s", *extra)

    def destroy(self, *extra: str) -> None:
        self.run("destroy", "-input=false", "-no-color", "-auto-approve", *extra)

    def secret_output(self, name: str) -> str | None:
        """One sensitive output in clear, for the handoff file only (never echoed)."""
        raw = json.loads(self.run("output", "-json", "-no-color", quiet=True).stdout or "{}")
        return raw.get(name, {}).get("value")

    def outputs(self) -> dict[str, Any]:
        """Output values; sensitive ones are replaced by a marker, never returned in clear."""
        # `output -json` prints sensitive values in clear: never echoed, even with -v.
        result = self.run("output", "-json", "-no-color", quiet=True)
        raw = json.loads(result.stdout or "{}")
        return {name: ("(sensitive)" if item.get("sensitive") else item.get("value")) for name, item in raw.items()}
