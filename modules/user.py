"""A restricted IAM user: programmatic access only (no console login profile), optional access key."""

from __future__ import annotations

from dataclasses import dataclass, field

from constructs import Construct

from .aws import StackBlocks


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
    """aws_iam_user + optional aws_iam_access_key + one attachment per managed policy ARN.

    No aws_iam_user_login_profile is ever created: the user has no console password.
    """

    def __init__(self, scope: Construct, construct_id: str, settings: UserSettings, policy_arns: list[str]):
        super().__init__(scope, construct_id)
        blocks = StackBlocks.of(scope)
        self.settings = settings
        self.user = blocks.add_resource("aws_iam_user", "user", {
            "name": settings.name,
            "path": settings.path,
            "permissions_boundary": settings.permissions_boundary,
            "force_destroy": settings.force_destroy,
            "tags": settings.tags or None,
        })
        self.name = self.user.attr("name")
        self.arn = self.user.attr("arn")
        for index, arn in enumerate(policy_arns):
            blocks.add_resource("aws_iam_user_policy_attachment", f"user_policy_{index}", {"user": self.name, "policy_arn": arn})
        self.access_key = None
        if settings.create_access_key:
            self.access_key = blocks.add_resource("aws_iam_access_key", "user_access_key",
                                                  {"user": self.name, "pgp_key": settings.pgp_key})
