"""Secrets at rest (issue 10, item 9): plaintext secrets in state need consent on real AWS, and the
state bucket's policy shuts out every principal the config creates."""

from __future__ import annotations

import pytest

from iam_foundry.config.load import parse_config
from iam_foundry.errors import ConfigError
from tests.conftest import TEST_ACCOUNT, make_config
from tests.profile_matrix import sample_parameters


def test_plaintext_secret_on_real_aws_needs_explicit_consent():
    with pytest.raises(ConfigError) as err:
        parse_config(make_config(create_access_key=True))
    [problem] = err.value.problems
    assert problem.where == 'deployments[0].allow_plaintext_secret_in_state (deployment "nextai")'
    assert "plain text" in problem.message
    assert "pgp_key" in problem.fix and "allow_plaintext_secret_in_state = true" in problem.fix
    # Either fix is accepted; LocalStack's throwaway state needs neither.
    assert parse_config(make_config(create_access_key=True, allow_plaintext_secret_in_state=True))
    assert parse_config(make_config(create_access_key=True, pgp_key="keybase:someone"))
    on_localstack = make_config(create_access_key=True)
    on_localstack["localstack"] = {"enabled": True}
    assert parse_config(on_localstack).deployments[0].allow_plaintext_secret_in_state is False


def test_every_created_principal_is_denied_the_state_bucket():
    from iam_foundry.ops.bootstrap import created_principal_arns, state_bucket_policy

    raw = make_config(path="/ml/")
    raw["deployments"] += [
        {"name": "ai", "profile": "ai-unlimited", "role_name": "ai-role", "parameters": sample_parameters("ai-unlimited", [])},  # no account id: any account
        {"name": "bob", "profile": "nextai", "user_name": "bob", "policy_name": "bob-policy", "create_node_role": False, "account_id": TEST_ACCOUNT},
        # A variant's own role (the engine role) is a created principal too.
        {"name": "aiw", "profile": "ai-unlimited", "variant": "without-iam-role-permissions", "role_name": "aiw-role",
         "policy_name": "aiw-policy", "parameters": sample_parameters("ai-unlimited", []), "account_id": TEST_ACCOUNT},
    ]
    arns = created_principal_arns(parse_config(raw))
    assert arns == sorted([f"arn:aws:iam::{TEST_ACCOUNT}:user/ml/nextai", f"arn:aws:iam::{TEST_ACCOUNT}:role/ml/nextai-role",
                           "arn:aws:iam::*:role/ai-role", f"arn:aws:iam::{TEST_ACCOUNT}:user/bob",
                           f"arn:aws:iam::{TEST_ACCOUNT}:role/aiw-role", f"arn:aws:iam::{TEST_ACCOUNT}:role/aiw-role-engine",
                           # the cluster roles the ai role may create under its prefix (its CreateRole resource)
                           f"arn:aws:iam::*:role/{sample_parameters('ai-unlimited', [])['cluster_role_prefix']}*"])
    policy = state_bucket_policy("state", "aws", arns)
    [deny] = [s for s in policy["Statement"] if s["Sid"] == "DenyPrincipalsIamFoundryCreates"]
    assert deny["Effect"] == "Deny" and deny["Action"] == "s3:*" and deny["Resource"] == ["arn:aws:s3:::state", "arn:aws:s3:::state/*"]
    assert deny["Condition"] == {"ArnLike": {"aws:PrincipalArn": arns}}
