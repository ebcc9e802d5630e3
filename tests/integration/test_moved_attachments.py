"""State of the numbered-attachment layout (user_policy_0, ...) is kept by the keyed layout's moved blocks:
apply the old layout on LocalStack, synthesize the new one over it, and the plan changes nothing."""

from __future__ import annotations

import json

import pytest

from iam_foundry.config.load import parse_config
from iam_foundry.ops.synth import stack_dir, synth
from iam_foundry.ops.terraform import Terraform
from tests.integration.conftest import localstack_config, unique_names
from tests.integration.cycle import state_resources

pytestmark = pytest.mark.integration


def old_layout(stack: dict) -> dict:
    """The same stack as iam-foundry wrote it before attachments were keyed: each moved block's
    `to` address back at its `from` address, and no moved blocks."""
    old = json.loads(json.dumps(stack))
    for move in old.pop("moved"):
        rtype, new_id = move["to"].split(".")
        old_id = move["from"].split(".")[1]
        old["resource"][rtype][old_id] = old["resource"][rtype].pop(new_id)
    old["//"]["metadata"]["overrides"]["stack"].remove("moved")
    return old


def test_numbered_attachments_move_to_keyed_addresses_without_changes(localstack_endpoint, tmp_path):
    names = unique_names("it-moved")
    raw = localstack_config(localstack_endpoint, [{"name": "moved", "profile": "nextai", "addenda": ["s3-access", "s3-access-node-role"], **names}])
    synth(parse_config(raw), tmp_path)
    path = stack_dir(tmp_path, "moved") / "cdk.tf.json"
    new = json.loads(path.read_text())
    path.write_text(json.dumps(old_layout(new), indent=2))
    terraform = Terraform(stack_dir(tmp_path, "moved"))
    terraform.init()
    terraform.apply()
    try:
        assert {"aws_iam_user_policy_attachment.user_policy_1", "aws_iam_role_policy_attachment.node_role_policy_1"} <= set(state_resources(terraform))
        path.write_text(json.dumps(new, indent=2))
        _, text = terraform.plan_with_output()  # a move counts as a change to -detailed-exitcode
        assert "Plan: 0 to add, 0 to change, 0 to destroy." in text, text
        assert "user_policy_1 has moved to aws_iam_user_policy_attachment.user_policy_s3_access_0" in text
        terraform.apply()
        assert terraform.plan() is False, "nothing left to do once moved"
        moved = set(state_resources(terraform))
        assert {"aws_iam_user_policy_attachment.user_policy_main", "aws_iam_user_policy_attachment.user_policy_s3_access_0",
                "aws_iam_role_policy_attachment.node_role_policy_main",
                "aws_iam_role_policy_attachment.node_role_policy_s3_access_node_role_0"} <= moved
        assert not any(address.endswith(("_policy_0", "_policy_1")) for address in moved)
    finally:
        terraform.destroy()
