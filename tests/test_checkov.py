"""checkov over the synthesized Terraform JSON of every profile and variant; skips are in .checkov.yaml."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from iam_foundry.config.load import parse_config
from iam_foundry.ops.synth import synth
from iam_foundry.profiles.load import list_profiles, load_profile
from tests.profile_matrix import sample_parameters

PROJECT = Path(__file__).resolve().parent.parent
CHECKOV = PROJECT / ".venv-checkov" / "bin" / "checkov"


def every_variant_config() -> dict:
    deployments = []
    for name in list_profiles():
        profile = load_profile(name)
        for variant in profile.variants:
            deployments.append({
                "name": f"{name}-{variant}", "profile": name, "variant": variant, "addenda": sorted(profile.addenda),
                "create_access_key": "user" in {t for p in profile.policies(variant) for t in p.attach_to},
                "allow_plaintext_secret_in_state": True,
                "user_name": f"u-{name}-{variant}"[:64], "policy_name": f"p-{name}-{variant}",
                "role_name": f"r-{name}-{variant}"[:64],
                "policy_names": {p.id: f"p-{name}-{variant}-{p.id}" for p in profile.policies(variant) if p.id != "main"},
                "parameters": sample_parameters(name, sorted(profile.addenda)),
                # An addendum with which the platform creates the node role is refused with the stack's own.
                "create_node_role": not any(a.platform_creates_node_role for a in profile.addenda.values()),
            })
    return {"region": "us-east-1", "localstack": {"enabled": False}, "deployments": deployments}


def test_checkov_finds_nothing_beyond_the_documented_skips(tmp_path):
    if not CHECKOV.exists():
        if os.environ.get("CI") or os.environ.get("IAM_FOUNDRY_REQUIRE_CHECKOV"):  # make test sets it
            pytest.fail("checkov is not installed: `make setup` creates .venv-checkov")
        pytest.skip("checkov not installed; run `make setup`")
    names = synth(parse_config(every_variant_config()), tmp_path)
    assert len(names) == sum(len(load_profile(n).variants) for n in list_profiles())
    result = subprocess.run([str(CHECKOV), "--config-file", str(PROJECT / ".checkov.yaml"), "-d", str(tmp_path / "stacks"),
                             "-o", "cli"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Failed checks: 0" in result.stdout, result.stdout
    assert "Passed checks:" in result.stdout
