"""Where the command line reads its config and writes its outputs: ./iam-foundry.toml by default, and
everything it writes beside the config, so the installed tool works from any folder."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from iam_foundry.cli.app import cli

CONFIG = """
region = "us-east-1"
[localstack]
enabled = false
[[deployments]]
name = "elsewhere"
profile = "nextai"
account_id = "123456789012"
"""


@pytest.fixture
def no_env(monkeypatch):
    monkeypatch.delenv("IAM_FOUNDRY_CONFIG", raising=False)
    monkeypatch.delenv("IAM_FOUNDRY_OUTDIR", raising=False)


def test_default_config_is_iam_foundry_toml_in_the_current_folder(tmp_path, monkeypatch, no_env):
    (tmp_path / "iam-foundry.toml").write_text(CONFIG)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["validate"])
    assert result.exit_code == 0, result.output
    assert "elsewhere" in result.output


def test_missing_default_config_says_how_to_give_one(tmp_path, monkeypatch, no_env):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["validate"])
    assert result.exit_code == 1
    assert "iam-foundry.toml: config file not found" in result.output and "--config" in result.output


def test_synth_writes_beside_the_config_whatever_the_current_folder(tmp_path, monkeypatch, no_env):
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "platform.toml").write_text(CONFIG)
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    result = CliRunner().invoke(cli, ["--config", "../conf/platform.toml", "synth"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "conf" / "cdktf.out" / "stacks" / "elsewhere" / "cdk.tf.json").is_file()
    assert list((tmp_path / "work").iterdir()) == []


def test_localstack_stop_acts_on_the_one_started_beside_the_config(tmp_path, no_env):
    (tmp_path / "iam-foundry.toml").write_text(CONFIG)
    # Stands in for a LocalStack that `iam-foundry localstack start` left running (own process group).
    sleeper = subprocess.Popen(["sleep", "300"], start_new_session=True)
    try:
        pid_dir = tmp_path / ".iam-foundry" / "localstack"
        pid_dir.mkdir(parents=True)
        (pid_dir / "localstack.pid").write_text(str(sleeper.pid))
        result = CliRunner().invoke(cli, ["--config", str(tmp_path / "iam-foundry.toml"), "localstack", "stop"])
        assert result.exit_code == 0, result.output
        assert "LocalStack stopped" in result.output
        assert sleeper.wait(timeout=20) is not None
    finally:
        if sleeper.poll() is None:
            sleeper.kill()
            sleeper.wait()


def test_config_may_follow_the_command(tmp_path, monkeypatch, no_env):
    (tmp_path / "platform.toml").write_text(CONFIG)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["validate", "--config", "platform.toml"])
    assert result.exit_code == 0, result.output
    assert "elsewhere" in result.output
