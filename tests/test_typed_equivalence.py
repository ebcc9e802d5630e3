"""The fast path (cdktf core, generic resources) writes what the typed AWS binding would write.

This is the one place the typed `cdktf_cdktf_provider_aws` binding is imported (~20 s): every
resource the project synthesizes is rebuilt with its typed class from the same attributes, and the
two Terraform JSON blocks must match. A typo in an attribute name fails here (the typed classes
reject unknown keyword arguments).
"""

from __future__ import annotations

import importlib
import json

import pytest
from cdktf import App, TerraformStack

from tests.conftest import make_config, synth_raw

TYPED = {
    "aws_iam_user": ("iam_user", "IamUser"),
    "aws_iam_access_key": ("iam_access_key", "IamAccessKey"),
    "aws_iam_policy": ("iam_policy", "IamPolicy"),
    "aws_iam_user_policy_attachment": ("iam_user_policy_attachment", "IamUserPolicyAttachment"),
    "aws_iam_role": ("iam_role", "IamRole"),
    "aws_iam_role_policy_attachment": ("iam_role_policy_attachment", "IamRolePolicyAttachment"),
    "aws_iam_instance_profile": ("iam_instance_profile", "IamInstanceProfile"),
}


def typed_class(resource_type: str):
    module, name = TYPED[resource_type]
    return getattr(importlib.import_module(f"cdktf_cdktf_provider_aws.{module}"), name)


def strip_metadata(block: dict) -> dict:
    return {key: value for key, value in block.items() if key != "//"}


@pytest.mark.parametrize("fields", [
    {"addenda": ["clone-disk", "open-ports", "s3-access"], "create_access_key": True,
     "allow_plaintext_secret_in_state": True,
     "permissions_boundary": "arn:aws:iam::123456789012:policy/boundary", "path": "/ml/"},
    {"addenda": [], "create_access_key": True, "pgp_key": "keybase:someone", "force_destroy": True},
], ids=["all-addenda", "pgp-key"])
def test_generic_resources_match_the_typed_binding(tmp_path, fields):
    from cdktf_cdktf_provider_aws.provider import AwsProvider

    fast = synth_raw(make_config(**fields), tmp_path / "fast")["nextai"]
    app = App(outdir=str(tmp_path / "typed"))
    stack = TerraformStack(app, "nextai")
    AwsProvider(stack, "aws", region="us-east-1")
    for resource_type, blocks in fast["resource"].items():
        cls = typed_class(resource_type)
        for logical_id, block in blocks.items():
            attributes = strip_metadata(block)
            depends_on = attributes.pop("depends_on", None)
            assert depends_on is None
            typed = cls(stack, logical_id, **attributes)
            typed.override_logical_id(logical_id)
    app.synth()
    typed_json = json.loads((tmp_path / "typed/stacks/nextai/cdk.tf.json").read_text())

    # The typed binding writes source "aws" (shorthand for hashicorp/aws); the version must match.
    typed_provider = typed_json["terraform"]["required_providers"]["aws"]
    assert typed_provider["version"] == fast["terraform"]["required_providers"]["aws"]["version"]
    assert f"hashicorp/{typed_provider['source']}" == fast["terraform"]["required_providers"]["aws"]["source"]
    assert typed_json["provider"] == fast["provider"]
    for resource_type, blocks in fast["resource"].items():
        assert {k: strip_metadata(v) for k, v in typed_json["resource"][resource_type].items()} == \
               {k: strip_metadata(v) for k, v in blocks.items()}, resource_type
