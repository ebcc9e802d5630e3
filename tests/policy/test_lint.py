"""Grammar and least-privilege checks, and that every built-in profile passes them."""

from __future__ import annotations

import json

import pytest

from iam_foundry.config.load import parse_config
from iam_foundry.emit.tfjson import expr
from iam_foundry.errors import PolicyError
from iam_foundry.policy.documents import build_documents, lint_findings
from iam_foundry.policy.lint import accepted_findings, grammar_problems, lint_statements
from iam_foundry.profiles.load import list_profiles, load_profile
from tests.conftest import TEST_ACCOUNT
from tests.profile_matrix import choice_config, every_builtin_choice

ROLE = f"arn:aws:iam::{TEST_ACCOUNT}:role/nodes"


def doc(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


GOOD = {"Sid": "Ok", "Effect": "Allow", "Action": "ec2:DescribeInstances", "Resource": "*"}


@pytest.mark.parametrize(("document", "words"), [
    ({"Version": "2008-10-17", "Statement": [GOOD]}, "Version"),
    (doc({**GOOD, "Effect": "Permit"}), "Effect"),
    (doc({**GOOD, "Action": "DescribeInstances"}), "not service:Action"),
    (doc({**GOOD, "Resource": "my-bucket"}), "neither an ARN"),
    (doc({**GOOD, "Condition": {"StringEqualz": {"aws:x": "y"}}}), "unknown condition operator"),
    (doc({**GOOD, "Actions": ["ec2:X"]}), "unknown key 'Actions'"),
    (doc(GOOD, GOOD), "duplicate Sid"),
    (doc({**GOOD, "Resource": "arn:aws:s3:::{{bucket}}"}), "placeholder {{bucket}} left unfilled"),
    (doc(), "non-empty"),
])
def test_grammar_errors(document, words):
    problems = grammar_problems(document, "policy 'p'")
    assert problems and any(words in str(p) for p in problems), problems


def test_grammar_accepts_condition_set_operators_and_interpolations():
    statement = {**GOOD, "Resource": expr("aws_iam_role.node_role.arn"),
                 "Condition": {"ForAnyValue:StringLikeIfExists": {"aws:TagKeys": ["a*"]}}}
    assert grammar_problems(doc(statement), "p") == []


def test_user_text_that_looks_like_an_expression_is_not_a_resource():
    # Only the project's own expressions (tokens) stand in for an ARN; user text is literal.
    statement = {**GOOD, "Resource": '${file("notes.txt")}'}
    assert any("neither an ARN" in str(p) for p in grammar_problems(doc(statement), "p"))


def test_trust_policy_needs_a_principal():
    trust = doc({"Effect": "Allow", "Action": "sts:AssumeRole"})
    assert any("Principal" in str(p) for p in grammar_problems(trust, "trust", trust=True))


@pytest.mark.parametrize(("statement", "rule"), [
    ({"Effect": "Allow", "Action": "iam:*", "Resource": "*"}, "LP001"),
    ({"Effect": "Allow", "Action": "*", "Resource": "*"}, "LP001"),
    ({"Effect": "Allow", "Action": "kms:*", "Resource": "*"}, "LP001"),
    ({"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"}, "LP002"),
    ({"Effect": "Allow", "Action": "iam:PassRole", "Resource": f"arn:aws:iam::{TEST_ACCOUNT}:role/*"}, "LP002"),
    ({"Effect": "Allow", "Action": "iam:PassRole", "Resource": ROLE}, "LP003"),
    ({"Effect": "Allow", "Action": ["iam:CreateRole"], "Resource": f"arn:aws:iam::{TEST_ACCOUNT}:role/*"}, "LP004"),
    ({"Effect": "Allow", "Action": ["iam:CreateInstanceProfile"], "Resource": "*"}, "LP004"),
    ({"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}, "LP005"),
    ({"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
      "Resource": f"arn:aws:secretsmanager:us-east-1:{TEST_ACCOUNT}:secret:*"}, "LP005"),
])
def test_each_rule_fires(statement, rule):
    assert rule in {f.rule for f in lint_statements([statement], "p")}


@pytest.mark.parametrize("statement", [
    {"Effect": "Allow", "Action": "ec2:*", "Resource": "*"},  # not a sensitive service
    {"Effect": "Allow", "Action": "iam:PassRole", "Resource": ROLE,
     "Condition": {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}},
    {"Effect": "Allow", "Action": "iam:CreateRole", "Resource": f"arn:aws:iam::{TEST_ACCOUNT}:role/compute-engine-*"},
    {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
     "Resource": f"arn:aws:secretsmanager:us-east-1:{TEST_ACCOUNT}:secret:compute-engine/*"},
    {"Effect": "Allow", "Action": "secretsmanager:ListSecrets", "Resource": "*"},  # account-level only
    {"Effect": "Deny", "Action": "iam:*", "Resource": "*"},
])
def test_scoped_statements_pass(statement):
    assert lint_statements([statement], "p") == []


@pytest.mark.parametrize(("profile", "variant", "addenda", "parameters"), list(every_builtin_choice()),
                         ids=lambda v: v if isinstance(v, str) else "+".join(v) if isinstance(v, list) else None)
def test_builtin_profiles_have_no_unexplained_findings(profile, variant, addenda, parameters):
    raw = choice_config(profile, variant, addenda, parameters)
    documents = build_documents(parse_config(raw).deployments[0])  # raises on any unexplained finding
    accepted = {(e["rule"], e["sid"]) for e in accepted_findings(documents.profile.root)}
    assert {(f.rule, f.sid) for f in lint_findings(documents)} <= accepted


def test_every_accepted_finding_is_still_needed():
    """An acceptance that no longer matches anything is stale and must be removed."""
    seen: dict[str, set] = {}
    for profile, variant, addenda, parameters in every_builtin_choice():
        raw = choice_config(profile, variant, addenda, parameters)
        documents = build_documents(parse_config(raw).deployments[0])
        seen.setdefault(profile, set()).update((f.rule, f.sid) for f in lint_findings(documents))
    for profile in list_profiles():
        for entry in accepted_findings(load_profile(profile).root):
            assert (entry["rule"], entry["sid"]) in seen[profile], f"{profile}: stale acceptance {entry}"


def test_custom_policy_with_wildcard_iam_is_refused(tmp_path):
    policy = tmp_path / "p.json"
    policy.write_text(json.dumps(doc({"Sid": "All", "Effect": "Allow", "Action": "iam:*", "Resource": "*"})))
    raw = {"localstack": {"enabled": False},
           "deployments": [{"name": "d", "profile": "custom", "policy_file": str(policy), "account_id": TEST_ACCOUNT}]}
    with pytest.raises(PolicyError) as err:
        build_documents(parse_config(raw).deployments[0])
    assert "LP001" in str(err.value) and "All" in str(err.value)


def _custom_with_passrole(tmp_path, **fields) -> dict:
    policy = tmp_path / "p.json"
    policy.write_text(json.dumps(doc({"Sid": "Pass", "Effect": "Allow", "Action": "iam:PassRole", "Resource": ROLE})))
    return {"localstack": {"enabled": False}, "deployments": [
        {"name": "d", "profile": "custom", "policy_file": str(policy), "account_id": TEST_ACCOUNT, **fields}]}


def test_custom_profile_finding_points_at_the_deployments_lint_accepted(tmp_path):
    with pytest.raises(PolicyError) as err:
        build_documents(parse_config(_custom_with_passrole(tmp_path)).deployments[0])
    (problem,) = err.value.problems
    assert "LP003" in problem.message and "lint-accepted.json" not in problem.fix
    assert 'lint_accepted = [{ rule = "LP003", sid = "Pass", reason = ' in problem.fix


def test_custom_profile_accepts_a_finding_in_the_deployment(tmp_path):
    entry = {"rule": "LP003", "sid": "Pass", "reason": "the role is only ever passed to EC2 by the platform"}
    documents = build_documents(parse_config(_custom_with_passrole(tmp_path, lint_accepted=[entry])).deployments[0])
    assert [f.rule for f in lint_findings(documents)] == ["LP003"]
    stale = dict(entry, sid="Gone")
    with pytest.raises(PolicyError) as err:
        build_documents(parse_config(_custom_with_passrole(tmp_path, lint_accepted=[entry, stale])).deployments[0])
    assert [p.message for p in err.value.problems] == ["accepts LP003 for statement 'Gone', but there is no such finding"]


def test_duplicate_key_in_lint_accepted_is_refused(tmp_path):
    (tmp_path / "lint-accepted.json").write_text('[{"rule": "LP003", "sid": "A",\n  "sid": "B", "reason": "r"}]')
    with pytest.raises(PolicyError) as err:
        accepted_findings(tmp_path)
    assert err.value.problems[0].where == f"{tmp_path / 'lint-accepted.json'}:2:3" and "duplicate key 'sid'" in str(err.value)
