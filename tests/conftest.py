"""Shared helpers: synthesize a config in-process and read the stacks back as JSON."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from iam_foundry.config.load import parse_config  # noqa: E402
from iam_foundry.ops.synth import synth  # noqa: E402

TEST_ACCOUNT = "123456789012"

# A real-AWS shaped NextAI config (LocalStack off, explicit account) used by most tests.
BASE_CONFIG: dict[str, Any] = {
    "region": "us-east-1",
    "localstack": {"enabled": False},
    "backend": {"type": "s3", "bucket": "acme-terraform-state", "key_prefix": "iam"},
    "deployments": [{"name": "nextai", "profile": "nextai", "account_id": TEST_ACCOUNT, "addenda": []}],
}


def make_config(**deployment_fields: Any) -> dict[str, Any]:
    raw = copy.deepcopy(BASE_CONFIG)
    raw["deployments"][0].update(deployment_fields)
    return raw


def synth_raw(raw: dict[str, Any], outdir: Path) -> dict[str, dict[str, Any]]:
    """Synthesize a raw config dict; returns {stack name: parsed cdk.tf.json}."""
    config = parse_config(raw)
    names = synth(config, outdir)
    return {name: json.loads((outdir / "stacks" / name / "cdk.tf.json").read_text()) for name in names}


def resources(stack: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return stack.get("resource", {}).get(resource_type, {})


def policy_documents(stack: dict[str, Any]) -> list[dict[str, Any]]:
    """The identity policies (not the profile boundary, which repeats their statements)."""
    return [json.loads(p["policy"]) for key, p in resources(stack, "aws_iam_policy").items() if key != "boundary"]


def boundary_document(stack: dict[str, Any]) -> dict[str, Any] | None:
    policy = resources(stack, "aws_iam_policy").get("boundary")
    return json.loads(policy["policy"]) if policy else None


def statements_by_sid(stack: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for doc in policy_documents(stack) for s in doc["Statement"]}


@pytest.fixture
def synth_stack(tmp_path):
    """synth_stack(**deployment_fields) -> the single stack's JSON."""
    def _synth(**fields: Any) -> dict[str, Any]:
        if "role-creation" in fields.get("addenda", []):
            fields.setdefault("create_node_role", False)  # the launcher creates the node role itself
        stacks = synth_raw(make_config(**fields), tmp_path / "out")
        assert list(stacks) == ["nextai"]
        return stacks["nextai"]
    return _synth
