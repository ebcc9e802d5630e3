"""On LocalStack: user text holding `${...}` / `%{...}` and IAM policy variables reach IAM unchanged."""

from __future__ import annotations

import json
from urllib.parse import unquote

import pytest

from iam_foundry.config import parse_config
from iam_foundry.synth import stack_dir, synth
from iam_foundry.terraform import Terraform
from tests.integration.conftest import localstack_config, unique_names

pytestmark = pytest.mark.integration

TAGS = {"Interpolation": "${path.cwd}", "Directive": "%{ if true }yes%{ endif }", "Escaped": "$${kept}",
        "Function": '${file("notes.txt")}'}
OWN_PREFIX = "arn:aws:s3:::iam-foundry-literal/${aws:username}/*"


def test_tags_and_policy_variables_reach_iam_literally(localstack_endpoint, iam, tmp_path):
    policy_file = tmp_path / "own-prefix.json"
    policy_file.write_text(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "OwnPrefix", "Effect": "Allow", "Action": "s3:GetObject", "Resource": OWN_PREFIX}]}))
    names = unique_names("literal")
    deployment = {"name": "literal", "profile": "custom", "policy_file": str(policy_file), "create_node_role": False,
                  "user_name": names["user_name"], "policy_name": names["policy_name"], "tags": TAGS}
    config = parse_config(localstack_config(localstack_endpoint, [deployment]))
    synth(config, tmp_path / "out")
    terraform = Terraform(stack_dir(tmp_path / "out", "literal"))
    terraform.init()
    terraform.apply()
    try:
        tags = {t["Key"]: t["Value"] for t in iam.list_user_tags(UserName=names["user_name"])["Tags"]}
        assert {key: tags.get(key) for key in TAGS} == TAGS
        arn = terraform.outputs()["policy_arns"][0]
        version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
        document = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]
        document = json.loads(unquote(document)) if isinstance(document, str) else document
        assert document["Statement"][0]["Resource"] == OWN_PREFIX
    finally:
        terraform.destroy()
