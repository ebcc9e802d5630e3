"""Operating it safely on LocalStack: hardened state bucket, locking, drift, destroy scope."""

from __future__ import annotations

import json
import shutil
import threading
import uuid

import pytest

from iam_foundry.config.load import parse_config
from iam_foundry.errors import FoundryError
from iam_foundry.ops import localstack as ls
from iam_foundry.ops.bootstrap import DENY_SID, OWNER_TAG, bootstrap_state_bucket
from iam_foundry.ops.synth import stack_dir, synth
from iam_foundry.ops.terraform import StateLockedError, Terraform, TerraformError
from tests.integration.conftest import localstack_config, unique_names
from tests.integration.cycle import absent

pytestmark = pytest.mark.integration


def test_bootstrap_hardens_the_bucket_idempotently_and_refuses_foreign_ones(localstack_endpoint):
    s3 = ls.boto_client("s3", localstack_endpoint, "us-east-1")
    bucket = f"it-state-{uuid.uuid4().hex[:8]}"
    assert "created" in bootstrap_state_bucket(s3, bucket, "us-east-1")
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values()) and len(block) == 4
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    assert policy["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert OWNER_TAG in s3.get_bucket_tagging(Bucket=bucket)["TagSet"]
    assert "created" not in bootstrap_state_bucket(s3, bucket, "us-east-1")  # second run: nothing new

    foreign = f"it-foreign-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=foreign)
    with pytest.raises(FoundryError) as err:
        bootstrap_state_bucket(s3, foreign, "us-east-1")
    assert "--adopt" in str(err.value)
    assert s3.get_bucket_versioning(Bucket=foreign).get("Status") is None, "refused bucket left untouched"
    assert "adopted" in bootstrap_state_bucket(s3, foreign, "us-east-1", adopt=True)
    assert OWNER_TAG in s3.get_bucket_tagging(Bucket=foreign)["TagSet"]


def test_configs_sharing_a_bucket_add_to_its_deny_list(localstack_endpoint):
    s3 = ls.boto_client("s3", localstack_endpoint, "us-east-1")
    bucket = f"it-shared-{uuid.uuid4().hex[:8]}"
    first = ["arn:aws:iam::*:user/team-a-user", "arn:aws:iam::*:role/team-a-role"]
    second = ["arn:aws:iam::*:user/team-b-user"]

    def denied() -> list[str]:
        policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
        (statement,) = [s for s in policy["Statement"] if s["Sid"] == DENY_SID]
        return statement["Condition"]["ArnLike"]["aws:PrincipalArn"]

    bootstrap_state_bucket(s3, bucket, "us-east-1", denied_principals=first)
    assert denied() == sorted(first)
    done = bootstrap_state_bucket(s3, bucket, "us-east-1", denied_principals=second)  # another config, same bucket
    assert denied() == sorted(first + second)
    assert "the 2 an earlier run denied" in done[-1]
    bootstrap_state_bucket(s3, bucket, "us-east-1", denied_principals=first)  # the first again: nothing lost
    assert denied() == sorted(first + second)


def test_lock_drift_and_destroy_scope(localstack_endpoint, iam, tmp_path):
    # Pre-existing resources in the same account: destroy must leave them alone.
    bystander = f"it-bystander-{uuid.uuid4().hex[:6]}"
    iam.create_user(UserName=bystander)
    iam.create_role(RoleName=bystander, AssumeRolePolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))

    names = unique_names("it-ops")
    raw = localstack_config(localstack_endpoint, [{"name": "ops", "profile": "nextai", **names}])
    synth(parse_config(raw), tmp_path / "a")
    shutil.copytree(tmp_path / "a", tmp_path / "b")  # a second checkout of the same stack and state
    first, second = Terraform(stack_dir(tmp_path / "a", "ops")), Terraform(stack_dir(tmp_path / "b", "ops"))
    first.init()
    second.init()

    # Two applies at once: exactly one proceeds, the other fails fast saying the state is locked.
    results: dict[str, BaseException | None] = {}

    def apply(label: str, terraform: Terraform) -> None:
        try:
            terraform.apply()
            results[label] = None
        except TerraformError as err:
            results[label] = err

    threads = [threading.Thread(target=apply, args=(label, tf)) for label, tf in (("a", first), ("b", second))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    failures = [err for err in results.values() if err is not None]
    try:
        assert len(results) == 2 and len(failures) == 1, results
        assert isinstance(failures[0], StateLockedError), failures[0]
        assert "force-unlock" in str(failures[0])
        # State intact: the winner's apply is complete, and both checkouts agree nothing is left to do.
        assert first.plan() is False and second.plan() is False

        # Drift: the instance profile deleted out of band is planned back and restored.
        profile = names["role_name"]
        iam.remove_role_from_instance_profile(InstanceProfileName=profile, RoleName=names["role_name"])
        iam.delete_instance_profile(InstanceProfileName=profile)
        plan = first.run("plan", "-input=false", "-no-color")
        assert "aws_iam_instance_profile.instance_profile will be created" in plan.stdout
        first.apply()
        restored = iam.get_instance_profile(InstanceProfileName=profile)["InstanceProfile"]
        assert [r["RoleName"] for r in restored["Roles"]] == [names["role_name"]]
        assert first.plan() is False
    finally:
        first.destroy()
    assert absent(lambda: iam.get_user(UserName=names["user_name"]))
    assert absent(lambda: iam.get_role(RoleName=names["role_name"]))
    iam.get_user(UserName=bystander)
    iam.get_role(RoleName=bystander)
    iam.delete_user(UserName=bystander)
    iam.delete_role(RoleName=bystander)


def test_bootstrap_denies_the_state_bucket_to_every_principal_the_config_creates(localstack_endpoint, tmp_path):
    from click.testing import CliRunner

    from iam_foundry.cli.app import cli

    bucket = f"it-deny-{uuid.uuid4().hex[:8]}"
    config = tmp_path / "iam-foundry.toml"
    config.write_text(f"""
region = "us-east-1"
[localstack]
endpoint = "{localstack_endpoint}"
[backend]
bucket = "{bucket}"
[[deployments]]
name = "nextai"
profile = "nextai"
addenda = ["s3-access"]
path = "/ml/"
[[deployments]]
name = "ai"
profile = "ai-unlimited"
account_id = "000000000000"
parameters = {{ cluster_role_prefix = "ai-cluster-" }}
""")
    result = CliRunner().invoke(cli, ["--config", str(config), "bootstrap"])
    assert result.exit_code == 0, result.output
    s3 = ls.boto_client("s3", localstack_endpoint, "us-east-1")
    statements = {s["Sid"]: s for s in json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]}
    deny = statements["DenyPrincipalsIamFoundryCreates"]
    assert deny["Effect"] == "Deny" and deny["Principal"] == "*" and deny["Action"] == "s3:*"
    assert sorted(deny["Condition"]["ArnLike"]["aws:PrincipalArn"]) == [
        "arn:aws:iam::*:role/ml/nextai-role", "arn:aws:iam::*:user/ml/nextai",
        "arn:aws:iam::000000000000:role/ai-cluster-*",  # the cluster roles the AI Unlimited role may create
        "arn:aws:iam::000000000000:role/ai-unlimited"]
    assert statements["DenyInsecureTransport"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
