"""NextAI on LocalStack: init + plan (expected adds), apply, read back with boto3, no-change plan, destroy."""

from __future__ import annotations

import json

import pytest

from iam_foundry.config.load import parse_config
from iam_foundry.ops.synth import stack_dir, synth
from iam_foundry.ops.terraform import Terraform
from tests.integration.conftest import localstack_config, unique_names
from tests.integration.cycle import absent, planned_creates

pytestmark = pytest.mark.integration

# role-creation is refused with the stack's own node role (the launcher creates it): not in this stack.
ALL_ADDENDA = ["clone-disk", "open-ports", "s3-access", "s3-access-node-role", "s3-object-access"]
S3_FULL = "arn:aws:iam::aws:policy/AmazonS3FullAccess"


@pytest.mark.parametrize("addenda", [[], ALL_ADDENDA], ids=["addenda-off", "addenda-on"])
def test_nextai_plan_apply_readback_noop_destroy(localstack_endpoint, iam, tmp_path, addenda):
    names = unique_names("it-nextai")
    raw = localstack_config(localstack_endpoint, [{"name": "nextai", "profile": "nextai", "addenda": addenda, **names}])
    synth(parse_config(raw), tmp_path)
    terraform = Terraform(stack_dir(tmp_path, "nextai"))
    terraform.init()

    expected = {"aws_iam_policy.policy", "aws_iam_policy.boundary", "aws_iam_user.user", "aws_iam_user_policy_attachment.user_policy_main",
                "aws_iam_role.node_role", "aws_iam_role_policy_attachment.node_role_policy_main",
                "aws_iam_instance_profile.instance_profile"}
    # s3-access attaches AmazonS3FullAccess to the user only, s3-access-node-role to the node role (nextai/SOURCES.md)
    if "s3-access" in addenda:
        expected |= {"aws_iam_user_policy_attachment.user_policy_s3_access_0"}
    if "s3-access-node-role" in addenda:
        expected |= {"aws_iam_role_policy_attachment.node_role_policy_s3_access_node_role_0"}
    assert planned_creates(terraform) == expected

    terraform.apply("tfplan")
    outputs = terraform.outputs()
    user, role = names["user_name"], names["role_name"]
    try:
        assert iam.get_user(UserName=user)["User"]["Arn"] == outputs["user_arn"]
        assert absent(lambda: iam.get_login_profile(UserName=user)), "programmatic access only"
        user_policies = {p["PolicyArn"] for p in iam.list_attached_user_policies(UserName=user)["AttachedPolicies"]}
        policy_arn = outputs["policy_arns"][0]
        assert user_policies == ({policy_arn, S3_FULL} if "s3-access" in addenda else {policy_arn})

        version = iam.get_policy(PolicyArn=policy_arn)["Policy"]["DefaultVersionId"]
        document = iam.get_policy_version(PolicyArn=policy_arn, VersionId=version)["PolicyVersion"]["Document"]
        document = json.loads(document) if isinstance(document, str) else document
        sids = [s["Sid"] for s in document["Statement"]]
        assert ("CloneDiskImages" in sids) == ("clone-disk" in addenda)
        assert "PassNodeRole" in sids and "GetNodeRole" in sids  # role-creation is refused here, so GetNodeRole stays
        assert "AttachNodeRolePolicies" not in sids
        assert ("S3ObjectReadWrite" in sids) == ("s3-object-access" in addenda)
        # The profile boundary is set on both principals and holds the policy's statements.
        boundary = outputs["boundary_policy_arn"]
        assert iam.get_user(UserName=user)["User"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == boundary
        assert iam.get_role(RoleName=role)["Role"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == boundary
        bound = iam.get_policy_version(PolicyArn=boundary, VersionId="v1")["PolicyVersion"]["Document"]
        bound = json.loads(bound) if isinstance(bound, str) else bound
        assert set(sids) <= {s["Sid"] for s in bound["Statement"]}
        assert f"arn:aws:iam::000000000000:role/{role}" in json.dumps(document)

        trust = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
        trust = json.loads(trust) if isinstance(trust, str) else trust
        assert trust["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}
        assert trust["Statement"][0]["Action"] == "sts:AssumeRole"
        profile = iam.get_instance_profile(InstanceProfileName=outputs["instance_profile_name"])["InstanceProfile"]
        assert [r["RoleName"] for r in profile["Roles"]] == [role]
        assert profile["Arn"] == outputs["instance_profile_arn"]
        role_policies = {p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]}
        assert policy_arn in role_policies and ((S3_FULL in role_policies) == ("s3-access-node-role" in addenda))

        assert terraform.plan() is False, "second plan must show no changes"
    finally:
        terraform.destroy()

    assert absent(lambda: iam.get_user(UserName=user))
    assert absent(lambda: iam.get_role(RoleName=role))
    assert absent(lambda: iam.get_instance_profile(InstanceProfileName=role))
    assert absent(lambda: iam.get_policy(PolicyArn=f"arn:aws:iam::000000000000:policy/{names['policy_name']}"))
