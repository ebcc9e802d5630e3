"""User text reaches Terraform literally; only the project's own expressions stay live (issue 10, item 3)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any, Iterator

import pytest

from iam_foundry.config.load import parse_config
from iam_foundry.emit import module as module_export
from iam_foundry.emit.tfjson import expr, hcl_literal, to_terraform
from iam_foundry.errors import ConfigError
from iam_foundry.profiles.load import load_profile_dir
from tests.conftest import make_config, synth_raw

HOSTILE = ['${file("notes.txt")}', "${path.cwd}", "%{ if true }x%{ endif }", "$${kept}", "%%{kept}", "a$", "$$",
           "${aws:username}", "x$$${y}", 'quote " and \\ back\\slash']
# Roots of the expressions the project itself writes into a stack or module.
PROJECT_ROOTS = ("aws_", "data.", "var.", "local.", "jsonencode(", "coalesce(", "merge(", "one(")


def live_interpolations(text: str) -> list[str]:
    """The `${...}` / `%{...}` sequences Terraform would evaluate in a JSON string (HCL template rules:
    `$${` and `%%{` are literal)."""
    found, index = [], 0
    while index < len(text):
        if text.startswith(("$${", "%%{"), index):
            index += 3
        elif text.startswith(("${", "%{"), index):
            found.append(text[index + 2:index + 40])
            index += 2
        else:
            index += 1
    return found


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def assert_only_project_expressions(document: dict[str, Any]) -> None:
    for text in strings(document):
        for live in live_interpolations(text):
            assert live.startswith(PROJECT_ROOTS), f"user text evaluated by Terraform: {live!r} in {text[:120]!r}"


@pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform not on PATH")
def test_escaped_values_round_trip_through_terraform(tmp_path):
    """Terraform itself reads every hostile string back unchanged, and an expression stays live."""
    config = {"output": {f"o{i}": {"value": to_terraform(v)} for i, v in enumerate(HOSTILE)}}
    config["output"]["live"] = {"value": to_terraform("n-" + expr('upper("x")') + "-${path.cwd}")}
    (tmp_path / "main.tf.json").write_text(json.dumps(config))
    for args in (["init", "-input=false"], ["apply", "-auto-approve", "-input=false"]):
        subprocess.run(["terraform", *args], cwd=tmp_path, check=True, capture_output=True)
    out = json.loads(subprocess.run(["terraform", "output", "-json"], cwd=tmp_path, check=True, capture_output=True, text=True).stdout)
    assert [out[f"o{i}"]["value"] for i in range(len(HOSTILE))] == HOSTILE
    assert out["live"]["value"] == "n-X-${path.cwd}"


def test_a_token_cannot_be_forged_from_user_text():
    token = expr("data.aws_caller_identity.current.account_id")
    forged = token.replace(token[4:16], "0" * 12)  # same shape, wrong nonce
    assert to_terraform(forged) == "$" + forged
    assert to_terraform(token) == "${data.aws_caller_identity.current.account_id}"


def test_hcl_literal_escapes_text_inside_expressions():
    assert hcl_literal(["${aws:username}", "%{x}", "\b"]) == '["$${aws:username}","%%{x}","\\u0008"]'


def test_synthesized_stack_keeps_user_text_literal(tmp_path):
    # IAM refuses `$`, `{` and `%` in tag values (validation says so before anything is written), so the
    # hostile strings travel where IAM allows them: the policy file's name (-> description), the IAM
    # path and the policy text.
    policy = tmp_path / "p${path.cwd}.json"  # the file name reaches the policy description
    policy.write_text(json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "OwnPrefix", "Effect": "Allow", "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::bucket/${aws:username}/%{ if true }x%{ endif }/*",
        "Condition": {"StringLike": {"s3:prefix": HOSTILE}}}]}))
    raw = make_config(profile="custom", policy_file=str(policy), addenda=[], path="/${path.cwd}/", account_id=None)
    raw["deployments"][0].pop("account_id")
    raw["backend"]["key_prefix"] = "iam/${path.cwd}"
    stack = synth_raw(raw, tmp_path / "out")["nextai"]
    # Terraform reads backend settings literally, not as templates: they must not be escaped.
    assert stack["terraform"]["backend"]["s3"]["key"] == "iam/${path.cwd}/nextai.tfstate"
    assert_only_project_expressions({key: value for key, value in stack.items() if key != "terraform"})
    user = stack["resource"]["aws_iam_user"]["user"]
    assert user["path"] == "/$${path.cwd}/"
    policy_block = stack["resource"]["aws_iam_policy"]["policy"]
    assert "$${path.cwd}" in policy_block["description"]
    assert "arn:aws:s3:::bucket/$${aws:username}/%%{ if true }x%%{ endif }/*" in policy_block["policy"]
    assert all(to_terraform(json.dumps(value)) in policy_block["policy"] for value in HOSTILE)
    # Still live: the account id read at plan time, and references between resources.
    assert stack["resource"]["aws_iam_user_policy_attachment"]["user_policy_main"]["user"] == "${aws_iam_user.user.name}"
    assert stack["output"]["account_id"]["value"] == "${data.aws_caller_identity.current.account_id}"


def test_a_template_in_a_tag_value_is_refused_before_terraform():
    with pytest.raises(ConfigError) as err:
        parse_config(make_config(tags={"T": '${file("notes.txt")}'}))
    [problem] = err.value.problems
    assert problem.where.startswith("deployments[0].tags.T") and "tag value" in problem.message


def test_exported_module_keeps_profile_text_literal(tmp_path, monkeypatch):
    root = tmp_path / "hostile"
    root.mkdir()
    (root / "policy.json").write_text(json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "OwnPrefix", "Effect": "Allow", "Action": "s3:GetObject",
        "Resource": "arn:{{partition}}:s3:::{{bucket}}/${aws:username}/%{ if true }x%{ endif }/*"}]}))
    (root / "profile.json").write_text(json.dumps({
        "title": "Hostile ${path.cwd}", "description": "%{ if true }d%{ endif }",
        "defaults": {"user_name": "u-${path.cwd}"},
        "parameters": {"bucket": {"description": '${file("notes.txt")}', "required": True, "pattern": "[a-z${}]+", "example": "b"}},
        "policies": [{"id": "main", "template": "policy.json", "attach_to": ["user"]}]}))
    monkeypatch.setattr(module_export, "load_profile", lambda name: load_profile_dir(root))
    module = json.loads((module_export.export_module("hostile", None, tmp_path / "out") / "main.tf.json").read_text())
    policy = module["resource"]["aws_iam_policy"]["policy"]
    assert '"arn:${data.aws_partition.current.partition}:s3:::${var.bucket}/$${aws:username}/%%{ if true }x%%{ endif }/*"' in policy["policy"]
    assert policy["description"] == "Hostile $${path.cwd} policy (iam-foundry deployment ${var.name})"
    assert module["variable"]["bucket"]["description"] == '$${file("notes.txt")}'
    assert module["locals"]["user_name"] == '${coalesce(var.user_name, "u-$${path.cwd}")}'
    assert module["variable"]["bucket"]["validation"][0]["condition"] == \
        '${var.bucket == null || can(regex("^(?:[a-z$${}]+)$", var.bucket))}'
