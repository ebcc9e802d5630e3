"""The vendor diff of every built-in combination against the vendor's published JSON: every action
kept, added or omitted is accounted for, scoping differences are listed, and the copies in
policy_json/<profile>/vendor/ are the published files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from iam_foundry.access.check import builtin_combinations
from iam_foundry.cli.app import cli
from iam_foundry.profiles.load import POLICY_ROOT, list_profiles, load_profile
from iam_foundry.report.vendor import (
    _ours,
    _theirs,
    expand_actions,
    load_map,
    normalize_resource,
    profile_vendor_diff,
    statement_actions,
)

COMBINATIONS = list(builtin_combinations())
REFERENCE = Path("/work/shared/reference")
VENDOR_DIRS = {"nextai": "skypilot", "ai-unlimited": "ai-unlimited", "anyscale": "anyscale", "iguazio": "iguazio"}
BUILTIN = [p for p in list_profiles() if p in VENDOR_DIRS]


def test_every_builtin_profile_maps_its_vendor_files() -> None:
    assert set(BUILTIN) == set(VENDOR_DIRS) and all(load_map(load_profile(p)) is not None for p in BUILTIN)


@pytest.mark.parametrize("profile,variant,addenda", COMBINATIONS, ids=[f"{p}-{v}-{'+'.join(a) or 'none'}" for p, v, a in COMBINATIONS])
def test_vendor_diff_accounts_for_every_action(profile: str, variant: str, addenda: tuple[str, ...]) -> None:
    diff = profile_vendor_diff(profile, variant, addenda)
    assert diff is not None
    assert not diff.problems, "\n".join(str(p) for p in diff.problems)
    spec = load_profile(profile)
    vmap = load_map(spec)
    assert vmap is not None
    ours = _ours(spec, variant, addenda)
    theirs = [t for file in _theirs(spec, vmap, variant, addenda).values() for t in file]
    mine = frozenset().union(*(statement_actions(o.statement) for o in ours))
    published = frozenset().union(*(statement_actions(t.statement) for t in theirs)) if theirs else frozenset()
    added = {a.lower() for s in diff.statements for a in s.added_actions}
    omitted = {a.lower() for o in diff.omitted for a in o.actions}
    # Action sets equal once the recorded additions and omissions are taken into account.
    assert mine == (published - omitted) | added
    assert not omitted & mine, "an action listed as omitted is granted after all"
    for statement in diff.statements:
        # A statement that is not identical says how it differs (scope, condition, split) or why it was added.
        if statement.status != "identical":
            assert statement.how or statement.why, statement
        if statement.added_actions:
            assert statement.why, statement


def test_scoping_differences_are_listed() -> None:
    """The vendor puts AI Unlimited's actions on '*'; the profile narrows them, and says to what."""
    diff = profile_vendor_diff("ai-unlimited", "with-iam-role-permissions", ())
    assert diff is not None
    roles = next(s for s in diff.statements if s.sid == "ManageClusterRoles")
    assert roles.status == "narrowed"
    assert any(h.startswith("resources * → arn:aws:iam::<account>:role/<cluster_role_prefix>*") for h in roles.how)
    nextai = profile_vendor_diff("nextai", "default", ())
    assert nextai is not None
    assert {s.sid: s.status for s in nextai.statements}["DescribeEC2"] == "identical"


def test_unexplained_difference_is_reported(tmp_path: Path) -> None:
    """A profile action with no vendor origin and no recorded reason is a problem, not silence."""
    from iam_foundry.report.vendor import Sourced, compare

    ours = [Sourced({"Sid": "Extra", "Effect": "Allow", "Action": ["s3:GetObject", "iam:CreateUser"], "Resource": "*"}, "p.json", "Extra")]
    theirs = {"p.json": [Sourced({"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "*"}, "v.json", "v.json #1")]}
    diff = compare(ours, theirs, None, "x")
    assert [s.status for s in diff.statements] == ["changed"]
    assert any("iam:CreateUser" in p.message for p in diff.problems)
    assert any("s3:PutObject" in p.message for p in diff.problems)


def test_placeholders_compare_alike() -> None:
    assert normalize_resource("arn:{{partition}}:ec2:*:{{account_id}}:instance/*") == normalize_resource(
        "arn:aws:ec2:*:<account-ID-without-hyphens>:instance/*")
    assert normalize_resource("arn:aws:iam::$AWS_ACCOUNT_ID:role/eksctl-*") == "arn:aws:iam::<account>:role/eksctl-*"
    assert expand_actions(("ec2:Describe*",)) == expand_actions(tuple(a for a in expand_actions(("ec2:describe*",))))


@pytest.mark.parametrize("profile", BUILTIN)
def test_vendor_copies_are_the_published_files(profile: str) -> None:
    folder = POLICY_ROOT / profile / "vendor"
    sources = (folder / "SOURCES.md").read_text(encoding="utf-8")
    for copy in sorted(folder.glob("*.json")):
        assert f"`{copy.name}`" in sources, f"{copy.name} has no provenance in vendor/SOURCES.md"
        published = REFERENCE / VENDOR_DIRS[profile] / copy.name
        if published.is_file():  # CI runs from a clean clone where the shared reference may be absent
            assert copy.read_bytes() == published.read_bytes(), f"{copy} differs from {published}"


def test_vendor_diff_command_against_a_new_version(tmp_path: Path) -> None:
    published = json.loads((POLICY_ROOT / "nextai" / "vendor" / "addendum-open-ports.json").read_text())
    published[0]["Action"] = [*published[0]["Action"], "ec2:RevokeSecurityGroupIngress"]
    newer = tmp_path / "addendum-open-ports.json"
    newer.write_text(json.dumps(published))
    result = CliRunner().invoke(cli, ["vendor-diff", "nextai", "--against", str(newer)])
    assert result.exit_code == 1, result.output
    assert "+ ec2:RevokeSecurityGroupIngress" in result.output
    assert "since the committed vendor copy: 1 actions added, 0 removed; 0 resources added, 0 removed" in result.output
    same = CliRunner().invoke(cli, ["vendor-diff", "nextai", "--against", str(POLICY_ROOT / "nextai" / "vendor" / "addendum-open-ports.json")])
    assert same.exit_code == 0, same.output


def test_vendor_diff_command_refuses_unknown_profile(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["vendor-diff", "nope", "--against", str(tmp_path / "x.json")])
    assert result.exit_code == 1 and "no such built-in profile" in result.output


@pytest.mark.parametrize("profile", BUILTIN)
def test_every_recorded_reason_is_used(profile: str) -> None:
    """A reason that explains nothing in any built-in combination is stale (like a stale lint acceptance)."""
    vmap = load_map(load_profile(profile))
    assert vmap is not None
    used: set[str] = set()
    for name, variant, addenda in COMBINATIONS:
        if name != profile:
            continue
        diff = profile_vendor_diff(name, variant, addenda)
        assert diff is not None
        used |= {w for s in diff.statements for w in s.why} | {o.why for o in diff.omitted}
    for reason in (*vmap.added, *vmap.omitted):
        assert any(reason.why in text for text in used), f"{profile}/vendor-map.json: reason never used: {reason.why[:60]}"


@pytest.mark.parametrize("change,message", [
    ({"policies": {"nope.json": ["vendor/minimal-user-policy.json"]}}, "no such policy template"),
    ({"policies": {"user-policy.json": ["vendor/missing.json"]}}, "does not exist"),
    ({"policies": {"user-policy.json": ["vendor/minimal-user-policy.json#NoSuchSid"]}}, "no statement with Sid"),
    ({"addenda": {"clone-disks": []}}, "no such addendum"),
    ({"added": [{"actions": ["iam:PutRolePolicy"], "why": "x"}]}, "'source' is a required property"),
    ({"colour": "red"}, "Additional properties are not allowed"),
])
def test_bad_vendor_map_is_refused(tmp_path: Path, change: dict, message: str) -> None:
    import shutil

    from iam_foundry.errors import PolicyError

    shutil.copytree(POLICY_ROOT / "nextai", tmp_path / "nextai")
    shutil.copytree(POLICY_ROOT / "common", tmp_path / "common")  # the node role's trust policy
    root = tmp_path / "nextai"
    data = {**json.loads((root / "vendor-map.json").read_text()), **change}
    (root / "vendor-map.json").write_text(json.dumps(data))
    with pytest.raises(PolicyError, match=message):
        load_map(load_profile("nextai", tmp_path))


def test_vendor_diff_command_without_a_committed_copy(tmp_path: Path) -> None:
    """A file name no profile copy has: compared with every statement of the profile's variant."""
    newer = tmp_path / "renamed-policy.json"
    newer.write_text(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses", "ec2:DescribeInstances"],
         "Resource": "*"}]}))
    result = CliRunner().invoke(cli, ["vendor-diff", "iguazio", "--variant", "vanilla", "--against", str(newer)])
    assert result.exit_code == 1, result.output
    assert "no committed vendor copy has this file name" in result.output
    assert "- ec2:DescribeNetworkInterfaces" in result.output  # the profile has it, the file does not
    bad = CliRunner().invoke(cli, ["vendor-diff", "iguazio", "--variant", "nope", "--against", str(newer)])
    assert bad.exit_code == 1 and "no such variant" in bad.output
