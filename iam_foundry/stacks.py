"""The one place that builds CDKTF stacks from a validated config."""

from __future__ import annotations

from importlib import import_module
from typing import Any

from cdktf import App, CloudBackend, NamedCloudWorkspace, TaggedCloudWorkspaces, TerraformStack
from constructs import Construct

from .config import Backend, Deployment, FoundryConfig, LocalStack
from .documents import DeploymentDocuments, build_documents
from .paths import CONSTRUCTS_PACKAGE

# The constructs of top-level modules/: `iam_foundry_modules` when installed, `modules` in a bare checkout (see paths.py).
_aws, _node_role, _policy, _user = (import_module(f"{CONSTRUCTS_PACKAGE}.{name}") for name in ("aws", "node_role", "policy", "user"))
DeclaredBackend, StackBlocks, aws_provider_blocks = _aws.DeclaredBackend, _aws.StackBlocks, _aws.aws_provider_blocks
NodeRole, NodeRoleSettings = _node_role.NodeRole, _node_role.NodeRoleSettings
CustomManagedPolicy = _policy.CustomManagedPolicy
RestrictedUser, UserSettings = _user.RestrictedUser, _user.UserSettings
from .tfjson import expr, hcl_literal

# LocalStack's documented dummy credentials; never used against real AWS.
LOCALSTACK_CREDENTIALS = {"access_key": "test", "secret_key": "test"}
LOCALSTACK_SERVICES = ("iam", "sts", "s3")


def provider_attributes(region: str, localstack: LocalStack) -> dict[str, Any]:
    attributes: dict[str, Any] = {"region": region}
    if localstack.enabled:
        attributes.update(
            LOCALSTACK_CREDENTIALS,
            skip_credentials_validation=True,
            skip_metadata_api_check=True,
            skip_requesting_account_id=True,
            s3_use_path_style=True,
            # A local emulator that stops answering will not come back within AWS's retry budget:
            # fail in seconds rather than minutes.
            max_retries=2,
            endpoints=[{service: localstack.endpoint for service in LOCALSTACK_SERVICES}],
        )
    return attributes


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
        # Wrong credentials fail when the provider starts, before any change.
        attributes["allowed_account_ids"] = [deployment.account_id]
        if localstack.enabled:
            attributes["skip_requesting_account_id"] = False  # the guard needs the caller's account
    return attributes


def cloud_backend(stack: TerraformStack, name: str, backend: Backend) -> None:
    """HCP Terraform / Terraform Enterprise: a `cloud` block. No credentials here: the workspace's
    variables (AWS keys, or dynamic provider credentials through an OIDC role) supply them."""
    workspace_name = backend.workspace_name(name)
    workspaces = (NamedCloudWorkspace(name=workspace_name, project=backend.project) if workspace_name
                  else TaggedCloudWorkspaces(tags=list(backend.workspace_tags), project=backend.project))
    CloudBackend(stack, organization=backend.organization or "", workspaces=workspaces, hostname=backend.hostname)


def backend_settings(name: str, backend: Backend, localstack: LocalStack) -> tuple[str, dict[str, Any]]:
    """The backend type and its settings for one stack."""
    if backend.type == "local":
        # Terraform runs in cdktf.out/stacks/<name>; keep state beside the project, not in cdktf.out.
        return "local", {"path": f"../../../{backend.path.strip('/')}/{name}.tfstate"}
    settings: dict[str, Any] = {
        "bucket": backend.bucket, "key": backend.state_key(name), "region": backend.region, "encrypt": True,
        # S3-native state locking (Terraform >= 1.10); cdktf 0.21's S3Backend has no argument for it.
        "use_lockfile": True,
    }
    if backend.dynamodb_table:  # older Terraform: DynamoDB locking (both lock when both are set)
        settings["dynamodb_table"] = backend.dynamodb_table
    if localstack.enabled:
        settings.update(
            LOCALSTACK_CREDENTIALS,
            endpoints={service: localstack.endpoint for service in LOCALSTACK_SERVICES},
            use_path_style=True,
            skip_credentials_validation=True,
            skip_requesting_account_id=True,
            skip_metadata_api_check=True,
        )
    return "s3", settings


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
    """One deployment = one stack = one state file."""

    def __init__(self, scope: Construct, documents: DeploymentDocuments, config: FoundryConfig):
        deployment = documents.deployment
        profile = documents.profile
        super().__init__(scope, deployment.name)
        self.terraform_blocks = blocks = StackBlocks()
        required, blocks.provider = aws_provider_blocks(
            {**provider_attributes(deployment.region, config.localstack), **credential_attributes(deployment, config.localstack)})
        if config.backend.type == "cloud":
            cloud_backend(self, deployment.name, config.backend)
            blocks.terraform = required
        else:
            backend_type, backend = backend_settings(deployment.name, config.backend, config.localstack)
            DeclaredBackend(self, backend_type)
            blocks.terraform = {**required, "backend": {backend_type: backend}}
        account_id = deployment.account_id
        if not account_id:
            account_id = blocks.add_data("aws_caller_identity", "current").attr("account_id")

        user_policy_arns: list[str] = []
        role_policy_arns: list[str] = []
        all_arns: list[str] = []
        all_names: list[str] = []
        policies: list[CustomManagedPolicy] = []
        for policy_docs in documents.policies:
            policy = CustomManagedPolicy(
                self, "policy" if policy_docs.id == "main" else f"policy_{policy_docs.id}", policy_docs.name, policy_docs.parts,
                description=f"{profile.title} {'' if policy_docs.id == 'main' else policy_docs.id + ' '}policy (iam-foundry deployment {deployment.name})",
                path=deployment.path, tags=documents.tags)
            policies.append(policy)
            all_arns += policy.arns
            all_names += policy.names
            if "user" in policy_docs.attach_to:
                user_policy_arns += policy.arns
            if "node_role" in policy_docs.attach_to:
                role_policy_arns += policy.arns
            if not policy_docs.attach_to:  # an addendum's own policy: its ARN is what the installer is handed
                blocks.add_output(f"{policy_docs.id}_policy_arn", policy.arns[0] if len(policy.arns) == 1 else policy.arns,
                                  f"ARN of the {policy_docs.id} policy" + (f" (attached to {', '.join(policy_docs.attach_to_roles)})"
                                                                           if policy_docs.attach_to_roles else " (attach it yourself)"))
            for role_index, role_name in enumerate(policy_docs.attach_to_roles):
                # A role the stack does not own (e.g. the vendor's access role): destroy only detaches.
                for part_index, arn in enumerate(policy.arns):
                    blocks.add_resource("aws_iam_role_policy_attachment", f"{policy_docs.id}_existing_role_{role_index}_{part_index}",
                                        {"role": role_name, "policy_arn": arn})
        blocks.add_output("policy_arns", all_arns, "ARNs of the custom managed policies (one per part)")
        blocks.add_output("policy_names", all_names, "Names of the custom managed policies")
        boundary_arn = deployment.permissions_boundary
        if documents.boundary is not None:
            boundary = CustomManagedPolicy(self, "boundary", documents.boundary.name, [documents.boundary.document],
                                           description=f"{profile.title} permissions boundary: the most the deployment's principals "
                                                       f"may hold (iam-foundry deployment {deployment.name})",
                                           path=deployment.path, tags=documents.tags)
            boundary_arn = boundary.arns[0]
            blocks.add_output("boundary_policy_arn", boundary_arn, "ARN of the permissions boundary set on the user and node role")

        if deployment.create_user:
            user = RestrictedUser(self, "user", UserSettings(
                name=deployment.user_name, path=deployment.path, permissions_boundary=boundary_arn,
                force_destroy=deployment.force_destroy, create_access_key=deployment.create_access_key,
                pgp_key=deployment.pgp_key, tags=documents.tags,
            ), user_policy_arns + documents.user_managed_arns)
            blocks.add_output("user_name", user.name, "IAM user name")
            blocks.add_output("user_arn", user.arn, "IAM user ARN")
            if user.access_key:
                blocks.add_output("access_key_id", user.access_key.attr("id"), "Access key id of the user")
                if deployment.pgp_key:
                    blocks.add_output("access_key_encrypted_secret", user.access_key.attr("encrypted_secret"),
                                      "Secret access key, encrypted with pgp_key", sensitive=True)
                else:
                    blocks.add_output("access_key_secret", user.access_key.attr("secret"),
                                      "Secret access key (read it with: terraform output -raw access_key_secret)", sensitive=True)

        if documents.creates_role:
            preconditions = []
            if profile.account_parameter in deployment.parameters and not deployment.account_id:
                # The account was not known at synth time: refuse at plan time to create the role elsewhere.
                expected = deployment.parameters[profile.account_parameter]
                preconditions.append({
                    "condition": expr(f"data.aws_caller_identity.current.account_id == {hcl_literal(expected)}"),
                    "error_message": f"{profile.title} needs the role in account {expected} "
                                     f"(parameters.{profile.account_parameter}); the credentials point at another account.",
                })
            role = NodeRole(self, "node_role", NodeRoleSettings(
                name=deployment.role_name, instance_profile_name=deployment.instance_profile_name,
                trust_policy=documents.trust_policy or {}, path=deployment.path,
                permissions_boundary=boundary_arn, tags=documents.tags, preconditions=preconditions,
            ), role_policy_arns + documents.role_managed_arns)
            blocks.add_output("role_name", role.name, "Node role name")
            blocks.add_output("role_arn", role.arn, "Node role ARN")
            blocks.add_output("instance_profile_name", role.instance_profile.attr("name"), "Instance profile name")
            blocks.add_output("instance_profile_arn", role.instance_profile.attr("arn"), "Instance profile ARN")
            if "compute_config_json" in profile.outputs:
                blocks.add_output("compute_config_json",
                                  expr(f"jsonencode({{IamInstanceProfile = {{Arn = {role.instance_profile.address}.arn}}}})"),
                                  "Compute Config JSON to paste into the platform (advanced configuration)")
        if deployment.adopt:
            adopt_existing(blocks, deployment, account_id, policies)
        for name in profile.outputs:
            if name in deployment.parameters:
                blocks.add_output(name, deployment.parameters[name], f"Passed through from parameters.{name}")
        blocks.add_output("account_id", account_id, "AWS account the deployment lives in")
        blocks.write_to(self, deployment.name)


def build_app(config: FoundryConfig, outdir: str, stacks: list[str] | None = None) -> App:
    """Render every deployment first (all errors before any output), then build the stacks."""
    chosen = [config.deployment(name) for name in stacks] if stacks else list(config.deployments)
    documents = [build_documents(deployment) for deployment in chosen]
    app = App(outdir=outdir)
    for docs in documents:
        DeploymentStack(app, docs, config)
    return app
