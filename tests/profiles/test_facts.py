"""The synthesized stacks of every built-in profile, variant and addendum against the written facts.

The expectations are in tests/profile_facts.py, written from the vendors' published policies (not
read from `policy_json/` nor from snapshots): the statements in order (so a dropped or added
statement fails), the actions each must hold, its exact `Condition`, the resources where the vendor
or the README scopes them, and where each policy and managed ARN is attached.
"""

from __future__ import annotations

import json

import pytest

from iam_foundry.profiles.load import list_profiles, load_profile
from tests.conftest import resources, synth_raw
from tests.profile_facts import CASES, assert_statements


def account_of(index: int) -> str:
    return f"{100000000000 + index:012d}"  # one account per case, so default names never clash


@pytest.fixture(scope="module")
def stacks(tmp_path_factory) -> dict[str, dict]:
    deployments = [{"name": name, "account_id": account_of(index), **case.deployment} for index, (name, case) in enumerate(CASES.items())]
    raw = {"region": "us-east-1", "localstack": {"enabled": False},
           "backend": {"type": "s3", "bucket": "acme-terraform-state", "key_prefix": "iam"}, "deployments": deployments}
    return synth_raw(raw, tmp_path_factory.mktemp("facts"))


def policies_by_name(stack: dict) -> dict[str, tuple[str, dict]]:
    return {p["name"]: (address, json.loads(p["policy"])) for address, p in resources(stack, "aws_iam_policy").items()}


def test_every_builtin_profile_variant_and_addendum_has_written_facts():
    covered_variants = {(c.deployment["profile"], c.deployment.get("variant") or load_profile(c.deployment["profile"]).default_variant)
                        for c in CASES.values()}
    covered_addenda = {(c.deployment["profile"], a) for c in CASES.values() for a in c.deployment.get("addenda", [])}
    for name in list_profiles():
        profile = load_profile(name)
        for variant in profile.variants:
            assert (name, variant) in covered_variants, f"no written facts for {name} variant {variant}"
        for addendum in profile.addenda:
            assert (name, addendum) in covered_addenda, f"no written facts for {name} addendum {addendum}"


@pytest.mark.parametrize("case", list(CASES))
def test_statements_sids_actions_conditions_and_resources_are_the_vendors(stacks, case):
    expected = CASES[case]
    # The profile boundary (a guardrail, tests/access/test_guardrails.py) is not a vendor statement.
    boundaries = {key: stacks[case]["resource"]["aws_iam_policy"].pop(key, None)
                  for key in ["boundary"] + [f"{role}_boundary" for role in expected.own_roles]}
    assert None not in boundaries.values(), "built-in profiles carry their boundaries by default"
    found = policies_by_name(stacks[case])
    stacks[case]["resource"]["aws_iam_policy"].update(boundaries)
    assert sorted(found) == sorted(expected.policies)
    fmt = {"acct": account_of(list(CASES).index(case)), **expected.names}
    for policy_name, statements in expected.policies.items():
        document = found[policy_name][1]
        assert document["Version"] == "2012-10-17"
        assert_statements(document["Statement"], statements, fmt, policy_name)


@pytest.mark.parametrize("case", list(CASES))
def test_policies_and_managed_arns_are_attached_where_the_vendor_says(stacks, case):
    expected = CASES[case]
    stack = stacks[case]
    found = policies_by_name(stack)
    ref = {name: f"${{aws_iam_policy.{address}.arn}}" for name, (address, _) in found.items()}
    user_arns = [a["policy_arn"] for a in resources(stack, "aws_iam_user_policy_attachment").values()]
    role_attachments = list(resources(stack, "aws_iam_role_policy_attachment").values())
    node_role = "${aws_iam_role.node_role.name}"
    role_arns = [a["policy_arn"] for a in role_attachments if a["role"] == node_role]
    own = {f"${{aws_iam_role.{key}.name}}" for key in expected.own_roles}
    existing_roles = {a["role"] for a in role_attachments if a["role"] != node_role and a["role"] not in own}
    assert ("aws_iam_user" in stack["resource"]) == expected.has_user
    assert ("aws_iam_access_key" in stack["resource"]) == expected.access_key
    assert sorted(user_arns) == sorted([ref[n] for n in expected.attached_to_user] + list(expected.user_managed))
    assert sorted(role_arns) == sorted([ref[n] for n in expected.attached_to_role] + list(expected.role_managed))
    assert existing_roles == set(expected.attached_to_existing_roles)  # roles the stack does not own, attached by name
    for role, names in expected.attached_to_existing_roles.items():
        assert sorted(a["policy_arn"] for a in role_attachments if a["role"] == role) == sorted(ref[n] for n in names)
    assert ("node_role" in resources(stack, "aws_iam_role")) == expected.has_role
    # A variant's own roles (AI Unlimited's engine role): their names, EC2 trust, instance profile and only their policies.
    assert set(resources(stack, "aws_iam_role")) - {"node_role"} == set(expected.own_roles)
    for key, (role_name, profile_name, policy_names) in expected.own_roles.items():
        role = resources(stack, "aws_iam_role")[key]
        assert role["name"] == role_name
        assert role["permissions_boundary"] == f"${{aws_iam_policy.{key}_boundary.arn}}"
        assert [(st["Effect"], st["Principal"], st["Action"]) for st in json.loads(role["assume_role_policy"])["Statement"]] == \
            [("Allow", {"Service": "ec2.amazonaws.com"}, "sts:AssumeRole")]
        instance_profile = resources(stack, "aws_iam_instance_profile")[f"{key}_instance_profile"]
        assert (instance_profile["name"], instance_profile["role"]) == (profile_name, f"${{aws_iam_role.{key}.name}}")
        assert sorted(a["policy_arn"] for a in role_attachments if a["role"] == f"${{aws_iam_role.{key}.name}}") == \
            sorted(ref[n] for n in policy_names)
    if not expected.has_role:
        return
    assert resources(stack, "aws_iam_role")["node_role"]["name"] == expected.names["role"]
    assert resources(stack, "aws_iam_instance_profile")["instance_profile"]["name"] == expected.names["instance_profile"]
    trust = json.loads(resources(stack, "aws_iam_role")["node_role"]["assume_role_policy"])
    assert [(st["Effect"], st["Principal"], st["Action"]) for st in trust["Statement"]] == \
        [("Allow", {"Service": "ec2.amazonaws.com"}, "sts:AssumeRole")]
