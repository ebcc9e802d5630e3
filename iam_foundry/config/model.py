"""The validated config: dataclasses the parser (load.py) returns and every other layer reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from iam_foundry.config.backends import Backend
from iam_foundry.config.fields import DEFAULT_MAX_ATTACHED
from iam_foundry.config.target import LocalStack
from iam_foundry.errors import ConfigError, Problem
from iam_foundry.paths import POLICY_ROOT
from iam_foundry.profiles.load import Profile, build_profile, load_profile

__all__ = ["AssumeRole", "Backend", "CUSTOM_PROFILE", "Deployment", "FoundryConfig", "LintAcceptance", "LocalStack",
           "custom_profile", "profile_of"]

@dataclass(frozen=True)
class LintAcceptance:
    """A lint finding a deployment accepts (custom profiles have no lint-accepted.json)."""

    rule: str
    sid: str
    reason: str


@dataclass(frozen=True)
class AssumeRole:
    """Credentials for one deployment's provider: this role, assumed from the base credentials. The
    state backend keeps its own credentials, so every deployment's state stays in the central bucket."""

    role_arn: str
    session_name: str
    external_id: str | None = None

    @property
    def account_id(self) -> str:
        return self.role_arn.split(":")[4]


@dataclass(frozen=True)
class Deployment:
    name: str
    profile: str
    region: str
    partition: str
    variant: str = ""
    addenda: tuple[str, ...] = ()
    account_id: str | None = None
    user_name: str = ""
    policy_name: str = ""
    role_name: str = ""
    instance_profile_name: str = ""
    create_user: bool = True
    create_node_role: bool = True
    create_access_key: bool = False
    pgp_key: str | None = None
    # Real AWS: an access key without pgp_key leaves its secret in plain text in state; say so explicitly.
    allow_plaintext_secret_in_state: bool = False
    path: str = "/"
    permissions_boundary: str | None = None
    # A built-in profile's user and node role get a boundary holding the profile's own maximum (see documents.py).
    profile_boundary: bool = False
    # Role-creating profiles: CreateRole only with iam:PermissionsBoundary = that boundary.
    require_boundary_on_created_roles: bool = False
    force_destroy: bool = False
    max_managed_policies_per_principal: int = DEFAULT_MAX_ATTACHED
    # False when neither the deployment nor the config names a region (DEFAULT_REGION was filled in).
    region_explicit: bool = True
    tags: dict[str, str] = field(default_factory=dict)
    parameters: dict[str, str] = field(default_factory=dict)
    policy_names: dict[str, str] = field(default_factory=dict)  # policy id -> name (profile default or override)
    # A variant's own roles' names the config gives, by placeholder ({{engine_role_name}}, {{engine_role_instance_profile_name}}).
    role_names: dict[str, str] = field(default_factory=dict)
    policy_file: str | None = None  # profile "custom": the user's base policy (absolute path)
    addenda_files: tuple[str, ...] = ()  # profile "custom": the user's addenda (absolute paths)
    lint_accepted: tuple[LintAcceptance, ...] = ()
    assume_role: AssumeRole | None = None  # the provider assumes this role (another account)
    aws_profile: str | None = None  # the provider uses this AWS CLI/SDK profile (real AWS only)
    adopt: tuple[str, ...] = ()  # existing resources to import instead of create (subset of ADOPTABLE)
    destroy_adopted: bool = False  # destroy also deletes adopted resources (default: they are left in place)


CUSTOM_PROFILE = "custom"


def custom_profile(policy_file: str, addenda_files: tuple[str, ...]) -> Profile:
    """A profile assembled from the user's own files: their policy on the user and the node role."""
    policy_path = Path(policy_file)
    meta = {
        "title": f"custom ({policy_path.name})",
        "policies": [{"id": "main", "template": str(policy_path), "attach_to": ["user", "node_role"], "addenda": True}],
        "node_role": {"trust_policy": str(POLICY_ROOT / "common" / "ec2-trust.json")},
    }
    return build_profile(CUSTOM_PROFILE, policy_path.parent, meta, policy_path, addenda_paths=[Path(f) for f in addenda_files])


def profile_of(deployment: "Deployment") -> Profile:
    if deployment.profile == CUSTOM_PROFILE:
        return custom_profile(deployment.policy_file or "", deployment.addenda_files)
    return load_profile(deployment.profile)


@dataclass(frozen=True)
class FoundryConfig:
    region: str
    localstack: LocalStack
    backend: Backend
    deployments: tuple[Deployment, ...]
    source: Path | None = None

    def deployment(self, name: str) -> Deployment:
        for deployment in self.deployments:
            if deployment.name == name:
                return deployment
        raise ConfigError(Problem(f"stack '{name}'", "no deployment of that name",
                                  f"use one of {[d.name for d in self.deployments]}"))
