"""Per-account credentials on LocalStack: it keys accounts by access key id, and AssumeRole into a role
ARN of account X gives credentials acting in X."""

from __future__ import annotations

import json

import boto3
import pytest

from tests.integration.conftest import STATE_BUCKET, failing_up, localstack_config, unique_names
from tests.integration.test_cli_up import run_cli


def toml_dump(raw: dict) -> str:
    """The test config as TOML, inline tables included."""
    def value(v) -> str:
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{k} = {value(x)}" for k, x in v.items()) + " }"
        return json.dumps(v)

    lines = [f'region = "{raw["region"]}"', "[localstack]", f'endpoint = "{raw["localstack"]["endpoint"]}"', "[backend]"]
    lines += [f"{k} = {value(v)}" for k, v in raw["backend"].items()]
    for deployment in raw["deployments"]:
        lines += ["[[deployments]]", *(f"{k} = {value(v)}" for k, v in deployment.items())]
    return "\n".join(lines) + "\n"

pytestmark = pytest.mark.integration


def iam_in(endpoint: str, account: str):
    """An IAM client acting in `account` (LocalStack: the 12-digit access key id is the account)."""
    return boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id=account, aws_secret_access_key="test")


def role_names(endpoint: str, account: str) -> set[str]:
    return {r["RoleName"] for r in iam_in(endpoint, account).list_roles()["Roles"]}


def user_names(endpoint: str, account: str) -> set[str]:
    return {u["UserName"] for u in iam_in(endpoint, account).list_users()["Users"]}


def test_two_deployments_in_two_accounts_state_stays_central(localstack_endpoint, tmp_path, project_root):
    accounts = {"acct-a": "111111111111", "acct-b": "222222222222"}
    names = {stack: unique_names(f"it-{stack}") for stack in accounts}
    deployments = [{"name": stack, "profile": "nextai", **names[stack],
                    "assume_role": {"role_arn": f"arn:aws:iam::{account}:role/iam-foundry-deployer",
                                    "external_id": "it-external-id", "session_name": f"it-{stack}"}}
                   for stack, account in accounts.items()]
    raw = localstack_config(localstack_endpoint, deployments)
    config = tmp_path / "config.toml"
    config.write_text(toml_dump(raw))
    common = ["--config", str(config), "--outdir", str(tmp_path / "out")]
    up = run_cli(project_root, *common, "up", "--handoff-file", str(tmp_path / "h.json"))
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        for stack, account in accounts.items():
            other = next(a for a in accounts.values() if a != account)
            assert names[stack]["role_name"] in role_names(localstack_endpoint, account)
            assert names[stack]["user_name"] in user_names(localstack_endpoint, account)
            assert names[stack]["role_name"] not in role_names(localstack_endpoint, other)
            assert names[stack]["role_name"] not in role_names(localstack_endpoint, "000000000000")
        outputs = json.loads(run_cli(project_root, *common, "output", "--json").stdout)
        assert {stack: outputs[stack]["account_id"] for stack in accounts} == accounts
        # State: in the central bucket (the backend's own credentials, account 000000000000).
        s3 = boto3.client("s3", endpoint_url=localstack_endpoint, region_name="us-east-1",
                          aws_access_key_id="test", aws_secret_access_key="test")
        keys = {o["Key"] for o in s3.list_objects_v2(Bucket=STATE_BUCKET, Prefix=raw["backend"]["key_prefix"])["Contents"]}
        assert keys == {f"{raw['backend']['key_prefix']}/{stack}.tfstate" for stack in accounts}
    finally:
        destroy = run_cli(project_root, *common, "destroy", "--yes")
    assert destroy.returncode == 0, destroy.stdout + destroy.stderr
    for stack, account in accounts.items():
        assert names[stack]["role_name"] not in role_names(localstack_endpoint, account)


def test_wrong_account_fails_before_any_change(localstack_endpoint, tmp_path, project_root):
    names = unique_names("it-wrong")
    # The default LocalStack credentials act in 000000000000, but the deployment says 333333333333.
    raw = localstack_config(localstack_endpoint, [{"name": "wrong", "profile": "nextai", "account_id": "333333333333", **names}])
    config = tmp_path / "config.toml"
    config.write_text(toml_dump(raw))
    up, summary = failing_up(project_root, config, tmp_path, "wrong")
    assert "account 000000000000, not the deployment's account_id" in summary[0], up.stderr
    for account in ("000000000000", "333333333333"):
        assert names["role_name"] not in role_names(localstack_endpoint, account)
        assert names["user_name"] not in user_names(localstack_endpoint, account)
        policies = {p["PolicyName"] for p in iam_in(localstack_endpoint, account).list_policies(Scope="Local")["Policies"]}
        assert names["policy_name"] not in policies
