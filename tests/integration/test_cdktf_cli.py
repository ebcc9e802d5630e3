"""The cdktf CLI itself (pinned in package.json): synth, deploy, destroy of one stack on LocalStack."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from iam_foundry.ops.terraform import terraform_env
from tests.integration.conftest import localstack_config, unique_names
from tests.integration.cycle import absent
from tests.integration.test_cli_up import toml_dump

pytestmark = pytest.mark.integration


def cdktf(project_root, *args: str, env: dict) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["npx", "--no-install", "cdktf", *args], cwd=project_root, env=env, text=True,
                          capture_output=True, timeout=900)


@pytest.mark.skipif(not shutil.which("npx"), reason="Node.js is not installed")
def test_cdktf_deploy_then_destroy(localstack_endpoint, iam, tmp_path, project_root):
    if not (project_root / "node_modules" / ".bin" / "cdktf").exists():
        pytest.fail("cdktf-cli is not installed: run `make setup`")
    names = unique_names("it-cdktf")
    config = tmp_path / "config.toml"
    config.write_text(toml_dump(localstack_config(localstack_endpoint, [{"name": "viacdktf", "profile": "nextai", **names}])))
    env = terraform_env(dict(os.environ, IAM_FOUNDRY_CONFIG=str(config), IAM_FOUNDRY_NO_CACHE="1", CI="1",
                             JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20", PIPENV_VENV_IN_PROJECT="1",
                             PIPENV_VERBOSITY="-1"))
    outdir = str(tmp_path / "cdktf.out")

    synth = cdktf(project_root, "synth", "--output", outdir, env=env)
    assert synth.returncode == 0, synth.stdout + synth.stderr
    deploy = cdktf(project_root, "deploy", "viacdktf", "--auto-approve", "--skip-provider-lock", "--output", outdir, env=env)
    assert deploy.returncode == 0, deploy.stdout + deploy.stderr
    try:
        role = iam.get_role(RoleName=names["role_name"])["Role"]
        assert role["Arn"] in deploy.stdout  # cdktf prints the stack outputs
        iam.get_user(UserName=names["user_name"])
    finally:
        destroy = cdktf(project_root, "destroy", "viacdktf", "--auto-approve", "--skip-provider-lock", "--output", outdir, env=env)
    assert destroy.returncode == 0, destroy.stdout + destroy.stderr
    assert absent(lambda: iam.get_role(RoleName=names["role_name"]))
    assert absent(lambda: iam.get_user(UserName=names["user_name"]))
