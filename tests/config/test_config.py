"""Bad input: each case gets one clear message naming the field and the fix."""

import base64
import copy
import json
from pathlib import Path

import pytest

from iam_foundry.paths import DEFAULT_CONFIG
from iam_foundry.config.load import load_config, parse_config
from iam_foundry.config.fields import partition_for
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


def at(field: str) -> str:
    """Where a problem in make_config()'s deployment is reported: its index, field and name."""
    return f'deployments[0].{field} (deployment "nextai")'


PGP_KEY = base64.b64encode(bytes([0x99, 0x01, 0x0D, 0x04]) + b"\x00" * 16).decode()  # an OpenPGP public-key packet header


@pytest.mark.parametrize(("fields", "where", "words"), [
    ({"profile": "nope"}, at("profile"), "unknown profile 'nope'"),
    ({"addenda": ["role-creation"]}, at("addenda"), "set create_node_role = false (the platform creates 'nextai-role'), or drop the addendum 'role-creation'"),
    ({"require_boundary_on_created_roles": True}, at("require_boundary_on_created_roles"), "profile 'nextai' (variant 'default') creates no roles"),
    ({"require_boundary_on_created_roles": True, "addenda": ["role-creation"], "create_node_role": False, "profile_boundary": False},
     at("require_boundary_on_created_roles"), "set profile_boundary = true or give permissions_boundary"),
    ({"profile_boundary": "yes"}, at("profile_boundary"), "must be bool"),
    ({"addenda": ["clone-disks"]}, at("addenda[0]"), "did you mean 'clone-disk'"),
    ({"addenda": ["open-ports", "open-ports"]}, at("addenda"), "listed twice"),
    ({"account_id": "1234-5678-9012"}, at("account_id"), "12 digits"),
    ({"account_id": 123456789012}, at("account_id"), 'quote it: account_id = "123456789012"'),
    ({"account_id": 12345678901}, at("account_id"), 'account_id = "012345678901"'),
    ({"region": "moon-1"}, at("region"), "not an AWS region"),
    ({"region": "us-east-9"}, at("region"), "not an AWS region"),
    ({"region": "eu-mars-1"}, at("region"), "allow_unlisted_regions"),
    ({"user_name": "x" * 65}, at("user_name"), "at most 64"),
    ({"role_name": "bad name!"}, at("role_name"), "not a valid IAM name"),
    ({"user_name": "nextäi"}, at("user_name"), "ASCII letters"),
    ({"policy_names": {"main": "nextäi-policy"}}, at("policy_names.main"), "not a valid IAM policy name"),
    ({"policy_name": "p" * 129}, at("policy_name"), "at most 128"),
    ({"path": "no-slashes"}, at("path"), "not a valid IAM path"),
    ({"permissions_boundary": "arn:aws:iam::123:policy/x"}, at("permissions_boundary"), "not a managed policy ARN"),
    ({"permissions_boundary": "arn:aws:iam::123456789012:policy/bound", "region": "cn-north-1"}, at("permissions_boundary"),
     "partition 'aws' but region cn-north-1 is in 'aws-cn'"),
    ({"permissions_boundary": "arn:aws:iam::123456789012:policy/bøund"}, at("permissions_boundary"), "not a managed policy ARN"),
    ({"create_access_key": "yes"}, at("create_access_key"), "must be bool"),
    ({"pgp_key": "keybase:someone"}, at("pgp_key"), "create_access_key"),
    ({"pgp_key": "my-key", "create_access_key": True}, at("pgp_key"), "neither base64 PGP public key material nor keybase:<user>"),
    ({"pgp_key": base64.b64encode(b"hello world").decode(), "create_access_key": True}, at("pgp_key"), "neither base64"),
    ({"pgp_key": "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n" + PGP_KEY + "\n-----END PGP PUBLIC KEY BLOCK-----",
      "create_access_key": True}, at("pgp_key"), "ASCII-armored"),
    ({"pgp_key": "keybase:not a user!", "create_access_key": True}, at("pgp_key"), "not a Keybase user name"),
    ({"tags": {"Team": 3}}, at("tags"), "must be strings"),
    ({"tags": {f"t{n}": "v" for n in range(49)}}, at("tags"), "IAM allows 50 per resource"),
    ({"tags": {"k" * 129: "v"}}, at(f"tags.{'k' * 129}"), "not a valid tag key"),
    ({"tags": {"Team": "v" * 257}}, at("tags.Team"), "not a valid tag value"),
    ({"tags": {"aws:cloudformation:stack": "x"}}, at("tags.aws:cloudformation:stack"), "reserved for AWS"),
    ({"tags": {"ManagedBy": "me"}}, at("tags.ManagedBy"), "set by iam-foundry"),
    ({"tags": {"managedby": "me"}}, at("tags.managedby"), "'ManagedBy' is set by iam-foundry"),
    ({"tags": {"Team": "a", "TEAM": "b"}}, at("tags.TEAM"), "same key as 'Team'"),
    ({"lint_accepted": [{"rule": "LP003", "sid": "PassNodeRole"}]}, at("lint_accepted[0]"), "no reason"),
    ({"lint_accepted": [{"rule": "LP009", "sid": "X", "reason": "r"}]}, at("lint_accepted[0]"), "rule 'LP009'"),
    ({"rolename": "x"}, at("rolename"), "did you mean 'role_name'"),
    ({"name": "9lives"}, "deployments[0].name", "not a valid stack name"),
    ({"max_managed_policies_per_principal": 0}, at("max_managed_policies_per_principal"), "between 1 and 20"),
    ({"assume_role": {"role_arn": "arn:aws:iam::12345:role/x"}}, at("assume_role.role_arn"), "not an IAM role ARN"),
    ({"assume_role": {"role_arn": "arn:aws:iam::123456789012:user/x"}}, at("assume_role.role_arn"), "not an IAM role ARN"),
    ({"assume_role": {}}, at("assume_role.role_arn"), "missing required field"),
    ({"assume_role": {"role_arn": "arn:aws:iam::123456789012:role/x", "session_name": "a b"}},
     at("assume_role.session_name"), "not a valid session name"),
    ({"assume_role": {"role_arn": "arn:aws:iam::123456789012:role/x", "session_name": "s" * 65}},
     at("assume_role.session_name"), "2-64 characters"),
    ({"assume_role": {"role_arn": "arn:aws:iam::123456789012:role/x", "external_id": "x"}},
     at("assume_role.external_id"), "not a valid external id"),
    ({"assume_role": {"role_arn": "arn:aws:iam::123456789012:role/x", "duration": "1h"}},
     at("assume_role.duration"), "unknown field"),
    ({"assume_role": {"role_arn": "arn:aws:iam::999999999999:role/x"}}, at("assume_role.role_arn"),
     "role is in account 999999999999, but account_id is 123456789012"),
    ({"assume_role": {"role_arn": "arn:aws-cn:iam::123456789012:role/x"}}, at("assume_role.role_arn"), "partition 'aws-cn'"),
    ({"assume_role": "arn:aws:iam::123456789012:role/x"}, at("assume_role"), "must be dict"),
    ({"aws_profile": "has space"}, at("aws_profile"), "not an AWS profile name"),
    ({"adopt": ["role"]}, at("adopt[0]"), "cannot adopt 'role'"),
    ({"adopt": ["user", "user"]}, at("adopt"), "listed twice"),
    ({"adopt": ["user"], "create_user": False}, at("adopt"), "create_user is false"),
    ({"adopt": ["node_role"], "create_node_role": False}, at("adopt"), "create_node_role is false"),
    ({"destroy_adopted": True}, at("destroy_adopted"), "set without adopt"),
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
    (lambda raw: raw["deployments"][0].pop("profile"), at("profile"), "missing required field"),
    (lambda raw: raw["backend"].update(type="gcs"), "backend.type", "'s3', 'local' or 'cloud'"),
    (lambda raw: raw["backend"].update(bucket="Bad_Bucket"), "backend.bucket", "bucket name"),
    (lambda raw: raw["backend"].update(bucket="192.168.10.20"), "backend.bucket", "IP-address form"),
    (lambda raw: raw["backend"].update(region="us-west-7"), "backend.region", "not an AWS region"),
    (lambda raw: raw.update(region="eu-mars-1"), "region", "not an AWS region"),
    (lambda raw: raw.update(region="moon-1", allow_unlisted_regions=True), "region", "fits no AWS partition"),
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
    assert sorted(p.where for p in err.value.problems) == [at("account_id"), at("addenda[0]"), at("region")]


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
    tfvars = load_config(Path(__file__).resolve().parents[2] / "examples" / "nextai.tfvars")
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


@pytest.mark.parametrize(("region", "partition"), [("us-iso-east-1", "aws-iso"), ("us-isob-east-1", "aws-iso-b"),
                                                   ("eusc-de-east-1", "aws-eusc")])
def test_partition_comes_from_botocores_data(region, partition):
    assert partition_for(region) == partition
    assert parse_config(make_config(region=region)).deployments[0].partition == partition


def test_a_region_newer_than_botocore_needs_the_opt_out():
    with pytest.raises(ConfigError):
        parse_config(make_config(region="us-isof-north-9"))
    raw = make_config(region="us-isof-north-9")
    raw["allow_unlisted_regions"] = True
    deployment = parse_config(raw).deployments[0]
    assert (deployment.region, deployment.partition) == ("us-isof-north-9", "aws-iso-f")


def test_pgp_key_is_key_material_or_a_keybase_user():
    for key in (PGP_KEY, "keybase:some_person", base64.b64encode(bytes([0xC6, 0x01])).decode()):
        assert parse_config(make_config(create_access_key=True, pgp_key=key)).deployments[0].pgp_key == key
    with pytest.raises(ConfigError):
        parse_config(make_config(create_access_key=True, pgp_key="not a key"))


def test_names_that_differ_only_in_case_clash():
    raw = make_config()
    raw["deployments"].append(dict(raw["deployments"][0], name="other", user_name="NextAI", policy_name="other-policy",
                                   create_node_role=False))
    with pytest.raises(ConfigError) as err:
        parse_config(raw)
    assert [str(p) for p in err.value.problems] == [
        'deployments[1] (deployment "other"): user \'NextAI\' (as \'nextai\'; IAM names ignore case) also used by '
        'deployments[0] (deployment "nextai") (account 123456789012) (fix: give each deployment its own names '
        '(names are unique per account))']


def test_a_clash_after_an_invalid_deployment_names_the_right_pair():
    raw = make_config(account_id="12")  # deployments[0] is invalid and left out of the clash check
    good = {"name": "b", "profile": "nextai", "account_id": "123456789012"}
    raw["deployments"] += [good, dict(good, name="c")]
    with pytest.raises(ConfigError) as err:
        parse_config(raw)
    clash = [p for p in err.value.problems if "also used by" in p.message]
    assert [p.where for p in clash] == ['deployments[2] (deployment "c")']
    assert 'also used by deployments[1] (deployment "b")' in clash[0].message


def test_a_deployment_may_accept_lint_findings_with_a_reason():
    entry = {"rule": "LP003", "sid": "PassNodeRole", "reason": "the vendor's launcher passes the role to EC2 only"}
    deployment = parse_config(make_config(lint_accepted=[entry])).deployments[0]
    assert [(a.rule, a.sid, a.reason) for a in deployment.lint_accepted] == [tuple(entry.values())]


# --- files that cannot be read as a config: one line each, never a traceback ------------------------

@pytest.mark.parametrize(("name", "content", "words"), [
    ("latin1.toml", 'region = "us-east-1"\n# caf\xe9\n'.encode("latin-1"), "latin1.toml:2:6: not UTF-8 text (byte 0xe9)"),
    ("binary.toml", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "a binary file, not a config file"),
    ("utf16.toml", 'region = "us-east-1"\n'.encode("utf-16"), "UTF-16 text, not UTF-8"),
    ("latin1.tfvars", 'region = "eu-w\xe9st-1"\n'.encode("latin-1"), "not UTF-8 text"),
])
def test_unreadable_config_is_one_problem(tmp_path, name, content, words):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert len(err.value.problems) == 1 and words in str(err.value) and err.value.problems[0].fix


def test_a_directory_given_as_config_says_so(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path)
    assert str(err.value.problems[0]) == f"{tmp_path}: is a directory, not a config file (fix: give the path of the config file itself)"


@pytest.mark.parametrize("suffix", [".toml", ".tfvars"])
def test_a_utf8_bom_is_accepted(tmp_path, suffix):
    text = ('region = "us-east-1"\n[[deployments]]\nname = "nextai"\nprofile = "nextai"\n' if suffix == ".toml" else
            'region = "us-east-1"\ndeployments = [{ name = "nextai", profile = "nextai" }]\n')
    path = tmp_path / f"bom{suffix}"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert load_config(path).deployments[0].name == "nextai"


@pytest.mark.parametrize(("text", "where", "words"), [
    ('region = "us-east-1"\ndeployments = [{\n  name = "x"\n  profile = "nextai"\n\nlocalstack = { enabled = false }\n',
     ":2:16", "'{' is never closed"),
    ('region = "us-east-1"\ndeployments = [\n  {\n    name = "x",\n    tags = { a = "b"\n  }\n]\n', ":5:12", "'{' is not closed"),
    ('region = "us-east-1" }\n', ":1:22", "'}' closes nothing"),
    ('# a { in a comment\ntags = { a = "}" }\ndeployments = [\n', ":3:15", "'[' is never closed"),
])
def test_tfvars_syntax_error_names_the_unclosed_bracket(tmp_path, text, where, words):
    path = tmp_path / "broken.tfvars"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert [p.where for p in err.value.problems] == [f"{path}{where}"]
    assert words in str(err.value)


def test_duplicate_json_key_in_a_custom_policy_names_file_line_and_key(tmp_path):
    policy = tmp_path / "p.json"
    policy.write_text('{\n  "Version": "2012-10-17",\n  "Statement": [{\n    "Sid": "S", "Effect": "Deny",\n'
                      '    "Action": "s3:*", "Resource": "*",\n    "Effect": "Allow"\n  }]\n}\n')
    with pytest.raises(ConfigError) as err:
        parse_config(make_config(profile="custom", policy_file=str(policy)))
    assert len(err.value.problems) == 1
    assert f"{policy}:6:5: duplicate key 'Effect' (also on line 4)" in str(err.value)


@pytest.mark.parametrize(("content", "words"), [(b"\x7fELF\x02\x01\x01\x00\x00", "a binary file, not a JSON file"),
                                                ('{"Version": "2012-10-17", "Sid": "caf\xe9"}'.encode("latin-1"), "not UTF-8 text")])
def test_unreadable_policy_file_is_one_problem(tmp_path, content, words):
    policy = tmp_path / "p.json"
    policy.write_bytes(content)
    with pytest.raises(ConfigError) as err:
        parse_config(make_config(profile="custom", policy_file=str(policy)))
    assert len(err.value.problems) == 1 and words in str(err.value)


def test_a_directory_given_as_policy_file_says_so(tmp_path):
    with pytest.raises(ConfigError) as err:
        parse_config(make_config(profile="custom", policy_file=str(tmp_path)))
    assert len(err.value.problems) == 1 and "is a directory, not a JSON file" in str(err.value)


def test_aws_profile_is_refused_on_localstack():
    raw = make_config(aws_profile="prod")
    raw["localstack"] = {"enabled": True}
    with pytest.raises(ConfigError) as err:
        parse_config(raw)
    assert [p.where for p in err.value.problems] == [at("aws_profile")]
    assert "assume_role" in err.value.problems[0].fix


AIU_WITHOUT = {"profile": "ai-unlimited", "variant": "without-iam-role-permissions", "account_id": "123456789012",
               "parameters": {"cluster_role_prefix": "aiu-cluster-"}}


def test_a_variant_s_own_role_names_clash_with_other_deployments():
    """The engine role (<role_name>-engine), its instance profile and its boundary are names of the account too."""
    raw = {"region": "us-east-1", "localstack": {"enabled": False}, "deployments": [
        {"name": "a", **AIU_WITHOUT},
        {"name": "b", "profile": "ai-unlimited", "account_id": "123456789012", "role_name": "AI-Unlimited-Engine",
         "policy_name": "ai-unlimited-engine-boundary", "parameters": {"cluster_role_prefix": "b-cluster-"}}]}
    with pytest.raises(ConfigError) as err:
        parse_config(raw)
    [problem] = err.value.problems
    assert problem.where == 'deployments[1] (deployment "b")'
    assert ("policy 'ai-unlimited-engine-boundary', role 'AI-Unlimited-Engine' (as 'ai-unlimited-engine'; IAM names ignore case), "
            "instance profile 'AI-Unlimited-Engine' (as 'ai-unlimited-engine'; IAM names ignore case) also used by "
            'deployments[0] (deployment "a")') in problem.message


def test_a_variant_s_own_role_name_derived_from_role_name_must_be_valid():
    raw = {"region": "us-east-1", "localstack": {"enabled": False}, "deployments": [{"name": "a", **AIU_WITHOUT, "role_name": "r" * 60}]}
    with pytest.raises(ConfigError) as err:
        parse_config(raw)
    assert [p.where for p in err.value.problems] == ['deployments[0].role_name (deployment "a")'] * 2
    assert "engine role name the profile derives from it" in err.value.problems[0].message
    # The same role_name is fine where the variant declares no own role.
    assert parse_config({**raw, "deployments": [{**raw["deployments"][0], "variant": "with-iam-role-permissions"}]})


def test_role_names_name_a_variant_s_own_role_and_its_instance_profile():
    from iam_foundry.policy.documents import build_documents

    raw = {"region": "us-east-1", "localstack": {"enabled": False}, "deployments": [
        {"name": "a", **AIU_WITHOUT, "role_names": {"engine_role": "regulus", "engine_role_instance_profile": "regulus-profile"}},
        {"name": "b", **AIU_WITHOUT, "role_name": "b-server", "policy_name": "b-policy", "role_names": {"engine_role": "b-regulus"}}]}
    a, b = parse_config(raw).deployments
    assert a.role_names == {"engine_role_name": "regulus", "engine_role_instance_profile_name": "regulus-profile"}
    [role] = build_documents(a).plan.roles
    assert (role.name, role.instance_profile_name, role.boundary.name) == ("regulus", "regulus-profile", "regulus-boundary")
    # The instance profile follows the given role name unless named too.
    assert [(r.name, r.instance_profile_name) for r in build_documents(b).plan.roles] == [("b-regulus", "b-regulus")]


@pytest.mark.parametrize(("variant", "role_names", "where", "message"), [
    ("without-iam-role-permissions", {"engine": "x"}, "role_names.engine", "no role of that name in this profile/variant"),
    ("without-iam-role-permissions", {"engine_role": "bad name"}, "role_names.engine_role", "'bad name' is not a valid IAM name"),
    ("with-iam-role-permissions", {"engine_role": "x"}, "role_names.engine_role", "no role of that name in this profile/variant"),
])
def test_role_names_are_checked(variant, role_names, where, message):
    raw = {"region": "us-east-1", "localstack": {"enabled": False},
           "deployments": [{"name": "a", **AIU_WITHOUT, "variant": variant, "role_names": role_names}]}
    with pytest.raises(ConfigError) as err:
        parse_config(raw)
    assert [(p.where, p.message) for p in err.value.problems] == [(f'deployments[0].{where} (deployment "a")', message)]


def test_a_given_engine_role_name_clashes_like_any_other():
    raw = {"region": "us-east-1", "localstack": {"enabled": False}, "deployments": [
        {"name": "a", **AIU_WITHOUT, "role_names": {"engine_role": "shared"}},
        {"name": "b", **AIU_WITHOUT, "role_name": "b-server", "policy_name": "b-policy", "role_names": {"engine_role": "Shared"}}]}
    with pytest.raises(ConfigError) as err:
        parse_config(raw)
    assert "role 'Shared' (as 'shared'; IAM names ignore case)" in err.value.problems[0].message
