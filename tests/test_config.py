"""Bad input: each case gets one clear message naming the field and the fix."""

import copy

import pytest

from iam_foundry.config import DEFAULT_CONFIG, load_config, parse_config, partition_for
from iam_foundry.errors import ConfigError
from tests.conftest import BASE_CONFIG, make_config


def test_shipped_config_is_valid_and_targets_localstack():
    config = load_config(DEFAULT_CONFIG)
    assert config.localstack.enabled
    assert config.backend.type == "s3"
    assert [d.profile for d in config.deployments] == ["nextai"]


def test_defaults_come_from_the_profile():
    deployment = parse_config(make_config()).deployments[0]
    assert (deployment.user_name, deployment.policy_name, deployment.role_name, deployment.instance_profile_name) == (
        "nextai", "nextai-policy", "nextai-role", "nextai-role")
    assert deployment.create_access_key is False


@pytest.mark.parametrize(("fields", "where", "words"), [
    ({"profile": "nope"}, "deployments[0].profile", "unknown profile 'nope'"),
    ({"addenda": ["clone-disks"]}, "deployments[0].addenda[0]", "did you mean 'clone-disk'"),
    ({"addenda": ["open-ports", "open-ports"]}, "deployments[0].addenda", "listed twice"),
    ({"account_id": "1234-5678-9012"}, "deployments[0].account_id", "12 digits"),
    ({"account_id": 123456789012}, "deployments[0].account_id", "must be str"),
    ({"region": "moon-1"}, "deployments[0].region", "not an AWS region"),
    ({"user_name": "x" * 65}, "deployments[0].user_name", "at most 64"),
    ({"role_name": "bad name!"}, "deployments[0].role_name", "not a valid IAM name"),
    ({"policy_name": "p" * 129}, "deployments[0].policy_name", "at most 128"),
    ({"path": "no-slashes"}, "deployments[0].path", "not a valid IAM path"),
    ({"permissions_boundary": "arn:aws:iam::123:policy/x"}, "deployments[0].permissions_boundary", "not a managed policy ARN"),
    ({"create_access_key": "yes"}, "deployments[0].create_access_key", "must be bool"),
    ({"pgp_key": "keybase:someone"}, "deployments[0].pgp_key", "create_access_key"),
    ({"tags": {"Team": 3}}, "deployments[0].tags", "must be strings"),
    ({"rolename": "x"}, "deployments[0].rolename", "did you mean 'role_name'"),
    ({"name": "9lives"}, "deployments[0].name", "not a valid stack name"),
    ({"max_managed_policies_per_principal": 0}, "deployments[0].max_managed_policies_per_principal", "between 1 and 20"),
])
def test_bad_deployment_fields(fields, where, words):
    with pytest.raises(ConfigError) as err:
        parse_config(make_config(**fields))
    problems = err.value.problems
    assert len(problems) == 1, problems
    assert problems[0].where == where
    assert words in str(problems[0])
    assert problems[0].fix, "every problem says how to fix it"


@pytest.mark.parametrize(("mutate", "where", "words"), [
    (lambda raw: raw.pop("deployments"), "deployments", "missing required field"),
    (lambda raw: raw["deployments"][0].pop("profile"), "deployments[0].profile", "missing required field"),
    (lambda raw: raw["backend"].update(type="gcs"), "backend.type", "'s3', 'local' or 'cloud'"),
    (lambda raw: raw["backend"].update(bucket="Bad_Bucket"), "backend.bucket", "bucket name"),
    (lambda raw: raw["localstack"].update(endpoint="localhost:4566"), "localstack.endpoint", "URL"),
    (lambda raw: raw.update(regoin="us-east-1"), "regoin", "did you mean 'region'"),
])
def test_bad_top_level_fields(mutate, where, words):
    raw = copy.deepcopy(BASE_CONFIG)
    mutate(raw)
    with pytest.raises(ConfigError) as err:
        parse_config(raw)
    assert [p.where for p in err.value.problems] == [where]
    assert words in str(err.value)


def test_duplicate_names_name_both_entries():
    raw = make_config()
    raw["deployments"].append(dict(raw["deployments"][0], name="nextai-2"))
    with pytest.raises(ConfigError) as err:
        parse_config(raw)
    text = str(err.value)
    assert "deployments[1]" in text and "deployments[0]" in text and "user 'nextai'" in text


def test_second_deployment_may_share_the_role_when_it_does_not_create_it():
    raw = make_config()
    raw["deployments"].append({"name": "nextai-bob", "profile": "nextai", "account_id": "123456789012",
                               "user_name": "bob", "policy_name": "nextai-policy-bob", "create_node_role": False})
    deployments = parse_config(raw).deployments
    assert [(d.name, d.user_name, d.policy_name, d.role_name, d.create_node_role) for d in deployments] == [
        ("nextai", "nextai", "nextai-policy", "nextai-role", True), ("nextai-bob", "bob", "nextai-policy-bob", "nextai-role", False)]


def test_all_problems_are_reported_together():
    with pytest.raises(ConfigError) as err:
        parse_config(make_config(account_id="12", region="nowhere", addenda=["x"]))
    assert sorted(p.where for p in err.value.problems) == ["deployments[0].account_id", "deployments[0].addenda[0]", "deployments[0].region"]


def test_toml_syntax_error_names_the_file(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("region = \n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize(("region", "partition"), [("us-east-1", "aws"), ("cn-north-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov")])
def test_partition_follows_region(region, partition):
    assert partition_for(region) == partition


def test_tfvars_config_equals_the_toml_one():
    from pathlib import Path
    tfvars = load_config(Path(__file__).resolve().parent.parent / "examples" / "nextai.tfvars")
    toml = load_config(DEFAULT_CONFIG)
    assert tfvars.deployments == toml.deployments
    assert (tfvars.region, tfvars.localstack, tfvars.backend) == (toml.region, toml.localstack, toml.backend)


def test_tfvars_errors_name_the_field(tmp_path):
    path = tmp_path / "bad.tfvars"
    path.write_text('deployments = [{ name = "x", profile = "nextai", account_id = "12" }]\n')
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "deployments[0].account_id" in str(err.value)


def test_tfvars_syntax_error_names_the_file(tmp_path):
    path = tmp_path / "broken.tfvars"
    path.write_text('region = \n')
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(path) in str(err.value) and "not valid HCL" in str(err.value)
