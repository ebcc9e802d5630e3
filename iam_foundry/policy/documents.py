"""Everything a deployment needs rendered, as plain data (no cdktf import: `validate` uses it too)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from iam_foundry.access.actions import unknown_action_problems
from iam_foundry.config.model import CUSTOM_PROFILE, Deployment, profile_of
from iam_foundry.emit.tfjson import expr
from iam_foundry.errors import PolicyError, Problem
from iam_foundry.plan import (  # noqa: F401
    BOUNDARY_CHANGES,
    BOUNDARY_POLICY_CHANGES,
    BOUNDARY_SUFFIX,
    MANAGED_POLICY_MAX_CHARS,
    POLICY_NAME_MAX,
    ROLE_GRANTS,
    TAG_MANAGED_BY,
    DeploymentInputs,
    MAIN_PRINCIPALS,
    LogicalIds,
    Plan,
    allows_create_role,
    concrete_boundary_document,
    ec2_service_principal,
    guardrail_statements,
    resolve,
)
from iam_foundry.policy.lint import Finding, accepted_findings, grammar_problems, lint_statements, unexplained
from iam_foundry.profiles.load import Profile

# Filled in at plan time when the config gives no account id (data "aws_caller_identity" "current").
CALLER_ACCOUNT_ID = expr("data.aws_caller_identity.current.account_id")


@dataclass(frozen=True)
class PolicyDocuments:
    """One custom managed policy, rendered, in one or more parts (each under IAM's size quota)."""

    id: str
    name: str
    parts: list[dict[str, Any]]
    attach_to: tuple[str, ...]
    # Existing roles (by name) the stack attaches this policy to without owning them.
    attach_to_roles: tuple[str, ...] = ()


@dataclass(frozen=True)
class DeploymentDocuments:
    """A deployment's plan, seen as the documents the checks and the access analysis read."""

    deployment: Deployment
    profile: Profile
    policies: list[PolicyDocuments]
    trust_policy: dict[str, Any] | None
    user_managed_arns: list[str]
    role_managed_arns: list[str]
    tags: dict[str, str]
    plan: Plan
    # The profile boundary the stack creates (None with profile_boundary off or a permissions_boundary given).
    boundary: "BoundaryDocument | None" = None

    @property
    def creates_role(self) -> bool:
        return self.trust_policy is not None

    @property
    def boundary_arn(self) -> str | None:
        """The boundary set on the user and node role: the user's own, or the profile boundary."""
        return self.deployment.permissions_boundary or (self.boundary.arn if self.boundary else None)

    def parts_attached_to(self, target: str) -> int:
        return sum(len(p.parts) for p in self.policies if target in p.attach_to)


@dataclass(frozen=True)
class BoundaryDocument:
    """The profile boundary (see plan.PlannedBoundary), as the checks and the access analysis read it."""

    name: str
    arn: str  # plan value: the account may be a token filled at plan time
    document: dict[str, Any]


_allows_create_role = allows_create_role  # the name main's callers know


def placeholder_values(deployment: Deployment, profile: Profile) -> dict[str, str]:
    return dict(resolve(DeploymentInputs(deployment, profile)).values)


def build_documents(deployment: Deployment, ids: LogicalIds | None = None) -> DeploymentDocuments:
    """The deployment's plan (with these Terraform names; an iam-foundry stack's by default), checked."""
    profile = profile_of(deployment)
    # A late lookup of guardrail_statements: a test may replace it here.
    plan = resolve(DeploymentInputs(deployment, profile, ids=ids or LogicalIds(),
                                    guard=lambda *args: guardrail_statements(*args)))
    policies = [PolicyDocuments(id=p.id, name=p.name, parts=list(p.parts or ()), attach_to=p.attach_to, attach_to_roles=p.attach_to_roles)
                for p in plan.policies]
    documents = DeploymentDocuments(
        deployment=deployment,
        profile=profile,
        policies=policies,
        trust_policy=plan.trust_policy,
        user_managed_arns=[a.arn for a in plan.attachments if a.principal == "user"],
        role_managed_arns=[a.arn for a in plan.attachments if a.principal == "node_role"],
        tags=dict(plan.tags),
        plan=plan,
    )
    if plan.boundary is not None:
        documents = replace(documents, boundary=BoundaryDocument(plan.boundary.name, plan.boundary.arn, plan.boundary.document()))
    _check_attachment_quota(documents)
    check_documents(documents)
    return documents


def profile_boundary(documents: DeploymentDocuments, values: dict[str, str]) -> BoundaryDocument:
    """The profile boundary of these documents (the plan's, recomputed from the policies as they are now)."""
    deployment = documents.deployment
    name = f"{deployment.policy_name}{BOUNDARY_SUFFIX}"
    arn = f"arn:{deployment.partition}:iam::{values['account_id']}:policy{deployment.path}{name}"
    document = concrete_boundary_document(deployment.name, name, arn, [(p.id, p.parts) for p in documents.policies
                                                                    if set(p.attach_to) & set(MAIN_PRINCIPALS)],
                                          documents.user_managed_arns + documents.role_managed_arns)
    return BoundaryDocument(name=name, arn=arn, document=document)


def lint_findings(documents: DeploymentDocuments) -> list[Finding]:
    return [f for p in documents.policies for part in p.parts for f in lint_statements(part["Statement"], p.name)]


def check_documents(documents: DeploymentDocuments) -> None:
    """Grammar of every document, then the least-privilege rules (minus the profile's accepted findings)."""
    where = f"deployment '{documents.deployment.name}'"
    problems = [problem for p in documents.policies for index, part in enumerate(p.parts)
                for problem in grammar_problems(part, f"{where} policy '{p.name}'" + (f" part {index + 1}" if index else ""))]
    if documents.trust_policy is not None:
        problems += grammar_problems(documents.trust_policy, f"{where} trust policy", trust=True)
    if documents.boundary is not None:
        problems += grammar_problems(documents.boundary.document, f"{where} boundary '{documents.boundary.name}'")
    for role in documents.plan.roles:
        problems += grammar_problems(role.trust_policy, f"{where} {role.key} trust policy", trust=True)
        if role.boundary is not None:
            problems += grammar_problems(role.boundary.document(), f"{where} boundary '{role.boundary.name}'")
    if problems:
        raise PolicyError(problems)
    problems = _unknown_actions(documents, where)
    if problems:
        raise PolicyError(problems)
    deployment = documents.deployment
    own = [{"rule": a.rule, "sid": a.sid, "reason": a.reason} for a in deployment.lint_accepted]
    # A custom profile's folder is the user's, not a profile folder: its lint-accepted.json is not read.
    accepted = own + ([] if documents.profile.name == CUSTOM_PROFILE else accepted_findings(documents.profile.root))
    findings = lint_findings(documents)
    open_findings = unexplained(findings, accepted)
    problems = [Problem(where, str(f), _accept_hint(documents, f)) for f in open_findings]
    # An acceptance that matches nothing would silently accept a finding added later.
    found = {(f.rule, f.sid) for f in findings}
    problems += [Problem(f"{where} lint_accepted", f"accepts {a.rule} for statement '{a.sid}', but there is no such finding",
                         "remove the entry") for a in deployment.lint_accepted if (a.rule, a.sid) not in found]
    if problems:
        raise PolicyError(problems)


def _accept_hint(documents: DeploymentDocuments, finding: Finding) -> str:
    if documents.profile.name == CUSTOM_PROFILE:
        return (f"narrow the statement, or accept it in deployment '{documents.deployment.name}' with "
                f'lint_accepted = [{{ rule = "{finding.rule}", sid = "{finding.sid}", reason = "why it is acceptable" }}]')
    return f"narrow the statement, or accept it with a reason in {documents.profile.root / 'lint-accepted.json'}"


def _unknown_actions(documents: DeploymentDocuments, where: str) -> list[Problem]:
    """Actions AWS does not have (e.g. ec2:RunInstance), named by the file and Sid they come from."""
    profile = documents.profile
    problems: list[Problem] = []
    for planned, policy in zip(documents.plan.policies, documents.policies):
        sources = {s.body["Sid"]: str(s.source) for s in planned.statements if s.body.get("Sid")}
        for part in policy.parts:
            problems += unknown_action_problems(part, f"{where} policy '{policy.name}'", sources)
    if documents.trust_policy is not None and profile.node_role:
        problems += unknown_action_problems(documents.trust_policy, f"{where} trust policy",
                                            {s.get("Sid", ""): str(profile.node_role.trust_source) for s in documents.trust_policy["Statement"]})
    return problems


def _check_attachment_quota(documents: DeploymentDocuments) -> None:
    deployment = documents.deployment
    limit = deployment.max_managed_policies_per_principal
    counts = {}
    if deployment.create_user:
        counts["user"] = documents.parts_attached_to("user") + len(documents.user_managed_arns)
    if documents.creates_role:
        counts["role"] = documents.parts_attached_to("node_role") + len(documents.role_managed_arns)
    for role in documents.plan.roles:
        counts[role.key.replace("_", " ")] = documents.parts_attached_to(role.key) + sum(
            1 for a in documents.plan.attachments if a.principal == role.key)
    for principal, count in counts.items():
        if count > limit:
            raise PolicyError(Problem(
                f"deployment '{deployment.name}'",
                f"the {principal} would have {count} managed policies attached, over the quota of {limit}",
                "drop addenda, or set max_managed_policies_per_principal to your account's raised quota"))
