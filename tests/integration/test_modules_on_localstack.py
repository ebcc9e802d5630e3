"""Plain-HCL consumers of every exported module: init (mirror), validate, plan, apply, read back,
no-change plan and destroy on LocalStack. What is read back is checked against the vendor facts
(tests/profile_facts.py) and the names and toggles each fixture sets, not against the module."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import pytest

from iam_foundry import __version__
from iam_foundry.emit.module import export_all
from iam_foundry.ops.terraform import Terraform
from tests.integration.cycle import Expected, assert_deployed, assert_removed
from tests.profile_facts import CASES, IGZ_NODE_POLICY, S3_FULL

pytestmark = pytest.mark.integration
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "consumers"
COMMON_PROVIDER = FIXTURES.parent / "consumer-common" / "provider.tf"


def facts(case: str, policy: str, drop: tuple[str, ...] = ()) -> list:
    return [st for st in CASES[case].policies[policy] if not st.sid.startswith(drop)]


def expected_for(fixture: str, sfx: str) -> Expected:
    """Each fixture's main.tf: its names, toggles and parameters, with the vendor facts."""
    if fixture == "nextai":  # clone-disk, s3-access on; the rest off (a module creates the node role: no role-creation); an access key
        policy, role = f"nextai-policy-{sfx}", f"nextai-role-{sfx}"
        clone_disk = [st for st in facts("nextai-all-addenda", "nextai-policy") if st.sid == "CloneDiskImages"]
        return Expected(policies={policy: facts("nextai", "nextai-policy") + clone_disk},
                        role_name=role, instance_profile_name=role, user_name=f"nextai-{sfx}", user_policies=(policy,),
                        role_policies=(policy,), user_managed=(S3_FULL,), access_key=True)  # s3-access: the user only
    if fixture == "ai-unlimited":  # both addenda, cluster_name = analytics (the server's EngineSecrets ignore it)
        case = "ai-unlimited-with-iam-role-permissions-all-addenda"
        policy, role = f"ai-unlimited-workspaces-{sfx}", f"ai-unlimited-{sfx}"
        return Expected(policies={policy: facts(case, "ai-unlimited-workspaces"), f"{role}-deployer": facts(case, "ai-unlimited-deployer")},
                        role_name=role, instance_profile_name=role, role_policies=(policy,),  # the deployer policy is unattached
                        fmt={"prefix": "aiu-cluster-", "zone": "Z0123456789ABCDEFGHIJ"})
    if fixture == "ai-unlimited-without-iam-role-permissions":  # no addenda; engine policy <role_name>-engine
        case = "ai-unlimited-without-iam-role-permissions-all-addenda"
        policy = role = f"ai-unlimited-r-{sfx}"
        # The engine role <role_name>-engine (instance profile of the same name) holds the engine policy, not the server's role.
        engine = f"{role}-engine"
        return Expected(policies={policy: facts(case, "ai-unlimited-workspaces", drop=("SessionManager",)),
                                  f"{role}-engine": facts(case, "ai-unlimited-engine")},
                        role_name=role, instance_profile_name=role, role_policies=(policy,), own_roles={engine: (engine, (f"{role}-engine",))},
                        fmt={"secret_scope": "compute-engine/*", "prefix": "aiu-cluster-", "engine_role": engine,
                             "engine_instance_profile": engine})
    if fixture == "anyscale":
        role = f"anyscale-cluster-node-cld_{sfx}"
        return Expected(policies={f"cld_{sfx}-cluster_node_s3_access": facts("anyscale", "cld_abc123-cluster_node_s3_access")},
                        role_name=role, instance_profile_name=role, role_policies=(f"cld_{sfx}-cluster_node_s3_access",),
                        fmt={"bucket": "my-anyscale-bucket"})
    variant, infix = ("iguazio-eks", "-eks") if fixture == "iguazio-eks" else ("iguazio-vanilla", "")
    policy, node_policy, role = (f"ManageIguazioSystems{infix}-{sfx}", f"AssignPrivateIPAddresses{infix}-{sfx}",
                                 f"IguazioDataScienceNode{infix}-{sfx}")
    # iguazio sets create_access_key = true; iguazio-eks relies on the default, now true (iguazio/SOURCES.md, "Access key")
    return Expected(policies={policy: facts(variant, "ManageIguazioSystems"), node_policy: facts(variant, IGZ_NODE_POLICY)},
                    role_name=role, instance_profile_name=role, user_name=f"Provazio{infix}-{sfx}", user_policies=(policy,),
                    role_policies=(node_policy,), access_key=True)


@pytest.mark.parametrize("fixture", sorted(p.name for p in FIXTURES.iterdir()))
def test_hcl_consumer(localstack_endpoint, iam, tmp_path, fixture):
    exported = {p.name: p for p in export_all(tmp_path / "modules-out")}
    work = tmp_path / "consumer"
    shutil.copytree(FIXTURES / fixture, work)
    shutil.copy(COMMON_PROVIDER, work / "provider.tf")
    shutil.copytree(exported[fixture], work / "module")
    suffix = uuid.uuid4().hex[:6]
    expected = expected_for(fixture, suffix)
    variables = [f"-var=localstack_endpoint={localstack_endpoint}", f"-var=suffix={suffix}"]
    terraform = Terraform(work)
    terraform.run("init", "-input=false", "-no-color")
    assert "The configuration is valid" in terraform.run("validate", "-no-color").stdout
    terraform.run("plan", "-input=false", "-no-color", "-out=tfplan", *variables)
    plan = json.loads(terraform.run("show", "-json", "-no-color", "tfplan").stdout)
    planned = {}
    for change in plan.get("resource_changes", []):
        if change["mode"] == "managed":
            assert change["change"]["actions"] == ["create"], change
            planned[change["type"]] = planned.get(change["type"], 0) + 1
    assert planned == dict(expected.resource_counts())
    terraform.apply("tfplan")
    try:
        outputs = json.loads(terraform.run("output", "-json", "-no-color").stdout)
        assert_deployed(iam, expected)
        if fixture == "anyscale":
            profile = iam.get_instance_profile(InstanceProfileName=expected.instance_profile_name)["InstanceProfile"]
            assert json.loads(outputs["compute_config_json"]["value"]) == {"IamInstanceProfile": {"Arn": profile["Arn"]}}
        elif fixture == "nextai":
            assert outputs["role_arn"]["value"] == iam.get_role(RoleName=expected.role_name)["Role"]["Arn"]
            assert outputs["module_version"]["value"] == __version__
            assert {"Key": "Team", "Value": "ml"} in iam.list_user_tags(UserName=expected.user_name)["Tags"]
        elif fixture.startswith("iguazio"):
            assert outputs["instance_profile_name"]["value"] == expected.instance_profile_name
        else:
            assert outputs["role_name"]["value"] == expected.role_name
            if expected.own_roles:
                assert outputs["engine_role_arn"]["value"] == iam.get_role(RoleName=f"{expected.role_name}-engine")["Role"]["Arn"]
        assert terraform.plan(*variables) is False, "no changes after apply"
    finally:
        terraform.destroy(*variables)
    assert_removed(iam, expected)
