"""Stacks worked on concurrently: bounded, independent failures, one summary; init once per stack."""

from __future__ import annotations

import fcntl
import io
import json
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
from rich.console import Console

from iam_foundry.errors import FoundryError, Problem
from iam_foundry.ops import runner, terraform
from iam_foundry.ops.runner import ensure_init, failure_summary, run_stacks


def plain_console() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, force_terminal=False, width=200), buffer


def test_stacks_run_concurrently_up_to_the_bound_and_no_further():
    lock, running, peak = threading.Lock(), [0], [0]
    release = threading.Event()
    reached_two = threading.Event()

    def action(name: str, report) -> str:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
            if running[0] >= 2:
                reached_two.set()
        # Wait until two run side by side (proves concurrency), without any timing assumption.
        assert reached_two.wait(30)
        release.wait(0.05)
        with lock:
            running[0] -= 1
        return name.upper()

    console, _ = plain_console()
    results = run_stacks([f"s{i}" for i in range(6)], action, parallelism=2, console=console)
    assert peak[0] == 2
    assert [r.value for r in results.values()] == [f"S{i}" for i in range(6)]


def test_one_failure_does_not_stop_the_others_and_the_summary_names_each_failed_stack():
    ran: list[str] = []

    def action(name: str, report) -> None:
        report("working")
        if name in ("b", "d"):
            raise FoundryError(Problem(f"terraform apply in {name}", "exit code 1:\n...\nError: creating IAM Role: EntityAlreadyExists\nmore",
                                       "read the Terraform message above"))
        if name == "e":
            raise RuntimeError("unexpected")
        ran.append(name)

    console, buffer = plain_console()
    results = run_stacks(list("abcde"), action, parallelism=2, console=console, done_label="applied")
    assert sorted(ran) == ["a", "c"]
    error = failure_summary(results, "apply")
    assert error is not None
    lines = [str(p) for p in error.problems]
    assert all("\n" not in line for line in lines)  # one line per failed stack
    assert any(line.startswith("stack 'b'") and "Error: creating IAM Role: EntityAlreadyExists" in line for line in lines)
    assert any(line.startswith("stack 'd'") for line in lines)
    assert any(line.startswith("stack 'e'") and "RuntimeError: unexpected" in line for line in lines)
    assert "3 of 5 stacks failed, 2 succeeded" in lines[-1] and "-s b -s d -s e" in lines[-1]
    # Not a terminal: plain lines, one per status change.
    text = buffer.getvalue()
    assert "a: working" in text and "a: applied" in text and "b: failed: Error: creating IAM Role" in text


def test_no_failures_no_summary():
    console, _ = plain_console()
    assert failure_summary(run_stacks(["a"], lambda n, r: 1, 4, console), "apply") is None


def test_the_live_view_draws_a_table_on_a_terminal():
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=120)
    run_stacks(["alpha", "beta"], lambda n, r: r("terraform apply"), 2, console, done_label="applied")
    text = buffer.getvalue()
    assert "stack" in text and "status" in text and "alpha" in text and "applied" in text
    assert "alpha: applied" not in text  # not the plain-line form


def test_default_parallelism_is_bounded():
    assert 1 <= runner.default_parallelism() <= runner.MAX_DEFAULT_PARALLELISM


@pytest.mark.parametrize("cpus, memory_mib, expected", [
    (2, 64_000, 3),   # CPU-bound: CPUs + 1
    (16, 64_000, 8),  # capped
    (2, 1_000, 1),    # one stack's worth of memory: one at a time
    (8, 4_000, 4),    # memory decides: 4000 MiB // 1000
    (1, None, 2),     # no /proc/meminfo: CPUs alone
])
def test_default_parallelism_follows_cpus_and_available_memory(cpus, memory_mib, expected, monkeypatch):
    if memory_mib is None:
        monkeypatch.setattr(runner, "available_memory_mib", lambda: None)
    assert runner.default_parallelism(cpus, memory_mib) == expected


def test_available_memory_is_read_from_proc():
    memory = runner.available_memory_mib()
    assert memory is None or memory > 0


@dataclass
class FakeTerraform:
    workdir: Path
    inits: int = 0

    def init(self) -> None:
        self.inits += 1
        (self.workdir / ".terraform").mkdir(exist_ok=True)
        (self.workdir / ".terraform.lock.hcl").write_text("# lock")


def write_stack(folder: Path, key: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cdk.tf.json").write_text(json.dumps({
        "terraform": {"backend": {"s3": {"bucket": "b", "key": key}},
                      "required_providers": {"aws": {"source": "hashicorp/aws", "version": ">= 5.0, < 7.0"}}},
        "resource": {"aws_iam_user": {"u": {"name": key}}}}))


def test_init_runs_once_per_stack_and_again_when_the_backend_changes(tmp_path):
    stack = tmp_path / "stacks" / "one"
    write_stack(stack, "a.tfstate")
    fake = FakeTerraform(stack)
    assert ensure_init(fake) is True
    assert ensure_init(fake) is False  # second command on the same stack: no init
    (stack / "cdk.tf.json").write_text((stack / "cdk.tf.json").read_text().replace('"name": "a.tfstate"', '"name": "x"'))
    assert ensure_init(fake) is False  # resources changed, backend did not
    write_stack(stack, "b.tfstate")  # a new synth with another state key keeps .terraform: must re-init
    assert ensure_init(fake) is True
    assert fake.inits == 2


def test_a_failed_init_is_retried_next_time(tmp_path):
    stack = tmp_path / "s"
    write_stack(stack, "a.tfstate")
    fake = FakeTerraform(stack)
    ensure_init(fake)

    class Failing(FakeTerraform):
        def init(self) -> None:
            raise FoundryError("init failed")

    write_stack(stack, "b.tfstate")
    with pytest.raises(FoundryError):
        ensure_init(Failing(stack))
    write_stack(stack, "a.tfstate")  # back to the first backend: the old marker must be gone
    assert ensure_init(fake) is True


def test_without_a_mirror_stacks_share_one_plugin_cache(monkeypatch, tmp_path):
    monkeypatch.setattr(terraform, "MIRROR_DIR", tmp_path / "no-mirror")
    monkeypatch.setattr(terraform, "DEFAULT_PLUGIN_CACHE", tmp_path / "cache")
    env = terraform.terraform_env({"PATH": "/usr/bin"})
    assert env["TF_PLUGIN_CACHE_DIR"] == str(tmp_path / "cache") and (tmp_path / "cache").is_dir()
    assert terraform.terraform_env({"TF_PLUGIN_CACHE_DIR": "/mine"})["TF_PLUGIN_CACHE_DIR"] == "/mine"
    user_config = tmp_path / "user.tfrc"
    user_config.write_text('plugin_cache_dir = "/theirs"\n')
    assert "TF_PLUGIN_CACHE_DIR" not in terraform.terraform_env({"TF_CLI_CONFIG_FILE": str(user_config)})


@pytest.mark.parametrize("where", ["TF_CLI_CONFIG_FILE", "HOME"])
def test_a_users_cli_config_plugin_cache_is_parsed_kept_and_locked(where, monkeypatch, tmp_path):
    """plugin_cache_dir from the user's CLI config (HCL, $VARS expanded, as Terraform reads it), from
    TF_CLI_CONFIG_FILE or ~/.terraformrc: kept (no cache of ours on top), and inits take turns on it."""
    monkeypatch.setattr(terraform, "MIRROR_DIR", tmp_path / "no-mirror")
    monkeypatch.setattr(terraform, "DEFAULT_PLUGIN_CACHE", tmp_path / "ours")
    rc = tmp_path / ("user.tfrc" if where == "TF_CLI_CONFIG_FILE" else ".terraformrc")
    # A comment naming the setting must not count; the real setting uses ${VAR} expansion.
    rc.write_text('# plugin_cache_dir = "/commented/out"\nplugin_cache_dir = "${CACHE_ROOT}/plugins"\n'
                  'provider_installation {\n  direct {}\n}\n')
    base = {"CACHE_ROOT": str(tmp_path / "theirs"), "HOME": str(tmp_path)}
    if where == "TF_CLI_CONFIG_FILE":
        base = {**base, "HOME": str(tmp_path / "nohome"), "TF_CLI_CONFIG_FILE": str(rc)}
    env = terraform.terraform_env(base)
    assert "TF_PLUGIN_CACHE_DIR" not in env
    assert terraform.plugin_cache_dir(env) == tmp_path / "theirs" / "plugins"
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("TF_PLUGIN_CACHE_DIR", raising=False)
    if where == "HOME":
        monkeypatch.delenv("TF_CLI_CONFIG_FILE", raising=False)
    with runner._plugin_cache_lock():
        assert (tmp_path / "theirs" / "plugins" / ".iam-foundry.lock").is_file()
        other = open(tmp_path / "theirs" / "plugins" / ".iam-foundry.lock", "w")
        with pytest.raises(BlockingIOError):  # a second init (thread or process) waits its turn
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        other.close()


def test_a_cli_config_without_a_cache_or_unparsable_sets_none(tmp_path):
    rc = tmp_path / "user.tfrc"
    for text in ('provider_installation {\n  direct {}\n}\n', "plugin_cache_dir = = broken {"):
        rc.write_text(text)
        assert terraform.cli_config_plugin_cache({"TF_CLI_CONFIG_FILE": str(rc)}) is None
    assert terraform.cli_config_plugin_cache({"TF_CLI_CONFIG_FILE": str(tmp_path / "missing")}) is None


def test_go_gc_setting_reaches_terraform_and_a_users_own_wins():
    assert terraform.terraform_env({})["GOGC"] == terraform.GO_GC_PERCENT
    assert terraform.terraform_env({"GOGC": "100"})["GOGC"] == "100"


def fake_terraform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, script: str) -> Path:
    """A `terraform` first on PATH that logs its arguments (one line per run) and runs `script`."""
    fake = tmp_path / "bin" / "terraform"
    fake.parent.mkdir(exist_ok=True)
    log = tmp_path / "calls.log"
    fake.write_text(f'#!/bin/bash\necho "$*" >> {log}\n{script}\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:/usr/bin:/bin")
    return log


@pytest.mark.parametrize("refresh_needed", [False, True])
def test_destroy_skips_the_refresh_and_refreshes_only_when_that_failed(refresh_needed, tmp_path, monkeypatch):
    script = 'case "$*" in *-refresh=false*) exit 1;; esac' if refresh_needed else ""
    log = fake_terraform(tmp_path, monkeypatch, script)
    terraform.Terraform(tmp_path).destroy()
    calls = log.read_text().splitlines()
    assert "-refresh=false" in calls[0]
    assert len(calls) == (2 if refresh_needed else 1)
    if refresh_needed:
        assert calls[1].startswith("destroy") and "-refresh" not in calls[1]


def test_destroy_does_not_retry_a_held_lock(tmp_path, monkeypatch):
    log = fake_terraform(tmp_path, monkeypatch, 'echo "Error: Error acquiring the state lock"; exit 1')
    with pytest.raises(terraform.StateLockedError):
        terraform.Terraform(tmp_path).destroy()
    assert len(log.read_text().splitlines()) == 1


def test_state_lock_message_names_the_lock_not_the_s3_request(tmp_path, monkeypatch):
    """The S3 lockfile error carries `RequestID: ...,` before Terraform's `Lock Info: ID: ...`."""
    fake = tmp_path / "bin" / "terraform"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\ncat <<'EOF'\nError: Error acquiring the state lock\n"
                    "operation error S3: PutObject, https response error StatusCode: 412, RequestID: 1234-req, HostID: x,"
                    " api error PreconditionFailed\nLock Info:\n  ID:        ee30f697-74e6\n  Path:      b/k.tfstate\nEOF\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:/usr/bin:/bin")
    with pytest.raises(terraform.StateLockedError) as err:
        terraform.Terraform(tmp_path).apply()
    assert "force-unlock ee30f697-74e6`" in str(err.value) and "1234-req" not in str(err.value)
