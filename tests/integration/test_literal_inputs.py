"""On LocalStack: user text holding `${...}` / `%{...}` and IAM policy variables reach IAM unchanged.

IAM refuses `$`, `{` and `%` in tag values (the config check says so), so the text travels in the
IAM path and in the policy document, where IAM accepts it."""

from __future__ import annotations

import json
from urllib.parse import unquote

import pytest

from iam_foundry.config.load import parse_config
from iam_foundry.ops.synth import stack_dir, synth
from iam_foundry.ops.terraform import Terraform
from tests.integration.conftest import localstack_config, unique_names

pytestmark = pytest.mark.integration

# `%{` stays out of the policy: LocalStack returns documents without URL-encoding, and the provider's
# URL-decoding of the read-back then trips over `%{` (real IAM encodes `%` as %25).
LITERALS = ["${path.cwd}", "$${kept}", '${file("notes.txt")}']
IAM_PATH = "/${path.cwd}/%{x}/"
OWN_PREFIX = "arn:aws:s3:::iam-foundry-literal/${aws:username}/*"


def test_path_policy_text_and_policy_variables_reach_iam_literally(localstack_endpoint, iam, tmp_path):
    policy_file = tmp_path / "own-prefix.json"
    policy_file.write_text(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "OwnPrefix", "Effect": "Allow", "Action": "s3:GetObject", "Resource": OWN_PREFIX,
         "Condition": {"StringLike": {"s3:prefix": LITERALS}}}]}))
    names = unique_names("literal")
    deployment = {"name": "literal", "profile": "custom", "policy_file": str(policy_file), "create_node_role": False,
                  "user_name": names["user_name"], "policy_name": names["policy_name"], "path": IAM_PATH}
    config = parse_config(localstack_config(localstack_endpoint, [deployment]))
    synth(config, tmp_path / "out")
    terraform = Terraform(stack_dir(tmp_path / "out", "literal"))
    terraform.init()
    terraform.apply()
    try:
        assert iam.get_user(UserName=names["user_name"])["User"]["Path"] == IAM_PATH
        arn = terraform.outputs()["policy_arns"][0]
        version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
        document = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]
        document = json.loads(unquote(document)) if isinstance(document, str) else document
        assert document["Statement"][0]["Resource"] == OWN_PREFIX
        assert document["Statement"][0]["Condition"]["StringLike"]["s3:prefix"] == LITERALS
    finally:
        terraform.destroy()
