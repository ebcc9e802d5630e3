"""A restricted IAM user: programmatic access only (no console login profile), optional access key."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from constructs import Construct

from .aws import Ref, StackBlocks


@dataclass(frozen=True)
class UserSettings:
    name: str
    path: str = "/"
    permissions_boundary: str | None = None
    force_destroy: bool = False
    create_access_key: bool = False
    pgp_key: str | None = None
    tags: dict[str, str] = field(default_factory=dict)


class RestrictedUser(Construct):
    """aws_iam_user + optional aws_iam_access_key + one attachment per managed policy.

    No aws_iam_user_login_profile is ever created: the user has no console password. Logical ids
    follow the construct id (`<id>`, `<id>_access_key`, `<id>_policy_<key>`), so two users fit in
    one stack; attachments are keyed (e.g. by policy id), so adding one never shifts another's address.
    """

    def __init__(self, scope: Construct, construct_id: str, settings: UserSettings, policy_arns: Mapping[str, str]):
        super().__init__(scope, construct_id)
        blocks = StackBlocks.of(scope)
        self.settings = settings
        self.user = blocks.add_resource("aws_iam_user", construct_id, {
            "name": settings.name,
            "path": settings.path,
            "permissions_boundary": settings.permissions_boundary,
            "force_destroy": settings.force_destroy,
            "tags": settings.tags or None,
        })
        self.name = self.user.attr("name")
        self.arn = self.user.attr("arn")
        self.attachments: dict[str, Ref] = {
            key: blocks.add_resource("aws_iam_user_policy_attachment", f"{construct_id}_policy_{key}", {"user": self.name, "policy_arn": arn})
            for key, arn in policy_arns.items()
        }
        self.access_key = None
        if settings.create_access_key:
            self.access_key = blocks.add_resource("aws_iam_access_key", f"{construct_id}_access_key",
                                                  {"user": self.name, "pgp_key": settings.pgp_key})
