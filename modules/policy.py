"""The custom managed policy, possibly in several parts when one document would pass IAM's size quota."""

from __future__ import annotations

import json
from typing import Any

from constructs import Construct

from .aws import StackBlocks


def part_name(base: str, index: int) -> str:
    """Stable part names: the first part keeps the configured name, later ones get -2, -3, ..."""
    return base if index == 0 else f"{base}-{index + 1}"


class CustomManagedPolicy(Construct):
    """One aws_iam_policy per rendered document part; logical ids follow the construct id (policy, policy_2, ...)."""

    def __init__(self, scope: Construct, construct_id: str, name: str, documents: list[dict[str, Any]],
                 description: str, path: str = "/", tags: dict[str, str] | None = None):
        super().__init__(scope, construct_id)
        blocks = StackBlocks.of(scope)
        self.policies = [
            blocks.add_resource("aws_iam_policy", construct_id if index == 0 else f"{construct_id}_{index + 1}", {
                "name": part_name(name, index),
                "path": path,
                "description": description if len(documents) == 1 else f"{description} (part {index + 1} of {len(documents)})",
                "policy": json.dumps(document, separators=(",", ":")),
                "tags": tags or None,
            })
            for index, document in enumerate(documents)
        ]
        self.arns = [policy.attr("arn") for policy in self.policies]
        self.names = [policy.attr("name") for policy in self.policies]
