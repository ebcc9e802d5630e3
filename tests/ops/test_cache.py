"""The unchanged-input synth cache: skips only when nothing changed, never serves stale output."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from iam_foundry.config.load import parse_config
from iam_foundry.ops import cache
from iam_foundry.ops.synth import synth
from tests.conftest import make_config

PROJECT = Path(__file__).resolve().parents[2]


def custom_config(policy: Path) -> dict:
    raw = make_config(profile="custom", policy_file=str(policy))
    return raw


def write_policy(path: Path, actions: list[str]) -> None:
    path.write_text(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "Only", "Effect": "Allow", "Action": actions, "Resource": "*"}]}))


def synthesized_actions(outdir: Path) -> list[str]:
    stack = json.loads((outdir / "stacks" / "nextai" / "cdk.tf.json").read_text())
    return json.loads(stack["resource"]["aws_iam_policy"]["policy"]["policy"])["Statement"][0]["Action"]


def test_unchanged_inputs_are_not_synthesized_again(tmp_path):
    config = parse_config(make_config())
    synth(config, tmp_path / "out")
    target = tmp_path / "out" / "stacks" / "nextai" / "cdk.tf.json"
    target.write_text(target.read_text() + " ")  # a marker the cache must leave alone
    synth(config, tmp_path / "out")
    assert target.read_text().endswith(" ")
    synth(config, tmp_path / "out", use_cache=False)
    assert not target.read_text().endswith(" ")


def test_a_changed_policy_file_is_never_served_stale(tmp_path):
    policy = tmp_path / "policy.json"
    write_policy(policy, ["ec2:DescribeInstances"])
    synth(parse_config(custom_config(policy)), tmp_path / "out")
    assert synthesized_actions(tmp_path / "out") == ["ec2:DescribeInstances"]
    write_policy(policy, ["ec2:DescribeImages"])
    synth(parse_config(custom_config(policy)), tmp_path / "out")
    assert synthesized_actions(tmp_path / "out") == ["ec2:DescribeImages"]


def test_a_changed_config_synthesizes_again(tmp_path):
    synth(parse_config(make_config()), tmp_path / "out")
    synth(parse_config(make_config(role_name="other-role")), tmp_path / "out")
    stack = json.loads((tmp_path / "out" / "stacks" / "nextai" / "cdk.tf.json").read_text())
    assert stack["resource"]["aws_iam_role"]["node_role"]["name"] == "other-role"


def test_fingerprint_covers_builtin_policy_files_and_source(tmp_path, monkeypatch):
    for folder in ("iam_foundry", "modules", "policy_json"):
        shutil.copytree(PROJECT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(PROJECT / "main.py", tmp_path / "main.py")
    monkeypatch.setattr(cache, "SOURCES", tuple(tmp_path / name for name in ("iam_foundry", "modules", "policy_json", "main.py")))
    config = parse_config(make_config())
    before = cache.fingerprint(config)
    assert cache.fingerprint(config) == before
    addendum = tmp_path / "policy_json" / "nextai" / "addenda" / "clone-disk.json"
    addendum.write_text(addendum.read_text().replace("ec2:CopyImage", "ec2:CopyImage2"))
    after_policy = cache.fingerprint(config)
    assert after_policy != before
    (tmp_path / "modules" / "user.py").write_text("# changed\n")
    assert cache.fingerprint(config) != after_policy


def test_missing_stack_file_is_not_fresh(tmp_path):
    config = parse_config(make_config())
    synth(config, tmp_path / "out")
    key = cache.fingerprint(config)
    assert cache.is_fresh(tmp_path / "out", key)
    (tmp_path / "out" / "stacks" / "nextai" / "cdk.tf.json").unlink()
    assert not cache.is_fresh(tmp_path / "out", key)
    synth(config, tmp_path / "out")
    assert (tmp_path / "out" / "stacks" / "nextai" / "cdk.tf.json").exists()
