"""The main job end to end, as a user runs it: `iam-foundry up`, `output`, `destroy`."""

from __future__ import annotations

import json

import pytest

from tests.integration.conftest import localstack_config, run_cli, unique_names  # noqa: F401 - run_cli: imported from here too
from tests.integration.cycle import absent

pytestmark = pytest.mark.integration


def toml_dump(raw: dict) -> str:
    lines = [f'region = "{raw["region"]}"', "[localstack]", f'endpoint = "{raw["localstack"]["endpoint"]}"', "[backend]"]
    lines += [f'{k} = "{v}"' for k, v in raw["backend"].items()]
    for deployment in raw["deployments"]:
        lines.append("[[deployments]]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in deployment.items()]
    return "\n".join(lines) + "\n"


def test_up_prints_outputs_masks_the_secret_and_destroy_cleans_up(localstack_endpoint, iam, tmp_path, project_root):
    names = unique_names("it-cli")
    raw = localstack_config(localstack_endpoint, [{"name": "cli", "profile": "nextai", "addenda": ["s3-access"],
                                                   "create_access_key": True, **names}])
    config = tmp_path / "config.toml"
    config.write_text(toml_dump(raw))
    common = ["--config", str(config), "--outdir", str(tmp_path / "out")]
    handoff_file = tmp_path / "handoff.json"

    up = run_cli(project_root, *common, "up", "--handoff-file", str(handoff_file))
    assert up.returncode == 0, up.stderr + up.stdout
    for name in ("user_arn", "role_arn", "instance_profile_arn", "policy_arns", "access_key_id", "access_key_secret"):
        assert name in up.stdout
    assert names["role_name"] in up.stdout

    output = run_cli(project_root, *common, "output", "--json")
    assert output.returncode == 0, output.stderr
    values = json.loads(output.stdout)["cli"]
    assert values["access_key_secret"] == "(sensitive)"
    key_id = values["access_key_id"]
    keys = iam.list_access_keys(UserName=names["user_name"])["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in keys] == [key_id]

    # The secret exists only in state and the sensitive output: scan everything else for it.
    from iam_foundry.ops.synth import stack_dir
    from iam_foundry.ops.terraform import Terraform

    secret = Terraform(stack_dir(tmp_path / "out", "cli")).secret_output("access_key_secret")
    assert secret and len(secret) >= 16
    with_secret = tmp_path / "with-secret.json"
    shown = run_cli(project_root, *common, "handoff", "--handoff-file", str(with_secret), "--with-secret")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(with_secret.read_text())["cli"]["secrets"]["access_key_secret"] == secret
    assert oct(with_secret.stat().st_mode & 0o777) == "0o600"
    handoff = json.loads(handoff_file.read_text())["cli"]
    assert handoff["for the installer"]["Access key id"] == key_id and "secrets" not in handoff
    places = {"up stdout": up.stdout, "up stderr": up.stderr, "output --json": output.stdout,
              "handoff stdout": shown.stdout + shown.stderr, "handoff file": handoff_file.read_text()}
    for path in list((tmp_path / "out").rglob("*")) + list((project_root / "tests" / "emit" / "__snapshots__").rglob("*")):
        if path.is_file() and path.stat().st_size < 5_000_000:
            places[str(path)] = path.read_bytes().decode("utf-8", "replace")
    leaks = [place for place, text in places.items() if secret in text]
    assert not leaks, f"secret access key found in: {leaks}"

    destroy = run_cli(project_root, *common, "destroy", "--yes")
    assert destroy.returncode == 0, destroy.stderr + destroy.stdout
    assert absent(lambda: iam.get_user(UserName=names["user_name"]))
    assert absent(lambda: iam.get_role(RoleName=names["role_name"]))


def test_up_refuses_bad_config_before_touching_anything(tmp_path, project_root):
    config = tmp_path / "config.toml"
    config.write_text('[[deployments]]\nname = "x"\nprofile = "nextai"\naddenda = ["nope"]\n')
    result = run_cli(project_root, "--config", str(config), "--outdir", str(tmp_path / "out"), "up")
    assert result.returncode == 1
    assert "deployments[0].addenda[0]" in result.stderr
    assert not (tmp_path / "out").exists()
