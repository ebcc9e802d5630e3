"""NextAI profile: synthesized JSON snapshots, and the IAM documents checked statement by statement.

Update snapshots after an intended change with: make snapshots  (pytest --snapshot-update)
"""

import json
import re

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from iam_foundry.paths import DEFAULT_CONFIG
from iam_foundry.config.load import load_config
from iam_foundry.ops.synth import synth
from tests.conftest import TEST_ACCOUNT, boundary_document, make_config, policy_documents, resources, statements_by_sid, synth_raw

BASE_SIDS = ["RunInstancesFromAnyImage", "RunInstancesInAccount", "ManageInstances", "DescribeEC2",
             "ManageSecurityGroups", "CreateSpotServiceLinkedRole", "GetNodeRole", "PassNodeRole", "GetNodeInstanceProfile"]
ADDENDUM_SIDS = {"clone-disk": ["CloneDiskImages"], "open-ports": ["OpenPorts"], "s3-access": [],
                 "role-creation": ["CreateNodeRole", "AttachNodeRolePolicies", "CreateNodeInstanceProfile"]}
S3_FULL = "arn:aws:iam::aws:policy/AmazonS3FullAccess"
ADDENDA_CASES = [[], ["clone-disk"], ["open-ports"], ["s3-access"], ["role-creation"],
                 ["clone-disk", "open-ports", "role-creation", "s3-access"]]


@pytest.fixture
def snapshot_json(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize("addenda", ADDENDA_CASES, ids=lambda a: "+".join(a) or "base")
def test_snapshot_per_addenda_choice(synth_stack, snapshot_json, addenda):
    assert synth_stack(addenda=addenda) == snapshot_json


def test_snapshot_of_shipped_default_config(tmp_path, snapshot_json):
    names = synth(load_config(DEFAULT_CONFIG), tmp_path)
    stacks = {n: json.loads((tmp_path / "stacks" / n / "cdk.tf.json").read_text()) for n in names}
    assert stacks == snapshot_json


@pytest.mark.parametrize("addenda", ADDENDA_CASES, ids=lambda a: "+".join(a) or "base")
def test_policy_statements_follow_the_addenda(synth_stack, addenda):
    stack = synth_stack(addenda=addenda)
    sids = list(statements_by_sid(stack))
    expected = [s for s in BASE_SIDS if not ("role-creation" in addenda and s in ("GetNodeRole", "GetNodeInstanceProfile"))]
    for name in sorted(addenda):
        expected += ADDENDUM_SIDS[name]
    assert sids == expected
    for name, addendum_sids in ADDENDUM_SIDS.items():
        for sid in addendum_sids:
            assert (sid in sids) == (name in addenda)


def test_placeholders_filled_with_account_partition_and_names(synth_stack):
    stack = synth_stack(addenda=["open-ports", "role-creation"])
    text = json.dumps(policy_documents(stack))
    assert not re.search(r"\{\{\s*\w+\s*\}\}", text) and "<account" not in text
    statements = statements_by_sid(stack)
    assert statements["RunInstancesInAccount"]["Resource"][0] == f"arn:aws:ec2:*:{TEST_ACCOUNT}:instance/*"
    assert statements["OpenPorts"]["Resource"] == f"arn:aws:ec2:*:{TEST_ACCOUNT}:*"
    assert statements["CreateNodeRole"]["Resource"] == [f"arn:aws:iam::{TEST_ACCOUNT}:role/nextai-role"]
    assert statements["CreateNodeInstanceProfile"]["Resource"] == f"arn:aws:iam::{TEST_ACCOUNT}:instance-profile/nextai-role"
    assert "iam:CreateRole" in statements["CreateNodeRole"]["Action"]
    # The launcher attaches exactly these two AWS managed policies when it creates the role itself.
    assert statements["AttachNodeRolePolicies"]["Condition"] == {"ArnEquals": {"iam:PolicyARN": [
        "arn:aws:iam::aws:policy/AmazonEC2FullAccess", "arn:aws:iam::aws:policy/AmazonS3FullAccess"]}}


def test_pass_role_is_scoped_to_the_node_role(synth_stack):
    statements = statements_by_sid(synth_stack(role_name="ml-nodes", instance_profile_name="ml-nodes-profile"))
    assert statements["PassNodeRole"]["Resource"] == [f"arn:aws:iam::{TEST_ACCOUNT}:role/ml-nodes"]
    assert statements["PassNodeRole"]["Condition"] == {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}
    assert statements["GetNodeInstanceProfile"]["Resource"] == f"arn:aws:iam::{TEST_ACCOUNT}:instance-profile/ml-nodes-profile"
    assert statements["CreateSpotServiceLinkedRole"]["Condition"] == {"StringEquals": {"iam:AWSServiceName": "spot.amazonaws.com"}}


def test_account_id_comes_from_caller_identity_when_not_given(tmp_path):
    raw = make_config()
    raw["deployments"][0].pop("account_id")
    stack = synth_raw(raw, tmp_path)["nextai"]
    assert "current" in stack["data"]["aws_caller_identity"]
    statements = statements_by_sid(stack)
    assert statements["PassNodeRole"]["Resource"] == ["arn:aws:iam::${data.aws_caller_identity.current.account_id}:role/nextai-role"]
    assert not re.search(r"\d{12}", json.dumps(policy_documents(stack)))
    assert stack["output"]["account_id"]["value"] == "${data.aws_caller_identity.current.account_id}"


def test_node_role_trust_instance_profile_and_attachments(synth_stack):
    stack = synth_stack(addenda=["s3-access", "s3-access-node-role"])
    role = resources(stack, "aws_iam_role")["node_role"]
    trust = json.loads(role["assume_role_policy"])
    assert trust["Statement"] == [{"Sid": "EC2AssumeRole", "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                                   "Action": "sts:AssumeRole"}]
    assert role["name"] == "nextai-role"
    profile = resources(stack, "aws_iam_instance_profile")["instance_profile"]
    assert profile["name"] == "nextai-role" and profile["role"] == "${aws_iam_role.node_role.name}"
    role_arns = sorted(a["policy_arn"] for a in resources(stack, "aws_iam_role_policy_attachment").values())
    assert role_arns == sorted(["${aws_iam_policy.policy.arn}", S3_FULL])
    user_arns = sorted(a["policy_arn"] for a in resources(stack, "aws_iam_user_policy_attachment").values())
    assert user_arns == sorted(["${aws_iam_policy.policy.arn}", S3_FULL])


def test_s3_full_access_is_switched_per_principal(synth_stack):
    def attached(stack: dict, kind: str) -> str:
        return json.dumps(resources(stack, kind))
    users_only = synth_stack(addenda=["s3-access"])
    assert S3_FULL in attached(users_only, "aws_iam_user_policy_attachment")
    assert S3_FULL not in attached(users_only, "aws_iam_role_policy_attachment")
    nodes_only = synth_stack(addenda=["s3-access-node-role"])
    assert S3_FULL not in attached(nodes_only, "aws_iam_user_policy_attachment")
    assert S3_FULL in attached(nodes_only, "aws_iam_role_policy_attachment")
    narrow = statements_by_sid(synth_stack(addenda=["s3-object-access"]))
    assert narrow["S3ObjectReadWrite"]["Resource"] == "arn:aws:s3:::*/*"
    assert not any(a in ("s3:*", "s3:CreateBucket", "s3:DeleteBucket", "s3:PutBucketPolicy")
                   for s in narrow.values() for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"]))


def test_s3_full_access_only_with_the_addendum(synth_stack):
    stack = synth_stack(addenda=["clone-disk"])
    attached = json.dumps(resources(stack, "aws_iam_user_policy_attachment")) + json.dumps(resources(stack, "aws_iam_role_policy_attachment"))
    assert "AmazonS3FullAccess" not in attached


def test_user_is_programmatic_only_and_key_is_optional(synth_stack):
    stack = synth_stack()
    assert "aws_iam_user_login_profile" not in stack["resource"]
    assert "aws_iam_access_key" not in stack["resource"]
    assert "access_key_secret" not in stack["output"]
    with_key = synth_stack(create_access_key=True, allow_plaintext_secret_in_state=True)
    assert with_key["resource"]["aws_iam_access_key"]["user_access_key"]["user"] == "${aws_iam_user.user.name}"
    assert with_key["output"]["access_key_secret"]["sensitive"] is True
    assert "sensitive" not in with_key["output"]["access_key_id"]


def test_user_path_boundary_and_tags(synth_stack):
    boundary = f"arn:aws:iam::{TEST_ACCOUNT}:policy/ml-boundary"
    stack = synth_stack(path="/ml/", permissions_boundary=boundary, tags={"Team": "ml"})
    user = resources(stack, "aws_iam_user")["user"]
    assert user["path"] == "/ml/" and user["permissions_boundary"] == boundary
    assert user["tags"] == {"ManagedBy": "iam-foundry", "IamFoundryDeployment": "nextai", "Team": "ml"}
    assert resources(stack, "aws_iam_role")["node_role"]["permissions_boundary"] == boundary


def test_outputs_cover_every_arn_and_name(synth_stack):
    outputs = synth_stack(create_access_key=True, allow_plaintext_secret_in_state=True)["output"]
    assert set(outputs) == {"user_name", "user_arn", "access_key_id", "access_key_secret", "policy_arns", "policy_names",
                            "role_name", "role_arn", "instance_profile_name", "instance_profile_arn", "account_id",
                            "boundary_policy_arn"}


# -- guardrails ------------------------------------------------------------------------------------

def test_profile_boundary_is_set_on_user_and_role_and_holds_the_profile(synth_stack):
    stack = synth_stack(addenda=["s3-access"])
    ref = "${aws_iam_policy.boundary.arn}"
    assert resources(stack, "aws_iam_user")["user"]["permissions_boundary"] == ref
    assert resources(stack, "aws_iam_role")["node_role"]["permissions_boundary"] == ref
    boundary = boundary_document(stack)
    assert resources(stack, "aws_iam_policy")["boundary"]["name"] == "nextai-policy-boundary"
    # Every identity statement is in it, and the AWS managed policy the addendum attaches.
    body = [{k: v for k, v in st.items() if k != "Sid"} for st in boundary["Statement"]]
    for statement in statements_by_sid(stack).values():
        assert {k: v for k, v in statement.items() if k != "Sid"} in body
    assert {"Effect": "Allow", "Action": ["s3:*", "s3-object-lambda:*"], "Resource": "*"} in body
    denies = {st["Sid"]: st for st in boundary["Statement"] if st["Effect"] == "Deny"}
    assert set(denies["DenyPermissionsBoundaryChanges"]["Action"]) == {
        "iam:PutRolePermissionsBoundary", "iam:DeleteRolePermissionsBoundary",
        "iam:PutUserPermissionsBoundary", "iam:DeleteUserPermissionsBoundary"}
    assert denies["DenyBoundaryPolicyChanges"]["Resource"] == f"arn:aws:iam::{TEST_ACCOUNT}:policy/nextai-policy-boundary"


def test_a_given_permissions_boundary_replaces_the_profile_boundary(synth_stack):
    given = f"arn:aws:iam::{TEST_ACCOUNT}:policy/ml-boundary"
    stack = synth_stack(permissions_boundary=given)
    assert "boundary" not in resources(stack, "aws_iam_policy") and "boundary_policy_arn" not in stack["output"]
    # Not ours to edit: the deny on lifting it goes into the identity policy.
    keep = statements_by_sid(stack)["KeepPermissionsBoundary"]
    assert keep["Effect"] == "Deny" and "iam:DeleteUserPermissionsBoundary" in keep["Action"]


def test_profile_boundary_can_be_switched_off(synth_stack):
    stack = synth_stack(profile_boundary=False)
    assert "boundary" not in resources(stack, "aws_iam_policy")
    assert "permissions_boundary" not in resources(stack, "aws_iam_user")["user"]


def test_role_creation_never_reaches_the_stacks_node_role(synth_stack):
    stack = synth_stack(addenda=["role-creation"])
    assert not resources(stack, "aws_iam_role")  # the launcher creates it; the stack must not
    assert "CreateNodeRole" in statements_by_sid(stack)


def test_state_in_s3_with_lockfile(synth_stack):
    backend = synth_stack()["terraform"]["backend"]["s3"]
    assert backend == {"bucket": "acme-terraform-state", "key": "iam/nextai.tfstate", "region": "us-east-1",
                       "encrypt": True, "use_lockfile": True}


def test_provider_accepts_5x_and_6x_and_real_aws_has_no_localstack_settings(synth_stack, tmp_path):
    stack = synth_stack()
    assert stack["terraform"]["required_providers"]["aws"] == {"source": "hashicorp/aws", "version": ">= 5.0, < 7.0"}
    # account_id is known: the provider refuses credentials for any other account, before any change.
    assert stack["provider"]["aws"] == [{"region": "us-east-1", "allowed_account_ids": ["123456789012"]}]
    raw = make_config()
    del raw["deployments"][0]["account_id"]  # unknown account: no guard (it is read at plan time)
    assert synth_raw(raw, tmp_path / "other")["nextai"]["provider"]["aws"] == [{"region": "us-east-1"}]


def test_assume_role_goes_to_the_provider_and_never_to_the_backend(synth_stack):
    stack = synth_stack(account_id="111111111111", assume_role={
        "role_arn": "arn:aws:iam::111111111111:role/deployer", "external_id": "ext-42", "session_name": "ci-run"})
    assert stack["provider"]["aws"] == [{
        "region": "us-east-1", "allowed_account_ids": ["111111111111"],
        "assume_role": [{"role_arn": "arn:aws:iam::111111111111:role/deployer", "session_name": "ci-run", "external_id": "ext-42"}]}]
    assert "assume_role" not in json.dumps(stack["terraform"]["backend"])


def test_assume_role_alone_makes_the_account_known(tmp_path):
    raw = make_config(assume_role={"role_arn": "arn:aws:iam::222222222222:role/deployer"}, aws_profile="central")
    del raw["deployments"][0]["account_id"]
    stack = synth_raw(raw, tmp_path / "out")["nextai"]
    provider = stack["provider"]["aws"][0]
    assert provider["allowed_account_ids"] == ["222222222222"] and provider["profile"] == "central"
    assert provider["assume_role"] == [{"role_arn": "arn:aws:iam::222222222222:role/deployer", "session_name": "iam-foundry-nextai"}]
    assert "aws_caller_identity" not in json.dumps(stack.get("data", {}))  # account filled in at synth


def test_local_backend_option(tmp_path):
    raw = make_config()
    raw["backend"] = {"type": "local", "path": "state"}
    stack = synth_raw(raw, tmp_path)["nextai"]
    assert stack["terraform"]["backend"] == {"local": {"path": "../../../state/nextai.tfstate"}}


def test_localstack_target_points_provider_and_backend_at_it(tmp_path):
    synth(load_config(DEFAULT_CONFIG), tmp_path)
    stack = json.loads((tmp_path / "stacks/nextai/cdk.tf.json").read_text())
    provider = stack["provider"]["aws"][0]
    assert provider["endpoints"] == [{"iam": "http://127.0.0.1:4566", "sts": "http://127.0.0.1:4566", "s3": "http://127.0.0.1:4566"}]
    backend = stack["terraform"]["backend"]["s3"]
    assert backend["endpoints"]["s3"] == "http://127.0.0.1:4566" and backend["use_path_style"] is True


def test_gov_cloud_partition(synth_stack):
    stack = synth_stack(region="us-gov-west-1", addenda=["s3-access"])
    assert statements_by_sid(stack)["PassNodeRole"]["Resource"] == [f"arn:aws-us-gov:iam::{TEST_ACCOUNT}:role/nextai-role"]
    arns = [a["policy_arn"] for a in resources(stack, "aws_iam_user_policy_attachment").values()]
    assert "arn:aws-us-gov:iam::aws:policy/AmazonS3FullAccess" in arns


def test_synth_is_byte_identical_across_runs(tmp_path):
    config = load_config(DEFAULT_CONFIG)
    synth(config, tmp_path / "a")
    synth(config, tmp_path / "b")
    assert (tmp_path / "a/stacks/nextai/cdk.tf.json").read_bytes() == (tmp_path / "b/stacks/nextai/cdk.tf.json").read_bytes()


def test_dynamodb_locking_option(tmp_path):
    raw = make_config()
    raw["backend"]["dynamodb_table"] = "terraform-locks"
    backend = synth_raw(raw, tmp_path)["nextai"]["terraform"]["backend"]["s3"]
    assert backend["dynamodb_table"] == "terraform-locks" and backend["use_lockfile"] is True
