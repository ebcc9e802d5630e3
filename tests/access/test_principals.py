"""A deployment's principals' identity policies, as AWS will store them."""

from __future__ import annotations

import json

import pytest

from iam_foundry.access.evaluate import Request, evaluate
from iam_foundry.access.principals import STAND_IN_ACCOUNT, managed_policies, principal_arn, principal_policies
from iam_foundry.config.load import parse_config
from iam_foundry.errors import PolicyError
from iam_foundry.policy.documents import build_documents
from tests.conftest import TEST_ACCOUNT


def documents_of(**fields):
    deployment = {"name": "nextai", "profile": "nextai", **fields}
    return build_documents(parse_config({"localstack": {"enabled": False}, "deployments": [deployment]}).deployments[0])


def test_user_and_role_policies_with_sources():
    documents = documents_of(account_id=TEST_ACCOUNT, addenda=["open-ports"])
    [user] = principal_policies(documents, "user")
    assert user.name == "nextai-policy" and user.source == "policy_json/nextai/user-policy.json"
    assert user.sources["OpenPorts"] == "policy_json/nextai/addenda/open-ports.json"
    assert [p.name for p in principal_policies(documents, "role")] == ["nextai-policy"]
    assert principal_arn(documents, "user") == f"arn:aws:iam::{TEST_ACCOUNT}:user/nextai"


def test_managed_policies_are_included_from_the_shipped_copies():
    documents = documents_of(account_id=TEST_ACCOUNT, addenda=["s3-access", "s3-access-node-role"])
    for principal in ("user", "node_role"):
        names = [p.name for p in principal_policies(documents, principal)]
        assert names == ["nextai-policy", "AmazonS3FullAccess"]
    s3 = managed_policies()["AmazonS3FullAccess"]
    assert s3.version == "v2" and "docs.aws.amazon.com" in s3.source
    assert evaluate(principal_policies(documents, "user"), Request("s3:DeleteBucket", "arn:aws:s3:::any")).allowed


def test_unknown_account_uses_the_stand_in_and_tf_escapes_are_undone(tmp_path):
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "OwnKeys", "Effect": "Allow", "Action": "iam:ListAccessKeys",
         "Resource": "arn:{{partition}}:iam::{{account_id}}:user/${aws:username}"}]}))
    documents = build_documents(parse_config({"localstack": {"enabled": False}, "deployments": [
        {"name": "c", "profile": "custom", "policy_file": str(policy)}]}).deployments[0])
    [stored] = principal_policies(documents, "user")
    assert stored.document["Statement"][0]["Resource"] == f"arn:aws:iam::{STAND_IN_ACCOUNT}:user/${{aws:username}}"
    own = Request("iam:ListAccessKeys", f"arn:aws:iam::{STAND_IN_ACCOUNT}:user/c-user", {"aws:username": "c-user"})
    assert evaluate([stored], own).allowed
    assert not evaluate([stored], Request("iam:ListAccessKeys", f"arn:aws:iam::{STAND_IN_ACCOUNT}:user/other", {"aws:username": "c-user"}))


def test_split_parts_are_all_included(tmp_path):
    statements = [{"Sid": f"S{i}", "Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::bucket-{i:03d}-{'x' * 40}/*"}
                  for i in range(80)]
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"Version": "2012-10-17", "Statement": statements}))
    documents = build_documents(parse_config({"localstack": {"enabled": False}, "deployments": [
        {"name": "c", "profile": "custom", "policy_file": str(policy), "account_id": TEST_ACCOUNT}]}).deployments[0])
    parts = principal_policies(documents, "user")
    assert len(parts) > 1 and parts[1].name == "c-policy-2"
    assert evaluate(parts, Request("s3:GetObject", f"arn:aws:s3:::bucket-079-{'x' * 40}/k")).allowed


def test_a_principal_the_deployment_does_not_create_has_no_policies():
    assert principal_policies(documents_of(account_id=TEST_ACCOUNT, create_user=False), "user") == []


def test_unknown_managed_policy_is_a_problem(tmp_path):
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"Version": "2012-10-17", "Statement": [{"Sid": "A", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}))
    addendum = tmp_path / "extra.json"
    addendum.write_text(json.dumps({"description": "attaches a managed policy", "managed_policy_arns": {"user": ["arn:aws:iam::aws:policy/PowerUserAccess"]}}))
    documents = build_documents(parse_config({"localstack": {"enabled": False}, "deployments": [
        {"name": "c", "profile": "custom", "policy_file": str(policy), "addenda_files": [str(addendum)], "account_id": TEST_ACCOUNT}]}).deployments[0])
    with pytest.raises(PolicyError) as err:
        principal_policies(documents, "user")
    assert "PowerUserAccess" in str(err.value) and "iam_foundry/access/managed" in err.value.problems[0].fix


def test_unknown_principal_is_a_problem():
    with pytest.raises(PolicyError) as err:
        principal_policies(documents_of(account_id=TEST_ACCOUNT), "admin")
    assert "use 'user', 'role' (the node role) or a role of the variant" in err.value.problems[0].fix


@pytest.mark.parametrize("module", ["iam_foundry.access.principals", "iam_foundry.access.evaluate", "iam_foundry.access.escalation",
                                    "iam_foundry.access.check", "iam_foundry.cli.access"])
def test_each_module_imports_first(module):
    """Others import these modules directly (e.g. principals before evaluate): no import cycle."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "-c", f"import {module}"], cwd=root, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
