"""Terraform Cloud / HCP Terraform workspaces as the backend."""

from __future__ import annotations

import shutil

import pytest

from iam_foundry.config.load import parse_config
from iam_foundry.errors import ConfigError
from iam_foundry.ops.synth import stack_dir
from iam_foundry.ops.terraform import Terraform
from iam_foundry.profiles.load import list_profiles
from tests.conftest import synth_raw
from tests.profile_matrix import sample_parameters

SECRET_WORDS = ("access_key", "secret_key", "token", "profile", "shared_credentials")


def cloud_config(backend: dict, deployments: list[dict] | None = None) -> dict:
    """One deployment per built-in profile (its parameters from the profile's examples)."""
    return {"region": "eu-west-1", "localstack": {"enabled": False}, "backend": {"type": "cloud", "organization": "acme", **backend},
            "deployments": deployments or [{"name": name, "profile": name, "parameters": sample_parameters(name, []),
                                            "allow_plaintext_secret_in_state": True} for name in list_profiles()]}


def test_named_workspace_per_deployment(tmp_path):
    stacks = synth_raw(cloud_config({"workspace": "iam-{deployment}", "hostname": "tfe.example.com"}), tmp_path)
    for name, stack in stacks.items():
        assert stack["terraform"]["cloud"] == {"organization": "acme", "hostname": "tfe.example.com",
                                               "workspaces": {"name": f"iam-{name}"}}
        assert "backend" not in stack["terraform"]
        provider = stack["provider"]["aws"][0]
        assert not any(word in key for key in provider for word in SECRET_WORDS), "credentials come from workspace variables"


def test_tagged_workspaces_with_project(tmp_path):
    stacks = synth_raw(cloud_config({"workspace_tags": ["iam-foundry", "ml"], "project": "platform"}), tmp_path)
    stack = stacks[list_profiles()[0]]
    assert stack["terraform"]["cloud"] == {"organization": "acme",
                                           "workspaces": {"tags": ["iam-foundry", "ml"], "project": "platform"}}


@pytest.mark.parametrize(("backend", "where"), [
    ({"workspace": "iam-{deployment}", "organization": None}, "backend.organization"),
    ({}, "backend.workspace"),
    ({"workspace": "x", "workspace_tags": ["y"]}, "backend.workspace"),
    ({"workspace": "shared"}, "backend.workspace"),  # two deployments, one workspace
])
def test_cloud_backend_config_errors(backend, where):
    raw = cloud_config({k: v for k, v in backend.items() if v is not None})
    if backend.get("organization", "") is None:
        raw["backend"].pop("organization")
    with pytest.raises(ConfigError) as err:
        parse_config(raw)
    assert where in [p.where for p in err.value.problems]


def test_cloud_backend_refuses_localstack():
    raw = cloud_config({"workspace": "iam-{deployment}"})
    raw["localstack"] = {"enabled": True}
    with pytest.raises(ConfigError) as err:
        parse_config(raw)
    assert "localstack.enabled" in str(err.value)


@pytest.mark.integration
@pytest.mark.skipif(not shutil.which("terraform"), reason="terraform not on PATH")
def test_terraform_accepts_the_cloud_block(tmp_path):
    synth_raw(cloud_config({"workspace": "iam-{deployment}", "hostname": "tfe.example.com"}), tmp_path)
    for name in list_profiles():
        terraform = Terraform(stack_dir(tmp_path, name))
        terraform.run("init", "-backend=false", "-input=false", "-no-color")
        result = terraform.run("validate", "-no-color")
        assert "The configuration is valid" in result.stdout
