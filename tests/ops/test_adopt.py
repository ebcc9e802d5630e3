"""`adopt`: import blocks instead of creates, kept on destroy; which creations could clash."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from iam_foundry.config.load import parse_config
from iam_foundry.errors import FoundryError
from iam_foundry.ops import adopt
from iam_foundry.ops.adopt import check_clashes, clash_check_skipped, to_create
from iam_foundry.ops.synth import synth
from tests.conftest import TEST_ACCOUNT, make_config, synth_raw


def test_adopt_emits_import_blocks_and_guards_adopted_resources(synth_stack):
    stack = synth_stack(adopt=["node_role", "instance_profile", "user", "policy"], addenda=["s3-access", "s3-access-node-role"])
    assert stack["import"] == [
        {"to": "aws_iam_user.user", "id": "nextai"},
        {"to": "aws_iam_role.node_role", "id": "nextai-role"},
        {"to": "aws_iam_instance_profile.instance_profile", "id": "nextai-role"},
        {"to": "aws_iam_policy.policy", "id": f"arn:aws:iam::{TEST_ACCOUNT}:policy/nextai-policy"},
    ]
    assert stack["resource"]["aws_iam_role"]["node_role"]["lifecycle"] == {"prevent_destroy": True}
    # description forces a new policy in the provider: an adopted one keeps its own.
    assert stack["resource"]["aws_iam_policy"]["policy"]["lifecycle"] == {"ignore_changes": ["description"], "prevent_destroy": True}
    forget = stack["//"]["iam_foundry"]["forget_on_destroy"]
    assert {"aws_iam_user.user", "aws_iam_role.node_role", "aws_iam_instance_profile.instance_profile", "aws_iam_policy.policy"} <= set(forget)
    # Attachments between adopted things (or AWS managed policies) may predate the stack: kept as well.
    assert {"aws_iam_user_policy_attachment.user_policy_main", "aws_iam_role_policy_attachment.node_role_policy_s3_access_node_role_0"} <= set(forget)


def test_adopting_only_the_role_keeps_our_policy_attachment_destroyable(synth_stack):
    stack = synth_stack(adopt=["node_role"], addenda=["s3-access", "s3-access-node-role"])
    assert stack["import"] == [{"to": "aws_iam_role.node_role", "id": "nextai-role"}]
    forget = stack["//"]["iam_foundry"]["forget_on_destroy"]
    assert "aws_iam_role_policy_attachment.node_role_policy_main" not in forget  # our policy: detached on destroy
    assert "aws_iam_role_policy_attachment.node_role_policy_s3_access_node_role_0" in forget  # AmazonS3FullAccess on the adopted role


def test_destroy_adopted_deletes_them_too(synth_stack):
    stack = synth_stack(adopt=["node_role"], destroy_adopted=True)
    assert "lifecycle" not in stack["resource"]["aws_iam_role"]["node_role"]
    assert "iam_foundry" not in stack.get("//", {})


def test_unknown_account_imports_the_policy_by_the_callers_account(tmp_path):
    raw = make_config(adopt=["policy"], path="/ml/")
    del raw["deployments"][0]["account_id"]
    stack = synth_raw(raw, tmp_path / "out")["nextai"]
    assert stack["import"] == [{"to": "aws_iam_policy.policy",
                                "id": "arn:aws:iam::${data.aws_caller_identity.current.account_id}:policy/ml/nextai-policy"}]


def test_clash_candidates_are_creations_not_imported_and_not_in_state(synth_stack):
    stack = synth_stack(adopt=["node_role"])
    planned = {p.address: p.name for p in to_create(stack, in_state={"aws_iam_user.user"})}
    # The profile boundary is a policy the stack creates too, so its name can clash like the others.
    assert planned == {"aws_iam_instance_profile.instance_profile": "nextai-role", "aws_iam_policy.policy": "nextai-policy",
                       "aws_iam_policy.boundary": "nextai-policy-boundary"}
    assert to_create(stack, in_state=set(planned) | {"aws_iam_user.user"}) == []


# --- check_clashes: IAM first, the state (one more terraform process) only when something exists ------

class FakeIam:
    """get_* of the IAM names in `existing` succeed; any other raises NoSuchEntity, as IAM does."""

    def __init__(self, existing: set[str]):
        self.existing = existing
        self.asked: list[str] = []

    def _get(self, name: str) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        self.asked.append(name)
        if name not in self.existing:
            raise ClientError({"Error": {"Code": "NoSuchEntity", "Message": name}}, "Get")
        return {}

    def get_role(self, RoleName: str) -> dict[str, Any]:  # noqa: N803 - boto3's argument names
        return self._get(RoleName)

    def get_user(self, UserName: str) -> dict[str, Any]:  # noqa: N803
        return self._get(UserName)

    def get_instance_profile(self, InstanceProfileName: str) -> dict[str, Any]:  # noqa: N803
        return self._get(InstanceProfileName)

    def get_policy(self, PolicyArn: str) -> dict[str, Any]:  # noqa: N803
        return self._get(PolicyArn.rsplit("/", 1)[1])


@dataclass
class StackFolder:
    workdir: Path


def clash_setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, existing: set[str], in_state: set[str]
                ) -> tuple[Any, StackFolder, FakeIam, list[int]]:
    raw = make_config()
    config = parse_config(raw)
    synth(config, tmp_path / "out")
    iam = FakeIam(existing)
    state_reads: list[int] = []

    def fake_state(terraform: Any) -> set[str]:
        state_reads.append(1)
        return in_state

    monkeypatch.setattr(adopt, "iam_client", lambda config, deployment: (iam, None))
    monkeypatch.setattr(adopt, "state_addresses", fake_state)
    return config, StackFolder(tmp_path / "out" / "stacks" / "nextai"), iam, state_reads


def test_first_apply_asks_iam_and_never_reads_the_state(tmp_path, monkeypatch):
    config, folder, iam, state_reads = clash_setup(tmp_path, monkeypatch, existing=set(), in_state=set())
    check_clashes(config, config.deployments[0], folder)  # type: ignore[arg-type]
    planned = {p.name for p in to_create(adopt.synthesized(folder.workdir), set())}
    assert set(iam.asked) == planned and planned  # every creation looked up
    assert state_reads == []  # nothing exists: no terraform process for the state


def test_an_existing_resource_in_the_stacks_state_is_not_a_clash_but_one_outside_it_is(tmp_path, monkeypatch):
    for in_state_count in (None, 1):  # every existing one in state, then all but one
        config, folder, iam, state_reads = clash_setup(tmp_path / str(in_state_count), monkeypatch, set(), set())
        stack = adopt.synthesized(folder.workdir)
        planned = to_create(stack, set())
        iam.existing = {p.name for p in planned}
        in_state = {p.address for p in planned}
        outside = None
        if in_state_count:
            outside = planned[0]
            in_state.discard(outside.address)
        monkeypatch.setattr(adopt, "state_addresses", lambda terraform, found=in_state: state_reads.append(1) or found)
        if outside is None:
            check_clashes(config, config.deployments[0], folder)  # type: ignore[arg-type]
        else:
            with pytest.raises(FoundryError) as err:
                check_clashes(config, config.deployments[0], folder)  # type: ignore[arg-type]
            assert len(err.value.problems) == 1 and f"'{outside.name}' already exists" in err.value.problems[0].message
        assert state_reads == [1]  # read once, because something exists


def test_terraform_cloud_skips_the_check_and_says_why(tmp_path, monkeypatch):
    raw = make_config()
    raw["backend"] = {"type": "cloud", "organization": "acme", "workspace": "iam"}
    config = parse_config(raw)
    reason = clash_check_skipped(config)
    assert reason and "workspace" in reason and "credentials" in reason and "adopt" in reason
    monkeypatch.setattr(adopt, "iam_client", lambda *a: pytest.fail("no IAM lookups with the cloud backend"))
    check_clashes(config, config.deployments[0], StackFolder(tmp_path))  # type: ignore[arg-type]
    assert clash_check_skipped(parse_config(make_config())) is None


def test_an_existing_engine_role_is_named_with_the_fix_that_applies(tmp_path, monkeypatch):
    """A variant's own role cannot be adopted: a clash names role_name (its name derives from it), not the adopt list."""
    import json
    from types import SimpleNamespace

    from botocore.exceptions import ClientError

    from iam_foundry.config.load import parse_config
    from iam_foundry.errors import FoundryError
    from iam_foundry.ops import adopt

    raw = {"region": "us-east-1", "localstack": {"enabled": False}, "deployments": [
        {"name": "ai", "profile": "ai-unlimited", "variant": "without-iam-role-permissions", "account_id": TEST_ACCOUNT,
         "parameters": {"cluster_role_prefix": "aiu-cluster-"}}]}
    config = parse_config(raw)
    stack = synth_raw(raw, tmp_path / "out")["ai"]
    workdir = tmp_path / "stack"
    workdir.mkdir()
    (workdir / "cdk.tf.json").write_text(json.dumps(stack))
    existing = {"ai-unlimited", "ai-unlimited-engine"}  # the server's role and the engine role exist already

    def get_role(RoleName):
        if RoleName not in existing:
            raise ClientError({"Error": {"Code": "NoSuchEntity"}}, "GetRole")

    def missing(**_):
        raise ClientError({"Error": {"Code": "NoSuchEntity"}}, "Get")

    iam = SimpleNamespace(get_role=get_role, get_user=missing, get_instance_profile=missing, get_policy=missing)
    monkeypatch.setattr(adopt, "state_addresses", lambda terraform: set())
    monkeypatch.setattr(adopt, "iam_client", lambda config, deployment: (iam, None))
    with pytest.raises(FoundryError) as err:
        adopt.check_clashes(config, config.deployments[0], SimpleNamespace(workdir=workdir))
    fixes = {p.message.split("(")[1].split(")")[0]: p.fix for p in err.value.problems}
    assert fixes == {
        "aws_iam_role.node_role": 'add "node_role" to the deployment\'s adopt list to take it over, or choose another role_name',
        "aws_iam_role.engine_role": "choose another role_name (the name of aws_iam_role.engine_role derives from it), or remove the existing IAM role"}
