"""The node role EC2 instances run with, and its instance profile of the same name.

The AWS console creates the instance profile along with an EC2 role; Terraform must do it itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping

from constructs import Construct

from .aws import Ref, StackBlocks


@dataclass(frozen=True)
class NodeRoleSettings:
    name: str
    instance_profile_name: str
    trust_policy: dict[str, Any]
    path: str = "/"
    permissions_boundary: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    # Terraform lifecycle preconditions on the role, e.g. "must be created in the platform's account".
    preconditions: list[dict[str, str]] = field(default_factory=list)


class NodeRole(Construct):
    """aws_iam_role + its instance profile + one attachment per managed policy; logical ids follow
    the construct id (`<id>`, `<id>_instance_profile` unless given, `<id>_policy_<key>`)."""

    def __init__(self, scope: Construct, construct_id: str, settings: NodeRoleSettings, policy_arns: Mapping[str, str],
                 instance_profile_id: str | None = None):
        super().__init__(scope, construct_id)
        blocks = StackBlocks.of(scope)
        self.role = blocks.add_resource("aws_iam_role", construct_id, {
            "name": settings.name,
            "path": settings.path,
            "assume_role_policy": json.dumps(settings.trust_policy, separators=(",", ":")),
            "permissions_boundary": settings.permissions_boundary,
            "tags": settings.tags or None,
            "lifecycle": {"precondition": settings.preconditions} if settings.preconditions else None,
        })
        self.name = self.role.attr("name")
        self.arn = self.role.attr("arn")
        self.attachments: dict[str, Ref] = {
            key: blocks.add_resource("aws_iam_role_policy_attachment", f"{construct_id}_policy_{key}", {"role": self.name, "policy_arn": arn})
            for key, arn in policy_arns.items()
        }
        self.instance_profile = blocks.add_resource("aws_iam_instance_profile", instance_profile_id or f"{construct_id}_instance_profile", {
            "name": settings.instance_profile_name,
            "path": settings.path,
            "role": self.name,
            "tags": settings.tags or None,
        })
