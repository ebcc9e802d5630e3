"""`adopt`: import blocks instead of creates, kept on destroy; which creations could clash."""

from __future__ import annotations

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
