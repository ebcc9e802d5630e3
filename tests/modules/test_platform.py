"""PlatformIam in a platform team's own cdktf app (examples/platform_app): no iam-foundry stack,
its own provider, two platforms in one stack without clashing names."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from cdktf import App, TerraformStack

from iam_foundry.errors import ConfigError
from iam_foundry.paths import CONSTRUCTS_PACKAGE

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "platform_app" / "main.py"


def _example():
    spec = importlib.util.spec_from_file_location("platform_app_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_example_app_synthesizes_two_platforms_in_its_own_stack(tmp_path):
    _example().build(str(tmp_path)).synth()
    stack = json.loads((tmp_path / "stacks" / "ml-platforms" / "cdk.tf.json").read_text())
    assert stack["provider"] == {"aws": [{"region": "eu-west-1"}]}
    resources = stack["resource"]
    assert set(resources["aws_iam_user"]) == {"ml_user"}
    assert set(resources["aws_iam_role"]) == {"ml_node_role", "anyscale_node_role"}
    # Each construct's profile boundary (on by default), set on its own user and node role.
    assert set(resources["aws_iam_policy"]) == {"ml_policy", "anyscale_policy", "ml_boundary", "anyscale_boundary"}
    assert resources["aws_iam_user"]["ml_user"]["permissions_boundary"] == "${aws_iam_policy.ml_boundary.arn}"
    assert resources["aws_iam_role"]["anyscale_node_role"]["permissions_boundary"] == "${aws_iam_policy.anyscale_boundary.arn}"
    assert set(resources["aws_iam_instance_profile"]) == {"ml_instance_profile", "anyscale_instance_profile"}
    # Attachments keyed by policy id and by the addendum a managed policy comes from.
    assert set(resources["aws_iam_user_policy_attachment"]) == {"ml_user_policy_main", "ml_user_policy_s3_access_0"}
    assert resources["aws_iam_user_policy_attachment"]["ml_user_policy_main"]["policy_arn"] == "${aws_iam_policy.ml_policy.arn}"
    assert resources["aws_iam_user"]["ml_user"]["name"] == "nextai" and resources["aws_iam_user"]["ml_user"]["tags"]["Team"] == "ml-platform"
    assert stack["data"]["aws_caller_identity"] == {"current": {}}
    # The outputs asked for are prefixed; the app's own outputs read the construct's references.
    assert stack["output"]["anyscale_compute_config_json"]["value"].startswith("${jsonencode(")
    assert "aws_iam_instance_profile.anyscale_instance_profile.arn" in stack["output"]["anyscale_compute_config_json"]["value"]
    assert stack["output"]["ml_user_arn"]["value"] == "${aws_iam_user.ml_user.arn}"
    assert "moved" not in stack, "a new construct has no old addresses"
    policy = json.loads(resources["aws_iam_policy"]["ml_policy"]["policy"])
    assert any(s.get("Sid", "").startswith("CloneDisk") or "ec2:CreateSnapshot" in json.dumps(s) for s in policy["Statement"])


def test_bad_input_is_refused_with_the_field_named():
    platform = importlib.import_module(f"{CONSTRUCTS_PACKAGE}.platform")
    app = App(outdir="/nonexistent-never-written")
    stack = TerraformStack(app, "s")
    with pytest.raises(ConfigError) as err:
        platform.PlatformIam(stack, "ml", profile="nextai", addenda=["clone-disks"])
    assert "addenda[0]" in str(err.value) and "clone-disk" in str(err.value)


def test_project_stack_moves_numbered_attachments_to_keyed_ones(tmp_path):
    from tests.conftest import synth_raw

    raw = {"region": "us-east-1", "localstack": {"enabled": False}, "backend": {"type": "local"},
           "deployments": [{"name": "d", "profile": "nextai", "account_id": "123456789012", "addenda": ["s3-access", "s3-access-node-role"]}]}
    stack = synth_raw(raw, tmp_path)["d"]
    assert stack["moved"] == [
        {"from": "aws_iam_user_policy_attachment.user_policy_0", "to": "aws_iam_user_policy_attachment.user_policy_main"},
        {"from": "aws_iam_user_policy_attachment.user_policy_1", "to": "aws_iam_user_policy_attachment.user_policy_s3_access_0"},
        {"from": "aws_iam_role_policy_attachment.node_role_policy_0", "to": "aws_iam_role_policy_attachment.node_role_policy_main"},
        {"from": "aws_iam_role_policy_attachment.node_role_policy_1",
         "to": "aws_iam_role_policy_attachment.node_role_policy_s3_access_node_role_0"},
    ]


def test_two_platforms_with_a_variant_role_fit_in_one_stack(tmp_path):
    """A variant's own role (AI Unlimited's engine role) is prefixed with the construct id like every other name."""
    platform = importlib.import_module(f"{CONSTRUCTS_PACKAGE}.platform")
    app = App(outdir=str(tmp_path))
    stack = TerraformStack(app, "two")
    parameters = {"cluster_role_prefix": "aiu-cluster-"}
    first = platform.PlatformIam(stack, "a", profile="ai-unlimited", variant="without-iam-role-permissions", region="us-east-1",
                                 role_name="a-server", policy_name="a-policy", parameters=parameters)
    platform.PlatformIam(stack, "b", profile="ai-unlimited", variant="without-iam-role-permissions", region="us-east-1",
                         role_name="b-server", policy_name="b-policy", parameters=parameters, outputs=True)
    app.synth()
    resources = json.loads((tmp_path / "stacks" / "two" / "cdk.tf.json").read_text())["resource"]
    assert set(resources["aws_iam_role"]) == {"a_node_role", "a_engine_role", "b_node_role", "b_engine_role"}
    assert resources["aws_iam_role"]["b_engine_role"]["name"] == "b-server-engine"
    assert resources["aws_iam_role"]["a_engine_role"]["permissions_boundary"] == "${aws_iam_policy.a_engine_role_boundary.arn}"
    assert resources["aws_iam_role_policy_attachment"]["a_engine_role_policy_engine"]["role"] == "${aws_iam_role.a_engine_role.name}"
    assert set(first.roles) == {"engine_role"} and first.outputs["engine_role_arn"] == "${aws_iam_role.a_engine_role.arn}"
