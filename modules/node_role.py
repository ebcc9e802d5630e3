"""The node role EC2 instances run with, and its instance profile of the same name.

The AWS console creates the instance profile along with an EC2 role; Terraform must do it itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from constructs import Construct

from .aws import aws_resource

INSTANCE_PROFILE_ID = "instance_profile"  # logical id, referenced by expressions built in the stack


@dataclass(frozen=True)
class NodeRoleSettings:
    name: str
    instance_profile_name: str
    trust_policy: dict[str, Any]
    path: str = "/"
    permissions_boundary: str | None = None
    tags: dict[str, str] = field(default_factory=dict)


class NodeRole(Construct):
    def __init__(self, scope: Construct, construct_id: str, settings: NodeRoleSettings, policy_arns: list[str]):
        super().__init__(scope, construct_id)
        self.role = aws_resource(self, "node_role", "aws_iam_role", {
            "name": settings.name,
            "path": settings.path,
            "assume_role_policy": json.dumps(settings.trust_policy, separators=(",", ":")),
            "permissions_boundary": settings.permissions_boundary,
            "tags": settings.tags or None,
        })
        self.name = self.role.get_string_attribute("name")
        self.arn = self.role.get_string_attribute("arn")
        self.attachments = [
            aws_resource(self, f"node_role_policy_{index}", "aws_iam_role_policy_attachment",
                         {"role": self.name, "policy_arn": arn})
            for index, arn in enumerate(policy_arns)
        ]
        self.instance_profile = aws_resource(self, INSTANCE_PROFILE_ID, "aws_iam_instance_profile", {
            "name": settings.instance_profile_name,
            "path": settings.path,
            "role": self.name,
            "tags": settings.tags or None,
        })
