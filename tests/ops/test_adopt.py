"""`adopt`: import blocks instead of creates, kept on destroy; which creations could clash."""

from __future__ import annotations

import pytest

from iam_foundry.ops.adopt import to_create
from tests.conftest import TEST_ACCOUNT, make_config, synth_raw


def test_adopt_emits_import_blocks_and_guards_adopted_resources(synth_stack):
    stack = synth_stack(adopt=["node_role", "instance_profile", "user", "policy"], addenda=["s3-access", "s3-access-node-role"])
    assert stack["import"] == [
        {"to": "aws_iam_user.user", "id": "nextai"},
        {"to": "aws_iam_role.node_role", "id": "nextai-role"},
        {"to": "aws_iam_instance_profile.instance_profile", "id": "nextai-role"},
        {"to": "aws_iam_policy.policy", "id": f"arn:aws:iam::{TEST_ACCOUNT}:policy/nextai-policy"},
    ]
    assert stack["resource"]["aws_iam_role"]["node_role"]["lifecycle"] == {"prevent_destroy": True}
    # description forces a new policy in the provider: an adopted one keeps its own.
    assert stack["resource"]["aws_iam_policy"]["policy"]["lifecycle"] == {"ignore_changes": ["description"], "prevent_destroy": True}
    forget = stack["//"]["iam_foundry"]["forget_on_destroy"]
    assert {"aws_iam_user.user", "aws_iam_role.node_role", "aws_iam_instance_profile.instance_profile", "aws_iam_policy.policy"} <= set(forget)
    # Attachments between adopted things (or AWS managed policies) may predate the stack: kept as well.
    assert {"aws_iam_user_policy_attachment.user_policy_main", "aws_iam_role_policy_attachment.node_role_policy_s3_access_node_role_0"} <= set(forget)


def test_adopting_only_the_role_keeps_our_policy_attachment_destroyable(synth_stack):
    stack = synth_stack(adopt=["node_role"], addenda=["s3-access", "s3-access-node-role"])
    assert stack["import"] == [{"to": "aws_iam_role.node_role", "id": "nextai-role"}]
    forget = stack["//"]["iam_foundry"]["forget_on_destroy"]
    assert "aws_iam_role_policy_attachment.node_role_policy_main" not in forget  # our policy: detached on destroy
    assert "aws_iam_role_policy_attachment.node_role_policy_s3_access_node_role_0" in forget  # AmazonS3FullAccess on the adopted role


def test_destroy_adopted_deletes_them_too(synth_stack):
    stack = synth_stack(adopt=["node_role"], destroy_adopted=True)
    assert "lifecycle" not in stack["resource"]["aws_iam_role"]["node_role"]
    assert "iam_foundry" not in stack.get("//", {})


def test_unknown_account_imports_the_policy_by_the_callers_account(tmp_path):
    raw = make_config(adopt=["policy"], path="/ml/")
    del raw["deployments"][0]["account_id"]
    stack = synth_raw(raw, tmp_path / "out")["nextai"]
    assert stack["import"] == [{"to": "aws_iam_policy.policy",
                                "id": "arn:aws:iam::${data.aws_caller_identity.current.account_id}:policy/ml/nextai-policy"}]


def test_clash_candidates_are_creations_not_imported_and_not_in_state(synth_stack):
    stack = synth_stack(adopt=["node_role"])
    planned = {p.address: p.name for p in to_create(stack, in_state={"aws_iam_user.user"})}
    # The profile boundary is a policy the stack creates too, so its name can clash like the others.
    assert planned == {"aws_iam_instance_profile.instance_profile": "nextai-role", "aws_iam_policy.policy": "nextai-policy",
                       "aws_iam_policy.boundary": "nextai-policy-boundary"}
    assert to_create(stack, in_state=set(planned) | {"aws_iam_user.user"}) == []


def test_an_existing_engine_role_is_named_with_the_fix_that_applies(tmp_path, monkeypatch):
    """A variant's own role cannot be adopted: a clash names role_name (its name derives from it), not the adopt list."""
    import json
    from types import SimpleNamespace

    from botocore.exceptions import ClientError

    from iam_foundry.config.model import parse_config
    from iam_foundry.errors import FoundryError
    from iam_foundry.ops import adopt

    raw = {"region": "us-east-1", "localstack": {"enabled": False}, "deployments": [
        {"name": "ai", "profile": "ai-unlimited", "variant": "without-iam-role-permissions", "account_id": TEST_ACCOUNT,
         "parameters": {"cluster_role_prefix": "aiu-cluster-"}}]}
    config = parse_config(raw)
    stack = synth_raw(raw, tmp_path / "out")["ai"]
    workdir = tmp_path / "stack"
    workdir.mkdir()
    (workdir / "cdk.tf.json").write_text(json.dumps(stack))
    existing = {"ai-unlimited", "ai-unlimited-engine"}  # the server's role and the engine role exist already

    def get_role(RoleName):
        if RoleName not in existing:
            raise ClientError({"Error": {"Code": "NoSuchEntity"}}, "GetRole")

    def missing(**_):
        raise ClientError({"Error": {"Code": "NoSuchEntity"}}, "Get")

    iam = SimpleNamespace(get_role=get_role, get_user=missing, get_instance_profile=missing, get_policy=missing)
    monkeypatch.setattr(adopt, "state_addresses", lambda terraform: set())
    monkeypatch.setattr(adopt, "iam_client", lambda config, deployment: (iam, None))
    with pytest.raises(FoundryError) as err:
        adopt.check_clashes(config, config.deployments[0], SimpleNamespace(workdir=workdir))
    fixes = {p.message.split("(")[1].split(")")[0]: p.fix for p in err.value.problems}
    assert fixes == {
        "aws_iam_role.node_role": 'add "node_role" to the deployment\'s adopt list to take it over, or choose another role_name',
        "aws_iam_role.engine_role": "choose another role_name (the name of aws_iam_role.engine_role derives from it), or remove the existing IAM role"}
