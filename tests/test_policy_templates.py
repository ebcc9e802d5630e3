import json

import pytest

from iam_foundry.errors import PolicyError
from iam_foundry.policy_templates import (
    list_profiles,
    load_profile,
    load_profile_dir,
    merge_statements,
    read_json,
    render,
    rendered_size,
    split_statements,
)


def test_builtin_profiles_are_discovered():
    assert "nextai" in list_profiles()
    profile = load_profile("nextai")
    assert set(profile.addenda) == {"clone-disk", "open-ports", "s3-access", "role-creation"}
    assert profile.defaults["role_name"] == "nextai-role"


def test_render_fills_placeholders_everywhere():
    template = {"Resource": ["arn:{{partition}}:iam::{{ account_id }}:role/{{role_name}}"], "Action": "iam:GetRole"}
    rendered = render(template, {"partition": "aws", "account_id": "111122223333", "role_name": "r"}, "t.json")
    assert rendered == {"Resource": ["arn:aws:iam::111122223333:role/r"], "Action": "iam:GetRole"}


def test_render_rejects_unfilled_placeholder_naming_file_and_name():
    with pytest.raises(PolicyError) as err:
        render({"Resource": "arn:aws:s3:::{{bucket}}"}, {"partition": "aws"}, "policy_json/x/user-policy.json")
    message = str(err.value)
    assert "policy_json/x/user-policy.json" in message and "{{bucket}}" in message


def test_render_escapes_iam_policy_variables_for_terraform():
    rendered = render({"Resource": "arn:aws:iam::{{account_id}}:user/${aws:username}"},
                      {"account_id": "${data.aws_caller_identity.current.account_id}"}, "t")
    # The IAM variable is escaped ($${...}); the Terraform interpolation we inserted is not.
    assert rendered["Resource"] == "arn:aws:iam::${data.aws_caller_identity.current.account_id}:user/$${aws:username}"


def test_malformed_json_error_names_file_and_line(tmp_path):
    bad = tmp_path / "broken.json"
    bad.write_text('{\n  "Version": "2012-10-17",\n  "Statement": [\n    {"Effect": "Allow",,}\n  ]\n}\n')
    with pytest.raises(PolicyError) as err:
        read_json(bad)
    assert f"{bad}:4:" in str(err.value)


def test_role_creation_replaces_the_last_two_base_statements():
    profile = load_profile("nextai")
    main = profile.policies()[0]
    base = [s["Sid"] for s, _ in merge_statements(profile, main, [])]
    with_addendum = [s["Sid"] for s, _ in merge_statements(profile, main, ["role-creation"])]
    assert base[-2:] == ["PassNodeRole", "GetNodeInstanceProfile"]
    assert with_addendum == base[:-2] + ["CreateAndPassNodeRole", "CreateNodeInstanceProfile"]


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
    doc = {"Version": "2012-10-17", "Statement": [{"Resource": "${data.aws_caller_identity.current.account_id}"}]}
    # Measured as '{"Version":"2012-10-17","Statement":[{"Resource":"123456789012"}]}': 66 characters.
    assert rendered_size(doc) == 66


def test_single_statement_over_quota_cannot_be_split():
    with pytest.raises(PolicyError) as err:
        split_statements([_statement(0, 400)], "2012-10-17", 6144)
    assert "S0" in str(err.value) and "6144" in str(err.value)


def test_unknown_addendum_key_names_the_file(tmp_path):
    (tmp_path / "addenda").mkdir()
    (tmp_path / "profile.json").write_text(json.dumps({"policies": [{"id": "main", "template": "p.json"}]}))
    (tmp_path / "p.json").write_text(json.dumps({"Version": "2012-10-17", "Statement": []}))
    (tmp_path / "addenda" / "extra.json").write_text(json.dumps({"typo": 1}))
    with pytest.raises(PolicyError) as err:
        load_profile_dir(tmp_path)
    assert "extra.json" in str(err.value) and "typo" in str(err.value)


def test_unknown_profile_key_names_the_file(tmp_path):
    (tmp_path / "profile.json").write_text(json.dumps({"user_polcy": "p.json"}))
    with pytest.raises(PolicyError) as err:
        load_profile_dir(tmp_path)
    assert "profile.json" in str(err.value) and "user_polcy" in str(err.value)
