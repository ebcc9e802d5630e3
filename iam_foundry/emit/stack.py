"""The one place that builds CDKTF stacks from a validated config."""

from __future__ import annotations

from importlib import import_module
from typing import Any

from cdktf import App, CloudBackend, NamedCloudWorkspace, TaggedCloudWorkspaces, TerraformStack
from constructs import Construct

from iam_foundry.config.model import Deployment, FoundryConfig
from iam_foundry.config.target import LocalStack, account_guard, provider_attributes
from iam_foundry.paths import CONSTRUCTS_PACKAGE
from iam_foundry.plan import LogicalIds
from iam_foundry.policy.documents import DeploymentDocuments, build_documents

# The constructs of top-level modules/: `iam_foundry_modules` when installed, `modules` in a bare checkout (see paths.py).
_aws, _platform = (import_module(f"{CONSTRUCTS_PACKAGE}.{name}") for name in ("aws", "platform"))
DeclaredBackend, StackBlocks, aws_provider_blocks = _aws.DeclaredBackend, _aws.StackBlocks, _aws.aws_provider_blocks
emit_plan = _platform.emit_plan
CustomManagedPolicy = import_module(f"{CONSTRUCTS_PACKAGE}.policy").CustomManagedPolicy
from iam_foundry.emit.tfjson import expr  # noqa: E402 (after the constructs, as before)


def credential_attributes(deployment: Deployment, localstack: LocalStack) -> dict[str, Any]:
    """Per-deployment credentials for the provider (never for the backend: state stays in the central
    bucket with the backend's own credentials), and the account guard."""
    attributes: dict[str, Any] = {}
    if deployment.aws_profile:
        attributes["profile"] = deployment.aws_profile
    if deployment.assume_role:
        role = deployment.assume_role
        attributes["assume_role"] = [{"role_arn": role.role_arn, "session_name": role.session_name,
                                      **({"external_id": role.external_id} if role.external_id else {})}]
    if deployment.account_id:
        attributes.update(account_guard(deployment.account_id, localstack))
    return attributes


def declare_backend(stack: TerraformStack, block: dict[str, Any]) -> dict[str, Any]:
    """Tell cdktf where state lives, from the backend's `terraform` block entries (config/backends.py).

    A `backend "<type>"` block goes through DeclaredBackend plus the stack's override (any backend
    type); a `cloud` block through cdktf's CloudBackend, which the cdktf CLI reads. Returns the entries
    to write with the stack's other overrides."""
    if "cloud" not in block:
        (backend_type,) = block["backend"]
        DeclaredBackend(stack, backend_type)
        return block
    cloud = block["cloud"]
    workspaces = cloud["workspaces"]
    CloudBackend(stack, organization=cloud["organization"], hostname=cloud.get("hostname"),
                 workspaces=NamedCloudWorkspace(name=workspaces["name"], project=workspaces.get("project")) if "name" in workspaces
                 else TaggedCloudWorkspaces(tags=workspaces["tags"], project=workspaces.get("project")))
    return {}


def adopt_existing(blocks: StackBlocks, deployment: Deployment, account_id: str, policies: list[CustomManagedPolicy]) -> None:
    """`import` blocks for what the deployment adopts. Attachments are left to Terraform: attaching a
    policy that is attached already changes nothing. On destroy, an attachment between two things
    this stack did not create (an adopted principal and an adopted or AWS managed policy) may have
    existed before, so it is forgotten along with them."""
    keep = not deployment.destroy_adopted
    adopted_principals: list[str] = []
    if "user" in deployment.adopt and "aws_iam_user" in blocks.resource:
        blocks.adopt("aws_iam_user.user", deployment.user_name, keep)
        adopted_principals.append(expr("aws_iam_user.user.name"))
    if "node_role" in deployment.adopt and "aws_iam_role" in blocks.resource:
        blocks.adopt("aws_iam_role.node_role", deployment.role_name, keep)
        adopted_principals.append(expr("aws_iam_role.node_role.name"))
    if "instance_profile" in deployment.adopt and "aws_iam_instance_profile" in blocks.resource:
        blocks.adopt("aws_iam_instance_profile.instance_profile", deployment.instance_profile_name, keep)
    ours: set[str] = set()  # policy ARNs this stack creates (not adopted)
    for policy in policies:
        for ref in policy.policies:
            if "policy" in deployment.adopt:
                name = blocks.resource["aws_iam_policy"][ref.address.split(".")[1]]["name"]
                # description forces replacement in the provider: an adopted policy keeps its own.
                blocks.adopt(ref.address, f"arn:{deployment.partition}:iam::{account_id}:policy{deployment.path}{name}", keep,
                             {"ignore_changes": ["description"]})
            else:
                ours.add(ref.attr("arn"))
    if keep:
        for kind, principal_key in (("aws_iam_user_policy_attachment", "user"), ("aws_iam_role_policy_attachment", "role")):
            for logical_id, block in blocks.resource.get(kind, {}).items():
                if block[principal_key] in adopted_principals and block["policy_arn"] not in ours:
                    blocks.forget_on_destroy.append(f"{kind}.{logical_id}")


class DeploymentStack(TerraformStack):
    """One deployment = one stack = one state file; its resources are emitted from the deployment's plan."""

    def __init__(self, scope: Construct, documents: DeploymentDocuments, config: FoundryConfig):
        deployment = documents.deployment
        super().__init__(scope, deployment.name)
        self.terraform_blocks = blocks = StackBlocks()
        required, blocks.provider = self._provider(deployment, config)
        blocks.terraform = {**required, **declare_backend(self, config.backend.terraform_block(deployment.name, config.localstack))}
        self._resources(documents)
        blocks.write_to(self, deployment.name)

    @staticmethod
    def _provider(deployment: Deployment, config: FoundryConfig) -> tuple[dict[str, Any], dict[str, Any]]:
        """The AWS provider: the target's settings (config/target.py), then the deployment's credentials."""
        return aws_provider_blocks({**provider_attributes(deployment.region, config.localstack),
                                    **credential_attributes(deployment, config.localstack)})

    def _resources(self, documents: DeploymentDocuments) -> None:
        """The plan's resources, and import blocks for what the deployment adopts."""
        deployment = documents.deployment
        # Attachments were once numbered (user_policy_0, ...): moved blocks keep their state.
        emitted = emit_plan(self, documents.plan, deployment, documents.tags, LogicalIds(), moved_from_indexes=True)
        if deployment.adopt:
            adopt_existing(self.terraform_blocks, deployment, documents.plan.account_id, list(emitted.policies.values()))


def build_app(config: FoundryConfig, outdir: str, stacks: list[str] | None = None) -> App:
    """Render every deployment first (all errors before any output), then build the stacks."""
    chosen = [config.deployment(name) for name in stacks] if stacks else list(config.deployments)
    documents = [build_documents(deployment) for deployment in chosen]
    app = App(outdir=outdir)
    for docs in documents:
        DeploymentStack(app, docs, config)
    return app
