"""Rendering a profile's templates: placeholders, escaping left to the Terraform boundary, addenda
merge order, IAM size measure and split."""

import pytest

from iam_foundry.emit.tfjson import expr, to_terraform
from iam_foundry.errors import PolicyError
from iam_foundry.policy.render import merge_statements, render, rendered_size, split_statements
from iam_foundry.profiles.load import load_profile


def test_render_fills_placeholders_everywhere():
    template = {"Resource": ["arn:{{partition}}:iam::{{ account_id }}:role/{{role_name}}"], "Action": "iam:GetRole"}
    rendered = render(template, {"partition": "aws", "account_id": "111122223333", "role_name": "r"}, "t.json")
    assert rendered == {"Resource": ["arn:aws:iam::111122223333:role/r"], "Action": "iam:GetRole"}


def test_render_rejects_unfilled_placeholder_naming_file_and_name():
    with pytest.raises(PolicyError) as err:
        render({"Resource": "arn:aws:s3:::{{bucket}}"}, {"partition": "aws"}, "policy_json/x/user-policy.json")
    message = str(err.value)
    assert "policy_json/x/user-policy.json" in message and "{{bucket}}" in message


def test_render_leaves_escaping_to_the_terraform_boundary():
    token = expr("data.aws_caller_identity.current.account_id")
    rendered = render({"Resource": "arn:aws:iam::{{account_id}}:user/${aws:username}"}, {"account_id": token}, "t")
    # Rendered text stays literal; where blocks are written, the IAM variable is escaped ($${...})
    # and the Terraform expression we inserted goes live.
    assert rendered["Resource"] == f"arn:aws:iam::{token}:user/${{aws:username}}"
    assert to_terraform(rendered["Resource"]) == "arn:aws:iam::${data.aws_caller_identity.current.account_id}:user/$${aws:username}"


def test_role_creation_replaces_the_read_only_role_statements_and_keeps_the_conditioned_pass_role():
    profile = load_profile("nextai")
    main = profile.policies()[0]
    base = [s["Sid"] for s, _ in merge_statements(profile, main, [])]
    with_addendum = [s["Sid"] for s, _ in merge_statements(profile, main, ["role-creation"])]
    assert base[-3:] == ["GetNodeRole", "PassNodeRole", "GetNodeInstanceProfile"]
    assert with_addendum == base[:-3] + ["PassNodeRole", "CreateNodeRole", "AttachNodeRolePolicies", "CreateNodeInstanceProfile"]


def test_addenda_order_is_stable_whatever_the_config_order():
    profile = load_profile("nextai")
    a = merge_statements(profile, profile.policies()[0], ["open-ports", "clone-disk"])
    b = merge_statements(profile, profile.policies()[0], ["clone-disk", "open-ports"])
    assert [s["Sid"] for s, _ in a] == [s["Sid"] for s, _ in b]


def _statement(index: int, width: int) -> dict:
    return {"Sid": f"S{index}", "Effect": "Allow", "Action": "s3:GetObject",
            "Resource": [f"arn:aws:s3:::bucket-{index}-{n:04d}/*" for n in range(width)]}


def test_split_keeps_order_and_respects_the_quota():
    statements = [_statement(i, 40) for i in range(12)]
    parts = split_statements(statements, "2012-10-17", 6144)
    # Each statement measures 1,345 characters: four fit in 6,144 (5,266 with the envelope), five do
    # not, so greedy packing gives three parts of four.
    assert [len(p["Statement"]) for p in parts] == [4, 4, 4]
    assert all(rendered_size(p) <= 6144 for p in parts)
    assert [s["Sid"] for p in parts for s in p["Statement"]] == [s["Sid"] for s in statements]
    # Same input, same parts: a re-run does not churn.
    assert parts == split_statements(statements, "2012-10-17", 6144)


def test_split_counts_interpolated_account_id_as_twelve_characters():
    account = expr("data.aws_caller_identity.current.account_id")
    doc = {"Version": "2012-10-17", "Statement": [{"Resource": account}]}
    # Measured as '{"Version":"2012-10-17","Statement":[{"Resource":"123456789012"}]}': 66 characters.
    assert rendered_size(doc) == 66


def test_single_statement_over_quota_cannot_be_split():
    with pytest.raises(PolicyError) as err:
        split_statements([_statement(0, 400)], "2012-10-17", 6144)
    assert "S0" in str(err.value) and "6144" in str(err.value)
