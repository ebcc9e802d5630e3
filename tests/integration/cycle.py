"""A full plan/apply/read-back/no-change/destroy cycle of one synthesized stack on LocalStack.

The read-back is driven by the synthesized JSON itself, so it applies to every profile.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from iam_foundry.config import parse_config
from iam_foundry.synth import stack_dir, synth
from iam_foundry.terraform import Terraform


def _doc(value: Any) -> dict:
    return json.loads(value) if isinstance(value, str) else value


def planned_creates(terraform: Terraform) -> set[str]:
    terraform.run("plan", "-input=false", "-no-color", "-out=tfplan")
    plan = json.loads(terraform.run("show", "-json", "-no-color", "tfplan").stdout)
    changes = plan.get("resource_changes", [])
    assert all(c["change"]["actions"] in (["create"], ["read"], ["no-op"]) for c in changes), changes
    return {c["address"] for c in changes if c["change"]["actions"] == ["create"]}


def state_resources(terraform: Terraform) -> dict[str, dict[str, Any]]:
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


def run_cycle(raw: dict[str, Any], stack: str, outdir: Path, iam) -> dict[str, Any]:
    """Returns the outputs seen after apply (for test-specific checks)."""
    synth(parse_config(raw), outdir)
    synthesized = json.loads((stack_dir(outdir, stack) / "cdk.tf.json").read_text())
    expected = {f"{rtype}.{name}" for rtype, blocks in synthesized["resource"].items() for name in blocks}
    terraform = Terraform(stack_dir(outdir, stack))
    terraform.init()
    assert planned_creates(terraform) == expected
    terraform.apply("tfplan")
    try:
        outputs = terraform.outputs()
        values = state_resources(terraform)
        assert set(values) == expected
        for address, value in values.items():
            rtype, name = address.split(".")
            if rtype == "aws_iam_policy":
                live = iam.get_policy(PolicyArn=value["arn"])["Policy"]
                document = iam.get_policy_version(PolicyArn=value["arn"], VersionId=live["DefaultVersionId"])["PolicyVersion"]["Document"]
                wanted = json.loads(synthesized["resource"]["aws_iam_policy"][name]["policy"])
                assert [s.get("Sid") for s in _doc(document)["Statement"]] == [s.get("Sid") for s in wanted["Statement"]]
                assert _doc(document) == json.loads(value["policy"])
            elif rtype == "aws_iam_role":
                trust = _doc(iam.get_role(RoleName=value["name"])["Role"]["AssumeRolePolicyDocument"])
                assert trust == json.loads(synthesized["resource"]["aws_iam_role"][name]["assume_role_policy"])
            elif rtype == "aws_iam_instance_profile":
                profile = iam.get_instance_profile(InstanceProfileName=value["name"])["InstanceProfile"]
                assert [r["RoleName"] for r in profile["Roles"]] == [value["role"]]
            elif rtype == "aws_iam_user":
                iam.get_user(UserName=value["name"])
                assert absent(lambda: iam.get_login_profile(UserName=value["name"]))
            elif rtype == "aws_iam_user_policy_attachment":
                attached = iam.list_attached_user_policies(UserName=value["user"])["AttachedPolicies"]
                assert value["policy_arn"] in {p["PolicyArn"] for p in attached}
            elif rtype == "aws_iam_role_policy_attachment":
                attached = iam.list_attached_role_policies(RoleName=value["role"])["AttachedPolicies"]
                assert value["policy_arn"] in {p["PolicyArn"] for p in attached}
        assert terraform.plan() is False, "second plan must show no changes"
    finally:
        terraform.destroy()
    for address, value in values.items():
        rtype = address.split(".")[0]
        if rtype == "aws_iam_user":
            assert absent(lambda: iam.get_user(UserName=value["name"]))
        elif rtype == "aws_iam_role":
            assert absent(lambda: iam.get_role(RoleName=value["name"]))
        elif rtype == "aws_iam_instance_profile":
            assert absent(lambda: iam.get_instance_profile(InstanceProfileName=value["name"]))
        elif rtype == "aws_iam_policy":
            assert absent(lambda: iam.get_policy(PolicyArn=value["arn"]))
    return outputs
