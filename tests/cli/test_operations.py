"""The Terraform-facing commands (plan, output, handoff) against a recording fake `terraform`, plus
plain output off a terminal and the JSON forms."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from iam_foundry.cli.app import cli
from tests.cli.test_app import GOOD, write_toml

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLESECRET"
LONG_POLICY = "nextai-policy-for-the-research-cluster-in-frankfurt"  # longer than a table cell at 80 columns
OUTPUTS = {
    "user_name": {"value": "nextai", "type": "string", "sensitive": False},
    "access_key_id": {"value": "AKIAEXAMPLEKEYID0001", "type": "string", "sensitive": False},
    "access_key_secret": {"value": SECRET, "type": "string", "sensitive": True},
    "policy_arns": {"value": [f"arn:aws:iam::123456789012:policy/{LONG_POLICY}"], "type": ["list", "string"], "sensitive": False},
}

FAKE = '''#!{python}
"""Records its arguments; answers like terraform does for init, plan and output -json."""
import json, os, pathlib, sys
args = sys.argv[1:]
with open(os.environ["FAKE_TF_LOG"], "a") as log:
    log.write(json.dumps(args) + "\\n")
if args[0] == "init":
    pathlib.Path(".terraform").mkdir(exist_ok=True)
    print("Terraform has been successfully initialized!")
elif args[0] == "plan":
    print("Plan: 1 to add, 0 to change, 0 to destroy.")
    sys.exit(2 if "-detailed-exitcode" in args else 0)
elif args[0] == "output":
    print(pathlib.Path(os.environ["FAKE_TF_OUTPUTS"]).read_text())
elif args[0] in ("version", "-version", "--version"):  # cdktf asks, to validate a cloud block
    print(json.dumps(dict(terraform_version="1.11.4")) if "-json" in args else "Terraform v1.11.4")
'''


@pytest.fixture
def fake_terraform(tmp_path, monkeypatch):
    """(config, outdir, log file, outputs file): a terraform on PATH that records its calls."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "terraform"
    script.write_text(FAKE.format(python=sys.executable))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    log, outputs = tmp_path / "calls.jsonl", tmp_path / "outputs.json"
    monkeypatch.setenv("FAKE_TF_LOG", str(log))
    monkeypatch.setenv("FAKE_TF_OUTPUTS", str(outputs))
    outputs.write_text(json.dumps(OUTPUTS))
    config = write_toml(tmp_path / "c.toml", GOOD.replace('addenda = ["clone-disk"]', 'addenda = ["clone-disk"]\ncreate_access_key = true\nallow_plaintext_secret_in_state = true')
                        + '[backend]\ntype = "local"\n')
    return config, tmp_path / "out", log, outputs


def run(config: Path, outdir: Path, *args: str):
    return CliRunner().invoke(cli, ["--config", str(config), "--outdir", str(outdir), *args])


def deployed(config: Path, outdir: Path) -> None:
    """What `up` leaves behind for the fake: a synthesized, initialized stack."""
    assert run(config, outdir, "synth").exit_code == 0
    (outdir / "stacks" / "nextai" / ".terraform").mkdir()


def test_plan_goes_through_the_terraform_wrapper(fake_terraform):
    config, outdir, log, _ = fake_terraform
    result = run(config, outdir, "plan")
    assert result.exit_code == 0, result.output
    assert "Plan: 1 to add" in result.output
    plans = [args for args in map(json.loads, log.read_text().splitlines()) if args[0] == "plan"]
    assert len(plans) == 1 and "-lock-timeout=0s" in plans[0] and "-detailed-exitcode" in plans[0]


@pytest.mark.parametrize("command", [["output"], ["output", "--json"], ["handoff"], ["handoff", "--json"],
                                     ["handoff", "--with-secret"], ["handoff", "--json", "--with-secret"]])
@pytest.mark.parametrize("verbose", [[], ["-v"]])
def test_no_command_prints_the_secret(fake_terraform, tmp_path, command, verbose):
    config, outdir, _, _ = fake_terraform
    deployed(config, outdir)
    handoff_file = tmp_path / "handoff.json"
    extra = ["--handoff-file", str(handoff_file)] if command[0] == "handoff" else []
    result = CliRunner().invoke(cli, ["--config", str(config), "--outdir", str(outdir), *verbose, *command, *extra])
    assert result.exit_code == 0, result.output
    assert "AKIAEXAMPLEKEYID0001" in result.output  # the command did print the outputs
    assert SECRET not in result.output


@pytest.mark.parametrize("command", [["output"], ["output", "--json"], ["handoff"]])
def test_before_up_says_nothing_is_deployed(fake_terraform, tmp_path, command):
    config, outdir, log, outputs = fake_terraform
    handoff_file = tmp_path / "handoff.json"
    extra = ["--handoff-file", str(handoff_file)] if command[0] == "handoff" else []
    outputs.write_text("{}")  # what terraform answers once initialized with an empty state
    for situation in ("never synthesized", "initialized, nothing applied"):
        if situation != "never synthesized":
            deployed(config, outdir)
        result = run(config, outdir, *command, *extra)
        assert result.exit_code == 1, (situation, result.output)
        problems = [line for line in result.output.splitlines() if line.strip().startswith("- ")]
        assert len(problems) == 1 and "nothing deployed yet" in problems[0] and "run `iam-foundry up -s nextai`" in problems[0], result.output
        assert "terraform init" not in result.output
        assert not handoff_file.exists()


def test_off_a_terminal_values_are_printed_whole(fake_terraform):
    config, outdir, _, _ = fake_terraform
    long_config = write_toml(config.with_name("long.toml"), config.read_text().replace(
        'addenda = ["clone-disk"]', f'addenda = ["clone-disk"]\npolicy_name = "{LONG_POLICY}"'))
    result = run(long_config, outdir, "validate")
    assert result.exit_code == 0, result.output
    assert LONG_POLICY in result.output
    deployed(config, outdir)
    result = run(config, outdir, "output")
    arn = f"arn:aws:iam::123456789012:policy/{LONG_POLICY}"
    assert any(arn in line for line in result.output.splitlines()), result.output  # on one line, uncut


def test_validate_profiles_and_handoff_speak_json(fake_terraform, tmp_path):
    config, outdir, _, _ = fake_terraform
    report = json.loads(run(config, outdir, "validate", "--json").output)
    assert report["valid"] is True and report["deployments"][0]["deployment"] == "nextai"
    assert report["deployments"][0]["policies"][0]["characters_per_part"][0] > 100
    bad = write_toml(tmp_path / "bad.toml", GOOD.replace('["clone-disk"]', '["teleport"]'))
    result = CliRunner().invoke(cli, ["--config", str(bad), "validate", "--json"])
    assert result.exit_code == 1
    failed = json.loads(result.stdout)
    assert failed["valid"] is False and failed["problems"][0]["where"] == 'deployments[0].addenda[0] (deployment "nextai")'

    profiles = json.loads(CliRunner().invoke(cli, ["profiles", "--json"]).stdout)
    assert "clone-disk" in profiles["nextai"]["addenda"] and profiles["anyscale"]["parameters"]["bucket"]["required"]

    deployed(config, outdir)
    result = run(config, outdir, "handoff", "--json", "--with-secret", "--handoff-file", str(tmp_path / "h.json"))
    entry = json.loads(result.stdout)["nextai"]
    assert entry["for the installer"] and "secrets" not in entry
    assert json.loads((tmp_path / "h.json").read_text())["nextai"]["secrets"]["access_key_secret"] == SECRET


def test_export_module_onto_a_file_is_one_line(tmp_path):
    target = tmp_path / "modules.txt"
    target.write_text("keep")
    for args in (["anyscale"], []):
        result = CliRunner().invoke(cli, ["export-module", *args, "--out", str(target)])
        assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
        assert result.output.count("\n  - ") == 1 and f"{target}: is a file, not a folder" in result.output
    assert target.read_text() == "keep"


def test_up_with_the_cloud_backend_says_once_why_it_does_not_look_for_clashes(fake_terraform, tmp_path):
    _, outdir, log, _ = fake_terraform
    # Two deployments (in two accounts, so the default names do not clash): the note comes once, not per stack.
    second = GOOD.split("[[deployments]]")[1].replace('name = "nextai"', 'name = "second"').replace("123456789012", "210987654321")
    config = write_toml(tmp_path / "cloud.toml", GOOD + "[[deployments]]" + second
                        + '[backend]\ntype = "cloud"\norganization = "acme"\nworkspace = "iam-{deployment}"\n')
    result = run(config, outdir, "up")
    assert result.exit_code == 0, result.output
    assert result.output.count("not looking for existing IAM resources before apply") == 1, result.output
    assert "looking for existing resources" not in result.output.replace("not looking for existing IAM", "")
    calls = [json.loads(line)[0] for line in log.read_text().splitlines()]
    assert "state" not in calls and calls.count("apply") == 2
