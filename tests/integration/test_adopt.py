"""Existing resources on LocalStack: adopted (imported, kept on destroy), or named as a clash before apply."""

from __future__ import annotations

import json

import pytest

from tests.integration.conftest import failing_up, localstack_config, unique_names
from tests.integration.test_accounts import toml_dump
from tests.integration.test_cli_up import run_cli

pytestmark = pytest.mark.integration

EC2_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def existing_role(iam, name: str) -> str:
    """Created the way the vendor's console steps would, before iam-foundry; returns its RoleId."""
    return iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(EC2_TRUST),
                           Description="made by hand")["Role"]["RoleId"]


def delete_role(iam, name: str) -> None:
    for policy in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
        iam.detach_role_policy(RoleName=name, PolicyArn=policy["PolicyArn"])
    for profile in iam.list_instance_profiles_for_role(RoleName=name)["InstanceProfiles"]:
        iam.remove_role_from_instance_profile(InstanceProfileName=profile["InstanceProfileName"], RoleName=name)
    iam.delete_role(RoleName=name)


def test_adopt_imports_the_existing_role_and_destroy_leaves_it(localstack_endpoint, iam, tmp_path, project_root):
    keep, drop = unique_names("it-adopt-keep"), unique_names("it-adopt-drop")
    ids = {"keep": existing_role(iam, keep["role_name"]), "drop": existing_role(iam, drop["role_name"])}
    raw = localstack_config(localstack_endpoint, [
        {"name": "keep", "profile": "nextai", **keep, "adopt": ["node_role"]},
        {"name": "drop", "profile": "nextai", **drop, "adopt": ["node_role"], "destroy_adopted": True},
    ])
    config = tmp_path / "config.toml"
    config.write_text(toml_dump(raw))
    common = ["--config", str(config), "--outdir", str(tmp_path / "out")]
    try:
        plan = run_cli(project_root, *common, "plan")
        assert plan.returncode == 0, plan.stderr + plan.stdout
        assert plan.stdout.count("Plan: 1 to import, 6 to add, 1 to change, 0 to destroy.") == 2, plan.stdout
        assert f'(imported from "{keep["role_name"]}")' in plan.stdout
        assert iam.get_role(RoleName=keep["role_name"])["Role"]["RoleId"] == ids["keep"]  # plan applied nothing

        up = run_cli(project_root, *common, "up", "--handoff-file", str(tmp_path / "h.json"))
        assert up.returncode == 0, up.stderr + up.stdout
        for stack, names in (("keep", keep), ("drop", drop)):
            role = iam.get_role(RoleName=names["role_name"])["Role"]
            assert role["RoleId"] == ids[stack]  # taken over, not recreated
            assert {"Key": "ManagedBy", "Value": "iam-foundry"} in role.get("Tags", [])
            assert iam.get_user(UserName=names["user_name"])
        again = run_cli(project_root, *common, "plan", "-s", "keep")
        assert "No changes" in again.stdout, again.stdout

        destroy = run_cli(project_root, *common, "destroy", "--yes")
        assert destroy.returncode == 0, destroy.stderr + destroy.stdout
        assert iam.get_role(RoleName=keep["role_name"])["Role"]["RoleId"] == ids["keep"]  # adopted: left in place
        roles = {r["RoleName"] for r in iam.list_roles()["Roles"]}
        assert drop["role_name"] not in roles  # destroy_adopted = true
        users = {u["UserName"] for u in iam.list_users()["Users"]}
        assert keep["user_name"] not in users and drop["user_name"] not in users  # what the stacks created is gone
    finally:
        for names in (keep, drop):
            if names["role_name"] in {r["RoleName"] for r in iam.list_roles()["Roles"]}:
                delete_role(iam, names["role_name"])


def test_without_adopt_up_names_the_clash_before_creating_anything(localstack_endpoint, iam, tmp_path, project_root):
    names = unique_names("it-clash")
    existing_role(iam, names["role_name"])
    try:
        raw = localstack_config(localstack_endpoint, [{"name": "clash", "profile": "nextai", **names}])
        config = tmp_path / "config.toml"
        config.write_text(toml_dump(raw))
        _, summary = failing_up(project_root, config, tmp_path, "clash")
        line = next(line for line in summary if f"IAM role '{names['role_name']}' already exists" in line)
        assert "stack 'clash'" in line and 'add "node_role" to the deployment\'s adopt list' in line
        assert names["user_name"] not in {u["UserName"] for u in iam.list_users()["Users"]}
        assert names["policy_name"] not in {p["PolicyName"] for p in iam.list_policies(Scope="Local")["Policies"]}
    finally:
        delete_role(iam, names["role_name"])
