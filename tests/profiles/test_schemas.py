"""profile.json and addendum files are checked against iam_foundry/profiles/schemas/*.schema.json at load.

Each error is one Problem naming the file and the JSON path; all errors of a profile come at once.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from iam_foundry.config.load import parse_config
from iam_foundry.errors import FoundryError, PolicyError
from iam_foundry.profiles.load import POLICY_ROOT, list_profiles, load_profile_dir
from iam_foundry.profiles.schema import schema_problems

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "custom"
BASE_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Sid": "Describe", "Effect": "Allow", "Action": "ec2:DescribeInstances", "Resource": "*"},
    {"Sid": "PassNodeRole", "Effect": "Allow", "Action": "iam:PassRole", "Resource": "arn:aws:iam::123456789012:role/r"},
]}
CLONE = {"description": "images", "statements": [{"Sid": "Clone", "Effect": "Allow", "Action": "ec2:CreateImage", "Resource": "*"}]}


def write_profile(root: Path, profile: dict[str, Any] | None = None, **addenda: dict[str, Any]) -> Path:
    """A small valid profile folder; `profile` keys override the defaults, addenda are added by name."""
    meta = {"title": "T", "description": "D",
            "policies": [{"id": "main", "template": "policy.json", "attach_to": ["user", "node_role"], "addenda": True}],
            "node_role": {"trust_policy": "trust.json"}}
    meta.update(profile or {})
    (root / "profile.json").write_text(json.dumps(meta))
    (root / "policy.json").write_text(json.dumps(BASE_POLICY))
    (root / "trust.json").write_text(json.dumps({"Version": "2012-10-17", "Statement": []}))
    (root / "addenda").mkdir(exist_ok=True)
    for name, data in addenda.items():
        (root / "addenda" / f"{name}.json").write_text(json.dumps(data))
    return root


def problems_of(root: Path) -> list[str]:
    with pytest.raises(PolicyError) as err:
        load_profile_dir(root)
    return [str(p) for p in err.value.problems]


def test_the_helper_profile_is_valid(tmp_path):
    assert load_profile_dir(write_profile(tmp_path, clone=CLONE)).addenda["clone"].description == "images"


@pytest.mark.parametrize("name", list_profiles())
def test_every_builtin_profile_and_addendum_matches_its_schema(name):
    folder = POLICY_ROOT / name
    assert schema_problems("profile", json.loads((folder / "profile.json").read_text()), folder / "profile.json") == []
    for path in sorted((folder / "addenda").glob("*.json")):
        assert schema_problems("addendum", json.loads(path.read_text()), path) == []


def test_example_custom_addendum_matches_the_addendum_schema():
    path = EXAMPLES / "read-own-logs.json"
    assert schema_problems("addendum", json.loads(path.read_text()), path) == []


def test_typo_under_node_role_names_file_and_path_instead_of_a_key_error(tmp_path):
    write_profile(tmp_path, {"node_role": {"trust_polcy": "trust.json"}})
    # One line for one typo: not also "missing required key 'trust_policy'".
    assert problems_of(tmp_path) == [
        f"{tmp_path / 'profile.json'} at $.node_role.trust_polcy: unknown key (fix: did you mean 'trust_policy'?)"]


def test_missing_required_key_is_named_when_nothing_looks_like_it(tmp_path):
    write_profile(tmp_path, {"node_role": {"managed_policy_arns": []}})
    assert problems_of(tmp_path) == [
        f"{tmp_path / 'profile.json'} at $.node_role: missing required key 'trust_policy' (fix: add \"trust_policy\": ...)"]


def test_misspelled_parameter_flag_is_an_error_not_ignored(tmp_path):
    write_profile(tmp_path, {"parameters": {"bucket": {"description": "the bucket", "example": "b", "requird": True}}})
    assert problems_of(tmp_path) == [
        f"{tmp_path / 'profile.json'} at $.parameters.bucket.requird: unknown key (fix: did you mean 'required'?)"]


def test_unknown_top_level_key_is_named_with_its_path(tmp_path):
    write_profile(tmp_path, {"defualts": {"user_name": "u"}})
    assert problems_of(tmp_path) == [f"{tmp_path / 'profile.json'} at $.defualts: unknown key (fix: did you mean 'defaults'?)"]


@pytest.mark.parametrize("override, path, wanted", [
    ({"defaults": {"create_user": "false"}}, "$.defaults.create_user", "a boolean"),  # bool("false") was True
    ({"policies": [{"id": "main", "template": "policy.json", "attach_to": "user"}]}, "$.policies[0].attach_to", "an array"),
    ({"policies": [{"id": "main", "template": "policy.json", "addenda": "yes"}]}, "$.policies[0].addenda", "a boolean"),
    ({"parameters": {"bucket": {"description": "b", "example": "b", "default": 3}}}, "$.parameters.bucket.default", "a string"),
    ({"outputs": "compute_config_json"}, "$.outputs", "an array"),
])
def test_wrong_types_name_file_and_path(tmp_path, override, path, wanted):
    write_profile(tmp_path, override)
    problems = problems_of(tmp_path)
    assert len(problems) == 1 and problems[0].startswith(f"{tmp_path / 'profile.json'} at {path}: must be {wanted}")


def test_attach_to_outside_user_and_node_role_names_the_item(tmp_path):
    write_profile(tmp_path, {"policies": [{"id": "main", "template": "policy.json", "attach_to": ["user", "group"]}]})
    assert problems_of(tmp_path) == [
        f"{tmp_path / 'profile.json'} at $.policies[0].attach_to[1]: 'group' is not a principal of this variant "
        "(fix: no role of that name; known: ['node_role', 'user'])"]


def test_parameter_pattern_must_compile(tmp_path):
    write_profile(tmp_path, {"parameters": {"bucket": {"description": "b", "example": "b", "pattern": "[a-z"}}})
    assert problems_of(tmp_path) == [
        f"{tmp_path / 'profile.json'} at $.parameters.bucket.pattern: \"[a-z\" is not a valid regular expression (fix: fix the pattern)"]


def test_replaced_sid_missing_from_the_base_policy_is_an_error(tmp_path):
    # Before the schema, a typo here silently kept PassNodeRole: the policy granted more than intended.
    write_profile(tmp_path, creation={"description": "d", "replaces_sids": ["PassNodRole"], "statements": CLONE["statements"]})
    addendum = tmp_path / "addenda" / "creation.json"
    assert problems_of(tmp_path) == [
        f"{addendum} at $.replaces_sids[0]: no statement with Sid 'PassNodRole' in policy.json: it would stay in the policy "
        "(fix: did you mean 'PassNodeRole'?)"]


def test_replaced_sid_is_checked_in_every_variant_the_addendum_serves(tmp_path):
    other = {"Version": "2012-10-17", "Statement": [BASE_POLICY["Statement"][0]]}
    write_profile(tmp_path, {"variants": {"lite": {"policies": [{"id": "main", "template": "lite.json", "addenda": True}]}}},
                  creation={"description": "d", "replaces_sids": ["PassNodeRole"], "statements": CLONE["statements"]})
    (tmp_path / "lite.json").write_text(json.dumps(other))
    problems = problems_of(tmp_path)
    assert len(problems) == 1 and "$.replaces_sids[0]: no statement with Sid 'PassNodeRole' in lite.json (variant 'lite')" in problems[0]
    # Limited to the default variant, it is fine.
    (tmp_path / "addenda" / "creation.json").write_text(json.dumps(
        {"description": "d", "replaces_sids": ["PassNodeRole"], "only_variants": ["default"], "statements": CLONE["statements"]}))
    assert load_profile_dir(tmp_path).addenda["creation"].replaces_sids == ("PassNodeRole",)


@pytest.mark.parametrize("data, path, message", [
    ({"description": "d", "statements": {"Sid": "X"}}, "$.statements", "must be an array"),
    ({"description": "d", "managed_policy_arns": {"user": "arn:aws:iam::aws:policy/X"}}, "$.managed_policy_arns.user",
     "must be an array"),  # a string here became a tuple of characters
    ({"description": "d", "managed_policy_arns": {"group": ["arn:aws:iam::aws:policy/X"]}}, "$.managed_policy_arns.group",
     "unknown key"),
    ({"description": "d", "statements": [{"Sid": "X", "Action": "ec2:X", "Resource": "*"}]}, "$.statements[0]",
     "missing required key 'Effect'"),
    ({"description": "d"}, "$", "the addendum adds nothing"),
    ({"statements": CLONE["statements"]}, "$", "missing required key 'description'"),
    ({"description": "d", "statements": CLONE["statements"], "replace_sids": ["PassNodeRole"]}, "$.replace_sids", "unknown key"),
    ({"description": "d", "statements": CLONE["statements"], "conflicts_with": ["nope"]}, "$.conflicts_with[0]",
     "no addendum 'nope' in this profile"),
    ({"description": "d", "statements": CLONE["statements"], "only_variants": ["gpu"]}, "$.only_variants[0]",
     "no variant 'gpu' in this profile"),
])
def test_addendum_errors_name_file_and_path(tmp_path, data, path, message):
    write_profile(tmp_path, extra=data)
    problems = problems_of(tmp_path)
    assert len(problems) == 1 and problems[0].startswith(f"{tmp_path / 'addenda' / 'extra.json'} at {path}: {message}")


@pytest.mark.parametrize("override, path, message", [
    ({"account_parameter": "cloud_acount_id", "parameters": {"cloud_account_id": {"description": "a", "example": "123456789012"}}},
     "$.account_parameter", "'cloud_acount_id' is not a parameter of this profile (fix: did you mean 'cloud_account_id'?)"),
    ({"derived": {"scope": {"if_set": "cluster", "then": "a", "else": "b"}}}, "$.derived.scope.if_set",
     "'cluster' is not a parameter of this profile"),
    ({"outputs": ["compute_config"]}, "$.outputs[0]", "'compute_config' is not a parameter (a computed output is an object with name, description and json)"),
    ({"variants": {"default": {"policies": [{"id": "main", "template": "policy.json"}]}}}, "$.variants.default",
     "has the name of the default variant"),
    ({"policies": [{"id": "main", "template": "policy.json"}, {"id": "main", "template": "policy.json"}]}, "$.policies[1].id",
     "policy id 'main' is used twice"),
])
def test_profile_cross_references_name_file_and_path(tmp_path, override, path, message):
    write_profile(tmp_path, override)
    problems = problems_of(tmp_path)
    assert len(problems) == 1 and problems[0].startswith(f"{tmp_path / 'profile.json'} at {path}: {message}")


def test_all_errors_of_profile_and_addenda_come_at_once(tmp_path):
    write_profile(tmp_path, {"title": 3, "node_role": {"trust_policy": "trust.json", "managed_policy_arn": []},
                             "parameters": {"p": {"description": "p", "example": "x", "requird": True}}},
                  a={"description": "d"}, b={"description": "d", "statements": [], "colour": "red"})
    problems = problems_of(tmp_path)
    assert [p.split(": ", 1)[0] for p in problems] == [
        f"{tmp_path / 'profile.json'} at $.node_role.managed_policy_arn",
        f"{tmp_path / 'profile.json'} at $.parameters.p.requird",
        f"{tmp_path / 'profile.json'} at $.title",
        f"{tmp_path / 'addenda' / 'a.json'} at $",
        f"{tmp_path / 'addenda' / 'b.json'} at $.colour",
        f"{tmp_path / 'addenda' / 'b.json'} at $.statements",
    ]


def test_custom_profile_addendum_files_go_through_the_same_schema(tmp_path):
    (tmp_path / "policy.json").write_text(json.dumps(BASE_POLICY))
    (tmp_path / "extra.json").write_text(json.dumps({"description": "d", "replaces_sids": ["PassNodRole"],
                                                     "statements": CLONE["statements"], "managed_policy_arn": {}}))
    raw = {"localstack": {"enabled": True}, "deployments": [
        {"name": "mine", "profile": "custom", "policy_file": "policy.json", "addenda_files": ["extra.json"]}]}
    with pytest.raises(FoundryError) as err:
        parse_config(raw, source=tmp_path / "iam-foundry.toml")
    text = str(err.value)
    assert f"{tmp_path / 'extra.json'} at $.managed_policy_arn: unknown key" in text
    # The schema error stops the load before the cross-check, so the Sid typo is reported on the next run
    (tmp_path / "extra.json").write_text(json.dumps({"description": "d", "replaces_sids": ["PassNodRole"],
                                                     "statements": CLONE["statements"]}))
    with pytest.raises(FoundryError) as err:
        parse_config(raw, source=tmp_path / "iam-foundry.toml")
    assert f"{tmp_path / 'extra.json'} at $.replaces_sids[0]: no statement with Sid 'PassNodRole' in policy.json" in str(err.value)


def test_a_parameter_without_an_example_is_refused(tmp_path):
    write_profile(tmp_path, {"parameters": {"bucket": {"description": "b"}}})
    assert problems_of(tmp_path) == [
        f"{tmp_path / 'profile.json'} at $.parameters.bucket: missing required key 'example' (fix: add \"example\": ...)"]


@pytest.mark.parametrize("kind", ["example", "default"])
def test_an_example_or_default_outside_the_pattern_is_refused_at_load(tmp_path, kind):
    spec = {"description": "b", "pattern": "[a-z]+", "example": "ok", kind: "Not-OK"}
    write_profile(tmp_path, {"parameters": {"bucket": spec}})
    assert problems_of(tmp_path) == [
        f"{tmp_path / 'profile.json'} at $.parameters.bucket.{kind}: 'Not-OK' does not match the parameter's pattern [a-z]+ "
        f"(fix: give a {kind} the config would accept for bucket)"]


@pytest.mark.parametrize("name", list_profiles())
def test_every_parameter_has_an_example_the_config_accepts(name):
    """Each built-in profile's examples, given all at once, are a valid deployment (pattern, LP008 prefix rule)."""
    profile = load_profile_dir(POLICY_ROOT / name)
    parameters = {key: spec.example for key, spec in profile.parameters.items()}
    assert all(parameters.values())
    for key, spec in profile.parameters.items():
        assert spec.pattern is None or re.fullmatch(spec.pattern, spec.example), key
    account = parameters.get(profile.account_parameter or "", "123456789012")
    config = parse_config({"region": "us-east-1", "localstack": {"enabled": False}, "deployments": [
        {"name": "d", "profile": name, "account_id": account, "parameters": parameters, "allow_plaintext_secret_in_state": True}]})
    assert {key: config.deployments[0].parameters[key] for key in parameters} == parameters


ENGINE_ROLE = {"description": "the role the platform passes to its instances", "name": "{{role_name}}-engine", "trust_policy": "trust.json"}


def _variant(roles: dict[str, Any], attach_to: list[str]) -> dict[str, Any]:
    return {"variants": {"split": {"policies": [{"id": "main", "template": "policy.json", "attach_to": ["node_role"], "addenda": True},
                                                {"id": "engine", "template": "policy.json", "attach_to": attach_to}],
                                   "roles": roles}}}


def test_a_variant_declares_its_own_role_as_data(tmp_path):
    profile = load_profile_dir(write_profile(tmp_path, _variant({"engine_role": ENGINE_ROLE}, ["engine_role"])))
    assert profile.roles("default") == ()
    (role,) = profile.roles("split")
    assert (role.key, role.name, role.instance_profile_name) == ("engine_role", "{{role_name}}-engine", "{{engine_role_name}}")
    assert (role.name_key, role.instance_profile_key) == ("engine_role_name", "engine_role_instance_profile_name")
    assert [p.attach_to for p in profile.policies("split")] == [("node_role",), ("engine_role",)]


@pytest.mark.parametrize("roles, attach_to, wanted", [
    ({"engine_role": {**ENGINE_ROLE, "trust_polcy": "trust.json"}}, ["engine_role"],
     "at $.variants.split.roles.engine_role.trust_polcy: unknown key (fix: did you mean 'trust_policy'?)"),
    ({"engine": ENGINE_ROLE}, ["engine"], 'at $.variants.split.roles.engine: key "engine" does not match ^[a-z][a-z0-9]*_role$'),
    ({"node_role": ENGINE_ROLE}, ["node_role"], "at $.variants.split.roles"),
    ({"engine_role": ENGINE_ROLE}, ["engin_role"],
     "at $.variants.split.policies[1].attach_to[0]: 'engin_role' is not a principal of this variant (fix: did you mean 'engine_role'?)"),
    ({"engine_role": ENGINE_ROLE, "spare_role": ENGINE_ROLE}, ["engine_role"],
     "at $.variants.split.roles.spare_role: no policy of the variant is attached to it"),
])
def test_a_wrong_role_spec_names_its_place(tmp_path, roles, attach_to, wanted):
    write_profile(tmp_path, _variant(roles, attach_to))
    problems = problems_of(tmp_path)
    assert any(wanted in p for p in problems), problems


def test_an_own_role_in_the_default_policies_is_not_a_principal(tmp_path):
    """Only a variant declares its own roles: the default variant's attach_to cannot name one."""
    write_profile(tmp_path, {"policies": [{"id": "main", "template": "policy.json", "attach_to": ["engine_role"]}]})
    assert problems_of(tmp_path) == [f"{tmp_path / 'profile.json'} at $.policies[0].attach_to[0]: 'engine_role' is not a principal "
                                     "of this variant (fix: did you mean 'node_role'?)"]
