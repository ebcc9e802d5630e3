"""Loading profiles: discovery, file and key errors naming the file (rendering: tests/policy/test_render.py)."""

import json

import pytest

from iam_foundry.errors import PolicyError
from iam_foundry.profiles.load import list_profiles, load_profile, load_profile_dir, read_json


def test_builtin_profiles_are_discovered():
    assert "nextai" in list_profiles()
    profile = load_profile("nextai")
    assert set(profile.addenda) == {"clone-disk", "open-ports", "s3-access", "s3-access-node-role", "s3-object-access", "role-creation"}
    assert profile.defaults["role_name"] == "nextai-role"


def test_malformed_json_error_names_file_and_line(tmp_path):
    bad = tmp_path / "broken.json"
    bad.write_text('{\n  "Version": "2012-10-17",\n  "Statement": [\n    {"Effect": "Allow",,}\n  ]\n}\n')
    with pytest.raises(PolicyError) as err:
        read_json(bad)
    assert f"{bad}:4:" in str(err.value)


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


def test_read_json_refuses_duplicate_keys_naming_each(tmp_path):
    path = tmp_path / "t.json"
    path.write_text('{"Statement": [{"Effect": "Deny", "Effect": "Allow"}],\n "a": {"x": 1, "x": 2}}')
    with pytest.raises(PolicyError) as err:
        read_json(path)
    assert [p.where for p in err.value.problems] == [f"{path}:1:35", f"{path}:2:16"]
    assert "duplicate key 'Effect'" in err.value.problems[0].message and "duplicate key 'x'" in err.value.problems[1].message
    path.write_text('{"a": {"x": 1}, "b": {"x": 2}, "c": [{"x": 1}, {"x": 2}]}')  # the same key in different objects is fine
    assert read_json(path)["c"] == [{"x": 1}, {"x": 2}]


def test_duplicate_key_in_a_profile_or_addendum_is_refused(tmp_path):
    import shutil

    source = load_profile("nextai").root
    for folder in ("nextai", "common"):
        shutil.copytree(source.parent / folder, tmp_path / folder)
    profile = tmp_path / "nextai"
    (profile / "addenda" / "clone-disk.json").write_text('{"description": "d",\n "description": "e", "statements": []}')
    with pytest.raises(PolicyError) as err:
        load_profile_dir(profile)
    assert "clone-disk.json:2:2" in str(err.value) and "duplicate key 'description'" in str(err.value)
    (profile / "addenda" / "clone-disk.json").write_text((source / "addenda/clone-disk.json").read_text())
    (profile / "profile.json").write_text('{"title": "a", "title": "b"}')
    with pytest.raises(PolicyError) as err:
        load_profile_dir(profile)
    assert "profile.json:1:16" in str(err.value)
