"""Every other profile and variant on LocalStack: plan, apply, read back, no-change plan, destroy.

What is read back is checked against the vendor facts (tests/profile_facts.py) and the names each
test chooses, not against the synthesized JSON.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.conftest import localstack_config, unique_names
from tests.integration.cycle import Expected, run_cycle
from tests.profile_facts import CASES, IGZ_NODE_POLICY, s

pytestmark = pytest.mark.integration
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "custom"


def statements(case: str, policy: str) -> list:
    return CASES[case].policies[policy]


def test_ai_unlimited_with_iam_role_permissions_and_all_addenda(localstack_endpoint, iam, tmp_path):
    names = unique_names("it-aiu")
    deployment = {"name": "aiu", "profile": "ai-unlimited", "addenda": ["session-manager", "load-balancer"],
                  "parameters": {"cluster_name": "analytics", "key_pair_name": "ops-ssh", "cluster_role_prefix": "aiu-cluster-",
                                 "hosted_zone_id": "Z0123456789ABCDEFGHIJ"},
                  "role_name": names["role_name"], "policy_name": names["policy_name"]}
    case = "ai-unlimited-with-iam-role-permissions-all-addenda"
    deployer = f"{names['role_name']}-deployer"  # load-balancer: its own policy, unattached (ai-unlimited/SOURCES.md)
    expected = Expected(
        policies={names["policy_name"]: statements(case, "ai-unlimited-workspaces"), deployer: statements(case, "ai-unlimited-deployer")},
        role_name=names["role_name"], instance_profile_name=names["role_name"], role_policies=(names["policy_name"],),
        fmt={"prefix": "aiu-cluster-", "zone": "Z0123456789ABCDEFGHIJ"})  # the server's EngineSecrets ignore cluster_name
    outputs = run_cycle(localstack_config(localstack_endpoint, [deployment]), "aiu", tmp_path, iam, expected)
    assert outputs["key_pair_name"] == "ops-ssh"
    assert outputs["role_name"] == names["role_name"]
    assert outputs["deployer_policy_arn"] == f"arn:aws:iam::000000000000:policy/{deployer}"


def test_ai_unlimited_without_iam_role_permissions(localstack_endpoint, iam, tmp_path):
    names = unique_names("it-aiu-r")
    deployment = {"name": "aiu", "profile": "ai-unlimited", "variant": "without-iam-role-permissions",
                  "parameters": {"cluster_role_prefix": "aiu-cluster-"},
                  "role_name": names["role_name"], "policy_name": names["policy_name"]}
    case = "ai-unlimited-without-iam-role-permissions-all-addenda"
    workspaces = [st for st in statements(case, "ai-unlimited-workspaces") if not st.sid.startswith("SessionManager")]
    engine = f"{names['role_name']}-engine"  # README: the engine policy is <role_name>-engine
    # The engine role (<role_name>-engine, instance profile of the same name) holds the engine policy; the server's role
    # holds the workspaces policy alone, aimed at the engine role (issue #12, ai-unlimited/SOURCES.md "Engine role").
    engine_role = f"{names['role_name']}-engine"
    expected = Expected(policies={names["policy_name"]: workspaces, engine: statements(case, "ai-unlimited-engine")},
                        role_name=names["role_name"], instance_profile_name=names["role_name"], role_policies=(names["policy_name"],),
                        own_roles={engine_role: (engine_role, (engine,))},
                        fmt={"secret_scope": "compute-engine/*", "prefix": "aiu-cluster-", "engine_role": engine_role,
                             "engine_instance_profile": engine_role})
    outputs = run_cycle(localstack_config(localstack_endpoint, [deployment]), "aiu", tmp_path, iam, expected)
    assert len(outputs["policy_arns"]) == 2  # restricted workspaces policy + engine policy
    assert outputs["engine_role_name"] == outputs["engine_role_instance_profile_name"] == engine_role
    assert outputs["engine_role_arn"] == f"arn:aws:iam::000000000000:role/{engine_role}"
    assert outputs["engine_role_boundary_policy_arn"] == f"arn:aws:iam::000000000000:policy/{engine_role}-boundary"


@pytest.mark.parametrize("variant", ["vanilla", "eks"])
def test_iguazio_with_access_key(localstack_endpoint, iam, tmp_path, variant):
    names = unique_names("it-igz")
    node_policy = f"{names['policy_name']}-ha"
    deployment = {"name": "igz", "profile": "iguazio", "variant": variant, "create_access_key": True, **names,
                  "policy_names": {"node": node_policy}}
    case = f"iguazio-{variant}"
    expected = Expected(
        policies={names["policy_name"]: statements(case, "ManageIguazioSystems"), node_policy: statements(case, IGZ_NODE_POLICY)},
        role_name=names["role_name"], instance_profile_name=names["role_name"], user_name=names["user_name"],
        user_policies=(names["policy_name"],), role_policies=(node_policy,), access_key=True)
    outputs = run_cycle(localstack_config(localstack_endpoint, [deployment]), "igz", tmp_path, iam, expected)
    assert outputs["instance_profile_name"] == names["role_name"]
    assert outputs["access_key_secret"] == "(sensitive)"


def test_anyscale(localstack_endpoint, iam, tmp_path):
    cloud_id = f"cld_{unique_names('x')['role_name'][2:8]}"
    deployment = {"name": "anyscale", "profile": "anyscale",
                  "parameters": {"cloud_id": cloud_id, "bucket": "anyscale-it-bucket", "cloud_account_id": "000000000000"}}
    role = f"anyscale-cluster-node-{cloud_id}"  # not the vendor's <cloud_id>-cluster_node_role, which a Managed-Resources cloud already has
    expected = Expected(policies={f"{cloud_id}-cluster_node_s3_access": statements("anyscale", "cld_abc123-cluster_node_s3_access")},
                        role_name=role, instance_profile_name=role, role_policies=(f"{cloud_id}-cluster_node_s3_access",),
                        fmt={"bucket": "anyscale-it-bucket"})
    outputs = run_cycle(localstack_config(localstack_endpoint, [deployment]), "anyscale", tmp_path, iam, expected)
    assert outputs["role_name"] == role
    assert json.loads(outputs["compute_config_json"]) == {"IamInstanceProfile": {"Arn": outputs["instance_profile_arn"]}}


def test_custom_profile(localstack_endpoint, iam, tmp_path):
    names = unique_names("it-custom")
    deployment = {"name": "mine", "profile": "custom", "policy_file": str(EXAMPLES / "my-platform-policy.json"),
                  "addenda_files": [str(EXAMPLES / "read-own-logs.json")], **names}
    # The example files' statements, written out: the policy goes to the user and the node role.
    policy = [s("DescribeCompute", "ec2:DescribeInstances", "ec2:DescribeImages", resources=("*",)),
              s("PassNodeRole", "iam:PassRole", condition={"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}},
                resources=("arn:aws:iam::{acct}:role/{role}",)),
              s("ReadPlatformLogs", "logs:GetLogEvents", "logs:FilterLogEvents", resources=("arn:aws:logs:us-east-1:{acct}:log-group:/mine/*",))]
    expected = Expected(policies={names["policy_name"]: policy}, role_name=names["role_name"], instance_profile_name=names["role_name"],
                        user_name=names["user_name"], user_policies=(names["policy_name"],), role_policies=(names["policy_name"],),
                        boundary=False)  # the profile boundary is the built-in profiles' default, not a custom profile's
    run_cycle(localstack_config(localstack_endpoint, [deployment]), "mine", tmp_path, iam, expected)


def test_auto_split_oversized_policy_plans_and_applies(localstack_endpoint, iam, tmp_path):
    from tests.split_fixture import write_oversized_policy

    names = unique_names("it-split")
    deployment = {"name": "big", "profile": "custom", "policy_file": str(write_oversized_policy(tmp_path / "big.json")), **names}
    expected = Expected(policies={names["policy_name"]: [s(f"ReadBucket{i:02d}", "s3:GetObject", "s3:ListBucket") for i in range(45)]},
                        parts={names["policy_name"]: 3}, role_name=names["role_name"], instance_profile_name=names["role_name"],
                        user_name=names["user_name"], user_policies=(names["policy_name"],), role_policies=(names["policy_name"],),
                        boundary=False)
    outputs = run_cycle(localstack_config(localstack_endpoint, [deployment]), "big", tmp_path / "out", iam, expected)
    assert outputs["policy_names"] == [names["policy_name"], f"{names['policy_name']}-2", f"{names['policy_name']}-3"]
