"""The identity policies of a deployment's principals, as AWS will hold them.

Rendered documents are plan values: an unknown account id is a token for the plan-time lookup (see
tfjson.py). Here it is filled with a stand-in account, giving what AWS stores, and the AWS managed policies a deployment attaches are read from the copies shipped in `managed/`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

from iam_foundry.access.policy import PolicyDocument
from iam_foundry.emit.tfjson import measured
from iam_foundry.errors import PolicyError, Problem
from iam_foundry.files import read_json
from iam_foundry.paths import PACKAGE_DIR, SOURCE_ROOT
from iam_foundry.policy.render import MEASURE_STAND_IN

MANAGED_DIR = Path(__file__).resolve().parent / "managed"
# File names in messages are shown relative to the checkout (or the installed package).
PROJECT_ROOT = SOURCE_ROOT or PACKAGE_DIR
# When the config leaves the account to plan time, analysis uses this stand-in (the same one the
# size check uses): every ARN the project builds is in that one account, which is all that matters.
STAND_IN_ACCOUNT = MEASURE_STAND_IN
PRINCIPALS = ("user", "node_role")
PRINCIPAL_ALIASES = {"user": "user", "node_role": "node_role", "role": "node_role", "node-role": "node_role"}
# A variant's own role (AI Unlimited's engine_role): its principal id, as profile.json declares it.
OWN_ROLE = re.compile(r"^[a-z][a-z0-9]*_role$")


@dataclass(frozen=True)
class ManagedPolicy:
    arn: str
    version: str
    source: str
    document: dict[str, Any]
    file: Path


@lru_cache(maxsize=None)
def managed_policies() -> dict[str, ManagedPolicy]:
    """AWS managed policies shipped with the project, by name (the part after ':policy/')."""
    result = {}
    for path in sorted(MANAGED_DIR.glob("*.json")):
        data = read_json(path)
        result[data["arn"].split(":policy/", 1)[1]] = ManagedPolicy(data["arn"], data["version"], data["source"], data["document"], path)
    return result


def managed_policy(arn: str) -> ManagedPolicy:
    """The shipped copy of an AWS managed policy (any partition); a Problem when there is none."""
    name = arn.split(":policy/", 1)[-1]
    if ":iam::aws:policy/" not in arn or name not in managed_policies():
        raise PolicyError(Problem(
            f"managed policy {arn}", "no local copy of this policy, so its permissions cannot be evaluated offline",
            f"add its published JSON with its source to {MANAGED_DIR.relative_to(PROJECT_ROOT)}/<name>.json "
            f"(known: {sorted(managed_policies())})"))
    return managed_policies()[name]


def account_of(documents: Any) -> str:
    return documents.deployment.account_id or STAND_IN_ACCOUNT


def as_stored(value: Any, account: str) -> Any:
    """A rendered plan value as AWS stores it: the project's tokens (the caller's account id) filled."""
    if isinstance(value, dict):
        return {k: as_stored(v, account) for k, v in value.items()}
    if isinstance(value, list):
        return [as_stored(v, account) for v in value]
    if isinstance(value, str):
        return measured(value, account)  # plan text is unescaped; only the project's tokens need a value
    return value


def display_path(path: Path | str | None) -> str:
    if not path:
        return ""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


def normalize_principal(principal: str) -> str:
    key = PRINCIPAL_ALIASES.get(principal.lower())
    if key is None and OWN_ROLE.match(principal.lower().replace("-", "_")):
        key = principal.lower().replace("-", "_")  # whether the deployment has it is asked of its plan
    if key is None:
        raise PolicyError(Problem(f"principal '{principal}'", "unknown principal",
                                  "use 'user', 'role' (the node role) or a role of the variant (e.g. 'engine_role')"))
    return key


def own_role(documents: Any, key: str) -> Any:
    """A variant's own role of the deployment's plan (plan.PlannedRole), or None."""
    return next((r for r in documents.plan.roles if r.key == key), None)


def principals_of(documents: Any) -> list[str]:
    """The principals a deployment creates: user, node role, and the variant's own roles."""
    found = ["user"] if documents.deployment.create_user else []
    found += ["node_role"] if documents.creates_role else []
    return found + [r.key for r in documents.plan.roles]


def _sid_sources(documents: Any, policy_id: str) -> tuple[str, dict[str, str]]:
    deployment, profile = documents.deployment, documents.profile
    for spec in profile.policies(deployment.variant or None):
        if spec.id == policy_id:
            planned = next(p for p in documents.plan.policies if p.id == policy_id)
            return display_path(spec.source), {s.body["Sid"]: display_path(s.source) for s in planned.statements if s.body.get("Sid")}
    return "", {}


def principal_policies(documents: Any, principal: str) -> list[PolicyDocument]:
    """Every identity policy of a deployment's "user" or "node_role": its custom policy parts and the
    AWS managed policies attached to it. Empty when the deployment does not create that principal."""
    principal = normalize_principal(principal)
    account = account_of(documents)
    if principal == "user" and not documents.deployment.create_user:
        return []
    if principal == "node_role" and not documents.creates_role:
        return []
    if principal not in PRINCIPALS and own_role(documents, principal) is None:
        return []
    result: list[PolicyDocument] = []
    for policy in documents.policies:
        if principal not in policy.attach_to:
            continue
        source, sources = _sid_sources(documents, policy.id)
        for index, part in enumerate(policy.parts):
            name = policy.name if index == 0 else f"{policy.name}-{index + 1}"
            result.append(PolicyDocument(name, as_stored(part, account), source, sources))
    arns: Iterable[str] = (documents.user_managed_arns if principal == "user" else documents.role_managed_arns if principal == "node_role"
                           else [a.arn for a in documents.plan.attachments if a.principal == principal])
    for arn in arns:
        managed = managed_policy(arn)
        result.append(PolicyDocument(arn.split(":policy/", 1)[1], managed.document, display_path(managed.file)))
    return result


def trust_policy(documents: Any, principal: str = "node_role") -> dict[str, Any] | None:
    role = own_role(documents, principal)
    trust = role.trust_policy if role is not None else documents.trust_policy
    return as_stored(trust, account_of(documents)) if trust is not None else None


def principal_arn(documents: Any, principal: str) -> str:
    deployment = documents.deployment
    key = normalize_principal(principal)
    role = own_role(documents, key)
    kind, name = ("user", deployment.user_name) if key == "user" else ("role", role.name if role is not None else deployment.role_name)
    return f"arn:{deployment.partition}:iam::{account_of(documents)}:{kind}{deployment.path}{name}"


def instance_profile_arn(documents: Any, principal: str = "node_role") -> str:
    deployment = documents.deployment
    role = own_role(documents, principal)
    name = role.instance_profile_name if role is not None else deployment.instance_profile_name
    return f"arn:{deployment.partition}:iam::{account_of(documents)}:instance-profile{deployment.path}{name}"


def customer_policy_arns(documents: Any, principal: str) -> list[str]:
    """ARNs of the customer managed policies (every part) attached to the principal."""
    deployment = documents.deployment
    principal = normalize_principal(principal)
    base = f"arn:{deployment.partition}:iam::{account_of(documents)}:policy{deployment.path}"
    return [base + (p.name if i == 0 else f"{p.name}-{i + 1}")
            for p in documents.policies if principal in p.attach_to for i in range(len(p.parts))]


@dataclass(frozen=True)
class Boundary:
    """The permissions boundary a deployment sets on its user and node role, as the evaluator needs it."""

    arn: str | None                        # as AWS stores it; None when there is no boundary
    documents: list[PolicyDocument] | None  # None when there is none, or its content is not known here
    note: str = ""                         # why a boundary is not evaluated


def boundary_of(documents: Any, principal: str = "node_role") -> Boundary:
    """The profile boundary the stack creates, or the user's `permissions_boundary` when its content is
    known (an AWS managed policy shipped in managed/); otherwise a note that it is not evaluated.
    A variant's own role has a profile boundary of its own."""
    account = account_of(documents)
    role = own_role(documents, principal)
    if role is not None and role.boundary is not None:
        return Boundary(as_stored(role.boundary.arn, account),
                        [PolicyDocument(role.boundary.name, as_stored(role.boundary.document(), account),
                                        f"{principal} boundary (iam_foundry/plan.py PlannedRole)")])
    if documents.boundary is not None:
        return Boundary(as_stored(documents.boundary.arn, account),
                        [PolicyDocument(documents.boundary.name, as_stored(documents.boundary.document, account),
                                        "profile boundary (iam_foundry/policy/documents.py profile_boundary)")])
    arn = documents.deployment.permissions_boundary
    if not arn:
        return Boundary(None, None)
    name = arn.split(":policy/", 1)[-1]
    if ":iam::aws:policy/" in arn and name in managed_policies():
        managed = managed_policies()[name]
        return Boundary(arn, [PolicyDocument(name, managed.document, display_path(managed.file))])
    return Boundary(arn, None, f"permissions boundary {arn} is not in the project, so it is not evaluated: verdicts are as if there were none")
