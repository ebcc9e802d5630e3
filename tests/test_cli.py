"""The command line: help, validate, and all-or-nothing synth."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from iam_foundry.cli import cli
from iam_foundry.config import DEFAULT_CONFIG


def write_toml(path: Path, text: str) -> Path:
    path.write_text(text)
    tomllib.loads(text)  # the fixture itself must be valid TOML
    return path


GOOD = """
region = "us-east-1"
[localstack]
enabled = false
[[deployments]]
name = "nextai"
profile = "nextai"
account_id = "123456789012"
addenda = ["clone-disk"]
"""


@pytest.mark.parametrize("command", [[], ["up"], ["validate"], ["synth"], ["plan"], ["destroy"], ["output"],
                                     ["profiles"], ["localstack"], ["localstack", "start"]])
def test_every_command_explains_itself(command):
    result = CliRunner().invoke(cli, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output and len(result.output.splitlines()) > 4


def test_validate_accepts_the_shipped_config():
    result = CliRunner().invoke(cli, ["--config", str(DEFAULT_CONFIG), "validate"])
    assert result.exit_code == 0, result.output
    assert "nextai" in result.output


def test_validate_fails_naming_the_field(tmp_path):
    config = write_toml(tmp_path / "c.toml", GOOD.replace('"123456789012"', '"12345"'))
    result = CliRunner().invoke(cli, ["--config", str(config), "validate"])
    assert result.exit_code == 1
    assert "deployments[0].account_id" in result.output and "12 digits" in result.output


def test_profiles_lists_nextai_addenda():
    result = CliRunner().invoke(cli, ["profiles"])
    assert result.exit_code == 0
    for addendum in ("clone-disk", "open-ports", "s3-access", "role-creation"):
        assert addendum in result.output


def test_bad_input_leaves_the_last_good_synth_untouched(tmp_path):
    outdir = tmp_path / "cdktf.out"
    good = write_toml(tmp_path / "good.toml", GOOD)
    assert CliRunner().invoke(cli, ["--config", str(good), "--outdir", str(outdir), "synth"]).exit_code == 0
    before = {p: p.read_bytes() for p in outdir.rglob("*") if p.is_file()}
    assert any(p.name == "cdk.tf.json" for p in before)

    bad = write_toml(tmp_path / "bad.toml", GOOD.replace('["clone-disk"]', '["clone-disk", "teleport"]'))
    result = CliRunner().invoke(cli, ["--config", str(bad), "--outdir", str(outdir), "synth"])
    assert result.exit_code == 1
    assert "unknown addendum 'teleport'" in result.output
    after = {p: p.read_bytes() for p in outdir.rglob("*") if p.is_file()}
    assert after == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".cdktf.out")] == []


def test_resynth_keeps_terraform_working_files(tmp_path):
    outdir = tmp_path / "cdktf.out"
    config = write_toml(tmp_path / "good.toml", GOOD)
    CliRunner().invoke(cli, ["--config", str(config), "--outdir", str(outdir), "synth"])
    marker = outdir / "stacks" / "nextai" / ".terraform" / "marker"
    marker.parent.mkdir()
    marker.write_text("kept")
    assert CliRunner().invoke(cli, ["--config", str(config), "--outdir", str(outdir), "synth"]).exit_code == 0
    assert marker.read_text() == "kept"
