"""LocalStack stopped in the middle of an apply: a clear error, then a re-run converges."""

from __future__ import annotations

import threading
import time

import pytest

from iam_foundry.config.load import parse_config
from iam_foundry.ops import localstack as ls
from iam_foundry.ops.synth import stack_dir, synth
from iam_foundry.ops.terraform import Terraform, TerraformError
from tests.integration.conftest import unique_names

pytestmark = pytest.mark.integration
ENDPOINT = "http://127.0.0.1:4598"  # a LocalStack of this test's own, so stopping it harms no other test


def count_ours(iam, names: dict[str, str]) -> dict[str, int]:
    """How many of each resource carry our names, over every page of the listing."""
    def count(operation: str, key: str, field: str, name: str, **args) -> int:
        return sum(item[field] == name for page in iam.get_paginator(operation).paginate(**args) for item in page[key])
    return {
        "users": count("list_users", "Users", "UserName", names["user_name"]),
        "roles": count("list_roles", "Roles", "RoleName", names["role_name"]),
        "instance profiles": count("list_instance_profiles", "InstanceProfiles", "InstanceProfileName", names["role_name"]),
        "policies": count("list_policies", "Policies", "PolicyName", names["policy_name"], Scope="Local"),
    }


def test_localstack_stopped_mid_apply_then_rerun_converges(tmp_path):
    state_dir = tmp_path / "localstack"
    ls.start(ENDPOINT, state_dir=state_dir)
    try:
        names = unique_names("it-fault")
        raw = {"region": "us-east-1", "localstack": {"enabled": True, "endpoint": ENDPOINT},
               "backend": {"type": "local", "path": "state"},
               "deployments": [{"name": "fault", "profile": "nextai", "addenda": ["clone-disk", "open-ports", "s3-access"], **names}]}
        synth(parse_config(raw), tmp_path / "out")
        terraform = Terraform(stack_dir(tmp_path / "out", "fault"))
        terraform.init()
        iam = ls.boto_client("iam", ENDPOINT, "us-east-1")

        outcome: dict[str, BaseException | None] = {}

        def apply() -> None:
            try:
                terraform.apply()
                outcome["error"] = None
            except TerraformError as err:
                outcome["error"] = err

        thread = threading.Thread(target=apply)
        thread.start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not count_ours(iam, names)["policies"]:
            time.sleep(0.05)  # stop LocalStack as soon as the first resource exists
        ls.stop(state_dir)
        thread.join(timeout=600)
        assert not thread.is_alive(), "apply must give up, not hang"
        error = outcome.get("error")
        assert error is not None, "apply cannot succeed without its endpoint"
        # Terraform's message names the endpoint it lost (connection refused, or EOF when cut mid-request).
        assert "127.0.0.1:4598" in str(error), str(error)

        ls.start(ENDPOINT, state_dir=state_dir)  # back, empty: the state file still lists what was created
        iam = ls.boto_client("iam", ENDPOINT, "us-east-1")
        terraform.apply()
        assert count_ours(iam, names) == {"users": 1, "roles": 1, "instance profiles": 1, "policies": 1}
        assert terraform.plan() is False
        terraform.destroy()
        assert count_ours(iam, names) == {"users": 0, "roles": 0, "instance profiles": 0, "policies": 0}
    finally:
        ls.stop(state_dir)
