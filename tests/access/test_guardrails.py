"""Guardrails that keep the platform working: the profile boundary, the required boundary on created
roles, and what `check`, `can` and the call contracts make of them."""

from __future__ import annotations

import dataclasses
import json

import pytest

from iam_foundry.access.check import builtin_combinations, builtin_config, check_config, creates_roles
from iam_foundry.access.contracts import contract_results, evaluate_contract, load_contract, summarize
from iam_foundry.access.escalation import ADMIN_EQUIVALENT, BOUNDED, CAN_MODIFY_OWN, Analysis
from iam_foundry.access.evaluate import Request, evaluate
from iam_foundry.access.principals import boundary_of, principal_policies
from iam_foundry.config.load import parse_config
from iam_foundry.policy.documents import build_documents
from tests.conftest import TEST_ACCOUNT

REQUIRING = [(p, v, a) for p, v, a in builtin_combinations() if creates_roles(p, v, a)]
CREATE_METHODS = ("CreateRole+", "PutRolePolicy+PassRole")


def test_require_boundary_applies_to_the_role_creating_profiles():
    assert {(p, v) for p, v, _ in REQUIRING} == {("ai-unlimited", "with-iam-role-permissions"), ("iguazio", "eks"), ("nextai", "default")}
    assert all("role-creation" in a for p, _, a in REQUIRING if p == "nextai")


@pytest.mark.parametrize(("profile", "variant", "addenda"), REQUIRING, ids=lambda v: "+".join(v) if isinstance(v, tuple) else v)
def test_required_boundary_keeps_contracts_and_closes_role_creation(profile, variant, addenda):
    config = builtin_config(profile, variant, addenda, require_boundary=True)
    deployment = config.deployments[0]
    summary = summarize(deployment.name, contract_results(deployment))
    assert summary.ok, [str(f) for f in summary.failures]
    for check in check_config(config):
        assert not check.fails
        assert not [p.method for p in check.report.admin_paths if p.method.startswith(CREATE_METHODS)]


def test_created_roles_need_the_boundary_and_so_do_existing_ones():
    documents = build_documents(builtin_config("ai-unlimited", "with-iam-role-permissions", (), require_boundary=True).deployments[0])
    policies = principal_policies(documents, "node_role")
    bounds = boundary_of(documents)
    role = f"arn:aws:iam::{documents.deployment.account_id}:role/aiu-cluster-x"
    assert not evaluate(policies, Request("iam:CreateRole", role), bounds.documents)
    assert evaluate(policies, Request("iam:CreateRole", role, {"iam:PermissionsBoundary": bounds.arn}), bounds.documents)
    other = f"arn:aws:iam::{documents.deployment.account_id}:policy/other"
    assert not evaluate(policies, Request("iam:CreateRole", role, {"iam:PermissionsBoundary": other}), bounds.documents)
    # A role of the prefix that exists without the boundary cannot be given a policy either.
    assert not evaluate(policies, Request("iam:PutRolePolicy", role), bounds.documents)
    assert evaluate(policies, Request("iam:PutRolePolicy", role, {"iam:PermissionsBoundary": bounds.arn}), bounds.documents)


def custom_user(tmp_path, statement, **fields):
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"Version": "2012-10-17", "Statement": [{"Sid": "S", "Effect": "Allow", **statement}]}))
    raw = {"localstack": {"enabled": False}, "deployments": [
        {"name": "c", "profile": "custom", "policy_file": str(policy), "account_id": TEST_ACCOUNT, "create_node_role": False,
         "lint_accepted": [], **fields}]}
    [report] = Analysis([build_documents(parse_config(raw).deployments[0])]).reports()
    return report


def test_profile_boundary_makes_attaching_admin_to_itself_gain_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr("iam_foundry.policy.documents.check_documents", lambda documents: None)  # lint would refuse the policy
    attach = {"Action": ["iam:AttachUserPolicy", "iam:PutUserPolicy"], "Resource": f"arn:aws:iam::{TEST_ACCOUNT}:user/c-user"}
    assert custom_user(tmp_path, attach).verdict == ADMIN_EQUIVALENT
    bounded = custom_user(tmp_path, attach, profile_boundary=True)
    assert bounded.verdict == CAN_MODIFY_OWN and not bounded.admin_paths
    assert {p.method for p in bounded.paths} == {"AttachUserPolicy(self)", "PutUserPolicy(self)"}


def test_builtin_profiles_are_bounded_by_default():
    for profile, variant, addenda in builtin_combinations():
        if addenda:
            continue
        documents = build_documents(builtin_config(profile, variant, addenda).deployments[0])
        assert documents.boundary is not None and documents.boundary_arn.endswith(f":policy/{documents.deployment.policy_name}-boundary")


def test_contracts_are_evaluated_under_the_boundary():
    """A boundary that left out a statement the platform needs would break it: the contract says so."""
    documents = build_documents(builtin_config("nextai", "default", ()).deployments[0])
    assert not [r for r in evaluate_contract(documents, load_contract("nextai")) if not r.ok]
    document = documents.boundary.document
    cut = dataclasses.replace(documents.boundary, document={**document, "Statement": [
        s for s in document["Statement"] if s["Sid"] != "PassNodeRole"]})
    failed = {r.entry.id for r in evaluate_contract(dataclasses.replace(documents, boundary=cut), load_contract("nextai")) if not r.ok}
    assert "pass-node-role" in failed


def test_check_shows_no_unaccepted_admin_and_bounded_where_required():
    verdicts = {c.report.identity.kind: c.verdict for c in
                check_config(builtin_config("ai-unlimited", "with-iam-role-permissions", (), require_boundary=True))}
    assert verdicts == {"node_role": BOUNDED}
