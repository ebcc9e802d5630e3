"""Runs the terraform binary on synthesized stacks, with the provider mirror where the machine has one."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import threading
from dataclasses import dataclass, field
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


class NotStartedError(TerraformError):
    """The run was interrupted (Ctrl-C) before this terraform command started."""


@dataclass
class Running:
    """The terraform processes this program runs, so Ctrl-C can reach each exactly once.

    Each terraform runs in its own process group: a Ctrl-C on the terminal reaches only this program,
    which forwards one SIGINT per terraform (a second SIGINT makes terraform exit at once, leaving its
    state lock behind) and starts no new ones. kill() ends them and their providers (the second Ctrl-C).
    """

    processes: dict[int, subprocess.Popen[str]] = field(default_factory=dict)
    interrupted: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self, command: list[str], **popen: Any) -> subprocess.Popen[str]:
        with self.lock:  # no start slips in between interrupt() and its loop
            if self.interrupted.is_set():
                raise NotStartedError(Problem(f"{' '.join(command[:2])}", "not started: the run was interrupted",
                                                "re-run the command"))
            process: subprocess.Popen[str] = subprocess.Popen(command, process_group=0, **popen)
            self.processes[process.pid] = process
            return process

    def finished(self, process: subprocess.Popen[str]) -> None:
        with self.lock:
            self.processes.pop(process.pid, None)

    def interrupt(self) -> int:
        """Ask every running terraform to stop gracefully (it finishes the current calls, writes its
        state and releases its lock); returns how many were asked."""
        with self.lock:
            self.interrupted.set()
            for process in self.processes.values():
                _signal_group(process, signal.SIGINT)
            return len(self.processes)

    def kill(self) -> None:
        with self.lock:
            self.interrupted.set()
            for process in self.processes.values():
                _signal_group(process, signal.SIGKILL)

    def reset(self) -> None:
        self.interrupted.clear()


def _signal_group(process: subprocess.Popen[str], signum: int) -> None:
    """SIGINT to terraform alone (it stops its providers itself); SIGKILL to its whole group."""
    try:
        if signum == signal.SIGKILL:
            os.killpg(process.pid, signum)
        else:
            process.send_signal(signum)
    except (ProcessLookupError, PermissionError):
        pass  # finished meanwhile


RUNNING = Running()


# Each provider start answers GetProviderSchema for ~1500 resource types, ~3 CPU seconds of mostly
# garbage collection. Letting the heap grow 3x before collecting cuts a stack's apply or destroy CPU
# by ~22% (14 -> 11 s) for a higher peak (terraform + provider ~580 -> ~800-900 MiB); the CPU is what
# limits parallel stacks (measured: README "Deploying many stacks").
GO_GC_PERCENT = "300"


def terraform_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for terraform: the mirror CLI config where the mirror exists, no prompts, no telemetry."""
    env = dict(os.environ if base is None else base)
    if MIRROR_DIR.is_dir():
        env["TF_CLI_CONFIG_FILE"] = str(MIRROR_CONFIG)
    elif env.get("TF_CLI_CONFIG_FILE") and not Path(env["TF_CLI_CONFIG_FILE"]).is_file():
        env.pop("TF_CLI_CONFIG_FILE")  # a dangling setting only produces warnings
    env.setdefault("TF_IN_AUTOMATION", "1")
    env.setdefault("CHECKPOINT_DISABLE", "1")
    env.setdefault("GOGC", GO_GC_PERCENT)  # terraform passes it on to the provider; a user's own setting wins
    if not MIRROR_DIR.is_dir() and not env.get("TF_PLUGIN_CACHE_DIR") and not _cli_config_sets_cache(env):
        try:
            DEFAULT_PLUGIN_CACHE.mkdir(parents=True, exist_ok=True)  # Terraform ignores a missing cache folder
            env["TF_PLUGIN_CACHE_DIR"] = str(DEFAULT_PLUGIN_CACHE)
        except OSError:
            pass  # an unwritable home: each stack downloads its own copy, as before
    return env


def cli_config_file(env: dict[str, str]) -> Path | None:
    """The CLI config Terraform reads with this environment: TF_CLI_CONFIG_FILE, else ~/.terraformrc."""
    if env.get("TF_CLI_CONFIG_FILE"):
        return Path(env["TF_CLI_CONFIG_FILE"]).expanduser()
    home = env.get("HOME")
    return Path(home) / ".terraformrc" if home else None


def cli_config_plugin_cache(env: dict[str, str]) -> Path | None:
    """plugin_cache_dir from the CLI config, as Terraform reads it (HCL; environment variables expanded);
    None when the file is missing, unreadable, invalid or does not set it (Terraform then uses none)."""
    path = cli_config_file(env)
    if path is None or not path.is_file():
        return None
    try:
        import hcl2

        value = hcl2.loads(path.read_text()).get("plugin_cache_dir")
    except Exception:  # noqa: BLE001 - python-hcl2 raises lark errors; Terraform itself reports a bad file
        return None
    if not isinstance(value, str):
        return None
    value = value.strip().removeprefix('"').removesuffix('"')
    # Terraform expands $VAR and ${VAR} in this setting (with its own environment, which is env here).
    expanded = re.sub(r"\$(?:\{(\w+)\}|(\w+))", lambda m: env.get(m.group(1) or m.group(2), ""), value)
    return Path(expanded).expanduser() if expanded else None


def _cli_config_sets_cache(env: dict[str, str]) -> bool:
    """The user's own CLI config already names a plugin cache: keep theirs."""
    return cli_config_plugin_cache(env) is not None


def plugin_cache_dir(env: dict[str, str]) -> Path | None:
    """The shared provider cache Terraform will use with this environment: TF_PLUGIN_CACHE_DIR, else the
    CLI config's plugin_cache_dir (None: no cache, e.g. with the mirror)."""
    value = Path(env["TF_PLUGIN_CACHE_DIR"]) if env.get("TF_PLUGIN_CACHE_DIR") else cli_config_plugin_cache(env)
    if value is not None:
        value.mkdir(parents=True, exist_ok=True)
    return value


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
        process = RUNNING.start(command, cwd=self.workdir, env=terraform_env(), text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        lines = []
        try:
            assert process.stdout is not None
            for line in process.stdout:
                lines.append(line)
                if self.echo and not quiet:
                    self.echo(line.rstrip("\n"))
            code = process.wait()
        finally:
            RUNNING.finished(process)
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
        """Destroy what the state holds. First without refreshing it: a refresh costs one more provider
        start (~3 CPU seconds) and only matters when something changed outside Terraform; if that
        made the quick destroy fail, the full destroy (which refreshes first) runs once more."""
        try:
            self.run("destroy", "-input=false", "-no-color", "-auto-approve", "-refresh=false", *extra)
        except StateLockedError:
            raise
        except TerraformError:
            if RUNNING.interrupted.is_set():
                raise
            if self.echo:
                self.echo("(destroy without refresh failed: destroying again after a refresh)")
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
