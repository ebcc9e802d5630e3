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


BIG_STATEMENT = {"Sid": "Huge", "Effect": "Allow", "Action": "s3:GetObject",
                 "Resource": [f"arn:aws:s3:::bucket-{n:05d}/*" for n in range(400)]}


def _custom(tmp_path: Path, document: object, name: str = "custom.json") -> str:
    import json
    path = tmp_path / name
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return f'profile = "custom"\npolicy_file = "{path}"'


def bad_case(case: str, tmp_path: Path) -> tuple[str, str]:
    """(config text, words the single error line must contain)."""
    base = GOOD.replace('profile = "nextai"\n', "{profile}\n").replace('addenda = ["clone-disk"]\n', "{extra}\n")
    nextai = 'profile = "nextai"'
    cases = {
        "unknown profile": (base.format(profile='profile = "skynet"', extra=""), "unknown profile 'skynet'"),
        "unknown addendum": (base.format(profile=nextai, extra='addenda = ["teleport"]'), "unknown addendum 'teleport'"),
        "malformed policy JSON": (base.format(profile=_custom(tmp_path, '{\n "Version": "2012-10-17",\n "Statement": [,]\n}', "custom.json"),
                                              extra=""), "custom.json:3:"),
        "missing required field": (GOOD.replace('name = "nextai"\n', ""), "deployments[0].name: missing required field"),
        "account id not 12 digits": (GOOD.replace('"123456789012"', '"1234"'), "exactly 12 digits"),
        "region not a region": (base.format(profile=nextai, extra='region = "mars-north-1"'), "not an AWS region"),
        "name too long": (base.format(profile=nextai, extra=f'role_name = "{"r" * 65}"'), "at most 64"),
        "illegal characters": (base.format(profile=nextai, extra='user_name = "bad user"'), "not a valid IAM name"),
        "duplicate names": (GOOD + GOOD.split("\n[[deployments]]")[1].join(["[[deployments]]", ""]).replace(
            'name = "nextai"', 'name = "other"', 1), "also used by deployments[0]"),
        "oversized single statement": (base.format(profile=_custom(tmp_path, {"Version": "2012-10-17", "Statement": [BIG_STATEMENT]}, "big.json"),
                                                   extra=""), "over the 6144-character managed policy quota"),
        "unfilled placeholder": (base.format(profile=_custom(tmp_path, {"Version": "2012-10-17", "Statement": [
            {"Sid": "S", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::{{bucket}}/*"}]}, "holes.json"), extra=""),
            "placeholder {{bucket}} has no value"),
        "conflicting options": (base.format(profile=nextai, extra="create_user = false\ncreate_access_key = true"),
                                "an access key needs the user"),
        "unknown variant": (base.format(profile=nextai, extra='variant = "eks"'), "unknown variant 'eks'"),
    }
    return cases[case]


BAD_CASES = ["unknown profile", "unknown addendum", "malformed policy JSON", "missing required field",
             "account id not 12 digits", "region not a region", "name too long", "illegal characters", "duplicate names",
             "oversized single statement", "unfilled placeholder", "conflicting options", "unknown variant"]


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_input_table(tmp_path, case):
    outdir = tmp_path / "cdktf.out"
    good = write_toml(tmp_path / "good.toml", GOOD)
    assert CliRunner().invoke(cli, ["--config", str(good), "--outdir", str(outdir), "synth"]).exit_code == 0
    before = {p: p.read_bytes() for p in outdir.rglob("*") if p.is_file()}

    text, words = bad_case(case, tmp_path)
    bad = write_toml(tmp_path / "bad.toml", text)
    for command in ("validate", "synth"):
        result = CliRunner().invoke(cli, ["--config", str(bad), "--outdir", str(outdir), command])
        assert result.exit_code == 1, result.output
        lines = [line for line in result.output.splitlines() if line.strip().startswith("- ")]
        assert len(lines) == 1, result.output
        assert words in result.output, result.output
        assert "fix:" in result.output
    assert {p: p.read_bytes() for p in outdir.rglob("*") if p.is_file()} == before
