"""Resources that exist before the stack does: found before `apply`, forgotten (not deleted) on `destroy`.

The vendors' pages expect them ("If you already have an IAM role called nextai-role ... skip this
section"). With `adopt`, the stack imports them (import blocks, see stacks.adopt_existing); without
it, `up` names each clash and the fix before Terraform creates anything, instead of failing half-way
with EntityAlreadyExists.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iam_foundry.config.model import Deployment, FoundryConfig
from iam_foundry.config.target import boto_client_args
from iam_foundry.errors import FoundryError, Problem
from iam_foundry.ops.terraform import Terraform

# resource type -> (adopt entry, what IAM calls it, deployment field holding the name)
CREATABLE = {
    "aws_iam_role": ("node_role", "IAM role", "role_name"),
    "aws_iam_instance_profile": ("instance_profile", "instance profile", "instance_profile_name"),
    "aws_iam_user": ("user", "IAM user", "user_name"),
    "aws_iam_policy": ("policy", "managed policy", "policy_name"),
}


# The addresses `adopt` can import (stack.adopt_existing); a variant's own roles are not among them.
ADOPTED_ADDRESSES = ("aws_iam_role.node_role", "aws_iam_instance_profile.instance_profile", "aws_iam_user.user")


@dataclass(frozen=True)
class Planned:
    """A resource the stack would create (not imported, not in state yet)."""

    address: str
    resource_type: str
    name: str
    path: str


def synthesized(workdir: Path) -> dict[str, Any]:
    return json.loads((workdir / "cdk.tf.json").read_text())


def state_addresses(terraform: Terraform) -> set[str]:
    """Addresses in the stack's state (empty before the first apply)."""
    result = terraform.run("state", "list", "-no-color", check=False)
    if result.returncode != 0:
        if "No state file was found" in result.stdout:
            return set()
        terraform.run("state", "list", "-no-color")  # raises with Terraform's message
    return {line.strip() for line in result.stdout.splitlines() if line.strip()}


def to_create(stack: dict[str, Any], in_state: set[str]) -> list[Planned]:
    imported = {block["to"] for block in stack.get("import", [])}
    planned = []
    for resource_type in CREATABLE:
        for logical_id, block in stack.get("resource", {}).get(resource_type, {}).items():
            address = f"{resource_type}.{logical_id}"
            if address not in imported and address not in in_state:
                planned.append(Planned(address, resource_type, block["name"], block.get("path", "/")))
    return planned


def iam_client(config: FoundryConfig, deployment: Deployment) -> Any:
    """boto3 IAM with the same credentials the deployment's provider uses (LocalStack: its test keys)."""
    import boto3

    target = boto_client_args(config.localstack)  # LocalStack: its endpoint and test keys; AWS: nothing
    endpoint: str | None = target.pop("endpoint_url", None)
    session = boto3.Session(region_name=deployment.region, **target) if endpoint else \
        boto3.Session(profile_name=deployment.aws_profile, region_name=deployment.region)
    if deployment.assume_role:
        role = deployment.assume_role
        credentials = session.client("sts", endpoint_url=endpoint).assume_role(
            RoleArn=role.role_arn, RoleSessionName=role.session_name,
            **({"ExternalId": role.external_id} if role.external_id else {}))["Credentials"]
        session = boto3.Session(region_name=deployment.region, aws_access_key_id=credentials["AccessKeyId"],
                                aws_secret_access_key=credentials["SecretAccessKey"], aws_session_token=credentials["SessionToken"])
    return session.client("iam", endpoint_url=endpoint), session.client("sts", endpoint_url=endpoint)


def _exists(iam: Any, planned: Planned, account: str, partition: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        if planned.resource_type == "aws_iam_role":
            iam.get_role(RoleName=planned.name)
        elif planned.resource_type == "aws_iam_user":
            iam.get_user(UserName=planned.name)
        elif planned.resource_type == "aws_iam_instance_profile":
            iam.get_instance_profile(InstanceProfileName=planned.name)
        else:
            iam.get_policy(PolicyArn=f"arn:{partition}:iam::{account}:policy{planned.path}{planned.name}")
        return True
    except ClientError as err:
        if err.response["Error"]["Code"] in ("NoSuchEntity", "NoSuchEntityException", "404"):
            return False
        raise


def clash_check_skipped(config: FoundryConfig) -> str | None:
    """Why check_clashes cannot run for this config (None: it runs), said once per command."""
    if not config.backend.runs_locally:  # cloud: the apply runs in the workspace
        return ("not looking for existing IAM resources before apply: with the Terraform Cloud backend the "
                "apply runs in the workspace, with the AWS credentials set there (workspace variables or dynamic "
                "provider credentials), which this machine does not have; a resource that exists already "
                "fails that apply with EntityAlreadyExists (add it to the deployment's adopt list)")
    return None


def check_clashes(config: FoundryConfig, deployment: Deployment, terraform: Terraform) -> None:
    """Raise one problem per resource the stack would create that exists already (and is not adopted).

    Asks IAM first and reads the state (one more terraform process) only when something exists:
    before the first apply nothing does, and a resource in the stack's state is not a clash."""
    if clash_check_skipped(config):
        return
    from botocore.exceptions import BotoCoreError, ClientError

    planned = to_create(synthesized(terraform.workdir), set())
    if not planned:
        return
    try:
        iam, sts = iam_client(config, deployment)
        account = deployment.account_id or sts.get_caller_identity()["Account"]
        found = [p for p in planned if _exists(iam, p, account, deployment.partition)]
    except (BotoCoreError, ClientError) as err:
        raise FoundryError(Problem(f"stack '{deployment.name}'", f"could not look for existing IAM resources: {err}",
                                   "check the deployment's credentials (aws_profile, assume_role) and retry")) from None
    if found:
        in_state = state_addresses(terraform)
        found = [p for p in found if p.address not in in_state]
    problems = []
    for item in found:
        entry, label, field_name = CREATABLE[item.resource_type]
        fix = f'add "{entry}" to the deployment\'s adopt list to take it over, or choose another {field_name}'
        if item.address not in ADOPTED_ADDRESSES and item.resource_type != "aws_iam_policy":
            # A variant's own role (AI Unlimited's engine role) or its instance profile: named after role_name, not adoptable.
            fix = f"choose another role_name (the name of {item.address} derives from it), or remove the existing {label}"
        problems.append(Problem(
            f"stack '{deployment.name}'",
            f"{label} '{item.name}' already exists in account {account} and this stack does not manage it ({item.address}); nothing was applied",
            fix))
    if problems:
        raise FoundryError(problems)


def forget_adopted(terraform: Terraform) -> list[str]:
    """Before destroy: drop adopted resources from state, so destroy leaves them in the account."""
    meta = synthesized(terraform.workdir).get("//", {}).get("iam_foundry", {})
    wanted = meta.get("forget_on_destroy", [])
    if not wanted:
        return []
    present = sorted(set(wanted) & state_addresses(terraform))
    if present:
        terraform.run("state", "rm", "-no-color", "-lock-timeout=0s", *present)
    return present
