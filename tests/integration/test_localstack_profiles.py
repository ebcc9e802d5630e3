"""Every other profile and variant on LocalStack: plan, apply, read back, no-change plan, destroy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.conftest import localstack_config, unique_names
from tests.integration.cycle import run_cycle

pytestmark = pytest.mark.integration
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "custom"


def test_ai_unlimited_with_iam_role_permissions_and_all_addenda(localstack_endpoint, iam, tmp_path):
    names = unique_names("it-aiu")
    deployment = {"name": "aiu", "profile": "ai-unlimited", "addenda": ["session-manager", "load-balancer"],
                  "parameters": {"cluster_name": "analytics", "key_pair_name": "ops-ssh", "cluster_role_prefix": "aiu-cluster-",
                                 "hosted_zone_id": "Z0123456789ABCDEFGHIJ"},
                  "role_name": names["role_name"], "policy_name": names["policy_name"]}
    outputs = run_cycle(localstack_config(localstack_endpoint, [deployment]), "aiu", tmp_path, iam)
    assert outputs["key_pair_name"] == "ops-ssh"
    assert outputs["role_name"] == names["role_name"]


def test_ai_unlimited_without_iam_role_permissions(localstack_endpoint, iam, tmp_path):
    names = unique_names("it-aiu-r")
    deployment = {"name": "aiu", "profile": "ai-unlimited", "variant": "without-iam-role-permissions",
                  "parameters": {"cluster_role_prefix": "aiu-cluster-"},
                  "role_name": names["role_name"], "policy_name": names["policy_name"]}
    outputs = run_cycle(localstack_config(localstack_endpoint, [deployment]), "aiu", tmp_path, iam)
    assert len(outputs["policy_arns"]) == 2  # restricted workspaces policy + engine policy


def test_iguazio_with_access_key(localstack_endpoint, iam, tmp_path):
    names = unique_names("it-igz")
    deployment = {"name": "igz", "profile": "iguazio", "create_access_key": True, **names,
                  "policy_names": {"node": f"{names['policy_name']}-ha"}}
    outputs = run_cycle(localstack_config(localstack_endpoint, [deployment]), "igz", tmp_path, iam)
    assert outputs["instance_profile_name"] == names["role_name"]
    assert outputs["access_key_secret"] == "(sensitive)"


def test_anyscale(localstack_endpoint, iam, tmp_path):
    deployment = {"name": "anyscale", "profile": "anyscale",
                  "parameters": {"cloud_id": f"cld_{unique_names('x')['role_name'][2:8]}", "bucket": "anyscale-it-bucket",
                                 "cloud_account_id": "000000000000"}}
    outputs = run_cycle(localstack_config(localstack_endpoint, [deployment]), "anyscale", tmp_path, iam)
    assert outputs["role_name"].startswith("anyscale-cluster-node-cld_")
    assert json.loads(outputs["compute_config_json"]) == {"IamInstanceProfile": {"Arn": outputs["instance_profile_arn"]}}


def test_custom_profile(localstack_endpoint, iam, tmp_path):
    names = unique_names("it-custom")
    deployment = {"name": "mine", "profile": "custom", "policy_file": str(EXAMPLES / "my-platform-policy.json"),
                  "addenda_files": [str(EXAMPLES / "read-own-logs.json")], **names}
    run_cycle(localstack_config(localstack_endpoint, [deployment]), "mine", tmp_path, iam)


def test_auto_split_oversized_policy_plans_and_applies(localstack_endpoint, iam, tmp_path):
    from tests.split_fixture import write_oversized_policy

    names = unique_names("it-split")
    deployment = {"name": "big", "profile": "custom", "policy_file": str(write_oversized_policy(tmp_path / "big.json")), **names}
    outputs = run_cycle(localstack_config(localstack_endpoint, [deployment]), "big", tmp_path / "out", iam)
    assert outputs["policy_names"] == [names["policy_name"], f"{names['policy_name']}-2", f"{names['policy_name']}-3"]
