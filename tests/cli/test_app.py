"""The command line: help, validate, and all-or-nothing synth."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from iam_foundry.cli.app import cli
from iam_foundry.paths import DEFAULT_CONFIG
from iam_foundry.profiles.load import list_profiles, load_profile


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


def test_profiles_shows_each_parameters_example():
    listing = json.loads(CliRunner().invoke(cli, ["profiles", "--json"]).stdout)
    text = CliRunner().invoke(cli, ["profiles"]).output
    for name in list_profiles():
        for key, spec in load_profile(name).parameters.items():
            assert listing[name]["parameters"][key]["example"] == spec.example
            assert f"e.g. {spec.example!r}" in text


def test_profiles_list_a_variant_s_own_roles():
    """Each role a variant declares is listed under it, by principal id and default name (text and JSON)."""
    from iam_foundry.profiles.load import list_profiles, load_profile

    text = CliRunner().invoke(cli, ["profiles"]).output
    data = json.loads(CliRunner().invoke(cli, ["profiles", "--json"]).stdout)
    declared = {(name, variant, role.key, role.name) for name in list_profiles() for variant in load_profile(name).variants
                for role in load_profile(name).roles(variant)}
    assert ("ai-unlimited", "without-iam-role-permissions", "engine_role", "{{role_name}}-engine") in declared
    for name, variant, key, default in declared:
        assert data[name]["roles"][variant][key]["name"] == default
        assert f"role {key} (name {default})" in text
    assert sum(len(roles) for p in data.values() for roles in p["roles"].values()) == len(declared)


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
        "duplicate JSON key": (base.format(profile=_custom(tmp_path, '{"Version": "2012-10-17", "Statement": [{"Sid": "S",\n'
                                                                     ' "Effect": "Deny", "Effect": "Allow", "Action": "s3:GetObject",'
                                                                     ' "Resource": "*"}]}', "dup.json"), extra=""),
                               "dup.json:2:20: duplicate key 'Effect'"),
        "binary policy file": (base.format(profile=_binary(tmp_path), extra=""), "a binary file, not a JSON file"),
        "directory as policy file": (base.format(profile=f'profile = "custom"\npolicy_file = "{tmp_path}"', extra=""),
                                     "is a directory, not a JSON file"),
        "unquoted account id": (GOOD.replace('"123456789012"', "123456789012"), 'quote it: account_id = "123456789012"'),
        "region botocore does not know": (base.format(profile=nextai, extra='region = "us-east-9"'), "allow_unlisted_regions = true"),
        "boundary in another partition": (base.format(profile=nextai, extra='region = "cn-north-1"\n'
                                                      'permissions_boundary = "arn:aws:iam::123456789012:policy/b"'), "partition 'aws'"),
        "non-ASCII name": (base.format(profile=nextai, extra='user_name = "nextäi"'), "ASCII letters"),
        "names differing in case": (GOOD + GOOD.split("\n[[deployments]]")[1].join(["[[deployments]]", ""]).replace(
            'name = "nextai"', 'name = "other"\nuser_name = "NEXTAI"\ncreate_node_role = false\npolicy_name = "p2"', 1),
            "IAM names ignore case"),
        "tag overriding ManagedBy": (base.format(profile=nextai, extra='tags = { ManagedBy = "me" }'), "set by iam-foundry"),
        "bucket in IP-address form": (GOOD + '[backend]\nbucket = "10.0.0.1"\n', "IP-address form"),
        "pgp key not a key": (base.format(profile=nextai, extra='create_access_key = true\npgp_key = "my-key"'),
                              "neither base64 PGP public key material nor keybase:<user>"),
        "custom lint finding": (base.format(profile=_custom(tmp_path, {"Version": "2012-10-17", "Statement": [
            {"Sid": "Pass", "Effect": "Allow", "Action": "iam:PassRole", "Resource": "arn:aws:iam::123456789012:role/r"}]},
            "pass.json"), extra=""), "lint_accepted = [{ rule = "),
        "lint acceptance without reason": (base.format(profile=nextai, extra='lint_accepted = [{ rule = "LP003", sid = "X" }]'),
                                           "no reason"),
    }
    return cases[case]


def _binary(tmp_path: Path) -> str:
    path = tmp_path / "policy.json"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    return f'profile = "custom"\npolicy_file = "{path}"'


BAD_CASES = ["unknown profile", "unknown addendum", "malformed policy JSON", "missing required field",
             "account id not 12 digits", "region not a region", "name too long", "illegal characters", "duplicate names",
             "oversized single statement", "unfilled placeholder", "conflicting options", "unknown variant",
             "duplicate JSON key", "binary policy file", "directory as policy file", "unquoted account id",
             "region botocore does not know", "boundary in another partition", "non-ASCII name", "names differing in case",
             "tag overriding ManagedBy", "bucket in IP-address form", "pgp key not a key", "custom lint finding",
             "lint acceptance without reason"]


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


@pytest.mark.parametrize(("name", "content", "words"), [
    ("latin1.toml", GOOD.replace("us-east-1", "us-\xe9ast-1").encode("latin-1"), "not UTF-8 text (byte 0xe9)"),
    ("binary.toml", b"\x00\x01\x02", "a binary file, not a config file"),
    ("dir.toml", None, "is a directory, not a config file"),
    ("open.tfvars", b'deployments = [{\n  name = "nextai"\n  profile = "nextai"\n', "open.tfvars:1:16: not valid HCL: '{' is never closed"),
])
def test_unreadable_config_is_one_line(tmp_path, name, content, words):
    path = tmp_path / name
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    result = CliRunner().invoke(cli, ["--config", str(path), "validate"])
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip().startswith("- ")]
    assert len(lines) == 1 and words in lines[0] and "fix:" in lines[0], result.output
    assert "Traceback" not in result.output


def test_export_module_custom_explains_why_there_is_no_module(tmp_path):
    result = CliRunner().invoke(cli, ["export-module", "custom", "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "profile 'custom' has no module to export" in result.output and "no such profile" not in result.output
    assert "fix: export a built-in profile (" in result.output
