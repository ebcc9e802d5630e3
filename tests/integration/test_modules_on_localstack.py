"""Plain-HCL consumers of every exported module: init (mirror), validate, plan on LocalStack; apply/destroy for two."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import pytest

from iam_foundry.module_export import export_all
from iam_foundry.terraform import Terraform

pytestmark = pytest.mark.integration
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "consumers"
COMMON_PROVIDER = FIXTURES.parent / "consumer-common" / "provider.tf"
APPLIED = {"nextai", "anyscale"}


@pytest.mark.parametrize("fixture", sorted(p.name for p in FIXTURES.iterdir()))
def test_hcl_consumer(localstack_endpoint, iam, tmp_path, fixture):
    exported = {p.name: p for p in export_all(tmp_path / "modules-out")}
    work = tmp_path / "consumer"
    shutil.copytree(FIXTURES / fixture, work)
    shutil.copy(COMMON_PROVIDER, work / "provider.tf")
    shutil.copytree(exported[fixture], work / "module")
    suffix = uuid.uuid4().hex[:6]
    variables = [f"-var=localstack_endpoint={localstack_endpoint}", f"-var=suffix={suffix}"]
    terraform = Terraform(work)
    terraform.run("init", "-input=false", "-no-color")
    assert "The configuration is valid" in terraform.run("validate", "-no-color").stdout
    plan = terraform.run("plan", "-input=false", "-no-color", "-out=tfplan", *variables)
    assert "to add, 0 to change, 0 to destroy" in plan.stdout
    if fixture not in APPLIED:
        return
    terraform.apply("tfplan")
    try:
        outputs = json.loads(terraform.run("output", "-json", "-no-color").stdout)
        if fixture == "anyscale":
            config = json.loads(outputs["compute_config_json"]["value"])
            profile = iam.get_instance_profile(InstanceProfileName=f"anyscale-cluster-node-cld_{suffix}")["InstanceProfile"]
            assert config == {"IamInstanceProfile": {"Arn": profile["Arn"]}}
        else:
            role = iam.get_role(RoleName=f"nextai-role-{suffix}")["Role"]
            assert outputs["role_arn"]["value"] == role["Arn"]
            attached = {p["PolicyName"] for p in iam.list_attached_user_policies(UserName=f"nextai-{suffix}")["AttachedPolicies"]}
            assert attached == {f"nextai-policy-{suffix}", "AmazonS3FullAccess"}
            assert outputs["module_version"]["value"]
        assert terraform.plan(*variables) is False, "no changes after apply"
    finally:
        terraform.destroy(*variables)
