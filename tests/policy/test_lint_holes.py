"""Allow with NotAction / NotResource, and name prefixes too short to scope anything (issue 10, item 5)."""

from __future__ import annotations

import json

import pytest

from iam_foundry.config.load import parse_config
from iam_foundry.emit.module import export_module
from iam_foundry.errors import ConfigError, PolicyError
from iam_foundry.policy.documents import build_documents
from iam_foundry.policy.lint import lint_statements
from tests.conftest import TEST_ACCOUNT

IAM = f"arn:aws:iam::{TEST_ACCOUNT}"


@pytest.mark.parametrize(("statement", "rule", "narrow"), [
    # Each rule fires on the broad statement and not on its narrow neighbour.
    ({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}, "LP006",
     {"Effect": "Deny", "NotAction": "iam:*", "Resource": "*"}),  # a Deny with NotAction narrows, it grants nothing
    ({"Effect": "Allow", "NotAction": ["s3:DeleteBucket"], "Resource": "arn:aws:s3:::b"}, "LP006",
     {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::b"}),
    ({"Effect": "Allow", "Action": "ec2:RunInstances", "NotResource": f"{IAM}:role/admin"}, "LP007",
     {"Effect": "Deny", "Action": "s3:*", "NotResource": "arn:aws:s3:::b/*"}),
    ({"Effect": "Allow", "Action": "iam:GetRole", "Resource": f"{IAM}:role/A*"}, "LP008",
     {"Effect": "Allow", "Action": "iam:GetRole", "Resource": f"{IAM}:role/compute-engine-*"}),
    ({"Effect": "Allow", "Action": "iam:CreateRole", "Resource": f"{IAM}:role/ab*"}, "LP008",
     {"Effect": "Allow", "Action": "iam:CreateRole", "Resource": f"{IAM}:role/ce1*"}),
    ({"Effect": "Allow", "Action": "iam:CreateRole", "Resource": f"{IAM}:instance-profile/-_.*"}, "LP008",
     {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket/*"}),  # every object of one bucket
])
def test_new_rules_fire_on_broad_statements_only(statement, rule, narrow):
    assert rule in {f.rule for f in lint_statements([statement], "p")}
    assert lint_statements([narrow], "p") == []


def ai_unlimited(prefix: str, variant: str | None = None) -> dict:
    deployment = {"name": "ai", "profile": "ai-unlimited", "account_id": TEST_ACCOUNT,
                  "parameters": {"cluster_role_prefix": prefix}}
    return {"region": "us-east-1", "localstack": {"enabled": False},
            "deployments": [deployment | ({"variant": variant} if variant else {})]}


@pytest.mark.parametrize("variant", [None, "without-iam-role-permissions"])
@pytest.mark.parametrize("prefix", ["A", "ce", "---", "._@"])
def test_a_broad_role_prefix_parameter_is_a_config_problem(prefix, variant):
    with pytest.raises(ConfigError) as err:
        parse_config(ai_unlimited(prefix, variant))
    [problem] = err.value.problems
    assert problem.where == 'deployments[0].parameters.cluster_role_prefix (deployment "ai")'
    assert f"'{prefix}'" in problem.message and "{{cluster_role_prefix}}*" in problem.message
    assert "at least 3 characters" in problem.fix
    build_documents(parse_config(ai_unlimited(prefix + "ml1", variant)).deployments[0])  # specific enough: passes


def test_custom_policy_with_allow_not_action_is_refused(tmp_path):
    policy = tmp_path / "p.json"
    policy.write_text(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "AllButIam", "Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]}))
    raw = {"localstack": {"enabled": False},
           "deployments": [{"name": "d", "profile": "custom", "policy_file": str(policy), "account_id": TEST_ACCOUNT}]}
    with pytest.raises(PolicyError) as err:
        build_documents(parse_config(raw).deployments[0])
    assert "LP006" in str(err.value) and "AllButIam" in str(err.value)


def test_exported_module_validates_the_prefix_too(tmp_path):
    module = json.loads((export_module("ai-unlimited", None, tmp_path) / "main.tf.json").read_text())
    conditions = [v["condition"] for v in module["variable"]["cluster_role_prefix"]["validation"]]
    assert any('regex("^.{3,}$", var.cluster_role_prefix)' in c and '"[A-Za-z0-9]"' in c for c in conditions)
