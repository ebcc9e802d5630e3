"""Everything a deployment needs rendered, as plain data (no cdktf import: `validate` uses it too)."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from .access.actions import unknown_action_problems
from .config import CUSTOM_PROFILE, Deployment, profile_of
from .errors import PolicyError, Problem
from .lint import Finding, accepted_findings, grammar_problems, lint_statements, unexplained
from .policy_templates import Profile, merge_statements, render, rendered_size, split_statements
from .tfjson import expr

# Filled in at plan time when the config gives no account id (data "aws_caller_identity" "current").
CALLER_ACCOUNT_ID = expr("data.aws_caller_identity.current.account_id")
MANAGED_POLICY_MAX_CHARS = 6144
TAG_MANAGED_BY = {"ManagedBy": "iam-foundry"}
BOUNDARY_SUFFIX = "-boundary"
POLICY_NAME_MAX = 128
# Whoever is bounded must not lift or change its boundary: else "attach AdministratorAccess to my own
# role" and then "remove my boundary" would still reach everything.
BOUNDARY_CHANGES = ["iam:DeleteRolePermissionsBoundary", "iam:DeleteUserPermissionsBoundary",
                    "iam:PutRolePermissionsBoundary", "iam:PutUserPermissionsBoundary"]
# The calls that give a role permissions; each carries iam:PermissionsBoundary (the role's boundary).
ROLE_GRANTS = ["iam:AttachRolePolicy", "iam:CreateRole", "iam:PutRolePolicy"]
BOUNDARY_POLICY_CHANGES = ["iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:DeletePolicyVersion", "iam:SetDefaultPolicyVersion"]


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
    deployment: Deployment
    profile: Profile
    policies: list[PolicyDocuments]
    trust_policy: dict[str, Any] | None
    user_managed_arns: list[str]
    role_managed_arns: list[str]
    tags: dict[str, str]
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
    """The profile boundary: one managed policy holding every statement the deployment's user and node
    role are given (custom parts and the AWS managed policies they attach), plus denies that keep any
    principal under it from lifting a boundary or rewriting this policy. Bounded by it, a principal
    that writes '*' on itself (or on a role created with this boundary) still gets no more than the
    profile grants."""

    name: str
    arn: str  # plan value: the account may be a token filled at plan time
    document: dict[str, Any]


def ec2_service_principal(partition: str) -> str:
    """EC2's service principal in trust policies: China regions need the .cn form (IAM rejects
    ec2.amazonaws.com there, and EKS checks node roles for ec2.amazonaws.com.cn)."""
    return "ec2.amazonaws.com.cn" if partition == "aws-cn" else "ec2.amazonaws.com"


def placeholder_values(deployment: Deployment, profile: Profile) -> dict[str, str]:
    values = dict(deployment.parameters)
    values.update(
        account_id=deployment.account_id or CALLER_ACCOUNT_ID,
        region=deployment.region,
        partition=deployment.partition,
        user_name=deployment.user_name,
        policy_name=deployment.policy_name,
        role_name=deployment.role_name,
        instance_profile_name=deployment.instance_profile_name,
        deployment=deployment.name,
        ec2_service_principal=ec2_service_principal(deployment.partition),
    )
    # Derived values, e.g. a Secrets Manager scope that narrows when a cluster name is given.
    for key, rule in profile.derived.items():
        chosen = rule["then"] if values.get(rule["if_set"]) else rule["else"]
        values[key] = render(chosen, values, profile.root / "profile.json")
    return values


def build_documents(deployment: Deployment) -> DeploymentDocuments:
    profile = profile_of(deployment)
    values = placeholder_values(deployment, profile)
    chosen = [profile.addenda[name] for name in sorted(set(deployment.addenda))]
    policies = []
    boundary_arn = deployment.permissions_boundary or (_boundary_arn(deployment, values) if _wants_boundary(deployment, profile) else None)
    for spec in profile.policies(deployment.variant or None):
        statements = [render(statement, values, source) for statement, source in merge_statements(profile, spec, list(deployment.addenda))]
        statements += guardrail_statements(deployment, statements, boundary_arn)
        name = deployment.policy_names.get(spec.id) or render(spec.name, values, profile.root / "profile.json")
        _check_unique_sids(statements, deployment, name)
        version = spec.template.get("Version", "2012-10-17")
        parts = split_statements(statements, version, MANAGED_POLICY_MAX_CHARS, where=f"deployment '{deployment.name}' policy '{name}'")
        attach_to = tuple(t for t in spec.attach_to if (t == "user" and deployment.create_user)
                          or (t == "node_role" and deployment.create_node_role and profile.node_role))
        policies.append(PolicyDocuments(id=spec.id, name=name, parts=parts, attach_to=attach_to))
    for addendum in chosen:
        if addendum.policy is not None:
            policies.append(_addendum_policy(deployment, profile, addendum, values))

    user_arns = _dedupe(render(arn, values, a.source) for a in chosen for arn in a.managed_policy_arns.get("user", ()))
    trust = None
    role_arns: list[str] = []
    if profile.node_role and deployment.create_node_role:
        spec = profile.node_role
        trust = render(spec.trust_policy, values, spec.trust_source)
        role_arns = _dedupe([render(arn, values, profile.root / "profile.json") for arn in spec.managed_policy_arns]
                            + [render(arn, values, a.source) for a in chosen for arn in a.managed_policy_arns.get("node_role", ())])
    documents = DeploymentDocuments(
        deployment=deployment,
        profile=profile,
        policies=policies,
        trust_policy=trust,
        user_managed_arns=user_arns if deployment.create_user else [],
        role_managed_arns=role_arns,
        tags={**TAG_MANAGED_BY, "IamFoundryDeployment": deployment.name, **deployment.tags},
    )
    if _wants_boundary(deployment, profile) and not deployment.permissions_boundary and (deployment.create_user or documents.creates_role):
        documents = replace(documents, boundary=profile_boundary(documents, values))
    _check_attachment_quota(documents)
    check_documents(documents)
    return documents


def _wants_boundary(deployment: Deployment, profile: Profile) -> bool:
    return deployment.profile_boundary and bool(deployment.create_user or (profile.node_role and deployment.create_node_role))


def _boundary_arn(deployment: Deployment, values: dict[str, str]) -> str:
    return f"arn:{deployment.partition}:iam::{values['account_id']}:policy{deployment.path}{deployment.policy_name}{BOUNDARY_SUFFIX}"


def _allows_create_role(statement: dict[str, Any]) -> bool:
    actions = statement.get("Action", [])
    return statement.get("Effect") == "Allow" and any(a.lower() in ("iam:createrole", "iam:*", "*") for a in
                                                       (actions if isinstance(actions, list) else [actions]))


def guardrail_statements(deployment: Deployment, statements: list[dict[str, Any]], boundary_arn: str | None) -> list[dict[str, Any]]:
    """Denies added to a policy's own statements.

    With require_boundary_on_created_roles, a policy that lets its principal create roles gets a
    deny on creating a role, or writing or attaching a role policy, unless the role has the boundary
    (IAM sends iam:PermissionsBoundary with these calls; a Deny with StringNotEquals also matches a
    request that names none): a role of the pattern that exists without the boundary cannot be given
    '*' either. A boundary the user gives is not ours to edit, so the denies that keep
    it in place go into the identity policy instead (the profile boundary holds them itself)."""
    extra: list[dict[str, Any]] = []
    if deployment.require_boundary_on_created_roles and boundary_arn and any(_allows_create_role(s) for s in statements):
        extra.append({"Sid": "RequireBoundaryOnCreatedRoles", "Effect": "Deny", "Action": ROLE_GRANTS, "Resource": "*",
                      "Condition": {"StringNotEquals": {"iam:PermissionsBoundary": boundary_arn}}})
    if deployment.permissions_boundary:
        extra.append({"Sid": "KeepPermissionsBoundary", "Effect": "Deny", "Action": BOUNDARY_CHANGES, "Resource": "*"})
    return extra


def profile_boundary(documents: DeploymentDocuments, values: dict[str, str]) -> BoundaryDocument:
    """The union of what the deployment's user and node role are given, as one managed policy.

    The statements themselves, not a summary of their actions: a boundary of "these actions on *"
    would let a principal that can write its own policy use them on every resource. One policy for
    both principals: the user and its node role share the profile, and a role created under
    require_boundary_on_created_roles gets the same one."""
    from .access.principals import managed_policy  # the shipped copies of AWS managed policies

    deployment = documents.deployment
    name = f"{deployment.policy_name}{BOUNDARY_SUFFIX}"
    where = f"deployment '{deployment.name}' profile boundary '{name}'"
    if len(name) > POLICY_NAME_MAX:
        raise PolicyError(Problem(where, f"the name is {len(name)} characters, over IAM's {POLICY_NAME_MAX}",
                                  "shorten policy_name, or set profile_boundary = false and give permissions_boundary"))
    statements: list[dict[str, Any]] = []
    seen: set[str] = set()

    def add(statement: dict[str, Any], fallback: str) -> None:
        body = {k: v for k, v in statement.items() if k != "Sid"}
        if any(body == {k: v for k, v in s.items() if k != "Sid"} for s in statements):
            return  # the same statement reached by two policies (e.g. user and node role)
        base = sid = statement.get("Sid") or fallback
        count = 2
        while sid in seen:  # Sids stay unique across the policies merged here
            sid, count = f"{base}{count}", count + 1
        seen.add(sid)
        statements.append({"Sid": sid, **body})

    for policy in documents.policies:
        if policy.attach_to:
            for part in policy.parts:
                for index, statement in enumerate(part["Statement"]):
                    add(statement, f"{policy.id.title()}{index}")
    for arn in _dedupe(documents.user_managed_arns + documents.role_managed_arns):
        managed = managed_policy(arn)
        short = re.sub(r"[^A-Za-z0-9]", "", arn.rsplit("/", 1)[-1])
        raw = managed.document["Statement"]
        for index, statement in enumerate(raw if isinstance(raw, list) else [raw]):
            add(dict(statement), f"{short}{index}")
    arn = _boundary_arn(deployment, values)
    statements.append({"Sid": "DenyPermissionsBoundaryChanges", "Effect": "Deny", "Action": BOUNDARY_CHANGES, "Resource": "*"})
    statements.append({"Sid": "DenyBoundaryPolicyChanges", "Effect": "Deny", "Action": BOUNDARY_POLICY_CHANGES, "Resource": arn})
    document = {"Version": "2012-10-17", "Statement": statements}
    size = rendered_size(document)
    if size > MANAGED_POLICY_MAX_CHARS:
        raise PolicyError(Problem(where, f"{size} characters, over the {MANAGED_POLICY_MAX_CHARS}-character managed policy quota "
                                  "(a boundary is one policy and cannot be split)",
                                  "drop addenda, or set profile_boundary = false and give your own permissions_boundary"))
    return BoundaryDocument(name=name, arn=arn, document=document)


def _addendum_policy(deployment: Deployment, profile: Profile, addendum: Any, values: dict[str, str]) -> PolicyDocuments:
    """An addendum that is its own managed policy (e.g. a deployer's), attached to no principal of
    the stack; optionally to existing roles by name."""
    spec = addendum.policy
    statements = [render(statement, values, addendum.source) for statement in addendum.statements]
    name = deployment.policy_names.get(spec.id) or render(spec.name, values, addendum.source)
    _check_unique_sids(statements, deployment, name)
    parts = split_statements(statements, "2012-10-17", MANAGED_POLICY_MAX_CHARS, where=f"deployment '{deployment.name}' policy '{name}'")
    roles = tuple(render(role, values, addendum.source) for role in spec.attach_to_roles)
    return PolicyDocuments(id=spec.id, name=name, parts=parts, attach_to=(), attach_to_roles=roles)


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
    deployment, profile = documents.deployment, documents.profile
    specs = {spec.id: spec for spec in profile.policies(deployment.variant or None)}
    problems: list[Problem] = []
    own = {a.policy.id: a for name, a in profile.addenda.items() if a.policy and name in deployment.addenda}
    for policy in documents.policies:
        if policy.id in own:  # an addendum's own policy: its statements come from the addendum file
            sources = {s["Sid"]: str(own[policy.id].source) for s in own[policy.id].statements if s.get("Sid")}
        else:
            sources = {s["Sid"]: str(src) for s, src in merge_statements(profile, specs[policy.id], list(deployment.addenda)) if s.get("Sid")}
        for part in policy.parts:
            problems += unknown_action_problems(part, f"{where} policy '{policy.name}'", sources)
    if documents.trust_policy is not None and profile.node_role:
        problems += unknown_action_problems(documents.trust_policy, f"{where} trust policy",
                                            {s.get("Sid", ""): str(profile.node_role.trust_source) for s in documents.trust_policy["Statement"]})
    return problems


def _dedupe(items: Any) -> list[str]:
    return list(dict.fromkeys(items))


def _check_unique_sids(statements: list[dict[str, Any]], deployment: Deployment, policy: str) -> None:
    seen: set[str] = set()
    for statement in statements:
        sid = statement.get("Sid")
        if sid and sid in seen:
            raise PolicyError(Problem(f"deployment '{deployment.name}' policy '{policy}'", f"duplicate statement Sid '{sid}' after merging addenda",
                                      "give every statement in the profile and its addenda its own Sid"))
        if sid:
            seen.add(sid)


def _check_attachment_quota(documents: DeploymentDocuments) -> None:
    deployment = documents.deployment
    limit = deployment.max_managed_policies_per_principal
    counts = {}
    if deployment.create_user:
        counts["user"] = documents.parts_attached_to("user") + len(documents.user_managed_arns)
    if documents.creates_role:
        counts["role"] = documents.parts_attached_to("node_role") + len(documents.role_managed_arns)
    for principal, count in counts.items():
        if count > limit:
            raise PolicyError(Problem(
                f"deployment '{deployment.name}'",
                f"the {principal} would have {count} managed policies attached, over the quota of {limit}",
                "drop addenda, or set max_managed_policies_per_principal to your account's raised quota"))
