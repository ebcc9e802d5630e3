"""Profile behaviour the call contracts rely on: explicit region where statements are region-scoped,
parameters an addendum needs, China's EC2 principal, per-profile access key default, policies for
principals the stack does not own."""

from __future__ import annotations

import json

import pytest

from iam_foundry.config.load import parse_config
from iam_foundry.errors import ConfigError
from iam_foundry.policy.documents import build_documents
from tests.conftest import TEST_ACCOUNT, resources, synth_raw

AIU = {"cluster_role_prefix": "aiu-cluster-"}


def raw_config(top_region: str | None = "eu-west-1", **deployment) -> dict:
    raw = {"localstack": {"enabled": False}, "backend": {"type": "local"},
           "deployments": [{"name": "d", "account_id": TEST_ACCOUNT, "allow_plaintext_secret_in_state": True, **deployment}]}
    if top_region:
        raw["region"] = top_region
    return raw


@pytest.mark.parametrize("deployment", [
    {"profile": "iguazio"},  # AssignPrivateIPAddresses: network interfaces of one region
    {"profile": "ai-unlimited", "parameters": AIU},  # EngineSecrets, EngineParameters
    {"profile": "ai-unlimited", "variant": "without-iam-role-permissions", "parameters": AIU},
])
def test_region_scoped_profiles_need_an_explicit_region(deployment):
    with pytest.raises(ConfigError) as err:
        parse_config(raw_config(top_region=None, **deployment))
    problem = next(p for p in err.value.problems if p.where == 'deployments[0].region (deployment "d")')
    assert "us-east-1 would be filled in silently" in problem.message and "region =" in problem.fix
    # Given at the top or in the deployment, the region is used as given.
    assert parse_config(raw_config(top_region="eu-central-1", **deployment)).deployments[0].region == "eu-central-1"
    assert parse_config(raw_config(top_region=None, **deployment, region="ap-south-1")).deployments[0].region == "ap-south-1"


@pytest.mark.parametrize("deployment", [{"profile": "nextai"}, {"profile": "anyscale", "parameters": {
    "cloud_id": "cld_abc", "bucket": "bucket-x"}}])
def test_profiles_without_region_scoped_statements_keep_the_default(deployment):
    assert parse_config(raw_config(top_region=None, **deployment)).deployments[0].region == "us-east-1"


def test_ai_unlimited_needs_a_cluster_role_prefix_and_the_load_balancer_a_hosted_zone():
    with pytest.raises(ConfigError) as err:
        parse_config(raw_config(profile="ai-unlimited", addenda=["load-balancer"]))
    wheres = {p.where for p in err.value.problems}
    assert {'deployments[0].parameters.cluster_role_prefix (deployment "d")',
            'deployments[0].parameters.hosted_zone_id (deployment "d")'} <= wheres


def test_china_trust_policy_names_the_china_ec2_principal(tmp_path):
    stack = synth_raw(raw_config(top_region="cn-north-1", profile="nextai"), tmp_path)["d"]
    trust = json.loads(resources(stack, "aws_iam_role")["node_role"]["assume_role_policy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com.cn"}
    assert f"arn:aws-cn:iam::{TEST_ACCOUNT}:role/nextai-role" in json.dumps(resources(stack, "aws_iam_policy"))


def test_iguazio_creates_the_access_key_its_installer_asks_for_unless_turned_off():
    assert parse_config(raw_config(profile="iguazio")).deployments[0].create_access_key is True
    assert parse_config(raw_config(profile="iguazio", create_access_key=False)).deployments[0].create_access_key is False
    assert parse_config(raw_config(profile="nextai")).deployments[0].create_access_key is False


def test_two_iguazio_deployments_do_not_clash_on_the_node_policy_name():
    raw = raw_config(profile="iguazio")
    raw["deployments"].append({"name": "e", "account_id": TEST_ACCOUNT, "profile": "iguazio", "user_name": "Provazio2",
                               "role_name": "IguazioNode2", "policy_name": "ManageIguazio2",
                               "allow_plaintext_secret_in_state": True})
    config = parse_config(raw)  # a clash would be a ConfigError naming both entries
    names = [build_documents(d).policies[1].name for d in config.deployments]
    assert names == ["IguazioDataScienceNode-AssignPrivateIPAddresses", "IguazioNode2-AssignPrivateIPAddresses"]


def test_anyscale_access_role_policy_is_attached_to_the_existing_role_by_name(tmp_path):
    stack = synth_raw(raw_config(profile="anyscale", addenda=["access-role"], parameters={
        "cloud_id": "cld_abc", "bucket": "bucket-x", "access_role_name": "anyscale-iam-role-xyz"}), tmp_path)["d"]
    policy = resources(stack, "aws_iam_policy")["policy_access_role"]
    assert policy["name"] == "anyscale-cluster-node-cld_abc-access-role-pass"
    attachments = resources(stack, "aws_iam_role_policy_attachment")
    existing = [a for a in attachments.values() if a["role"] == "anyscale-iam-role-xyz"]
    assert existing == [{"role": "anyscale-iam-role-xyz", "policy_arn": "${aws_iam_policy.policy_access_role.arn}"}]
    # Keyed by part and role template key like the exported module, with a `moved` block from the numbered address.
    assert attachments["access_role_existing_role_access_role_name"] == existing[0]
    assert {"from": "aws_iam_role_policy_attachment.access_role_existing_role_0_0",
            "to": "aws_iam_role_policy_attachment.access_role_existing_role_access_role_name"} in stack["moved"]
    assert stack["output"]["access_role_policy_arn"]["value"] == "${aws_iam_policy.policy_access_role.arn}"
    # ...and not to the node role itself.
    assert not any(a["policy_arn"] == "${aws_iam_policy.policy_access_role.arn}" and a["role"] != "anyscale-iam-role-xyz"
                   for a in attachments.values())
