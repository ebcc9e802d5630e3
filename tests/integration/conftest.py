"""LocalStack for the integration tests: reuse one that answers, else start one and stop it after."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from iam_foundry.config.target import DEFAULT_LOCALSTACK_ENDPOINT
from iam_foundry.ops import localstack as ls

STATE_BUCKET = "iam-foundry-test-state"


@pytest.fixture(scope="session")
def localstack_endpoint(tmp_path_factory) -> str:
    endpoint = os.environ.get("IAM_FOUNDRY_TEST_LOCALSTACK", DEFAULT_LOCALSTACK_ENDPOINT)
    state_dir = tmp_path_factory.mktemp("localstack")
    started = ls.start(endpoint, state_dir=state_dir)
    ls.ensure_state_bucket(endpoint, STATE_BUCKET, "us-east-1")
    yield endpoint
    if started:
        ls.stop(state_dir)


@pytest.fixture
def iam(localstack_endpoint):
    return ls.boto_client("iam", localstack_endpoint, "us-east-1")


def localstack_config(endpoint: str, deployments: list[dict[str, Any]], backend: dict[str, Any] | None = None) -> dict[str, Any]:
    """A config on the test LocalStack, with a state key prefix of its own per test."""
    return {
        "region": "us-east-1",
        "localstack": {"enabled": True, "endpoint": endpoint},
        "backend": backend or {"type": "s3", "bucket": STATE_BUCKET, "key_prefix": f"it-{uuid.uuid4().hex[:8]}"},
        "deployments": deployments,
    }


def unique_names(prefix: str) -> dict[str, str]:
    """IAM names no other test (nor `make up`) uses, so tests can share one LocalStack."""
    tag = f"{prefix}-{uuid.uuid4().hex[:6]}"
    return {"user_name": f"{tag}-user", "policy_name": f"{tag}-policy", "role_name": f"{tag}-role"}


@pytest.fixture
def project_root() -> Path:
    return Path(__file__).resolve().parents[2]


def run_cli(project_root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "iam_foundry", *args], cwd=project_root, text=True,
                          capture_output=True, timeout=900)


def failing_up(project_root: Path, config: Path, tmp_path: Path, stack: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """`up` that must fail cleanly (exit 1, no traceback): the run, and its summary lines naming `stack`."""
    up = run_cli(project_root, "--config", str(config), "--outdir", str(tmp_path / "out"), "up",
                 "--handoff-file", str(tmp_path / "h.json"))
    assert up.returncode == 1, up.stdout + up.stderr
    assert "Traceback" not in up.stderr
    summary = [line for line in up.stderr.splitlines() if line.strip().startswith(f"- stack '{stack}'")]
    assert summary, up.stderr
    return up, summary
