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

from iam_foundry.errors import FoundryError, Problem
from iam_foundry.paths import MIRROR_CONFIG

MIRROR_DIR = Path("/opt/tf-plugins")
# Without a mirror every stack would download and unpack its own ~600 MB AWS provider: share one copy.
DEFAULT_PLUGIN_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "iam-foundry" / "terraform-plugins"


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
    if not MIRROR_DIR.is_dir() and not env.get("TF_PLUGIN_CACHE_DIR") and not _cli_config_sets_cache(env):
        try:
            DEFAULT_PLUGIN_CACHE.mkdir(parents=True, exist_ok=True)  # Terraform ignores a missing cache folder
            env["TF_PLUGIN_CACHE_DIR"] = str(DEFAULT_PLUGIN_CACHE)
        except OSError:
            pass  # an unwritable home: each stack downloads its own copy, as before
    return env


def _cli_config_sets_cache(env: dict[str, str]) -> bool:
    """The user's own CLI config already names a plugin cache: keep theirs."""
    path = env.get("TF_CLI_CONFIG_FILE")
    try:
        return bool(path) and "plugin_cache_dir" in Path(path).read_text()
    except OSError:
        return False


def plugin_cache_dir(env: dict[str, str]) -> Path | None:
    """The shared provider cache Terraform will use with this environment (None: the mirror is used)."""
    value = env.get("TF_PLUGIN_CACHE_DIR")
    if value:
        Path(value).mkdir(parents=True, exist_ok=True)
        return Path(value)
    return None


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
                lock_id = re.search(r"Lock Info:\s+ID:\s+(\S+)", output)  # not "RequestID: ..." of the S3 error
                raise StateLockedError(Problem(
                    f"terraform {args[0]} in {self.workdir}",
                    "the state is locked: another run of this stack is in progress" + (f" (lock {lock_id.group(1)})" if lock_id else ""),
                    "wait for the other run to finish; if it died, run `terraform force-unlock "
                    f"{lock_id.group(1) if lock_id else '<lock id>'}` in {self.workdir}, then re-run"))
            wrong_account = re.search(r"AWS account ID not allowed: (\d+)", output)
            if wrong_account:  # allowed_account_ids: refused when the provider starts, before any change
                raise TerraformError(Problem(
                    f"terraform {args[0]} in {self.workdir}",
                    f"the credentials act in account {wrong_account.group(1)}, not the deployment's account_id; nothing was changed",
                    "use credentials for the deployment's account (assume_role or aws_profile on the deployment), or correct account_id"))
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
