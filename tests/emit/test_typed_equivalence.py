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

from modules.versions import AWS_PROVIDER_VERSION, TESTED_AWS_PROVIDER_VERSIONS
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
    {"addenda": [], "aws_profile": "central", "assume_role": {
        "role_arn": "arn:aws:iam::123456789012:role/deployer", "external_id": "ext-42", "session_name": "ci"}},
], ids=["all-addenda", "pgp-key", "assume-role"])
def test_generic_resources_match_the_typed_binding(tmp_path, fields):
    from cdktf_cdktf_provider_aws.provider import AwsProvider

    fast = synth_raw(make_config(**fields), tmp_path / "fast")["nextai"]
    app = App(outdir=str(tmp_path / "typed"))
    stack = TerraformStack(app, "nextai")
    provider = dict(fast["provider"]["aws"][0])
    if "assume_role" in provider:
        from cdktf_cdktf_provider_aws.provider import AwsProviderAssumeRole

        provider["assume_role"] = [AwsProviderAssumeRole(**role) for role in provider["assume_role"]]
    AwsProvider(stack, "aws", **provider)  # a wrong provider argument name fails here
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

    # The typed binding writes source "aws" (shorthand for hashicorp/aws) and pins the version it was
    # generated for; the stacks accept a range (5.x and 6.x), which the tested version must fall in.
    typed_provider = typed_json["terraform"]["required_providers"]["aws"]
    assert typed_provider["version"] in TESTED_AWS_PROVIDER_VERSIONS
    assert fast["terraform"]["required_providers"]["aws"]["version"] == AWS_PROVIDER_VERSION == ">= 5.0, < 7.0"
    assert all(5 <= int(v.split(".")[0]) < 7 for v in TESTED_AWS_PROVIDER_VERSIONS)
    assert f"hashicorp/{typed_provider['source']}" == fast["terraform"]["required_providers"]["aws"]["source"]
    assert typed_json["provider"] == fast["provider"]
    for resource_type, blocks in fast["resource"].items():
        assert {k: strip_metadata(v) for k, v in typed_json["resource"][resource_type].items()} == \
               {k: strip_metadata(v) for k, v in blocks.items()}, resource_type
