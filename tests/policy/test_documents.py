"""The checks `build_documents` and the config make before anything reaches Terraform.

Each test builds an input that only the named check can refuse, so skipping that check makes the
test fail: the attachment quota, duplicate Sids after merging addenda, an addendum's
`only_variants` / `conflicts_with`, policy-name clashes across deployments, the sensitive
encrypted-secret output, and the lint gate that lets only accepted findings through.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import iam_foundry.config.load as config_load
import iam_foundry.config.model as config_model
from iam_foundry.config.load import parse_config
from iam_foundry.errors import ConfigError, PolicyError
from iam_foundry.policy.documents import build_documents
from iam_foundry.policy.lint import Finding, accepted_findings, lint_statements, unexplained
from iam_foundry.profiles.load import load_profile_dir
from tests.conftest import TEST_ACCOUNT, make_config, synth_raw
from tests.split_fixture import write_oversized_policy

S3_FULL = "arn:aws:iam::aws:policy/AmazonS3FullAccess"


def config_with(*deployments: dict) -> dict:
    return {"region": "us-east-1", "localstack": {"enabled": False},
            "backend": {"type": "s3", "bucket": "acme-terraform-state", "key_prefix": "iam"},
            "deployments": [{"account_id": TEST_ACCOUNT, **d} for d in deployments]}


def documents_of(*deployments: dict):
    return build_documents(parse_config(config_with(*deployments)).deployments[0])


def statement(sid: str, action: str = "s3:GetObject", resource: str = "arn:{{partition}}:s3:::data/*") -> dict:
    return {"Sid": sid, "Effect": "Allow", "Action": action, "Resource": resource}


def write_policy(path: Path, *statements: dict) -> Path:
    path.write_text(json.dumps({"Version": "2012-10-17", "Statement": list(statements)}))
    return path


def write_addendum(path: Path, *statements: dict, **extra) -> Path:
    path.write_text(json.dumps({"description": "test addendum", "statements": list(statements), **extra}))
    return path


# --- attachment quota (documents._check_attachment_quota) ---------------------------------------

def test_attachment_quota_refuses_a_user_over_the_limit():
    # nextai with s3-access: its policy + AmazonS3FullAccess = 2 policies on the user (s3-access is the user's only:
    # policy_json/nextai/SOURCES.md; the node role's is s3-access-node-role).
    with pytest.raises(PolicyError) as err:
        documents_of({"name": "d", "profile": "nextai", "addenda": ["s3-access"], "max_managed_policies_per_principal": 1})
    text = str(err.value)
    assert "deployment 'd'" in text and "2 managed policies attached, over the quota of 1" in text
    assert "max_managed_policies_per_principal" in text


def test_attachment_quota_counts_the_node_role_when_there_is_no_user():
    with pytest.raises(PolicyError) as err:
        documents_of({"name": "d", "profile": "nextai", "addenda": ["s3-access-node-role"], "create_user": False,
                      "max_managed_policies_per_principal": 1})
    assert "the role would have 2 managed policies attached, over the quota of 1" in str(err.value)


def test_attachment_quota_counts_every_part_of_a_split_policy(tmp_path):
    policy = write_oversized_policy(tmp_path / "big.json")  # splits into 3 parts, all attached
    with pytest.raises(PolicyError) as err:
        documents_of({"name": "d", "profile": "custom", "policy_file": str(policy), "max_managed_policies_per_principal": 2})
    assert "3 managed policies attached, over the quota of 2" in str(err.value)


def test_attachment_quota_allows_exactly_the_limit():
    documents = documents_of({"name": "d", "profile": "nextai", "addenda": ["s3-access", "s3-access-node-role"],
                              "max_managed_policies_per_principal": 2})
    assert documents.user_managed_arns == [S3_FULL] and documents.role_managed_arns == [S3_FULL]
    assert documents.parts_attached_to("user") == 1 and documents.parts_attached_to("node_role") == 1


# --- duplicate Sids after merging addenda (documents._check_unique_sids) -------------------------

def test_duplicate_sid_from_an_addendum_is_refused_naming_the_merge(tmp_path):
    policy = write_policy(tmp_path / "p.json", statement("ReadData"))
    addendum = write_addendum(tmp_path / "more.json", statement("ReadData", "s3:PutObject"))
    with pytest.raises(PolicyError) as err:
        documents_of({"name": "d", "profile": "custom", "policy_file": str(policy), "addenda_files": [str(addendum)]})
    assert "duplicate statement Sid 'ReadData' after merging addenda" in str(err.value)


def test_duplicate_sid_is_refused_even_when_the_split_puts_the_two_in_different_parts(tmp_path):
    # 45 statements fill three parts; the addendum's copy of the first Sid lands in the last part,
    # where a per-document grammar check cannot see the first one.
    policy = write_oversized_policy(tmp_path / "big.json")
    addendum = write_addendum(tmp_path / "again.json", statement("ReadBucket00"))
    with pytest.raises(PolicyError) as err:
        documents_of({"name": "d", "profile": "custom", "policy_file": str(policy), "addenda_files": [str(addendum)]})
    assert "duplicate statement Sid 'ReadBucket00'" in str(err.value)


# --- only_variants and conflicts_with on addenda (config._check_addenda) -------------------------

@pytest.fixture
def variant_profile(tmp_path, monkeypatch):
    """A profile 'twovariants' with variants 'alpha' (default) and 'beta', and addenda limited by
    only_variants / conflicts_with, served to the config as if it were built in."""
    root = tmp_path / "twovariants"
    (root / "addenda").mkdir(parents=True)
    write_policy(root / "alpha.json", statement("AlphaBase"))
    write_policy(root / "beta.json", statement("BetaBase"))
    (root / "profile.json").write_text(json.dumps({
        "default_variant": "alpha",
        "policies": [{"id": "main", "template": "alpha.json", "attach_to": ["user"], "addenda": True}],
        "variants": {"beta": {"policies": [{"id": "main", "template": "beta.json", "attach_to": ["user"], "addenda": True}]}},
    }))
    write_addendum(root / "addenda" / "alpha-only.json", statement("AlphaExtra"), only_variants=["alpha"])
    write_addendum(root / "addenda" / "left.json", statement("Left"), conflicts_with=["right"])
    write_addendum(root / "addenda" / "right.json", statement("Right"))
    profile = load_profile_dir(root)
    real = config_model.load_profile
    for module in (config_load, config_model):  # the parser and profile_of both look profiles up
        monkeypatch.setattr(module, "load_profile", lambda name, *a: profile if name == "twovariants" else real(name, *a))
    return profile


def test_addendum_limited_to_one_variant_is_refused_on_another(variant_profile):
    with pytest.raises(ConfigError) as err:
        parse_config(config_with({"name": "d", "profile": "twovariants", "variant": "beta", "addenda": ["alpha-only"]}))
    problems = err.value.problems
    assert [p.where for p in problems] == ['deployments[0].addenda (deployment "d")']
    assert "addendum 'alpha-only' cannot be used with variant 'beta'" in problems[0].message
    assert "'alpha'" in problems[0].fix


def test_addendum_limited_to_one_variant_applies_to_that_variant(variant_profile):
    documents = documents_of({"name": "d", "profile": "twovariants", "variant": "alpha", "addenda": ["alpha-only"]})
    assert [s["Sid"] for s in documents.policies[0].parts[0]["Statement"]] == ["AlphaBase", "AlphaExtra"]


def test_conflicting_addenda_are_refused_naming_both(variant_profile):
    with pytest.raises(ConfigError) as err:
        parse_config(config_with({"name": "d", "profile": "twovariants", "addenda": ["right", "left"]}))
    problems = err.value.problems
    assert [p.where for p in problems] == ['deployments[0].addenda (deployment "d")']
    assert problems[0].message == "'left' and 'right' cannot be used together"


def test_addenda_without_a_conflict_combine(variant_profile):
    documents = documents_of({"name": "d", "profile": "twovariants", "variant": "beta", "addenda": ["right"]})
    assert [s["Sid"] for s in documents.policies[0].parts[0]["Statement"]] == ["BetaBase", "Right"]


# --- policy-name clashes across deployments (config._check_unique) -------------------------------

def test_policy_name_clash_alone_is_refused_naming_both_entries():
    # Own user, no role: only the policy name is shared.
    raw = config_with({"name": "a", "profile": "nextai"},
                      {"name": "b", "profile": "nextai", "user_name": "bob", "create_node_role": False,
                       "policy_name": "nextai-policy"})
    with pytest.raises(ConfigError) as err:
        parse_config(raw)
    problems = err.value.problems
    assert [p.where for p in problems] == ['deployments[1] (deployment "b")']
    assert problems[0].message == f"policy 'nextai-policy' also used by deployments[0] (deployment \"a\") (account {TEST_ACCOUNT})"


def test_policy_name_clash_of_a_second_policy_of_the_profile():
    # Iguazio has two policies; the second deployment reuses only the node policy's name, which is
    # <role_name>-AssignPrivateIPAddresses by default (policy_json/iguazio/SOURCES.md, "Node policy name").
    # Iguazio creates an access key by default: on real AWS both accept the plaintext secret in state.
    consent = {"allow_plaintext_secret_in_state": True}
    raw = config_with({"name": "a", "profile": "iguazio", **consent},
                      {"name": "b", "profile": "iguazio", "user_name": "Other", "policy_name": "Other", **consent,
                       "role_name": "OtherNode", "policy_names": {"node": "IguazioDataScienceNode-AssignPrivateIPAddresses"}})
    with pytest.raises(ConfigError) as err:
        parse_config(raw)
    assert [p.message for p in err.value.problems] == [
        f"policy 'IguazioDataScienceNode-AssignPrivateIPAddresses' also used by deployments[0] (deployment \"a\") (account {TEST_ACCOUNT})"]


def test_same_policy_name_in_another_account_is_allowed():
    raw = config_with({"name": "a", "profile": "nextai"},
                      {"name": "b", "profile": "nextai", "user_name": "bob", "create_node_role": False,
                       "policy_name": "nextai-policy", "account_id": "210987654321"})
    assert [d.name for d in parse_config(raw).deployments] == ["a", "b"]


# --- the pgp_key path keeps the encrypted secret sensitive ---------------------------------------

def test_encrypted_secret_output_is_sensitive_with_pgp_key(tmp_path):
    stack = synth_raw(make_config(create_access_key=True, pgp_key="keybase:some_person"), tmp_path)["nextai"]
    assert stack["resource"]["aws_iam_access_key"]["user_access_key"]["pgp_key"] == "keybase:some_person"
    output = stack["output"]["access_key_encrypted_secret"]
    assert output["value"] == "${aws_iam_access_key.user_access_key.encrypted_secret}"
    assert output["sensitive"] is True
    assert "access_key_secret" not in stack["output"]


# --- the lint gate: only (rule, Sid) pairs the profile accepts pass ------------------------------

def test_lint_gate_lets_through_only_the_exact_rule_and_sid_accepted():
    findings = [Finding("LP003", "p", "PassNodeRole", "x"), Finding("LP002", "p", "PassNodeRole", "x"),
                Finding("LP003", "p", "OtherSid", "x")]
    accepted = [{"rule": "LP003", "sid": "PassNodeRole", "reason": "r"}]
    assert unexplained(findings, accepted) == findings[1:]
    assert unexplained(findings, []) == findings


def test_lint_gate_refuses_an_accepted_rule_on_another_sid_of_the_profile(tmp_path):
    # iguazio accepts LP003 for EksctlRoles only; the same finding under another Sid must still fail.
    policy = write_policy(tmp_path / "p.json", {"Sid": "PassAnyRole", "Effect": "Allow", "Action": "iam:PassRole",
                                                "Resource": "arn:{{partition}}:iam::{{account_id}}:role/{{role_name}}"})
    with pytest.raises(PolicyError) as err:
        documents_of({"name": "d", "profile": "custom", "policy_file": str(policy)})
    assert "LP003" in str(err.value) and "PassAnyRole" in str(err.value)


def test_lint_gate_accepted_entries_need_a_reason(tmp_path):
    (tmp_path / "lint-accepted.json").write_text(json.dumps([{"rule": "LP003", "sid": "PassNodeRole", "reason": " "}]))
    with pytest.raises(PolicyError) as err:
        accepted_findings(tmp_path)
    assert "lint-accepted.json" in str(err.value) and "reason" in str(err.value)


def test_lint_gate_custom_profile_cannot_accept_findings(tmp_path):
    # An LP003 statement (PassRole without iam:PassedToService) is refused in a custom profile, even with a lint-accepted.json beside it.
    policy = write_policy(tmp_path / "p.json", {"Sid": "PassNodeRole", "Effect": "Allow", "Action": ["iam:GetRole", "iam:PassRole"],
                                                "Resource": ["arn:{{partition}}:iam::{{account_id}}:role/{{role_name}}"]})
    (tmp_path / "lint-accepted.json").write_text(json.dumps([{"rule": "LP003", "sid": "PassNodeRole", "reason": "mine"}]))
    with pytest.raises(PolicyError) as err:
        documents_of({"name": "d", "profile": "custom", "policy_file": str(policy)})
    assert "LP003" in str(err.value) and "PassNodeRole" in str(err.value)


def test_lint_gate_accepts_the_builtin_profiles_reasoned_finding():
    # nextai no longer needs an acceptance (PassNodeRole carries iam:PassedToService: nextai/SOURCES.md); iguazio's
    # EKS variant accepts LP003 on the vendor's EksctlRoles statement, with a reason (iguazio/lint-accepted.json).
    documents = documents_of({"name": "d", "profile": "iguazio", "variant": "eks", "allow_plaintext_secret_in_state": True})
    statements = documents.policies[0].parts[0]["Statement"]
    assert "EksctlRoles" in [s["Sid"] for s in statements]
    assert ("LP003", "EksctlRoles") in {(f.rule, f.sid) for f in lint_statements(statements, "ManageIguazioSystems")}  # a real finding
