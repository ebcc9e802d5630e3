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
    ({"assume_role": {"role_arn": "arn:aws:iam::12345:role/x"}}, "deployments[0].assume_role.role_arn", "not an IAM role ARN"),
    ({"assume_role": {"role_arn": "arn:aws:iam::123456789012:user/x"}}, "deployments[0].assume_role.role_arn", "not an IAM role ARN"),
    ({"assume_role": {}}, "deployments[0].assume_role.role_arn", "missing required field"),
    ({"assume_role": {"role_arn": "arn:aws:iam::123456789012:role/x", "session_name": "a b"}},
     "deployments[0].assume_role.session_name", "not a valid session name"),
    ({"assume_role": {"role_arn": "arn:aws:iam::123456789012:role/x", "session_name": "s" * 65}},
     "deployments[0].assume_role.session_name", "2-64 characters"),
    ({"assume_role": {"role_arn": "arn:aws:iam::123456789012:role/x", "external_id": "x"}},
     "deployments[0].assume_role.external_id", "not a valid external id"),
    ({"assume_role": {"role_arn": "arn:aws:iam::123456789012:role/x", "duration": "1h"}},
     "deployments[0].assume_role.duration", "unknown field"),
    ({"assume_role": {"role_arn": "arn:aws:iam::999999999999:role/x"}}, "deployments[0].assume_role.role_arn",
     "role is in account 999999999999, but account_id is 123456789012"),
    ({"assume_role": {"role_arn": "arn:aws-cn:iam::123456789012:role/x"}}, "deployments[0].assume_role.role_arn", "partition 'aws-cn'"),
    ({"assume_role": "arn:aws:iam::123456789012:role/x"}, "deployments[0].assume_role", "must be dict"),
    ({"aws_profile": "has space"}, "deployments[0].aws_profile", "not an AWS profile name"),
    ({"adopt": ["role"]}, "deployments[0].adopt[0]", "cannot adopt 'role'"),
    ({"adopt": ["user", "user"]}, "deployments[0].adopt", "listed twice"),
    ({"adopt": ["user"], "create_user": False}, "deployments[0].adopt", "create_user is false"),
    ({"adopt": ["node_role"], "create_node_role": False}, "deployments[0].adopt", "create_node_role is false"),
    ({"destroy_adopted": True}, "deployments[0].destroy_adopted", "set without adopt"),
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
    assert len(parse_config(raw).deployments) == 2


def test_all_problems_are_reported_together():
    with pytest.raises(ConfigError) as err:
        parse_config(make_config(account_id="12", region="nowhere", addenda=["x"]))
    assert len(err.value.problems) == 3


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


def test_aws_profile_is_refused_on_localstack():
    raw = make_config(aws_profile="prod")
    raw["localstack"] = {"enabled": True}
    with pytest.raises(ConfigError) as err:
        parse_config(raw)
    assert [p.where for p in err.value.problems] == ["deployments[0].aws_profile"]
    assert "assume_role" in err.value.problems[0].fix
