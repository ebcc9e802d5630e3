"""Several stacks at once on LocalStack: one failing stack does not stop the others; init once per stack."""

from __future__ import annotations

import pytest

from tests.integration.conftest import localstack_config, unique_names
from tests.integration.test_cli_up import run_cli, toml_dump

pytestmark = pytest.mark.integration


def test_parallel_up_reports_every_failure_and_finishes_the_rest(localstack_endpoint, iam, tmp_path, project_root):
    names = {stack: unique_names(f"it-par-{stack}") for stack in ("one", "two", "bad")}
    deployments = [{"name": stack, "profile": "nextai", **n} for stack, n in names.items()]
    config = tmp_path / "config.toml"
    config.write_text(toml_dump(localstack_config(localstack_endpoint, deployments)))
    common = ["--config", str(config), "--outdir", str(tmp_path / "out")]
    # A user created outside Terraform makes the "bad" stack's apply fail.
    iam.create_user(UserName=names["bad"]["user_name"])
    try:
        up = run_cli(project_root, *common, "up", "--parallelism", "3", "--handoff-file", str(tmp_path / "h.json"))
        assert up.returncode == 1, up.stdout + up.stderr
        summary = [line for line in up.stderr.splitlines() if line.strip().startswith("- ")]
        assert any("stack 'bad'" in line and "apply failed" in line for line in summary), up.stderr
        assert any("1 of 3 stacks failed, 2 succeeded" in line for line in summary), up.stderr
        assert "Traceback" not in up.stderr
        for stack in ("one", "two"):  # the others were applied and their outputs printed
            assert iam.get_role(RoleName=names[stack]["role_name"])
            assert names[stack]["role_name"] in up.stdout
        assert "one: terraform init" in up.stderr

        plan = run_cli(project_root, *common, "plan", "-s", "one", "-s", "two")
        assert plan.returncode == 0, plan.stderr
        assert "terraform init" not in plan.stderr  # initialised by `up`: not again
        assert "No changes" in plan.stdout
    finally:
        iam.delete_user(UserName=names["bad"]["user_name"])
        destroy = run_cli(project_root, *common, "destroy", "--yes")
    assert destroy.returncode == 0, destroy.stderr + destroy.stdout
    for stack in names:
        assert names[stack]["role_name"] not in [r["RoleName"] for r in iam.list_roles()["Roles"]]
