"""Everything a deployment needs rendered, as plain data (no cdktf import: `validate` uses it too)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .config import Deployment
from .errors import PolicyError, Problem
from .policy_templates import Profile, load_profile, merge_statements, render, split_statements

# Filled in at plan time when the config gives no account id (data "aws_caller_identity" "current").
CALLER_ACCOUNT_ID = "${data.aws_caller_identity.current.account_id}"
MANAGED_POLICY_MAX_CHARS = 6144
TAG_MANAGED_BY = {"ManagedBy": "iam-foundry"}


@dataclass(frozen=True)
class DeploymentDocuments:
    deployment: Deployment
    profile: Profile
    user_policy_parts: list[dict[str, Any]]
    trust_policy: dict[str, Any] | None
    user_managed_arns: list[str]
    role_managed_arns: list[str]
    attach_policy_to_role: bool
    tags: dict[str, str]

    @property
    def creates_role(self) -> bool:
        return self.trust_policy is not None


def placeholder_values(deployment: Deployment) -> dict[str, str]:
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
    )
    return values


def build_documents(deployment: Deployment) -> DeploymentDocuments:
    profile = load_profile(deployment.profile)
    values = placeholder_values(deployment)
    statements = [render(statement, values, source) for statement, source in merge_statements(profile, list(deployment.addenda))]
    _check_unique_sids(statements, deployment)
    version = profile.user_policy.get("Version", "2012-10-17")
    parts = split_statements(statements, version, MANAGED_POLICY_MAX_CHARS, where=f"deployment '{deployment.name}' policy")

    chosen = [profile.addenda[name] for name in sorted(set(deployment.addenda))]
    user_arns = _dedupe(render(arn, values, a.source) for a in chosen for arn in a.managed_policy_arns.get("user", ()))
    trust = None
    role_arns: list[str] = []
    attach_to_role = False
    if profile.node_role and deployment.create_node_role:
        spec = profile.node_role
        trust = render(spec.trust_policy, values, spec.trust_source)
        attach_to_role = spec.attach_user_policy
        role_arns = _dedupe([render(arn, values, profile.root / "profile.json") for arn in spec.managed_policy_arns]
                            + [render(arn, values, a.source) for a in chosen for arn in a.managed_policy_arns.get("node_role", ())])
    documents = DeploymentDocuments(
        deployment=deployment,
        profile=profile,
        user_policy_parts=parts,
        trust_policy=trust,
        user_managed_arns=user_arns if deployment.create_user else [],
        role_managed_arns=role_arns,
        attach_policy_to_role=attach_to_role,
        tags={**TAG_MANAGED_BY, "IamFoundryDeployment": deployment.name, **deployment.tags},
    )
    _check_attachment_quota(documents)
    return documents


def _dedupe(items: Any) -> list[str]:
    return list(dict.fromkeys(items))


def _check_unique_sids(statements: list[dict[str, Any]], deployment: Deployment) -> None:
    seen: set[str] = set()
    for statement in statements:
        sid = statement.get("Sid")
        if sid and sid in seen:
            raise PolicyError(Problem(f"deployment '{deployment.name}'", f"duplicate statement Sid '{sid}' after merging addenda",
                                      "give every statement in the profile and its addenda its own Sid"))
        if sid:
            seen.add(sid)


def _check_attachment_quota(documents: DeploymentDocuments) -> None:
    deployment = documents.deployment
    limit = deployment.max_managed_policies_per_principal
    parts = len(documents.user_policy_parts)
    counts = {"user": parts + len(documents.user_managed_arns) if deployment.create_user else 0}
    if documents.creates_role:
        counts["role"] = (parts if documents.attach_policy_to_role else 0) + len(documents.role_managed_arns)
    for principal, count in counts.items():
        if count > limit:
            raise PolicyError(Problem(
                f"deployment '{deployment.name}'",
                f"the {principal} would have {count} managed policies attached, over the quota of {limit}",
                "drop addenda, or set max_managed_policies_per_principal to your account's raised quota"))
