"""An exported module's consumer keeps its attachments across the upgrade to keyed attachments:
apply a plain-HCL consumer with the module as export-module wrote it before (numbered attachments,
tests/fixtures/numbered-modules), swap in today's export, and the plan moves every attachment to its
key without creating or destroying one; after apply, nothing is left to do."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest

from iam_foundry.emit.module import export_module
from iam_foundry.ops.terraform import Terraform

pytestmark = pytest.mark.integration
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
NUMBERED = FIXTURES / "numbered-modules"
COMMON_PROVIDER = FIXTURES / "consumer-common" / "provider.tf"

# A given permissions boundary (its ARN known at plan time, as a module's guardrails count needs), so the
# guardrails policy and its attachments exist too; then each profile's toggles that attach something.
GIVEN_BOUNDARY = """
data "aws_caller_identity" "current" {}

resource "aws_iam_policy" "given" {
  name   = "it-mm-${var.suffix}-given"
  policy = jsonencode({ Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = "s3:*", Resource = "*" }] })
}
"""
CONSUMERS = {
    "nextai": GIVEN_BOUNDARY + """
module "ml" {
  source                     = "./module"
  user_name                  = "it-mm-${var.suffix}-user"
  policy_name                = "it-mm-${var.suffix}-policy"
  role_name                  = "it-mm-${var.suffix}-role"
  enable_s3_access           = true
  enable_s3_access_node_role = true
  permissions_boundary       = "arn:aws:iam::${data.aws_caller_identity.current.account_id}:policy/${aws_iam_policy.given.name}"
}
""",
    "anyscale": GIVEN_BOUNDARY + """
resource "aws_iam_role" "access" {
  name               = "it-mm-${var.suffix}-access"
  assume_role_policy = jsonencode({ Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Principal = { AWS = "*" } }] })
}

module "ml" {
  source               = "./module"
  cloud_id             = "cld_${var.suffix}"
  bucket               = "it-mm-${var.suffix}"
  role_name            = "it-mm-${var.suffix}-role"
  enable_access_role   = true
  access_role_name     = aws_iam_role.access.name
  enable_ecr_read_only = true
  permissions_boundary = "arn:aws:iam::${data.aws_caller_identity.current.account_id}:policy/${aws_iam_policy.given.name}"
}
""",
}


def module_resources(terraform: Terraform) -> set[str]:
    """Addresses of the managed resources in module.ml's state."""
    state = json.loads(terraform.run("show", "-json", "-no-color").stdout)
    children = state.get("values", {}).get("root_module", {}).get("child_modules", [])
    return {r["address"] for child in children for r in child.get("resources", []) if r["mode"] == "managed"}


def attachment(address: str) -> bool:
    return "_policy_attachment." in address


@pytest.mark.parametrize("profile", sorted(CONSUMERS))
def test_upgraded_module_moves_numbered_attachments_to_keys(localstack_endpoint, tmp_path, profile):
    work = tmp_path / "consumer"
    work.mkdir()
    (work / "main.tf").write_text(CONSUMERS[profile])
    shutil.copy(COMMON_PROVIDER, work / "provider.tf")
    shutil.copytree(NUMBERED / profile, work / "module")
    variables = [f"-var=localstack_endpoint={localstack_endpoint}", f"-var=suffix={uuid.uuid4().hex[:6]}"]
    terraform = Terraform(work)
    terraform.run("init", "-input=false", "-no-color")
    terraform.apply(*variables)
    try:
        before = {a for a in module_resources(terraform) if attachment(a)}
        assert any(a.endswith("_guardrails[0]") for a in before) and any(a.endswith("_policy_0") for a in before), before
        # The upgrade: today's export in place of the numbered one.
        shutil.rmtree(work / "module")
        new = export_module(profile, None, work / "module")
        moved = json.loads((new / "main.tf.json").read_text())["moved"]
        terraform.run("plan", "-input=false", "-no-color", "-out=tfplan", *variables)
        plan = json.loads(terraform.run("show", "-json", "-no-color", "tfplan").stdout)
        changes: dict[str, dict[str, Any]] = {c["address"]: c for c in plan.get("resource_changes", []) if c["mode"] == "managed"}
        for address, change in changes.items():
            actions = change["change"]["actions"]
            assert "create" not in actions and "delete" not in actions, (address, actions)
            if actions == ["update"]:  # tags only (IamFoundryModule -> IamFoundryDeployment), never an attachment
                before_values, after_values = change["change"]["before"], change["change"]["after"]
                assert {k for k in after_values if after_values[k] != before_values.get(k)} <= {"tags", "tags_all"}, address
        # Every numbered attachment in state moves to its key, as the module's moved blocks say.
        expected = {f"module.ml.{m['from']}": f"module.ml.{m['to']}" for m in moved if f"module.ml.{m['from']}" in before}
        assert set(expected) == before
        actual = {c["previous_address"]: address for address, c in changes.items() if c.get("previous_address")}
        assert actual == expected
        assert all(changes[address]["change"]["actions"] == ["no-op"] for address in expected.values())
        terraform.apply("tfplan")
        after = {a for a in module_resources(terraform) if attachment(a)}
        assert after == set(expected.values()) and all(a.endswith('"]') for a in after), after
        assert terraform.plan(*variables) is False, "nothing left to do once moved"
    finally:
        terraform.destroy(*variables)
