"""Escalation analysis: today's profiles, and each catalogue method on small custom policies."""

from __future__ import annotations

import dataclasses
import json

import pytest

from iam_foundry.access.check import builtin_config, check_documents
from iam_foundry.access.escalation import ADMIN, ADMIN_EQUIVALENT, BOUNDED, CAN_MODIFY_OWN, Analysis, probe_arn
from iam_foundry.config.load import parse_config
from iam_foundry.policy.documents import build_documents
from iam_foundry.profiles.load import load_profile
from tests.conftest import TEST_ACCOUNT


def every_addendum(profile: str, variant: str) -> list[str]:
    spec = load_profile(profile)
    return sorted(a for a, s in spec.addenda.items() if not s.only_variants or variant in s.only_variants)


def analysis_of(profile: str, variant: str, addenda: list[str]) -> Analysis:
    config = builtin_config(profile, variant, addenda)
    documents = [build_documents(d) for d in config.deployments]
    return Analysis(documents, config.backend.bucket, {d.deployment.name: config.backend.state_key(d.deployment.name) for d in documents})


def verdicts(analysis: Analysis) -> dict[str, str]:
    return {r.identity.kind: r.verdict for r in analysis.reports()}


def methods(analysis: Analysis, kind: str) -> set[str]:
    [report] = [r for r in analysis.reports() if r.identity.kind == kind]
    return {p.method for p in report.admin_paths}


# Every profile × variant with every addendum on: the verdicts the external analysis found.
EXPECTED = {
    # role-creation is refused with the stack's own node role, so with every addendum there is none.
    ("nextai", "default"): {"user": ADMIN_EQUIVALENT},
    ("ai-unlimited", "with-iam-role-permissions"): {"node_role": ADMIN_EQUIVALENT},
    # The server writes only its engine role's policy, which that role's own boundary caps (issue #12).
    ("ai-unlimited", "without-iam-role-permissions"): {"node_role": BOUNDED, "engine_role": BOUNDED},
    ("iguazio", "vanilla"): {"user": BOUNDED, "node_role": BOUNDED},
    ("iguazio", "eks"): {"user": ADMIN_EQUIVALENT, "node_role": BOUNDED},
    ("anyscale", "default"): {"node_role": BOUNDED},
}


@pytest.mark.parametrize(("profile", "variant"), list(EXPECTED), ids=lambda v: v)
def test_profiles_with_every_addendum(profile, variant):
    assert verdicts(analysis_of(profile, variant, every_addendum(profile, variant))) == EXPECTED[(profile, variant)]


def test_every_builtin_profile_and_variant_is_in_the_expectations():
    from iam_foundry.profiles.load import list_profiles
    assert {(p, v) for p in list_profiles() for v in load_profile(p).variants} == set(EXPECTED)


def test_nextai_role_creation_creates_and_writes_the_role_it_passes():
    analysis = analysis_of("nextai", "default", ["role-creation"])
    assert [r.identity.kind for r in analysis.reports()] == ["user"]  # the platform creates the node role, not the stack
    [path] = [p for p in analysis.reports()[0].admin_paths]
    assert path.method == "CreateRole+PutRolePolicy+AssumeRole"
    assert [s.action for s in path.steps][:2] == ["iam:CreateRole", "iam:PutRolePolicy"]
    assert path.steps[0].resource == f"arn:aws:iam::{TEST_ACCOUNT}:role/nextai-role"


def test_nextai_role_creation_with_required_boundary_is_bounded():
    config = builtin_config("nextai", "default", ["role-creation"], require_boundary=True)
    [report] = Analysis([build_documents(d) for d in config.deployments]).reports()
    assert report.verdict == BOUNDED, [str(p) for p in report.paths]


def test_nextai_open_ports_runs_code_as_any_instance_role():
    analysis = analysis_of("nextai", "default", ["open-ports"])
    assert methods(analysis, "user") == {"ModifyInstanceAttribute+StopInstances+StartInstances"}
    [path] = analysis.reports()[0].admin_paths
    assert {s.resource for s in path.steps} == {f"arn:aws:ec2:us-east-1:{TEST_ACCOUNT}:instance/i-0123456789abcdef0"}


def test_nextai_base_passes_only_its_own_role_which_has_the_same_policy():
    analysis = analysis_of("nextai", "default", [])
    assert verdicts(analysis) == {"user": BOUNDED, "node_role": BOUNDED}
    [edge] = [p for p in analysis.paths["nextai:user"] if p.target == "nextai:node_role"]
    assert edge.method == "PassRole+RunInstances"


def test_ai_unlimited_creates_a_compute_engine_role_trusting_itself():
    analysis = analysis_of("ai-unlimited", "with-iam-role-permissions", [])
    found = methods(analysis, "node_role")
    assert {"CreateRole+PutRolePolicy+AssumeRole", "PutRolePolicy+PassRole+RunInstances"} <= found
    [create] = [p for p in analysis.reports()[0].admin_paths if p.method.startswith("CreateRole")]
    assert create.steps[0].resource == f"arn:aws:iam::{TEST_ACCOUNT}:role/aiu-cluster-iam-foundry-probe"


def test_ai_unlimited_without_role_permissions_passes_a_separate_engine_role_it_cannot_make_admin():
    """Issue #12: the server no longer touches its own role; it passes (and writes) the engine role, whose own
    boundary (the engine policy) caps whatever it is given, so the server stays bounded and never modifies itself."""
    for addenda in ([], every_addendum("ai-unlimited", "without-iam-role-permissions")):
        analysis = analysis_of("ai-unlimited", "without-iam-role-permissions", addenda)
        server, engine = analysis.report("ai-unlimited:node_role"), analysis.report("ai-unlimited:engine_role")
        assert (server.verdict, engine.verdict) == (BOUNDED, BOUNDED), [str(p) for p in server.paths]
        assert not [p for p in server.paths if p.target in (ADMIN, "own-permissions")]
        # Its one way to the engine role: pass it to EC2 (the role trusts EC2 only), not to itself.
        assert {(p.method, p.target) for p in server.paths} == {("PassRole+RunInstances", "ai-unlimited:engine_role")}
        assert engine.identity.boundary_arn == f"arn:aws:iam::{TEST_ACCOUNT}:policy/ai-unlimited-engine-boundary"
        assert engine.identity.instance_profile == f"arn:aws:iam::{TEST_ACCOUNT}:instance-profile/ai-unlimited-engine"
        assert not engine.paths


def test_a_writable_engine_role_without_its_own_boundary_would_be_the_server_s_way_to_admin():
    """The engine role's boundary is what keeps the server bounded: without profile boundaries the server's
    PutRolePolicy on the role it passes is the classic PutRolePolicy+PassRole+RunInstances path."""
    config = builtin_config("ai-unlimited", "without-iam-role-permissions", [])
    deployment = dataclasses.replace(config.deployments[0], profile_boundary=False)
    analysis = Analysis([build_documents(deployment)])
    server = analysis.report("ai-unlimited:node_role")
    assert server.verdict == ADMIN_EQUIVALENT
    assert "PutRolePolicy+PassRole+RunInstances" in {p.method for p in server.admin_paths}


def test_ai_unlimited_with_required_boundary_creates_only_bounded_roles():
    config = builtin_config("ai-unlimited", "with-iam-role-permissions", [], require_boundary=True)
    [report] = Analysis([build_documents(d) for d in config.deployments]).reports()
    assert report.verdict == BOUNDED, [str(p) for p in report.paths]


def test_iguazio_eks_creates_and_passes_eksctl_roles_to_any_service():
    found = methods(analysis_of("iguazio", "eks", []), "user")
    assert {"CreateRole+PutRolePolicy+AssumeRole", "PutRolePolicy+PassRole+RunInstances", "PutRolePolicy+PassRole+RequestSpotInstances",
            "PutRolePolicy+PassRole+CreateStack", "PutRolePolicy+PassRole+UpdateStack", "ModifyInstanceAttribute+StopInstances+StartInstances",
            "ec2:CreateLaunchTemplateVersion+ModifyLaunchTemplate", "cloudformation:CreateChangeSet+ExecuteChangeSet"} == found


def test_state_bucket_readers():
    with_s3 = {r.identity.kind: sorted(r.state_access) for r in analysis_of("nextai", "default", ["s3-access"]).reports()}
    assert with_s3 == {"user": ["read", "write"], "node_role": []}  # s3-access is the users' (the page says users)
    on_nodes = {r.identity.kind: sorted(r.state_access) for r in analysis_of("nextai", "default", ["s3-access-node-role"]).reports()}
    assert on_nodes == {"user": [], "node_role": ["read", "write"]}
    assert all(not r.state_access for r in analysis_of("nextai", "default", []).reports())


def test_probe_arns_follow_the_action_resource_formats():
    assert probe_arn("ec2:RunInstances", "image", "aws", "eu-west-1", TEST_ACCOUNT) == "arn:aws:ec2:eu-west-1::image/ami-0123456789abcdef0"
    assert probe_arn("lambda:UpdateFunctionCode", "function", "aws-cn", "cn-north-1", TEST_ACCOUNT) == \
        f"arn:aws-cn:lambda:cn-north-1:{TEST_ACCOUNT}:function:iam-foundry-probe"
    assert probe_arn("glue:CreateDevEndpoint", "", "aws", "us-east-1", TEST_ACCOUNT) == "*"


# -- each catalogue method on a custom policy (attached to the user only) ---------------------------
# Lint would refuse most of these policies before analysis; these tests are about the analysis.


@pytest.fixture(autouse=True)
def _no_lint(request, monkeypatch):
    if "tmp_path" in request.fixturenames:
        monkeypatch.setattr("iam_foundry.policy.documents.check_documents", lambda documents: None)

ROLE = f"arn:aws:iam::{TEST_ACCOUNT}:role"
USER = f"arn:aws:iam::{TEST_ACCOUNT}:user"


def custom_user(tmp_path, *statements, **fields):
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": f"S{i}", "Effect": "Allow", **s} for i, s in enumerate(statements)]}))
    raw = {"localstack": {"enabled": False}, "deployments": [
        {"name": "c", "profile": "custom", "policy_file": str(policy), "account_id": TEST_ACCOUNT, "create_node_role": False, **fields}]}
    documents = build_documents(parse_config(raw).deployments[0])
    [report] = Analysis([documents]).reports()
    return report


PASS_ANY = {"Action": "iam:PassRole", "Resource": "*", "Condition": {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}}
CATALOGUE = [
    ("put-own-policy", [{"Action": "iam:PutUserPolicy", "Resource": f"{USER}/c-user"}], ADMIN_EQUIVALENT, "PutUserPolicy(self)"),
    ("attach-own-policy", [{"Action": "iam:AttachUserPolicy", "Resource": f"{USER}/c-user"}], ADMIN_EQUIVALENT, "AttachUserPolicy(self)"),
    ("attach-only-readonly", [{"Action": "iam:AttachUserPolicy", "Resource": f"{USER}/c-user", "Condition": {
        "ArnEquals": {"iam:PolicyARN": "arn:aws:iam::aws:policy/ReadOnlyAccess"}}}], CAN_MODIFY_OWN, None),
    ("create-policy-version", [{"Action": "iam:CreatePolicyVersion", "Resource": f"arn:aws:iam::{TEST_ACCOUNT}:policy/c-policy"}],
     ADMIN_EQUIVALENT, "CreatePolicyVersion(own policy)"),
    ("create-version-of-other-policy", [{"Action": "iam:CreatePolicyVersion", "Resource": f"arn:aws:iam::{TEST_ACCOUNT}:policy/other"}],
     BOUNDED, None),
    ("set-default-version", [{"Action": "iam:SetDefaultPolicyVersion", "Resource": f"arn:aws:iam::{TEST_ACCOUNT}:policy/c-*"}],
     CAN_MODIFY_OWN, None),
    ("access-key-any-user", [{"Action": "iam:CreateAccessKey", "Resource": f"{USER}/*"}], ADMIN_EQUIVALENT, "CreateAccessKey(other user)"),
    ("access-key-own-user", [{"Action": "iam:CreateAccessKey", "Resource": f"{USER}/${{aws:username}}"}], BOUNDED, None),
    ("login-profile", [{"Action": "iam:UpdateLoginProfile", "Resource": "*"}], ADMIN_EQUIVALENT, "UpdateLoginProfile(other user)"),
    ("add-user-to-group", [{"Action": "iam:AddUserToGroup", "Resource": "*"}], ADMIN_EQUIVALENT, "AddUserToGroup"),
    ("update-trust-any-role", [{"Action": "iam:UpdateAssumeRolePolicy", "Resource": f"{ROLE}/*"}], ADMIN_EQUIVALENT,
     "UpdateAssumeRolePolicy+AssumeRole(other role)"),
    ("pass-any-role-to-lambda", [PASS_ANY, {"Action": ["lambda:CreateFunction", "lambda:InvokeFunction"], "Resource": "*"}],
     ADMIN_EQUIVALENT, "PassRole(other role)+CreateFunction+InvokeFunction"),
    ("pass-any-role-without-compute", [PASS_ANY], BOUNDED, None),
    ("pass-to-ec2-but-compute-is-lambda", [{**PASS_ANY, "Condition": {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}},
                                           {"Action": ["lambda:CreateFunction", "lambda:InvokeFunction"], "Resource": "*"}], BOUNDED, None),
    ("pass-named-roles-only", [{"Action": "iam:PassRole", "Resource": f"{ROLE}/app-*"}, {"Action": "cloudformation:CreateStack", "Resource": "*"}],
     BOUNDED, None),
    ("create-role-and-attach", [{"Action": ["iam:CreateRole", "iam:AttachRolePolicy"], "Resource": f"{ROLE}/app-*"}], ADMIN_EQUIVALENT,
     "CreateRole+AttachRolePolicy+AssumeRole"),
    ("create-role-attach-limited", [{"Action": ["iam:CreateRole", "iam:AttachRolePolicy"], "Resource": f"{ROLE}/app-*", "Condition": {
        "ArnEquals": {"iam:PolicyARN": "arn:aws:iam::aws:policy/ReadOnlyAccess"}}}], BOUNDED, None),
    ("create-role-only", [{"Action": "iam:CreateRole", "Resource": f"{ROLE}/app-*"}], BOUNDED, None),
    ("ssm-send-command", [{"Action": "ssm:SendCommand", "Resource": "*"}], ADMIN_EQUIVALENT, "ssm:SendCommand"),
    ("modify-without-restart", [{"Action": "ec2:ModifyInstanceAttribute", "Resource": "*"}], BOUNDED, None),
    ("update-function-code", [{"Action": "lambda:UpdateFunctionCode", "Resource": "*"}], ADMIN_EQUIVALENT, "lambda:UpdateFunctionCode"),
    ("create-user-with-key-and-policy", [{"Action": ["iam:CreateUser", "iam:CreateAccessKey", "iam:PutUserPolicy"], "Resource": f"{USER}/bot-*"}],
     ADMIN_EQUIVALENT, "CreateUser+PutUserPolicy+CreateAccessKey"),
    ("explicit-deny-closes-it", [{"Action": "iam:PutUserPolicy", "Resource": "*"}], BOUNDED, None),
]


@pytest.mark.parametrize(("statements", "verdict", "method"), [c[1:] for c in CATALOGUE], ids=[c[0] for c in CATALOGUE])
def test_catalogue(tmp_path, statements, verdict, method):
    if method is None and statements == [{"Action": "iam:PutUserPolicy", "Resource": "*"}]:
        # A Deny next to the Allow: the evaluator's explicit deny must close the path.
        policy = tmp_path / "policy.json"
        policy.write_text(json.dumps({"Version": "2012-10-17", "Statement": [
            {"Sid": "Put", "Effect": "Allow", "Action": "iam:PutUserPolicy", "Resource": "*"},
            {"Sid": "NotMe", "Effect": "Deny", "Action": "iam:*", "Resource": f"{USER}/c-user"}]}))
        raw = {"localstack": {"enabled": False}, "deployments": [
            {"name": "c", "profile": "custom", "policy_file": str(policy), "account_id": TEST_ACCOUNT, "create_node_role": False}]}
        [report] = Analysis([build_documents(parse_config(raw).deployments[0])]).reports()
    else:
        report = custom_user(tmp_path, *statements)
    assert report.verdict == verdict, [str(p) for p in report.paths]
    if method:
        assert method in {p.method for p in report.admin_paths}, [str(p) for p in report.paths]


def test_boundary_removal_counts_only_with_a_boundary(tmp_path):
    statement = {"Action": "iam:DeleteUserPermissionsBoundary", "Resource": f"{USER}/c-user"}
    assert custom_user(tmp_path, statement).verdict == BOUNDED
    report = custom_user(tmp_path, statement, permissions_boundary=f"arn:aws:iam::{TEST_ACCOUNT}:policy/boundary")
    # A boundary the user gives comes with a deny on lifting it, in the identity policy.
    assert report.verdict == BOUNDED and "not evaluated" in report.notes[0]


def test_boundary_removal_without_the_guardrail(tmp_path, monkeypatch):
    monkeypatch.setattr("iam_foundry.policy.documents.guardrail_statements", lambda *args: [])
    statement = {"Action": "iam:DeleteUserPermissionsBoundary", "Resource": f"{USER}/c-user"}
    report = custom_user(tmp_path, statement, permissions_boundary=f"arn:aws:iam::{TEST_ACCOUNT}:policy/boundary")
    assert report.verdict == CAN_MODIFY_OWN
    # Under a known boundary that allows writing its own policy, lifting the boundary keeps the '*': admin.
    both = [statement, {"Action": "iam:PutUserPolicy", "Resource": f"{USER}/c-user"}]
    report = custom_user(tmp_path, *both, permissions_boundary="arn:aws:iam::aws:policy/AdministratorAccess")
    assert "DeleteUserPermissionsBoundary(self)" in {p.method for p in report.admin_paths}


def test_a_known_boundary_is_applied(tmp_path):
    statement = {"Action": "iam:PutUserPolicy", "Resource": f"{USER}/c-user"}
    assert custom_user(tmp_path, statement).verdict == ADMIN_EQUIVALENT
    # AmazonS3FullAccess as the boundary leaves no IAM action.
    assert custom_user(tmp_path, statement, permissions_boundary="arn:aws:iam::aws:policy/AmazonS3FullAccess").verdict == BOUNDED


def test_another_deployments_role_is_reached_through_the_graph(tmp_path):
    """A user that may pass a second deployment's admin-equivalent role is admin-equivalent through it."""
    policy = tmp_path / "launcher.json"
    policy.write_text(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "Pass", "Effect": "Allow", "Action": "iam:PassRole", "Resource": f"{ROLE}/nextai-role"},
        {"Sid": "Run", "Effect": "Allow", "Action": "ec2:RunInstances", "Resource": "*"}]}))
    raw = {"localstack": {"enabled": False}, "deployments": [
        {"name": "launcher", "profile": "custom", "policy_file": str(policy), "account_id": TEST_ACCOUNT, "create_node_role": False},
        {"name": "nextai", "profile": "nextai", "account_id": TEST_ACCOUNT, "addenda": ["open-ports"], "create_user": False}]}
    config = parse_config(raw)
    checks = {c.report.identity.key: c for c in check_documents([build_documents(d) for d in config.deployments], config.backend)}
    launcher = checks["launcher:user"]
    assert launcher.verdict == ADMIN_EQUIVALENT
    assert [p.target for p in launcher.report.admin_route] == ["nextai:node_role", ADMIN]
    assert launcher.unaccepted_via == [] and launcher.accepted  # it reaches an accepted risk of the nextai profile


def test_trust_policy_principals():
    from iam_foundry.access.escalation import trust_allows

    ec2 = {"Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    me = f"arn:aws:iam::{TEST_ACCOUNT}:user/me"
    assert trust_allows(ec2, service="ec2.amazonaws.com") and not trust_allows(ec2, service="lambda.amazonaws.com")
    assert not trust_allows(ec2, arn=me, account=TEST_ACCOUNT)
    by_arn = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": [me]}, "Action": "sts:AssumeRole"}]}
    by_account = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{TEST_ACCOUNT}:root"}, "Action": "sts:AssumeRole"}]}
    assert trust_allows(by_arn, arn=me) and not trust_allows(by_account, arn=me)
    assert trust_allows(by_account, arn=me, account=TEST_ACCOUNT)
    tag_session_only = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": me}, "Action": "sts:TagSession"}]}
    assert not trust_allows(tag_session_only, arn=me)


def test_a_shared_role_created_elsewhere_counts_as_unknown(tmp_path):
    """nextai-bob uses nextai's node role (create_node_role = false): alone, its content is unknown."""
    raw = {"localstack": {"enabled": False}, "deployments": [
        {"name": "bob", "profile": "nextai", "account_id": TEST_ACCOUNT, "user_name": "bob", "policy_name": "bob-policy",
         "create_node_role": False},
        {"name": "nextai", "profile": "nextai", "account_id": TEST_ACCOUNT, "create_user": False}]}
    config = parse_config(raw)
    documents = [build_documents(d) for d in config.deployments]
    [alone] = Analysis(documents[:1]).reports()
    assert alone.verdict == ADMIN_EQUIVALENT
    assert {p.method for p in alone.admin_paths} == {"PassRole(unknown role)+RunInstances"}
    together = Analysis(documents).report("bob:user")
    assert together.verdict == BOUNDED  # the shared role is nextai's, which is bounded
