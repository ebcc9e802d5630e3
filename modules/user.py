"""A restricted IAM user: programmatic access only (no console login profile), optional access key."""

from __future__ import annotations

from dataclasses import dataclass, field

from constructs import Construct

from .aws import aws_resource


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
        self.settings = settings
        self.user = aws_resource(self, "user", "aws_iam_user", {
            "name": settings.name,
            "path": settings.path,
            "permissions_boundary": settings.permissions_boundary,
            "force_destroy": settings.force_destroy,
            "tags": settings.tags or None,
        })
        self.name = self.user.get_string_attribute("name")
        self.arn = self.user.get_string_attribute("arn")
        self.attachments = [
            aws_resource(self, f"user_policy_{index}", "aws_iam_user_policy_attachment",
                         {"user": self.name, "policy_arn": arn})
            for index, arn in enumerate(policy_arns)
        ]
        self.access_key = None
        if settings.create_access_key:
            self.access_key = aws_resource(self, "user_access_key", "aws_iam_access_key",
                                           {"user": self.name, "pgp_key": settings.pgp_key})
