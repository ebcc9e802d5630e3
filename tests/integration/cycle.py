"""A full plan/apply/read-back/no-change/destroy cycle of one synthesized stack on LocalStack.

What is read back is compared with expectations the test writes down (`Expected`, built from the
vendor facts in tests/profile_facts.py and the test's own names), never with the synthesized JSON:
a wrong policy that is faithfully deployed must fail here.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from iam_foundry.config.load import parse_config
from iam_foundry.ops.synth import stack_dir, synth
from iam_foundry.ops.terraform import Terraform
from tests.profile_facts import S, assert_statements

LOCALSTACK_ACCOUNT = "000000000000"


@dataclass(frozen=True)
class Expected:
    """What the stack must create. Policy names are live names; a policy split in n parts is
    listed once, with all its statements, and `parts[name] = n` (parts are name, name-2, ...)."""

    policies: dict[str, list[S]]
    role_name: str
    instance_profile_name: str
    fmt: dict[str, str] = field(default_factory=dict)  # resource template values besides acct
    user_name: str | None = None
    user_policies: tuple[str, ...] = ()
    role_policies: tuple[str, ...] = ()
    user_managed: tuple[str, ...] = ()  # AWS managed policy ARNs
    role_managed: tuple[str, ...] = ()
    access_key: bool = False
    parts: dict[str, int] = field(default_factory=dict)
    boundary: bool = True  # the profile boundary policy (<policy_name>-boundary), on by default for built-in profiles
    # A variant's own roles (AI Unlimited's engine role): role name -> (instance profile name, its policies), each with its
    # own boundary <role name>-boundary when `boundary`.
    own_roles: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)

    def part_names(self, policy: str) -> list[str]:
        return [policy] + [f"{policy}-{n}" for n in range(2, self.parts.get(policy, 1) + 1)]

    def policy_arns(self, policies) -> set[str]:
        return {f"arn:aws:iam::{LOCALSTACK_ACCOUNT}:policy/{name}" for p in policies for name in self.part_names(p)}

    def resource_counts(self) -> Counter:
        own = self.own_roles.values()
        counts = Counter({"aws_iam_policy": sum(len(self.part_names(p)) for p in self.policies) + int(self.boundary) * (1 + len(own)),
                          "aws_iam_role": 1 + len(own), "aws_iam_instance_profile": 1 + len(own),
                          "aws_iam_role_policy_attachment": len(self.policy_arns(self.role_policies)) + len(self.role_managed)
                          + sum(len(self.policy_arns(policies)) for _, policies in own)})
        if self.user_name:
            counts.update({"aws_iam_user": 1,
                           "aws_iam_user_policy_attachment": len(self.policy_arns(self.user_policies)) + len(self.user_managed)})
        if self.access_key:
            counts["aws_iam_access_key"] = 1
        return counts


def _doc(value: Any) -> dict:
    return json.loads(value) if isinstance(value, str) else value


def planned_creates(terraform: Terraform) -> set[str]:
    terraform.run("plan", "-input=false", "-no-color", "-out=tfplan")
    plan = json.loads(terraform.run("show", "-json", "-no-color", "tfplan").stdout)
    changes = plan.get("resource_changes", [])
    assert all(c["change"]["actions"] in (["create"], ["read"], ["no-op"]) for c in changes), changes
    return {c["address"] for c in changes if c["change"]["actions"] == ["create"]}


def state_resources(terraform: Terraform) -> dict[str, dict[str, Any]]:
    """Managed resources in the stack's state, by address (test_moved_attachments reads their addresses)."""
    state = json.loads(terraform.run("show", "-json", "-no-color").stdout)
    found = {}
    for resource in state.get("values", {}).get("root_module", {}).get("resources", []):
        if resource["mode"] == "managed":
            found[resource["address"]] = resource["values"]
    return found


def absent(call) -> bool:
    try:
        call()
    except ClientError as err:
        return err.response["Error"]["Code"] == "NoSuchEntity"
    return False


def live_policy_statements(iam, arn: str) -> list[dict]:
    version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    return _doc(iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"])["Statement"]


def attached_arns(iam, operation: str, **name) -> set[str]:
    pages = iam.get_paginator(operation).paginate(**name)
    return {p["PolicyArn"] for page in pages for p in page["AttachedPolicies"]}


def assert_deployed(iam, expected: Expected) -> None:
    """Read everything back with boto3 and compare with the written expectations."""
    fmt = {"acct": LOCALSTACK_ACCOUNT, "role": expected.role_name, "instance_profile": expected.instance_profile_name,
           **expected.fmt}
    for policy, statements in expected.policies.items():
        live = [st for arn in sorted(expected.policy_arns([policy]), key=lambda a: (len(a), a))
                for st in live_policy_statements(iam, arn)]
        assert_statements(live, statements, fmt, policy)

    role = iam.get_role(RoleName=expected.role_name)["Role"]
    trust = _doc(role["AssumeRolePolicyDocument"])["Statement"]
    assert [(st["Effect"], st["Principal"], st["Action"]) for st in trust] == \
        [("Allow", {"Service": "ec2.amazonaws.com"}, "sts:AssumeRole")]
    assert attached_arns(iam, "list_attached_role_policies", RoleName=expected.role_name) == \
        expected.policy_arns(expected.role_policies) | set(expected.role_managed)
    profile = iam.get_instance_profile(InstanceProfileName=expected.instance_profile_name)["InstanceProfile"]
    assert [r["RoleName"] for r in profile["Roles"]] == [expected.role_name]
    for name, (instance_profile, policies) in expected.own_roles.items():
        # A variant's own role: EC2 trust, only its policies, its own instance profile and boundary.
        own = iam.get_role(RoleName=name)["Role"]
        assert [(st["Effect"], st["Principal"], st["Action"]) for st in _doc(own["AssumeRolePolicyDocument"])["Statement"]] == \
            [("Allow", {"Service": "ec2.amazonaws.com"}, "sts:AssumeRole")]
        assert attached_arns(iam, "list_attached_role_policies", RoleName=name) == expected.policy_arns(policies)
        holder = iam.get_instance_profile(InstanceProfileName=instance_profile)["InstanceProfile"]
        assert [r["RoleName"] for r in holder["Roles"]] == [name]
        if expected.boundary:
            boundary = f"arn:aws:iam::{LOCALSTACK_ACCOUNT}:policy/{name}-boundary"
            assert own.get("PermissionsBoundary", {}).get("PermissionsBoundaryArn") == boundary
            live = {st["Sid"] for st in live_policy_statements(iam, boundary)}
            assert {"DenyPermissionsBoundaryChanges", "DenyBoundaryPolicyChanges"} <= live

    if expected.user_name:
        iam.get_user(UserName=expected.user_name)
        assert absent(lambda: iam.get_login_profile(UserName=expected.user_name)), "programmatic access only"
        assert attached_arns(iam, "list_attached_user_policies", UserName=expected.user_name) == \
            expected.policy_arns(expected.user_policies) | set(expected.user_managed)
        keys = iam.list_access_keys(UserName=expected.user_name)["AccessKeyMetadata"]
        assert len(keys) == (1 if expected.access_key else 0)


def assert_removed(iam, expected: Expected) -> None:
    if expected.user_name:
        assert absent(lambda: iam.get_user(UserName=expected.user_name))
    assert absent(lambda: iam.get_role(RoleName=expected.role_name))
    assert absent(lambda: iam.get_instance_profile(InstanceProfileName=expected.instance_profile_name))
    for name, (instance_profile, _) in expected.own_roles.items():
        assert absent(lambda: iam.get_role(RoleName=name))
        assert absent(lambda: iam.get_instance_profile(InstanceProfileName=instance_profile))
        assert absent(lambda: iam.get_policy(PolicyArn=f"arn:aws:iam::{LOCALSTACK_ACCOUNT}:policy/{name}-boundary"))
    for arn in expected.policy_arns(expected.policies):
        assert absent(lambda: iam.get_policy(PolicyArn=arn)), arn


def run_cycle(raw: dict[str, Any], stack: str, outdir: Path, iam, expected: Expected) -> dict[str, Any]:
    """Returns the outputs seen after apply (for test-specific checks)."""
    synth(parse_config(raw), outdir)
    terraform = Terraform(stack_dir(outdir, stack))
    terraform.init()
    planned = Counter(address.split(".")[0] for address in planned_creates(terraform))
    assert planned == expected.resource_counts()
    terraform.apply("tfplan")
    try:
        outputs = terraform.outputs()
        assert_deployed(iam, expected)
        assert terraform.plan() is False, "second plan must show no changes"
    finally:
        terraform.destroy()
    assert_removed(iam, expected)
    return outputs
